"""How the console and its alerts are configured: secrets only as environment references.

    settings = ConsoleSettings.from_environ(os.environ)          # the defaults below
    settings = ConsoleSettings.from_environ(env, operator="${OPS_PASSWORD}")

- `operator` and `viewer`: the password (or token) of each role, as `${NAME}` references
  (a literal secret on a command line shows in `ps` and in shell history). The console is
  on when at least one is set; each must be at least 12 characters.
- `alert_webhook`: a Slack- or Teams-compatible incoming-webhook URL, also a reference
  (the URL is itself a credential). Alerts are on when it is set, console or not.
- `failing_threshold`: failing records (not acknowledged) in one sync that open an alert.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import SpecsyncError

__all__ = ["DEFAULT_REFS", "MIN_SECRET_LENGTH", "ConsoleConfigError", "ConsoleSettings"]

MIN_SECRET_LENGTH = 12
DEFAULT_REFS = {
    "operator": "${SPECSYNC_CONSOLE_OPERATOR}",
    "viewer": "${SPECSYNC_CONSOLE_VIEWER}",
    "alert_webhook": "${SPECSYNC_ALERT_WEBHOOK}",
}
_REFERENCE = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)\}$")


class ConsoleConfigError(SpecsyncError):
    """A console or alert setting that cannot be used; the message says which and why."""


def _resolve(option: str, reference: str, environ: Mapping[str, str]) -> str | None:
    match = _REFERENCE.match(reference.strip())
    if match is None:
        raise ConsoleConfigError(
            f"{option} has value {reference[:3] + '...' if len(reference) > 3 else reference!r};"
            " expected an environment reference such as ${SPECSYNC_CONSOLE_OPERATOR} "
            "(a secret written out on the command line shows in ps and shell history)")
    value = environ.get(match.group(1), "").strip()
    return value or None


@dataclass(frozen=True)
class ConsoleSettings:
    """The console's secrets and the alerts' receiver, resolved (see module docstring)."""

    operator_secret: str | None = field(default=None, repr=False)
    viewer_secret: str | None = field(default=None, repr=False)
    alert_webhook: str | None = field(default=None, repr=False)
    failing_threshold: int = 10
    alert_interval: float = 30.0  # seconds between two looks at the alert conditions
    stale_grace: float = 300.0  # seconds past the second missed slot before "overdue"
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *,
                     operator: str = DEFAULT_REFS["operator"],
                     viewer: str = DEFAULT_REFS["viewer"],
                     alert_webhook: str = DEFAULT_REFS["alert_webhook"],
                     failing_threshold: int = 10, alert_interval: float = 30.0,
                     stale_grace: float = 300.0) -> ConsoleSettings:
        env = dict(os.environ) if environ is None else dict(environ)
        operator_secret = _resolve("--console-operator", operator, env)
        viewer_secret = _resolve("--console-viewer", viewer, env)
        for role, secret in (("operator", operator_secret), ("viewer", viewer_secret)):
            if secret is not None and len(secret) < MIN_SECRET_LENGTH:
                raise ConsoleConfigError(
                    f"the console's {role} secret is {len(secret)} characters long; use at "
                    f"least {MIN_SECRET_LENGTH} (a long random token, e.g. from "
                    "`python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
        if operator_secret is not None and operator_secret == viewer_secret:
            raise ConsoleConfigError("the console's operator and viewer secrets are the same; "
                                     "give each role its own")
        if failing_threshold < 1:
            raise ConsoleConfigError(f"--alert-failing has value {failing_threshold}; "
                                     "expected a whole number >= 1")
        return cls(operator_secret, viewer_secret,
                   _resolve("--alert-webhook", alert_webhook, env), failing_threshold,
                   alert_interval, stale_grace, env)

    @property
    def console_on(self) -> bool:
        return bool(self.operator_secret or self.viewer_secret)

    @property
    def alerts_on(self) -> bool:
        return bool(self.alert_webhook)
