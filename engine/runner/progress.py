"""Live progress of the runs a runner has in hand, for the console.

The pipeline already calls `progress(counts)` once per batch (run_sync). `LiveRun.update`
is that callback: it keeps a reference to the run's counts and appends one small sample
(time, read, written, requests sent so far), so a run pays a few hundred nanoseconds per
batch of a hundred records and never waits for anyone. Whoever asks (the console, on
the server's thread) computes rates and ETAs from those samples:

    live = board.begin(runtime, "customers", trigger="schedule")
    await run_sync(runtime, "customers", progress=live.update)
    board.end(live)
    board.snapshot()     # [RunProgress(...)] of the runs in progress

Rates are over the last `WINDOW` seconds. The request rate is read from the rate budgets
the source's and the target's adapters draw from, against the budget's limit (the
vendor's documented limit, or the connection's `rate_limit`). The ETA needs a total,
which only a source whose API counts its records gives (`Adapter.total`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from engine.adapters.ratelimit import RateBudget

if TYPE_CHECKING:
    from engine.sync.runtime import Runtime

__all__ = ["WINDOW", "LiveRun", "ProgressBoard", "RateUse", "RunProgress"]

WINDOW = 10.0  # seconds the rates are measured over
_WRITES = ("create", "update", "adopt", "deactivate", "delete")


@dataclass(frozen=True)
class RateUse:
    """Requests per second a connection sends now, against what its budget allows."""

    connection: str
    per_second: float
    limit_per_second: float

    @property
    def share(self) -> float:
        return self.per_second / self.limit_per_second if self.limit_per_second else 0.0


@dataclass(frozen=True)
class RunProgress:
    """A running sync as the console shows it."""

    integration: str
    sync: str
    trigger: str
    started_at: datetime
    elapsed: float
    read: int
    written: int
    failed: int
    read_rate: float  # records per second over the window
    write_rate: float
    total: int | None
    eta_seconds: float | None
    rates: tuple[RateUse, ...]

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return min(100.0, 100.0 * self.read / self.total)


@dataclass
class _Sample:
    at: float
    read: int
    written: int
    requests: tuple[int, ...]


@dataclass(eq=False)
class LiveRun:
    """One run in progress; `update` is the pipeline's per-batch progress callback."""

    integration: str
    sync: str
    trigger: str
    started_at: datetime
    connections: tuple[tuple[str, tuple[RateBudget, ...]], ...] = ()
    total: Callable[[], int | None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    counts: Mapping[str, int] = field(default_factory=dict)
    samples: deque[_Sample] = field(default_factory=lambda: deque(maxlen=512))

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._budgets = [b for _, group in self.connections for b in group]
        self.samples.append(self._sample(0, 0))

    def _sample(self, read: int, written: int) -> _Sample:
        return _Sample(self.clock(), read, written,
                       tuple(b.stats.acquired for b in self._budgets))

    def update(self, counts: dict[str, int]) -> None:
        """The pipeline's callback after each batch: cheap, and never blocks."""
        self.counts = counts
        self.samples.append(self._sample(counts.get("read", 0),
                                         sum(counts.get(k, 0) for k in _WRITES)))

    def view(self) -> RunProgress:
        """Rates over the last WINDOW seconds (or since the start), and the ETA."""
        now = self.clock()
        latest = self._sample(self.samples[-1].read, self.samples[-1].written)
        samples = list(self.samples)  # a copy: the run appends on another thread
        base = next((s for s in samples if now - s.at <= WINDOW), samples[-1])
        span = max(latest.at - base.at, 1e-6)
        read_rate = (latest.read - base.read) / span
        write_rate = (latest.written - base.written) / span
        rates = []
        index = 0
        for name, group in self.connections:
            sent = sum(latest.requests[index + i] - base.requests[index + i]
                       for i in range(len(group)))
            limit = max((b.limit / b.per_seconds for b in group), default=0.0)
            index += len(group)
            if group:
                rates.append(RateUse(name, sent / span, limit))
        try:
            total = self.total()
        except Exception:  # a source that cannot say: no ETA
            total = None
        read = latest.read
        eta = None
        if total is not None and total >= read and read_rate > 0:
            eta = (total - read) / read_rate
        counts = dict(self.counts)
        return RunProgress(self.integration, self.sync, self.trigger, self.started_at,
                           now - self.started, read, latest.written, counts.get("error", 0),
                           read_rate, write_rate, total, eta, tuple(rates))


class ProgressBoard:
    """The runs in progress in this process, by (integration, sync)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._runs: dict[tuple[str, str], LiveRun] = {}
        self._lock = threading.Lock()

    def begin(self, runtime: Runtime, sync_name: str, *, trigger: str) -> LiveRun:
        sync = runtime.spec.syncs[sync_name]
        connections = []
        for name in dict.fromkeys((sync.source_connection, sync.target_connection)):
            try:
                runtime.adapter(name)  # built now, so its budgets are known
            except Exception:
                continue  # the run reports it
            connections.append((name, tuple(runtime.budgets_of(name))))

        def total() -> int | None:
            return runtime.adapter(sync.source_connection).total(sync.source_object)

        live = LiveRun(runtime.spec.integration, sync_name, trigger, runtime.clock(),
                       tuple(connections), total, self.clock)
        with self._lock:
            self._runs[(live.integration, sync_name)] = live
        return live

    def end(self, live: LiveRun) -> None:
        with self._lock:
            if self._runs.get((live.integration, live.sync)) is live:
                del self._runs[(live.integration, live.sync)]

    def running(self, integration: str, sync: str) -> bool:
        with self._lock:
            return (integration, sync) in self._runs

    def snapshot(self) -> list[RunProgress]:
        with self._lock:
            runs = list(self._runs.values())
        return sorted((run.view() for run in runs), key=lambda p: (p.integration, p.sync))
