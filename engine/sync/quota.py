"""Planned backfill: a run that needs more requests than the vendor's daily quota.

Cinode allows 10,000 requests a day: a first run of 100,000 customers (two calls each)
takes 20 days. Such a run must say so before it starts (`plan`: days and requests),
then go as far as the quota allows, committing batch by batch, and stop cleanly before
the vendor starts refusing: the next run reads on, skips every record already linked
(no request to the target) and writes the rest. The quota is what the target's rate
budget heard from the vendor (`RateBudget.daily_left`, counted down per request) and
what the adapter documents (`daily_limit`).

The run's message starts with `BACKFILL_PREFIX`, so `status` can show the ETA of a
stopped backfill from the run record alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.adapters.ratelimit import RateBudget
from engine.sync.changes import Change, ChangeKind
from engine.sync.pace import RequestMeter

__all__ = ["BACKFILL_PREFIX", "DailyQuota", "QuotaDays", "quota_days"]

BACKFILL_PREFIX = "backfill: "
_LOOKUP_RESERVE = 5  # requests kept for a batch's look-ups beyond its writes


@dataclass(frozen=True)
class QuotaDays:
    """How a number of requests fits a connection's daily quota."""

    connection: str
    requests: int
    left_today: int
    per_day: int

    @property
    def days(self) -> int:
        if self.requests <= self.left_today:
            return 1
        return 1 + math.ceil((self.requests - self.left_today) / max(self.per_day, 1))

    def describe(self) -> str:
        return (f"{self.connection} allows {self.per_day:,} requests a day and has "
                f"{self.left_today:,} left today: the run's {self.requests:,} requests take "
                f"{self.days} days (each run stops when the day's quota is spent and the "
                "next one carries on)")


def _budget(meter: RequestMeter | None) -> RateBudget | None:
    budget = meter.session.budget if meter is not None else None
    return budget if isinstance(budget, RateBudget) else None


def quota_days(meter: RequestMeter | None, requests: int) -> QuotaDays | None:
    """The days `requests` take on the meter's connection; None when they fit today or
    the quota is not known."""
    budget = _budget(meter)
    if meter is None or budget is None or budget.daily_limit is None:
        return None
    left = budget.daily_left if budget.daily_left is not None else budget.daily_limit
    found = QuotaDays(meter.connection, requests, max(0, int(left)), budget.daily_limit)
    return found if found.days > 1 else None


class DailyQuota:
    """How much of the next batch still fits the target's daily quota (`run_sync`)."""

    def __init__(self, meter: RequestMeter | None, *, target_object: str | None = None,
                 costs: object = None) -> None:
        self.meter = meter
        self.budget = _budget(meter)
        self.target_object = target_object
        self._priced = getattr(costs, "write_requests", None)
        self._sent_at_start = meter.sent() if meter is not None else 0
        self.written = 0

    def _left(self) -> float | None:
        return self.budget.daily_left if self.budget is not None else None

    def fits(self, changes: Sequence[Change]) -> bool:
        """Enough left today for all these changes (and a batch's look-ups)."""
        return self.affordable(changes) == len(changes)

    def affordable(self, changes: Sequence[Change]) -> int:
        """How many of the changes, from the first, today's quota still pays for: each
        write at what the adapter says it costs (else this run's requests per write),
        a few requests kept for look-ups."""
        left = self._left()
        if left is None:
            return len(changes)
        room = left - _LOOKUP_RESERVE
        if room < 0:
            return 0
        for n, change in enumerate(changes):
            room -= self._cost(change)
            if room < 0:
                return n
        return len(changes)

    def _cost(self, change: Change) -> float:
        if not change.kind.writes or (change.kind is ChangeKind.ADOPT and not change.payload):
            return 0.0
        if callable(self._priced) and self.target_object is not None:
            kind = "create" if change.kind is ChangeKind.CREATE else "update"
            return float(self._priced(self.target_object, kind, change.payload or {}))
        return self.per_write()

    def spent(self, changes: Sequence[Change]) -> None:
        self.written += sum(1 for c in changes if c.kind.writes)

    def per_write(self) -> float:
        sent = (self.meter.sent() - self._sent_at_start) if self.meter is not None else 0
        return max(1.0, sent / self.written) if self.written else 1.0

    def message(self, read: int, total: int | None, now: datetime) -> str:
        """What a run stopped by the quota says (and `status` shows)."""
        per_day = self.budget.daily_limit if self.budget is not None else None
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                     microsecond=0)
        text = (f"{BACKFILL_PREFIX}the target's daily request quota is spent after "
                f"{read:,} records read ({self.written:,} written at "
                f"{self.per_write():.2f} requests each); the next run after "
                f"{midnight:%Y-%m-%d %H:%M} UTC carries on")
        if total is not None and per_day:
            remaining = max(0, total - read)
            days = math.ceil(remaining * self.per_write() / per_day) if remaining else 0
            text += (f"; about {remaining:,} records left, ETA {days} more "
                     f"day{'s' if days != 1 else ''} at {per_day:,} requests a day")
        return text
