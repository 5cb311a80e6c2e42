"""Links are read for a window of batches in one trip to the store (decide.py `prefetch`),
and a link read ahead never hides what an earlier batch of the window wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from engine.sync.pipeline import SyncJob, run_sync
from tests.sync.test_store_access import ThreadNotingStore

World = Any  # tests/sync/conftest.py builds it


def _small_batches(world: World, size: int) -> Any:
    spec = world.spec
    return replace(spec, syncs={**spec.syncs,
                                "customers": replace(spec.syncs["customers"], batch_size=size)})


async def test_a_key_read_again_later_in_the_window_sees_the_link_its_batch_wrote(
        world_factory) -> None:
    world = world_factory(records=10)
    runtime = world.runtime(_small_batches(world, 2))
    records = [r async for r in SyncJob(runtime, "customers").records(None)]

    async def twice() -> AsyncIterator[dict]:
        for record in records:
            yield record
        yield dict(records[0])  # the first customer again, five batches on

    report = await run_sync(runtime, "customers", records=twice())
    assert report.counts["create"] == 10 and report.counts["skip"] == 1
    assert len(world.cinode_customers()) == 10  # not created twice
    await runtime.aclose()


async def test_a_run_reads_the_links_of_many_batches_in_one_trip(world_factory) -> None:
    world = world_factory(records=30)
    noting = ThreadNotingStore(world.store)
    world.store = noting
    runtime = world.runtime(_small_batches(world, 3))
    first = await run_sync(runtime, "customers", full=True)
    assert first.counts["create"] == 30
    before = len(noting.calls)
    again = await run_sync(runtime, "customers", full=True)
    assert again.counts["skip"] == 30
    reads = [name for name, args, _ in noting.calls[before:]
             if name in ("link_states", "get_links")]
    assert reads == ["link_states"]  # ten batches of 3, one trip for their links
    await runtime.aclose()


async def test_the_records_of_a_window_are_keyed_once(world_factory) -> None:
    world = world_factory(records=30)
    runtime = world.runtime(_small_batches(world, 3))
    first = await run_sync(runtime, "customers", full=True)
    assert first.counts["create"] == 30
    job = SyncJob(runtime, "customers")
    calls: list[str] = []
    key_of = job.decider._key_of

    def counting(record: Any) -> str:
        calls.append(key_of(record))
        return calls[-1]

    job.decider._key_of = counting
    records = [r async for r in job.records(None)]
    await job.decider.prefetch(records)
    for start in range(0, 30, 3):
        batch = records[start:start + 3]
        changes = await job.decider.decide(batch, with_old=False)
        assert [c.kind for c in changes] == ["skip"] * 3
        assert [k for k, _ in job.decider.last_per_key(batch)] == calls[start:start + 3]
    assert len(calls) == 30  # by prefetch; the batches took them from there
    odd = [dict(r) for r in records[:2]]  # not a slice of the window: keyed anew
    assert [k for k, _ in job.decider.last_per_key(odd)] == calls[:2]
    assert len(calls) == 32
    await runtime.aclose()
