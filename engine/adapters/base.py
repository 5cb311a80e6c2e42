"""The adapter protocol: what the sync engine asks of every system it talks to.

An adapter turns one vendor API into records with the field names and types its catalog
declares (`schemas/objects/<adapter>.json`), and turns target payloads back into the
vendor's calls. It is async and takes the `httpx.AsyncClient` it talks through, so tests
and sandboxes plug in an ASGI transport without patching the network. All traffic goes
through one `HttpSession` (budgets, retries, redaction) built by `AdapterContext`.

Writes are per batch and report per item: one rejected record never fails its batch
mates. A create whose outcome is unknown comes back as `WriteResult.ambiguous`, and the
engine resolves it with `find_external` before trying again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from engine.adapters.ratelimit import RateBudgets
from engine.errors import RecordError
from engine.redact import Redactor
from engine.spec.catalog import Catalog

__all__ = [
    "Adapter",
    "AdapterContext",
    "CheckResult",
    "ConnectionConfig",
    "Record",
    "WriteOp",
    "WriteResult",
]

Record = dict[str, Any]


@dataclass(frozen=True)
class ConnectionConfig:
    """A spec connection with its ${ENV} references resolved (secrets live only here)."""

    name: str
    adapter: str
    base_url: str
    auth: Mapping[str, str] = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    rate_limit: tuple[int, float] | None = None  # requests per seconds, overriding the default


@dataclass
class AdapterContext:
    """What every adapter instance shares in one process: budgets, redaction, the clock."""

    budgets: RateBudgets
    redactor: Redactor
    now: Any = None  # Callable[[], datetime]; None means the system clock


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str  # plain words for `specsync check`: what works, or what to fix


@dataclass(frozen=True)
class WriteOp:
    """One record to write. `key` is the source key, for errors and links."""

    kind: Literal["create", "update", "delete"]
    key: str
    payload: Mapping[str, Any]
    target_id: str | None = None  # for update and delete
    external_field: str | None = None  # the target field holding the key (external match)


@dataclass(frozen=True)
class WriteResult:
    key: str
    target_id: str | None = None
    error: RecordError | None = None
    ambiguous: bool = False  # sent, no answer: look it up by external id before retrying
    created: bool = False  # an upsert may create where an update was planned, and vice versa

    @property
    def ok(self) -> bool:
        return self.error is None and not self.ambiguous


@runtime_checkable
class Adapter(Protocol):
    """One system. Construct with (ConnectionConfig, httpx.AsyncClient, AdapterContext)."""

    name: str

    def describe(self) -> Catalog:
        """The objects and fields this adapter offers (its catalog)."""
        ...

    async def check(self) -> CheckResult:
        """Authenticate and make one cheap read; say plainly what works or what does not."""
        ...

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        """Stream every record, or those changed since `since` on `cursor_field`.

        Changed-since reads come in ascending cursor order where the API allows it, so
        a checkpoint never passes a record that was not yet seen.
        """
        ...

    def total(self, obj: str) -> int | None:
        """How many records a full read will yield, when the API says so (for ETAs)."""
        ...

    async def get(self, obj: str, target_id: str) -> Record | None:
        """One record by its own id, or None when it does not exist."""
        ...

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        """Records whose `field_name` equals one of `values`, keyed by that value."""
        ...

    def max_batch(self, obj: str) -> int:
        """How many writes one call can carry (1 where the API has no batch endpoint)."""
        ...

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Apply the ops, batched as the API allows; one result per op, in order."""
        ...

    async def aclose(self) -> None:
        ...


def client_for(config: ConnectionConfig, transport: httpx.AsyncBaseTransport | None = None,
               timeout: float = 30.0) -> httpx.AsyncClient:
    """The httpx client an adapter gets: base URL, timeouts, an optional test transport."""
    return httpx.AsyncClient(base_url=config.base_url, transport=transport,
                             timeout=httpx.Timeout(timeout, connect=10.0),
                             headers={"User-Agent": "specsync/0.1"})
