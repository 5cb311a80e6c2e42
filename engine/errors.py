"""The runtime exception tree. Spec problems are `Diagnostic` values, not exceptions.

SpecsyncError                  every error specsync raises on purpose (the CLI prints it
 |                             in one line; anything else is "internal error", a bug)
 ├── SpecError                 a spec failed to load or validate; carries every Diagnostic
 ├── MissingEnvironmentError   a connection's ${ENV} reference is not set
 |                             (engine/spec/environment.py)
 ├── TransformError            a template does not compile (engine/templates/problems.py)
 ├── RuleError                 the filter language (engine/rules/errors.py)
 |    ├── RuleSyntaxError      a filter does not parse
 |    └── RuleSetupError       a filter names a setup value the spec lacks
 ├── RecordError               one record cannot be synced (bad value, vendor 4xx); recorded
 |                             with its reason and retried next run, never aborts a run
 ├── AdapterError              talking to a system failed
 |    ├── RetriableError       429, 5xx, timeouts, dropped connections: back off and retry
 |    ├── AmbiguousWriteError  a create was sent but its outcome is unknown: look it up
 |    └── FatalError           other 4xx, bad credentials, config: stop the sync
 |         └── EgressError     a request to an address the egress policy refuses; nothing
 |                             was sent (engine/adapters/egress.py)
 ├── StateError                the state store refused (lease lost, migration mismatch)
 ├── MalformedRequestError     a vendor's webhook or action request is not its shape (400)
 └── DemoError                 `specsync demo` could not set its world up (engine/demo)

Not in the tree, on purpose: control flow inside one module (the template fast path's
`Bail`, `OmitSignal`, a pushdown's `NotExpressible`), and `ResourceLimitError`, which is
Jinja's SecurityError so the sandbox treats it as one; both render paths turn it into a
RecordError ("templates.too-large").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.diagnostics import Diagnostic

__all__ = [
    "AdapterError",
    "AmbiguousWriteError",
    "FatalError",
    "MalformedRequestError",
    "RecordError",
    "RecordSkipped",
    "RetriableError",
    "SafeguardTripped",
    "SpecError",
    "SpecsyncError",
    "StateError",
]


class SpecsyncError(Exception):
    """Base of every error specsync raises on purpose."""


class SpecError(SpecsyncError):
    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = sources or {}
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(
            f"{len(self.diagnostics)} problem(s) in spec"
            + (f"; first: {first.location}: {first.message}" if first else "")
        )


class RecordError(SpecsyncError):
    """One record cannot be synced. `code` is stable (e.g. "identity.invalid")."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"[{code}] {message}" + (f" (field {field})" if field else ""))


class RecordSkipped(RecordError):
    """A record the spec leaves out for a reason only mapping can see (its customer is
    not one the customers sync made, and that sync has run): counted as filtered with
    the reason, never a failure. Raised as a RecordError so every mapping path stops
    the record the same way; `Change.failure` turns it into a filtered change."""


class AdapterError(SpecsyncError):
    def __init__(self, message: str, *, status: int | None = None, vendor_reason: str = ""):
        self.status = status
        self.vendor_reason = vendor_reason
        super().__init__(message)


class RetriableError(AdapterError):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 vendor_reason: str = ""):
        super().__init__(message, status=status, vendor_reason=vendor_reason)
        self.retry_after = retry_after


class AmbiguousWriteError(AdapterError):
    """The request was sent, the answer never came: the write may or may not have happened."""


class FatalError(AdapterError):
    pass


class StateError(SpecsyncError):
    pass


class SafeguardTripped(SpecsyncError):
    """A safeguard stopped a run (reliability.md S12, S15, S20): nothing unsafe was written.

    `safeguard` names which one ("deletions", "failures", "circuit_breaker"), for metrics.
    """

    def __init__(self, safeguard: str, message: str) -> None:
        self.safeguard = safeguard
        super().__init__(message)


class MalformedRequestError(SpecsyncError, ValueError):
    """A request a vendor sent us is not the vendor's shape: answered 400, never retried."""
