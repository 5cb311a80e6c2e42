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
