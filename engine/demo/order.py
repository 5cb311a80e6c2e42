"""Which syncs the demo runs on their schedule, and in which order.

A sync whose field table calls `linked('customers')` needs the customers sync's links:
it runs after it. The order is worked out from the templates themselves, so a spec
that gains a dependency is run in the right order without the demo knowing about it.
Syncs started by a webhook keep their schedule only as a safety net for lost
deliveries; the demo shows them live instead.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from engine.spec.model import Spec, Sync
from engine.templates import compile_transform

__all__ = ["dependencies", "live_syncs", "scheduled_syncs"]


def dependencies(sync: Sync) -> set[str]:
    """The syncs whose links this sync's templates read (`linked('name')`)."""
    found: set[str] = set()
    for transform in (*(f.transform for f in sync.fields), *sync.placement.values()):
        found.update(compile_transform(transform).linked_syncs)
    return found - {sync.name}


def scheduled_syncs(spec: Spec) -> list[str]:
    """Syncs run by schedule only, each after the ones it depends on (spec order where
    the templates do not decide; a dependency cycle falls back to spec order)."""
    names = [name for name, sync in spec.syncs.items()
             if sync.trigger is None and sync.schedule != "never"]
    wanted = set(names)
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for name in names:
        sorter.add(name, *sorted(dependencies(spec.syncs[name]) & wanted,
                                 key=names.index))
    try:
        sorter.prepare()
    except CycleError:
        return names
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=names.index)
        ordered.extend(ready)
        sorter.done(*ready)
    return ordered


def live_syncs(spec: Spec) -> list[str]:
    """Syncs started by webhooks (their schedule, if any, is the safety net)."""
    return [name for name, sync in spec.syncs.items() if sync.trigger is not None]
