"""How fast a run can go: requests counted per connection, against the vendor's limit.

A vendor's rate limit, not our code, sets the pace of a long run (Cinode allows 20
requests a second, Kleer 5). Two things need that number:

- `specsync run` shows requests per second beside the limit and an ETA, so a run of
  100 000 records says how long it will take instead of `0/None`;
- `specsync plan` states how many requests a run of the plan would send at least, and
  the least time that takes at the limits (`estimate_run`).

An adapter that sends through `HttpSession` exposes it as `session` (all four seed
adapters do); its counters and rate budget are read here. An adapter without one is
simply not metered: nothing is guessed for it.

    meter = request_meter(runtime, "cinode")
    before = meter.sent() if meter else 0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.adapters.http import HttpSession
from engine.adapters.ratelimit import RateBudget
from engine.sync.changes import ChangeKind, Plan
from engine.sync.runtime import Runtime

__all__ = [
    "ConnectionLoad",
    "RequestMeter",
    "RunEstimate",
    "WriteCosts",
    "duration",
    "estimate_run",
    "request_meter",
    "write_requests",
]


@dataclass(frozen=True)
class RequestMeter:
    """The requests one connection's adapter has sent, and the rate its budget allows."""

    connection: str
    session: HttpSession

    def sent(self) -> int:
        return self.session.stats.requests

    @property
    def per_second(self) -> float | None:
        """The configured limit in requests per second; None when it has no budget."""
        budget = self.session.budget
        if isinstance(budget, RateBudget):
            return budget.limit / budget.per_seconds
        return None


def request_meter(runtime: Runtime, connection: str) -> RequestMeter | None:
    """The meter of a connection's adapter, or None when it sends through no HttpSession."""
    session = getattr(runtime.adapter(connection), "session", None)
    return RequestMeter(connection, session) if isinstance(session, HttpSession) else None


class WriteCosts(Protocol):
    """An adapter that knows how many calls one write takes (optional capability): a
    Cinode customer with an invoice address is two, the customer and its address."""

    def write_requests(self, obj: str, kind: str, payload: Mapping[str, Any]) -> int: ...


def write_requests(plan: Plan, max_batch: int, *, target_object: str | None = None,
                   costs: object = None) -> int:
    """The requests a plan's writes take: each kind that writes, `max_batch` per call.

    An adopt of a record found as it should be only links and sends nothing; when the
    plan kept every change that is told apart, else every adopt counts as a write. An
    adapter offering `write_requests` (one call per record) prices each kept change; a
    truncated plan's other changes cost the average of the kept ones of their kind.
    """
    counts: Mapping[str, int] = plan.counts
    if not plan.truncated:
        counts = Counter(str(c.kind) for c in plan.changes
                         if c.kind.writes and (c.kind is not ChangeKind.ADOPT or c.payload))
    per_call = max(1, max_batch)
    priced = getattr(costs, "write_requests", None)
    if per_call == 1 and callable(priced) and target_object is not None:
        spent: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        for change in plan.changes:
            if change.kind.writes and (change.kind is not ChangeKind.ADOPT or change.payload):
                kind = "create" if change.kind is ChangeKind.CREATE else "update"
                spent[str(change.kind)] += max(1, int(priced(target_object, kind,
                                                             change.payload or {})))
                seen[str(change.kind)] += 1
        return sum(math.ceil(counts.get(kind, 0) * spent[kind] / seen[kind]) if seen[kind]
                   else counts.get(kind, 0) for kind in ChangeKind if kind.writes)
    return sum(math.ceil(counts.get(kind, 0) / per_call) for kind in ChangeKind if kind.writes)


@dataclass(frozen=True)
class ConnectionLoad:
    """What a run asks of one connection: the reads and lookups a plan measured (a run
    makes the same ones) plus the writes it would add."""

    connection: str
    reads: int
    writes: int
    per_second: float | None

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    @property
    def seconds(self) -> float | None:
        return self.requests / self.per_second if self.per_second else None


@dataclass(frozen=True)
class RunEstimate:
    """The requests a run of a plan sends and the time they take at the vendors' limits.

    A sync reads, then writes, batch after batch: its connections take turns, so their
    times add up. A floor ("at least"): a write is one call (`max_batch` writes per
    call) unless the adapter prices it (`WriteCosts`: a Cinode customer and its address
    are two); retries and slow answers make a run longer.
    """

    loads: tuple[ConnectionLoad, ...]

    @property
    def requests(self) -> int:
        return sum(load.requests for load in self.loads)

    @property
    def seconds(self) -> float | None:
        times = [load.seconds for load in self.loads if load.requests]
        if not times or any(t is None for t in times):
            return None
        return sum(t for t in times if t is not None)

    def describe(self) -> str:
        used = [load for load in self.loads if load.requests]
        parts = []
        for load in used:
            split = f"{load.reads:,} read + {load.writes:,} write" if load.writes else \
                f"{load.reads:,} read"
            parts.append(f"{load.connection} {split}")
        limits = ", ".join(f"{load.connection} {_rate(load.per_second)}"
                           for load in used if load.per_second)
        if not used:
            return "a run sends no requests"
        text = f"a run sends at least {self.requests:,} requests ({'; '.join(parts)})"
        seconds = self.seconds
        if seconds is not None:
            which = "limit" if len(used) == 1 else "limits"
            text += f"; at the {which} ({limits}) that takes at least {duration(seconds)}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {"requests": self.requests, "seconds": self.seconds,
                "connections": [{"connection": load.connection, "reads": load.reads,
                                 "writes": load.writes, "requests": load.requests,
                                 "per_second": load.per_second} for load in self.loads]}


def estimate_run(plan: Plan, *, source: str, target: str, measured: Mapping[str, int],
                 meters: Iterable[RequestMeter], max_batch: int,
                 target_object: str | None = None, costs: object = None) -> RunEstimate:
    """The estimate of a run of `plan`: `measured` holds the requests planning sent per
    connection (reads and lookups); the target adds the plan's writes.

    Planning also reads each linked target record an update would change, to show its
    old values; a run does not, so those reads (one per update) are taken off.
    """
    rates = {meter.connection: meter.per_second for meter in meters}
    names = [source] if source == target else [source, target]
    writes = write_requests(plan, max_batch, target_object=target_object, costs=costs)
    old_values = plan.counts.get(ChangeKind.UPDATE, 0)

    def reads(name: str) -> int:
        taken = measured.get(name, 0)
        return max(0, taken - old_values) if name == target else taken

    return RunEstimate(tuple(
        ConnectionLoad(name, reads(name), writes if name == target else 0, rates.get(name))
        for name in names))


def _rate(per_second: float | None) -> str:
    if per_second is None:
        return "no limit"
    return f"{per_second:g} requests/s"


def duration(seconds: float) -> str:
    """`42 s`, `7 min 5 s`, `2 h 47 min`: for estimates, so no false precision."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
