"""What `specsync run` shows while a sync runs, told truthfully on long runs.

    customers ━━━━━━━╸━━━━━━  1,200 of 100,000 read · 1,100 written (9.8/s) ·
              cinode 19.7 of 20 requests/s · ETA 2 h 47 min

Records read and written, the total when the source's API states one (else no bar and
no made-up figure), writes per second, the target's requests per second against the
vendor's limit (the limit is what sets the pace of a long run), and an ETA from the
rate records were done at lately. On a terminal it is a live bar on stderr; elsewhere
(CI, a log file) the same line is printed every `interval` seconds, so a long run
never sits silent.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.sync.pace import RequestMeter

__all__ = ["ProgressState", "RunProgress", "print_periodically"]

_WRITES = ("create", "update", "adopt", "deactivate", "delete")
_DONE = (*_WRITES, "skip", "filtered", "error")
_WINDOW = 20.0  # seconds of recent history a rate is taken over


class _Rate:
    """Change per second of a growing count over the last `_WINDOW` seconds."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, value: int) -> None:
        self._samples.append((now, value))
        while len(self._samples) > 2 and now - self._samples[1][0] >= _WINDOW:
            self._samples.popleft()

    def per_second(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, v0), (t1, v1) = self._samples[0], self._samples[-1]
        return (v1 - v0) / (t1 - t0) if t1 - t0 >= 1.0 else None


@dataclass(frozen=True)
class ProgressState:
    """One moment of a run, in numbers."""

    read: int
    done: int  # records decided and, when they write, written or failed
    written: int
    total: int | None
    written_per_second: float | None
    requests_per_second: float | None
    limit_per_second: float | None
    eta_seconds: float | None
    # Days the rest takes when it needs more requests than the target's daily quota has
    # left (engine/sync/quota.py: the run stops when it is spent, the next carries on).
    quota_days: int | None = None

    def line(self, connection: str | None = None) -> str:
        from engine.sync.pace import duration

        if self.total is not None:
            parts = [f"{self.read:,} of {self.total:,} read"]
        else:  # no total before the first page; some sources never state one
            parts = [f"{self.read:,} read" + (" (the source states no total)"
                                              if self.read else "")]
        rate = f" ({self.written_per_second:,.1f}/s)" if self.written_per_second else ""
        parts.append(f"{self.written:,} written{rate}")
        if connection is not None and self.requests_per_second is not None:
            limit = f" of {self.limit_per_second:g}" if self.limit_per_second else ""
            parts.append(f"{connection} {self.requests_per_second:,.1f}{limit} requests/s")
        if self.quota_days is not None:
            parts.append(f"ETA {self.quota_days} days (the target's daily request quota)")
        elif self.eta_seconds is not None:
            parts.append(f"ETA {duration(self.eta_seconds)}")
        return " · ".join(parts)


class RunProgress:
    """Counts from the pipeline in (`update`), a `ProgressState` out at any moment.

    `update` runs on the event loop; `state` may run on rich's refresh thread: the
    counts are swapped whole, never changed in place.
    """

    def __init__(self, sync: str, *, total: Callable[[], int | None],
                 target: RequestMeter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sync = sync
        self._total = total
        self.target = target
        self._clock = clock
        self._counts: Mapping[str, int] = {}
        self._done = _Rate()
        self._written = _Rate()
        self._requests = _Rate()
        self._started = clock()
        self._updated = self._started
        self._sent_at_start = target.sent() if target is not None else 0
        self._sample(self._started)

    def update(self, counts: Mapping[str, int]) -> None:
        self._counts = dict(counts)
        self._updated = self._clock()
        self._sample(self._updated)

    def _sample(self, now: float) -> None:
        counts = self._counts
        self._done.add(now, sum(counts.get(k, 0) for k in _DONE))
        self._written.add(now, sum(counts.get(k, 0) for k in _WRITES))
        if self.target is not None:
            self._requests.add(now, self.target.sent())

    def state(self) -> ProgressState:
        now = self._clock()
        if self.target is not None:
            self._requests.add(now, self.target.sent())
        counts = self._counts
        read = counts.get("read", 0)
        done = sum(counts.get(k, 0) for k in _DONE)
        total = self._total()
        if total is not None:
            total = max(total, read)  # a source that grew while read: never "120 of 100"
        eta = None
        done_rate = self._done.per_second()
        if done_rate is None and done and now - self._started >= 1.0:
            done_rate = done / (now - self._started)
        if total is not None and done_rate:
            # counts move a batch at a time: between batches the ETA counts down
            eta = max(0.0, max(0, total - done) / done_rate - (now - self._updated))
        return ProgressState(
            read=read, done=done, written=sum(counts.get(k, 0) for k in _WRITES),
            total=total, written_per_second=self._written.per_second(),
            requests_per_second=self._requests.per_second() if self.target else None,
            limit_per_second=self.target.per_second if self.target else None,
            eta_seconds=eta, quota_days=self._quota_days(total, done))

    def _quota_days(self, total: int | None, done: int) -> int | None:
        """Days the rest takes at this run's requests per record, when that is more than
        the target's daily quota has left today (None: it fits, or nothing is known)."""
        budget = getattr(getattr(self.target, "session", None), "budget", None)
        left = getattr(budget, "daily_left", None)
        per_day = getattr(budget, "daily_limit", None)
        if self.target is None or total is None or not done or left is None or not per_day:
            return None
        need = (total - done) * (self.target.sent() - self._sent_at_start) / done
        if need <= left:
            return None
        return 1 + math.ceil((need - max(left, 0)) / per_day)

    def line(self) -> str:
        return self.state().line(self.target.connection if self.target else None)


async def print_periodically(progress: RunProgress, emit: Callable[[str], None], *,
                             interval: float = 10.0) -> None:
    """Where no live bar can be drawn: `emit` the progress line every `interval` seconds
    until cancelled."""
    while True:
        await asyncio.sleep(interval)
        emit(f"{progress.sync}: {progress.line()}")
