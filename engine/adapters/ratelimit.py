"""One request budget per credential, shared by every sync that uses the credential.

Vendors limit per token / company / portal, not per sync: Cinode allows 40 requests per
2-second window per company, HubSpot 100-190 per 10 seconds per portal plus a per-second
cap. Two syncs using one HubSpot token must therefore draw from one budget, or together
they provoke the 429s each would avoid alone. `RateBudgets` is the instance-owned
registry that hands out that shared `RateBudget` by (hashed) credential.

A `RateBudget` is a sliding-window limiter: at most `limit` acquisitions in any
`per_seconds` interval, which also holds for the vendor's fixed windows. It learns from
response headers:

- Cinode `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` (seconds left
  in the window);
- HubSpot `X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`,
  `-Secondly`, `-Secondly-Remaining`;
- `Retry-After` on 429/503 (seconds or HTTP-date);
- Cinode `x-daily-requests-left` and HubSpot `X-HubSpot-RateLimit-Daily-Remaining` at zero
  (nothing more until midnight UTC),

and when the vendor says nothing is left it waits until the window resets instead of
sending a request that will be refused.

A vendor that states when its window resets (Cinode) counts requests in FIXED windows,
by their arrival. Once one reset is seen the budget follows the vendor's windows instead
of sliding its own: at most `limit` acquisitions per vendor window, where a request
acquired in the last `guard` seconds of a window (a fifth of it) counts in the next one too,
since it may arrive there. A sliding window needs a margin the size of the worst delay
between acquiring and arriving (a loaded machine stalls a process for a tenth of a
second) on EVERY window, which costs the same share of the limit; the vendor's own
windows need it only where they meet, and a window filled early pays nothing. The
windows' phase is learned as the earliest end the `x-ratelimit-reset` values imply:
each is read after the vendor decided (and Cinode rounds it up), so the earliest is the
closest to the truth and never before it. Waits are counted for metrics. Clock and sleep
are injectable so tests run on a fake clock and never sleep.

The `Budget` protocol is the small seam a distributed budget implements: `acquire()`,
`observe()`, `key`, `stats`. engine/scale/budget.py keeps one budget per credential in
PostgreSQL for every worker of a cluster, computed by this same code (`snapshot`,
`restore`, `wait_at`, `take_at`, `learn_at`) on the database's clock.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.adapters.retry import parse_retry_after
from engine.errors import RetriableError

__all__ = ["Budget", "BudgetStats", "RateBudget", "RateBudgets", "credential_key"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

# A wait never shorter than this: adding less than an ulp to a large clock value would
# leave the clock where it was and spin the acquire loop forever.
_MIN_WAIT = 1e-6


def credential_key(credential: str) -> str:
    """A stable, non-reversible name for a credential (never the secret itself).

    Stable across processes so a distributed budget keyed by it is shared by all workers.
    """
    digest = hashlib.sha256(b"specsync-rate-budget\0" + credential.encode()).hexdigest()
    return f"cred-{digest[:16]}"


@dataclass
class BudgetStats:
    """Counters for metrics: acquisitions, how often and how long callers waited."""

    acquired: int = 0
    waits: int = 0
    waited_seconds: float = 0.0


@runtime_checkable
class Budget(Protocol):
    """What `HttpSession` needs from a rate budget; in-process or distributed."""

    key: str

    @property
    def stats(self) -> BudgetStats: ...

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait until one more request may be sent; return the seconds waited.

        Raises `RetriableError(retry_after=...)` if that would take longer than `max_wait`.
        """
        ...

    async def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's rate-limit headers (names looked up case-insensitively)."""
        ...


@dataclass
class _Window:
    limit: int
    per_seconds: float


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


def _seconds_to_utc_midnight(wall: float) -> float:
    return 86_400.0 - (wall % 86_400.0)


