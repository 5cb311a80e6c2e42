"""The cluster's tick: due schedules become sync jobs, once per slot for the whole cluster.

procrastinate defers the `specsync.tick` job once per period however many servers run
(its periodic defers are unique per timestamp). The tick then, in ONE transaction:

1. finds each scheduled sync whose newest passed slot is newer than the slot recorded
   for it (`runner.last_slot.<sync>` in the scope's meta, the key the embedded scheduler
   uses, so a store moved from SQLite keeps its schedule position), defers its job and
   records the slot: a missed schedule runs once, not once per missed slot;
2. defers an inbox job for every source with events due again (a retry's backoff ended,
   or a worker died holding their claim): the receiver defers one per delivery, this is
   the safety net for events whose job has come and gone.

Then it gives back the jobs of workers that stopped sending heartbeats (a SIGKILLed
worker's job is taken up by another after `stall_seconds`) and marks runs of dead
processes interrupted.

Dependencies (`dependency_groups`): a sync whose templates call `linked('customers')`
reads the customers sync's links, so it shares the customers sync's job lock and is
deferred after it in the same tick; procrastinate runs the jobs of one lock in order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from procrastinate.jobs import Job

from engine.runner.dependencies import LAST_SLOT_PREFIX, ordered_syncs, reads_links_of
from engine.runner.schedule import parse_schedule
from engine.scale.queue import defer_in, inbox_job, sync_job
from engine.spec.model import Spec

__all__ = ["TickReport", "dependency_groups", "plan_tick", "tick"]

log = logging.getLogger(__name__)

def dependency_groups(spec: Spec) -> dict[str, str]:
    """Each sync's group: the first sync (spec order) of its linked() component."""
    names = list(spec.syncs)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name in names:
        for upstream in reads_links_of(spec.syncs[name]) & set(names):
            a, b = root(name), root(upstream)
            if a != b:
                first, second = sorted((a, b), key=names.index)
                parent[second] = first
    return {name: root(name) for name in names}


@cache
def _schedule(text: str) -> Any:
    return parse_schedule(text)


def group_of(spec: Spec, sync: str) -> str:
    return _groups(spec).get(sync, sync)


def _shape(spec: Spec) -> Any:
    """What the dependency rule reads of a spec: its syncs' transforms, in order. A
    thousand tenants of one spec differ in setup values, not in this (compiling every
    tenant's templates made a cluster's first tick take minutes)."""
    return tuple((name, tuple(repr(f.transform) for f in sync.fields),
                  tuple(repr(v) for v in sync.placement.values()))
                 for name, sync in spec.syncs.items())


_BY_SHAPE: dict[Any, tuple[dict[str, str], list[str]]] = {}


def _computed(spec: Spec) -> tuple[dict[str, str], list[str]]:
    key = id(spec.syncs)
    found = _BY_ID.get(key)
    if found is None:
        shape = _shape(spec)
        found = _BY_SHAPE.get(shape)
        if found is None:
            found = _BY_SHAPE[shape] = (dependency_groups(spec), ordered_syncs(spec))
        _BY_ID[key] = found
    return found


_BY_ID: dict[int, tuple[dict[str, str], list[str]]] = {}


def _groups(spec: Spec) -> dict[str, str]:
    return _computed(spec)[0]


@dataclass
class TickReport:
    due: int = 0
    deferred: int = 0
    coalesced: int = 0
    inbox_sources: int = 0
    stalled: int = 0
    interrupted: int = 0


def plan_tick(specs: Mapping[str, Spec], last_slots: Mapping[tuple[str, str], datetime],
              now: datetime) -> list[tuple[Job, str, str, datetime]]:
    """(job, scope, sync, slot) for every sync due at `now`, upstream syncs first."""
    due: list[tuple[Job, str, str, datetime]] = []
    for scope, spec in specs.items():
        groups = _groups(spec)
        for name in ordered_syncs_cached(spec):
            sync = spec.syncs[name]
            if sync.schedule == "never":
                continue
            slot = _schedule(sync.schedule).latest_at_or_before(now)
            if slot is None:
                continue
            last = last_slots.get((scope, name))
            if last is None or slot > last:
                due.append((sync_job(scope, name, "schedule", group=groups[name]),
                            scope, name, slot))
    return due


def ordered_syncs_cached(spec: Spec) -> list[str]:
    return _computed(spec)[1]


def tick(store: Any, specs: Mapping[str, Spec], now: datetime) -> TickReport:
    """Defer what is due, in one transaction of the PostgreSQL state store."""
    report = TickReport()
    with store.transaction() as cur:
        cur.execute("SELECT integration, key, value FROM meta WHERE key LIKE %s",
                    (LAST_SLOT_PREFIX + "%",))
        last: dict[tuple[str, str], datetime] = {}
        for integration, key, value in cur.fetchall():
            try:
                last[(integration, key[len(LAST_SLOT_PREFIX):])] = datetime.fromisoformat(value)
            except ValueError:
                continue  # unreadable: the sync is due, and the slot is rewritten
        due = plan_tick(specs, last, now)
        report.due = len(due)
        deferred, coalesced = defer_in(cur, [job for job, *_ in due])
        report.deferred, report.coalesced = deferred, coalesced
        if due:
            cur.executemany(
                "INSERT INTO meta (integration, key, value) VALUES (%s, %s, %s)"
                " ON CONFLICT (integration, key) DO UPDATE SET value = excluded.value",
                [(scope, LAST_SLOT_PREFIX + name, slot.isoformat())
                 for _, scope, name, slot in due])
        cur.execute(
            "SELECT DISTINCT source FROM inbox WHERE status <> 'done' AND ("
            " (status = 'pending' AND (not_before IS NULL OR not_before <= %(at)s))"
            " OR (status = 'claimed' AND lease_until <= %(at)s))", {"at": now})
        sources = [row[0] for row in cur.fetchall()]
        report.inbox_sources = len(sources)
        defer_in(cur, (inbox_job(source) for source in sources))
    return report


def scopes_of(specs: Iterable[Spec]) -> dict[str, Spec]:
    return {spec.integration: spec for spec in specs}
