"""What a run keeps per record is bounded by its failures, not by the size of the source.

A delta run remembers which keys it read only so that `retry_records` does not fetch a
record a second time; that needs the keys that were failing before the run and those
that failed in it, nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx

from engine.sync.pipeline import SyncJob, run_sync

World = Any  # tests/sync/conftest.py builds it


async def _patch(world: World, number: str, changes: dict) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.maconomy.app),
                                 base_url="http://maconomy.test") as client:
        response = await client.patch(f"/_sandbox/records/customercard/{number}", json=changes)
        assert response.status_code == 200, response.text


async def test_noting_keys_remembers_only_the_keys_asked_for(world: World) -> None:
    runtime = world.runtime()
    job = SyncJob(runtime, "customers")

    async def records() -> AsyncIterator[dict]:
        for number in range(100000, 100500):
            yield {"customernumber": str(number)}
        yield {"customernumber": ""}  # no key: passed on, never remembered

    seen: set[str] = set()
    passed = [r async for r in job.noting_keys(records(), seen, only={"100007", "999999"})]
    assert len(passed) == 501
    assert seen == {"100007"}
    everything: set[str] = set()
    async for _ in job.noting_keys(records(), everything):
        pass
    assert len(everything) == 500
    await runtime.aclose()


async def test_a_record_failing_for_the_first_time_in_a_delta_run_is_read_once(
        world: World) -> None:
    spec = world.spec
    small = replace(spec, syncs={**spec.syncs,
                                 "customers": replace(spec.syncs["customers"], batch_size=4)})
    runtime = world.runtime(small)
    first = await run_sync(runtime, "customers")
    assert first.counts["create"] == 30 and first.counts["error"] == 0
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    # The failing record is changed first, so its batch (of 4) is decided and its
    # failure committed while the delta read still goes on.
    await _patch(world, numbers[3], {"name1": "X" * 600})  # Cinode refuses names this long
    for number in numbers[10:20]:
        await _patch(world, number, {"telephone": "08-555 12 12"})

    delta = await run_sync(runtime, "customers")
    assert not delta.full
    # Read once by the delta, failed, and not fetched again by the retry of failures
    # (the overlap window may re-read an unchanged record too: it is skipped).
    assert delta.counts["error"] == 1 and delta.counts["update"] == 10
    assert delta.counts["read"] == 11 + delta.counts["skip"], delta.counts
    assert [f.key for f in delta.failures] == [numbers[3]]
    assert world.store.failing_keys("maconomy-cinode", "customers") == [numbers[3]]

    # The next delta run does not see it change, so the retry of failures fetches it.
    again = await run_sync(runtime, "customers")
    assert again.counts["error"] == 1
    assert again.counts["read"] == 1 + again.counts["skip"], again.counts
    await runtime.aclose()
