"""A batch of plain skips takes run_sync's short way (decide.py `quiet`); any other
change in the batch takes the whole way, and the counts are the same either way."""

from __future__ import annotations

from typing import Any

import httpx

from engine.sync.pipeline import SyncJob, run_sync

World = Any  # tests/sync/conftest.py builds it


async def _patch(world: World, number: str, changes: dict[str, Any]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.maconomy.app),
                                 base_url="http://maconomy.test") as client:
        response = await client.patch(f"/_sandbox/records/customercard/{number}", json=changes)
        assert response.status_code == 200, response.text


async def test_only_a_batch_of_plain_skips_is_quiet(world_factory) -> None:
    world = world_factory(records=12)
    runtime = world.runtime()
    assert (await run_sync(runtime, "customers")).counts["create"] == 12
    job = SyncJob(runtime, "customers")
    records = [r async for r in job.records(None)]
    changes = await job.decide(records, with_old=False)
    assert job.decider.quiet and {c.kind for c in changes} == {"skip"}

    numbers = sorted(r["customernumber"] for r in records)
    await _patch(world, numbers[4], {"name1": "Renamed AB"})
    records = [r async for r in job.records(None)]
    changes = await job.decide(records, with_old=False)
    assert not job.decider.quiet
    assert sorted(c.kind for c in changes) == ["skip"] * 11 + ["update"]

    report = await run_sync(runtime, "customers", full=True)
    assert (report.counts["update"], report.counts["skip"], report.counts["read"]) == \
        (1, 11, 12)
    report = await run_sync(runtime, "customers", full=True)  # quiet: counted the same
    assert (report.counts["update"], report.counts["skip"], report.counts["read"]) == \
        (0, 12, 12)
    await runtime.aclose()
