"""Fixed-window rate limits; vendors wrap each decision in their own headers and 429s."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass

from engine.sandbox.platform.clock import Clock


@dataclass(frozen=True)
class RateDecision:
    """One rate-limit answer; vendors turn it into their own headers and 429 bodies."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float  # until the current window ends


class RateLimiter:
    """Fixed windows per key, aligned to the epoch so a `ManualClock` makes them exact."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(f"RateLimiter needs limit >= 1 and window > 0, "
                             f"got {limit}/{window_seconds}s")
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._windows: dict[Hashable, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def check(self, key: Hashable = "") -> RateDecision:
        """Count one request for `key` and say whether it may proceed."""
        now = self.clock.now().timestamp()
        window = int(now // self.window_seconds)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                count = 0
            count += 1
            self._windows[key] = (window, count)
        reset = (window + 1) * self.window_seconds - now
        allowed = count <= self.limit
        return RateDecision(allowed, self.limit, max(0, self.limit - count), reset)
