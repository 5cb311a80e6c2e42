"""What the runner's request handlers and workers share, in one place.

`deployment` is replaced on reload; handlers read it once per request, so a request
finishes on the specs it started with. `progress` holds the runs in progress (the
console shows them); `breakers` is where circuit-breaker state is read from (see
`breakers()`); `run_finished` is called after every run this runner makes (the alert
monitor looks at once instead of at its next round).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engine.runner.deployment import Deployment
from engine.runner.gate import SyncGate
from engine.runner.inbox_writer import InboxWriter
from engine.runner.metrics import RunnerMetrics
from engine.runner.progress import ProgressBoard
from engine.state.base import StateStore
from engine.sync.runtime import utc_now

__all__ = ["BreakerView", "RunnerContext"]


def _nothing(*args: object) -> None:
    return None


@dataclass(frozen=True)
class BreakerView:
    """One circuit breaker as the console and the alerts show it.

    Circuit breakers (per system and endpoint, reliability.md S15) are built beside the
    console; whatever keeps them offers this view through `RunnerContext.breakers`.
    """

    system: str  # the connection or vendor whose endpoint it guards
    endpoint: str
    state: Literal["closed", "open", "half-open"]
    integration: str | None = None
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    failures: int = 0
    reason: str | None = None


def _store_breakers(store: Any) -> Sequence[BreakerView]:
    """The store's `breakers()` when it has one (none yet: an empty list)."""
    query = getattr(store, "breakers", None)
    if query is None:
        return []
    found: Iterable[Any] = query()
    return [b if isinstance(b, BreakerView) else BreakerView(
        system=str(getattr(b, "system", "")), endpoint=str(getattr(b, "endpoint", "")),
        state=getattr(b, "state", "open"), integration=getattr(b, "integration", None),
        opened_at=getattr(b, "opened_at", None), retry_at=getattr(b, "retry_at", None),
        failures=int(getattr(b, "failures", 0)), reason=getattr(b, "reason", None))
        for b in found]


@dataclass
class RunnerContext:
    deployment: Deployment
    store: StateStore
    metrics: RunnerMetrics = field(default_factory=RunnerMetrics)
    gate: SyncGate = field(default_factory=SyncGate)
    clock: Callable[[], datetime] = utc_now
    public_url: str | None = None  # the base URL vendors call, when behind a proxy
    max_body_bytes: int = 1_000_000
    max_inbox_depth: int = 200_000  # beyond it webhooks get 503 + Retry-After
    wake_inbox: Callable[[], None] = _nothing
    progress: ProgressBoard = field(default_factory=ProgressBoard)
    breaker_source: Callable[[StateStore], Sequence[BreakerView]] = _store_breakers
    run_finished: Callable[[str, str], None] = _nothing
    _depth: int | None = field(default=None, init=False, repr=False)
    _writer: InboxWriter | None = field(default=None, init=False, repr=False)
    _depth_at: float = field(default=0.0, init=False, repr=False)
    _depth_refresh: asyncio.Future[int] | None = field(default=None, init=False, repr=False)

    def inbox_depth(self, max_age: float = 1.0) -> int | None:
        """The inbox depth, cached for `max_age` seconds (a count on every request is
        wasted work during a burst); None when the store cannot be read."""
        now = time.monotonic()
        if self._depth is None or now - self._depth_at > max_age:
            try:
                self._depth = self.store.inbox_depth()
            except Exception:
                return None
            self._depth_at = now
        return self._depth

    def inbox_depth_nowait(self, max_age: float = 1.0) -> int | None:
        """The inbox depth as last counted, for the request path: it never waits for the
        store (busy with the worker's commits). When the count is older than `max_age` a
        recount starts in a thread and the old value is used meanwhile; None until the
        first count is in (the bound is a soft one, see webhooks.py)."""
        now = time.monotonic()
        if (self._depth is None or now - self._depth_at > max_age) and \
                self._depth_refresh is None:
            refresh = asyncio.get_running_loop().run_in_executor(None, self.store.inbox_depth)
            self._depth_refresh = refresh

            def counted(future: asyncio.Future[int]) -> None:
                self._depth_refresh = None
                if not future.cancelled() and future.exception() is None:
                    self._depth, self._depth_at = future.result(), time.monotonic()

            refresh.add_done_callback(counted)
        return self._depth

    def inbox_writer_if_any(self) -> InboxWriter | None:
        return self._writer

    def inbox_writer(self) -> InboxWriter:
        """The group-commit writer of this runner's inbox (made on first use)."""
        if self._writer is None or self._writer.store is not self.store:
            self._writer = InboxWriter(self.store, self.clock)
        return self._writer

    def note_stored(self, count: int) -> None:
        if self._depth is not None:
            self._depth += count

    def breakers(self) -> list[BreakerView]:
        """Every circuit breaker known, open ones first; [] where none exist yet."""
        found = list(self.breaker_source(self.store))
        order = {"open": 0, "half-open": 1, "closed": 2}
        return sorted(found, key=lambda b: (order.get(b.state, 3), b.system, b.endpoint))
