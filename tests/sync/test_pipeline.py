"""The sync pipeline end to end: Maconomy sandbox -> engine -> Cinode sandbox (in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.sandbox.platform import Faults
from engine.state import open_store
from engine.sync.changes import ChangeKind
from engine.sync.pipeline import plan_sync, run_sync
from tests.contracts.recording import current_ledger

World = Any  # tests/sync/conftest.py builds it


async def _patch(world: World, container: str, number: str, changes: dict) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.maconomy.app),
                                 base_url="http://maconomy.test") as client:
        response = await client.patch(f"/_sandbox/records/{container}/{number}", json=changes)
        assert response.status_code == 200, response.text


async def test_second_run_writes_nothing_and_a_delta_run_writes_exactly_the_changed(
        world: World) -> None:
    runtime = world.runtime()
    first = await run_sync(runtime, "customers")
    assert first.outcome == "success"
    assert first.counts["create"] == 30 and first.counts["error"] == 0
    assert len(world.cinode_customers()) == 30

    second = await run_sync(runtime, "customers")
    written = sum(second.counts[k] for k in ("create", "update", "adopt"))
    assert written == 0, second.counts

    numbers = [c["identification"] for c in world.cinode_customers()][:3]
    for i, number in enumerate(numbers):
        await _patch(world, "customercard", number, {"name1": f"Renamed {i} AB"})
    third = await run_sync(runtime, "customers")
    assert third.counts["update"] == 3 and third.counts["create"] == 0, third.counts
    names = {c["identification"]: c["name"] for c in world.cinode_customers()}
    assert [names[n] for n in numbers] == ["Renamed 0 AB", "Renamed 1 AB", "Renamed 2 AB"]
    assert len(world.cinode_customers()) == 30
    # As the spec says, Maconomy restricts the delta runs; without its options they
    # compare transactiontimestamp here, with the same outcome.
    restricted = [e for e in current_ledger().of("maconomy")
                  if any(k == "restriction" and v.startswith("transactiontimestamp >=")
                         for k, v in e.query)]
    assert bool(restricted) == (world.delta == "server")
    await runtime.aclose()


@pytest.mark.scenario("S2")
async def test_first_run_adopts_existing_targets_instead_of_duplicating(
        world: World, tmp_path: Path) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "customers")
    # A fresh state store (a new installation) must find the 30 customers, not copy them.
    world.store = open_store(str(tmp_path / "fresh.db"))
    fresh = world.runtime()
    report = await run_sync(fresh, "customers")
    assert report.counts["adopt"] == 30 and report.counts["create"] == 0, report.counts
    assert len(world.cinode_customers()) == 30
    again = await run_sync(fresh, "customers")
    assert sum(again.counts[k] for k in ("create", "update", "adopt")) == 0
    await runtime.aclose()
    await fresh.aclose()
    world.store.close()


async def test_projects_filter_placement_and_links(world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "customers")
    report = await run_sync(runtime, "projects")
    assert report.outcome == "success", report.failures
    jobs = list(world.maconomy.jobs.iter())
    selected = [j for j in jobs if j.get("active") and j.get("jobtype") in ("T&M", "Fixed")
                and j.get("customernumber") not in ("1000", "1001")]
    assert report.counts["create"] == len(selected) > 0
    assert report.counts["filtered"] == len(jobs) - len(selected)
    keys = {f"{j['region']}_{j['jobnumber']}" for j in selected}
    projects = [p for p in world.cinode.projects.iter() if p.get("identifier") in keys]
    assert len(projects) == len(selected)
    by_number = {c["identification"]: c["id"] for c in world.cinode_customers()}
    for project in projects:
        assert project["pipelineId"] == 1 and project["currentStageId"] == 11
        assert project["customerId"] == by_number[project["customerIdentifier"]]
    await runtime.aclose()


@pytest.mark.scenario("S19")
async def test_a_rejected_record_is_recorded_the_rest_land_and_it_is_retried(
        world: World) -> None:
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    await _patch(world, "customercard", numbers[4], {"name1": "X" * 600})
    runtime = world.runtime()
    report = await run_sync(runtime, "customers")
    assert report.outcome == "partial"
    assert report.counts["create"] == 29 and report.counts["error"] == 1
    [failure] = report.failures
    assert failure.key == numbers[4] and failure.code == "vendor.rejected"
    assert "maximum length" in failure.reason and failure.reason.startswith("name")
    assert world.store.failing_keys("maconomy-cinode", "customers") == [numbers[4]]

    await _patch(world, "customercard", numbers[4], {"name1": "Fixed Name AB"})
    retry = await run_sync(runtime, "customers")
    assert retry.counts["create"] == 1 and retry.counts["error"] == 0
    assert world.store.failing_keys("maconomy-cinode", "customers") == []
    assert len(world.cinode_customers()) == 30
    await runtime.aclose()


@pytest.mark.scenario("S13")
async def test_a_storm_of_429s_and_5xx_completes(world_factory) -> None:
    world = world_factory(records=25, cinode_faults=Faults(seed=3, burst_429=4, error_rate=0.1))
    runtime = world.runtime()
    report = await run_sync(runtime, "customers")
    assert report.outcome in ("success", "partial") and report.counts["read"] == 25
    runs = [report]
    while runs[-1].counts["error"] and len(runs) < 4:  # what still failed is retried
        runs.append(await run_sync(runtime, "customers"))
    assert runs[-1].counts["error"] == 0, [r.counts for r in runs]
    assert len(world.cinode_customers()) == 25, [r.counts for r in runs]
    identifications = [c["identification"] for c in world.cinode_customers()]
    assert len(set(identifications)) == 25
    await runtime.aclose()


async def test_plan_shows_what_run_then_does(world_factory, snapshot) -> None:
    world = world_factory()
    runtime = world.runtime()
    await run_sync(runtime, "customers")
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    await _patch(world, "customercard", numbers[0], {"name1": "Plan Test AB", "blocked": True})
    await _patch(world, "customercard", numbers[1], {"telephone": "+46 8 000 00 00"})
    plan = await plan_sync(runtime, "customers")
    shown = plan.to_dict()
    assert shown == snapshot
    report = await run_sync(runtime, "customers")
    for kind in ("create", "update", "adopt", "deactivate", "delete"):
        assert report.counts[kind] == shown["counts"][kind], kind
    after = await plan_sync(runtime, "customers")
    assert [c for c in after.changes
            if c.kind not in (ChangeKind.SKIP, ChangeKind.FILTERED)] == []
    await runtime.aclose()


async def test_a_spec_change_reconciles_every_record(world: World) -> None:
    from engine.spec.model import build_spec

    runtime = world.runtime()
    await run_sync(runtime, "customers")
    raw = dict(world.spec.raw)
    syncs = dict(raw["syncs"])
    customers = dict(syncs["customers"])
    fields = dict(customers["fields"])
    fields["description"] = {"template": "{1} ({0})", "from": ["customernumber", "name1"]}
    customers["fields"] = fields
    syncs["customers"] = customers
    raw["syncs"] = syncs
    changed = build_spec(world.spec.path, raw, "changed")
    report = await run_sync(world.runtime(changed), "customers")
    assert report.full and report.counts["update"] == 30, report.counts
    sample = world.cinode_customers()[0]
    assert sample["description"].endswith(f"({sample['identification']})")
    await runtime.aclose()
