"""Which syncs wait for which: a sync whose templates read another sync's links
(`linked('customers')`, `linked_source('users')`) runs after that sync.

The scheduler holds a due sync while one of its upstream syncs is due, running or
waiting to retry, so on a fresh state store the first round runs in dependency order
(no record fails `links.missing` for a link the next sync in line was about to make),
and in every later slot a dependent starts as soon as its upstream run completes. The
inbox worker holds webhook events of a sync whose upstream never completed a run.
A dependency cycle is no order at all: its syncs then wait for nothing.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from engine.spec.model import Spec, Sync
from engine.sync.first_run import LAST_SLOT_PREFIX, first_run_done
from engine.templates import compile_transform

__all__ = ["LAST_SLOT_PREFIX", "first_run_done", "ordered_syncs", "reads_links_of",
           "upstream_syncs"]


def reads_links_of(sync: Sync) -> set[str]:
    """The syncs whose links this sync's templates read."""
    found: set[str] = set()
    for transform in (*(f.transform for f in sync.fields), *sync.placement.values()):
        found.update(compile_transform(transform).linked_syncs)
    return found - {sync.name}


def upstream_syncs(spec: Spec) -> dict[str, frozenset[str]]:
    """Each sync's upstream syncs in the same spec; empty for all of them on a cycle."""
    names = set(spec.syncs)
    upstream = {name: frozenset(reads_links_of(sync) & names)
                for name, sync in spec.syncs.items()}
    sorter: TopologicalSorter[str] = TopologicalSorter(upstream)
    try:
        sorter.prepare()
    except CycleError:
        return {name: frozenset() for name in names}
    return upstream


def ordered_syncs(spec: Spec, names: list[str] | None = None) -> list[str]:
    """`names` (default: every sync), each after the ones among them whose links it reads;
    spec order where the templates do not decide, and on a dependency cycle."""
    names = list(spec.syncs) if names is None else names
    wanted = set(names)
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for name in names:
        sorter.add(name, *sorted(reads_links_of(spec.syncs[name]) & wanted, key=names.index))
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