class RateBudget:
    """In-process sliding-window budget for one credential; see the module docstring.

    Concurrent callers queue on a lock in arrival order, so waiting is fair and the
    window is never exceeded even when many tasks share the budget.
    """

    def __init__(
        self,
        key: str,
        limit: int,
        per_seconds: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        if limit < 1 or per_seconds <= 0:
            raise ValueError(
                f"rate budget {key}: limit={limit}, per_seconds={per_seconds}; "
                "expected limit >= 1 and per_seconds > 0"
            )
        self.key = key
        self._configured = _Window(limit, per_seconds)
        # Windows the vendor told us about, by name ("interval", "secondly").
        self._learned: dict[str, _Window] = {}
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._sent: list[float] = []  # acquisition times, ascending
        self._blocked_until = 0.0  # server said "nothing until then" (Retry-After, reset)
        self._vendor_remaining: float | None = None  # vendor's count for its current window
        self._vendor_window_end = 0.0
        self._fixed_end: float | None = None  # the end of one vendor window (see above)
        self._lock = asyncio.Lock()
        self._stats = BudgetStats()
        # Seconds added to every window: a shared budget's acquisitions and the requests'
        # arrival at the vendor are apart by a few ms, which a full window must absorb.
        self.margin = 0.0
        #: The vendor's daily quota as last heard (`x-daily-requests-left`, HubSpot's
        #: `-Daily-Remaining`), counted down by each acquisition; None: not known.
        self.daily_left: float | None = None
        #: Requests the vendor allows a day (HubSpot's `-Daily`, else the adapter's
        #: documented figure); None: not known.
        self.daily_limit: int | None = None

    def __repr__(self) -> str:
        w = self._configured
        return f"RateBudget({self.key!r}, limit={w.limit}, per_seconds={w.per_seconds})"

    @property
    def stats(self) -> BudgetStats:
        return self._stats

    @property
    def limit(self) -> int:
        return self._configured.limit

    @property
    def per_seconds(self) -> float:
        return self._configured.per_seconds

    def _windows(self) -> Iterator[_Window]:
        yield self._configured
        yield from self._learned.values()

    def _wait_needed(self, now: float) -> float:
        return self.wait_at(now)

    # -- the budget's state, for a shared store (engine/scale/budget.py) --------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the budget knows, as JSON-able values (times on its own clock)."""
        return {"limit": self._configured.limit, "sent": list(self._sent),
                "blocked_until": self._blocked_until,
                "vendor_remaining": self._vendor_remaining,
                "vendor_window_end": self._vendor_window_end,
                "fixed_end": self._fixed_end,
                "learned": {k: [w.limit, w.per_seconds] for k, w in self._learned.items()}}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take over a `snapshot` (another process's view of the same credential)."""
        if not state:
            return
        self._configured.limit = min(self._configured.limit,
                                     int(state.get("limit") or self._configured.limit))
        self._sent = [float(t) for t in state.get("sent", ())]
        self._blocked_until = float(state.get("blocked_until", 0.0))
        remaining = state.get("vendor_remaining")
        self._vendor_remaining = None if remaining is None else float(remaining)
        self._vendor_window_end = float(state.get("vendor_window_end", 0.0))
        fixed = state.get("fixed_end")
        self._fixed_end = None if fixed is None else float(fixed)
        self._learned = {k: _Window(int(v[0]), float(v[1]))
                         for k, v in (state.get("learned") or {}).items()}

    def take_at(self, now: float) -> None:
        """Record one acquisition at `now` (the caller checked `wait_at(now) <= 0`)."""
        self._trim(now)
        self._sent.append(now)
        if self._vendor_remaining is not None:
            self._vendor_remaining -= 1
        if self.daily_left is not None:
            self.daily_left -= 1
        self._stats.acquired += 1

    def wait_at(self, now: float) -> float:
        """Seconds from `now` until one more request may go (<= 0: at once)."""
        wait = self._blocked_until - now
        if self._vendor_remaining is not None:
            if now >= self._vendor_window_end:
                self._vendor_remaining = None  # the vendor's window has reset
            elif self._vendor_remaining <= 0:
                wait = max(wait, self._vendor_window_end - now)
        windows: Iterator[_Window] = self._windows()
        if self._fixed_end is not None:
            wait = max(wait, self._fixed_wait(now))
            windows = iter(self._learned.values())  # the vendor's windows replace ours
        for window in windows:
            start = bisect.bisect_right(self._sent, now - window.per_seconds)
            in_window = len(self._sent) - start
            if in_window >= window.limit:
                # The oldest acquisition that must leave the window before we may go.
                oldest = self._sent[len(self._sent) - window.limit]
                wait = max(wait, oldest + window.per_seconds + self.margin - now)
        return wait

    @property
    def guard(self) -> float:
        """The end of a vendor window whose acquisitions count in the next one too."""
        return min(1.0, 0.2 * self._configured.per_seconds)

    def _fixed_window_end(self, now: float) -> float:
        assert self._fixed_end is not None
        period = self._configured.per_seconds
        return self._fixed_end + (math.floor((now - self._fixed_end) / period) + 1) * period

    def _fixed_wait(self, now: float) -> float:
        """Seconds until the vendor window containing `now` has room (see the docstring)."""
        end = self._fixed_window_end(now)
        since = end - self._configured.per_seconds - self.guard
        counted = len(self._sent) - bisect.bisect_left(self._sent, since)
        return end - now if counted >= self._configured.limit else 0.0

    def _learn_window(self, candidate_end: float) -> None:
        if self._fixed_end is None:
            self._fixed_end = candidate_end
            return
        period = self._configured.per_seconds
        projected = self._fixed_end + round((candidate_end - self._fixed_end) / period) * period
        self._fixed_end = min(projected, candidate_end)

    def _trim(self, now: float) -> None:
        horizon = max(w.per_seconds for w in self._windows()) + self.guard + self.margin
        cut = bisect.bisect_right(self._sent, now - horizon)
        if cut:
            del self._sent[:cut]

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait for room in every window; record the acquisition; return seconds waited."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    break
                if max_wait is not None and wait > max_wait:
                    raise RetriableError(
                        f"rate budget {self.key}: next request allowed in {wait:.1f}s, "
                        f"more than the {max_wait:.1f}s we wait in-process",
                        retry_after=wait,
                    )
                wait = max(wait, _MIN_WAIT)
                await self._sleep(wait)
                waited += wait
            self.take_at(now)
            if waited:
                self._stats.waits += 1
                self._stats.waited_seconds += waited
            return waited

    async def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn limits, remaining counts and resets from one response."""
        self.learn_at(self._clock(), status, headers)

    def learn_at(self, now: float, status: int, headers: Mapping[str, str]) -> None:
        """`observe` at a given moment of the budget's clock."""
        # Cinode: the vendor's limit caps ours (never raises it: a lower configured limit
        # leaves headroom for other apps on the same account).
        vendor_limit = _number(headers, "x-ratelimit-limit")
        if vendor_limit is not None and vendor_limit >= 1:
            self._configured.limit = min(self._configured.limit, int(vendor_limit))
        reset = _number(headers, "x-ratelimit-reset")
        remaining = _number(headers, "x-ratelimit-remaining")
        if remaining is not None and reset is not None:
            self._note_remaining(now, remaining, now + max(0.0, reset))
        if reset is not None and 0 < reset <= self._configured.per_seconds + 0.001:
            # A reset past our period is not one window of ours: then we keep sliding.
            self._learn_window(now + reset + 0.001)  # +1 ms: a reset rounded to the ms

        # HubSpot: a rolling interval and a per-second cap, neither with a reset time.
        hs_max = _number(headers, "x-hubspot-ratelimit-max")
        hs_interval = _number(headers, "x-hubspot-ratelimit-interval-milliseconds")
        if hs_max is not None and hs_max >= 1 and hs_interval and hs_interval > 0:
            self._learned["interval"] = _Window(int(hs_max), hs_interval / 1000.0)
        hs_secondly = _number(headers, "x-hubspot-ratelimit-secondly")
        if hs_secondly is not None and hs_secondly >= 1:
            self._learned["secondly"] = _Window(int(hs_secondly), 1.0)
        if _number(headers, "x-hubspot-ratelimit-secondly-remaining") == 0:
            self._blocked_until = max(self._blocked_until, now + 1.0)
        hs_remaining = _number(headers, "x-hubspot-ratelimit-remaining")
        if hs_remaining is not None and hs_interval:
            # Unknown reset: assume the worst, a full interval from now.
            self._note_remaining(now, hs_remaining, now + hs_interval / 1000.0)

        # Daily quotas (Cinode per company, HubSpot per private app): when spent, nothing
        # more goes out until midnight UTC, so acquire() surfaces a RetriableError with
        # that retry_after instead of provoking a day of 429s. (HubSpot resets at the
        # portal's midnight; UTC midnight is an approximation that errs towards waiting.)
        daily_left = _number(headers, "x-daily-requests-left")
        if daily_left is None:
            daily_left = _number(headers, "x-hubspot-ratelimit-daily-remaining")
        daily_max = _number(headers, "x-hubspot-ratelimit-daily")
        if daily_max is not None and daily_max >= 1:
            self.daily_limit = int(daily_max)
        if daily_left is not None:
            # Answers overtake each other: within a day the lowest count is the news.
            self.daily_left = daily_left if self.daily_left is None or \
                daily_left > self.daily_left + self._configured.limit else \
                min(self.daily_left, daily_left)
        if daily_left is not None and daily_left <= 0:
            self._blocked_until = max(
                self._blocked_until, now + _seconds_to_utc_midnight(self._wall_clock())
            )

        if status in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"), now=self._wall_clock())
            if retry_after is None and status == 429 and reset is not None:
                retry_after = max(0.0, reset)
            if retry_after is not None:
                self._blocked_until = max(self._blocked_until, now + retry_after)

    def _note_remaining(self, now: float, remaining: float, window_end: float) -> None:
        if self._vendor_remaining is None or now >= self._vendor_window_end:
            self._vendor_remaining = remaining
            self._vendor_window_end = window_end
        else:
            # Responses arrive out of order; the lowest count is the freshest news
            # about this window (we decrement on every acquisition ourselves).
            self._vendor_remaining = min(self._vendor_remaining, remaining)
            if remaining <= 0:
                self._vendor_window_end = max(self._vendor_window_end, window_end)


class RateBudgets:
    """Instance-owned registry: one `RateBudget` per credential in this process.

    The runner owns one and hands it to every adapter, so syncs sharing a credential
    share its budget. Keys are hashed with `credential_key()`; the secret is not kept.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._budgets: dict[str, RateBudget] = {}

    def for_credential(self, key: str, limit: int, per_seconds: float) -> RateBudget:
        """The shared budget for a credential (or any stable identity of it).

        `key` is hashed before it is stored, so passing the token itself is safe. The
        first caller's limit wins; a later, lower limit tightens the shared budget.
        """
        hashed = credential_key(key)
        budget = self._budgets.get(hashed)
        if budget is None:
            budget = RateBudget(
                hashed,
                limit,
                per_seconds,
                clock=self._clock,
                sleep=self._sleep,
                wall_clock=self._wall_clock,
            )
            self._budgets[hashed] = budget
        elif limit < budget.limit and per_seconds >= budget.per_seconds:
            budget._configured.limit = limit
        return budget

    def __iter__(self) -> Iterator[RateBudget]:
        return iter(list(self._budgets.values()))

    def __len__(self) -> int:
        return len(self._budgets)
