"""Sandbox time: injected, so tests can jump an hour and watch tokens expire or rate
windows reset. `SystemClock` for the demo, `ManualClock` for tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

#: Where a `ManualClock` starts unless told otherwise: after every generated timestamp
#: (see `engine.sandbox.platform.seed.REFERENCE_TIME`), so generated data is in the past.
DEFAULT_START = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)


def isoformat_z(moment: datetime) -> str:
    """`2025-01-15T09:00:00Z`: the UTC form the sandboxes print (no microseconds)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@runtime_checkable
class Clock(Protocol):
    """The sandbox's notion of now; always an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, for the demo."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """Time that only moves when a test says so (`advance`, `set`)."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _aware_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> datetime:
        with self._lock:
            self._now = _aware_utc(moment)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({isoformat_z(self._now)})"


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)
