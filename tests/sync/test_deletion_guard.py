"""The deletion guard end to end (reliability.md S12): Maconomy sandbox -> Cinode sandbox.

The customers sync here deactivates a customer in Cinode when it is blocked in
Maconomy (filter + on_unmatched: deactivate). Blocking a third of them at once trips the
guard with its default limits: nothing is deactivated, the run fails saying why, and
only an explicit confirmation lets that many through.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from engine.errors import SpecsyncError
from engine.sandbox.platform import Faults
from engine.spec.model import Spec, build_spec
from engine.sync.pipeline import plan_sync, run_sync
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport, current_ledger
from tests.sync.conftest import sandbox_env

World = Any  # tests/sync/conftest.py builds it


def deactivating(spec: Spec, **safeguards: Any) -> Spec:
    """The customers sync, deactivating customers blocked in Maconomy."""
    raw = dict(spec.raw)
    syncs = dict(raw["syncs"])
    customers = dict(syncs["customers"])
    customers.update(filter="blocked is false", on_unmatched="deactivate",
                     deactivate={"status": 0})
    if safeguards:
        customers["safeguards"] = safeguards
    syncs["customers"] = customers
    raw["syncs"] = syncs
    return build_spec(spec.path, raw, "deactivating")


async def _block(world: World, numbers: list[str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.maconomy.app),
                                 base_url="http://maconomy.test") as client:
        for number in numbers:
            response = await client.patch(f"/_sandbox/records/customercard/{number}",
                                          json={"blocked": True})
            assert response.status_code == 200, response.text


def _statuses(world: World) -> dict[str, int]:
    return {c["identification"]: c["status"] for c in world.cinode_customers()}


def _cinode_writes() -> int:
    return sum(1 for e in current_ledger().of("cinode") if e.method in ("PUT", "PATCH", "POST")
               and "/customers" in e.path)


@pytest.mark.scenario("S12")
async def test_a_mass_deactivation_is_held_until_confirmed(world_factory) -> None:
    world = world_factory(records=30)
    for number in [c["customernumber"] for c in world.maconomy.customers.iter()]:
        world.maconomy.customers.patch(number, {"blocked": False})  # all selected at first
    spec = deactivating(world.spec)
    runtime = world.runtime(spec)
    first = await run_sync(runtime, "customers")
    assert first.outcome == "success" and first.counts["create"] == 30, first.counts
    cursor = world.store.get_cursor("maconomy-cinode", "customers")

    blocked = sorted(c["identification"] for c in world.cinode_customers())[:10]
    await _block(world, blocked)  # a third of them: past the default 20% share
    plan = await plan_sync(runtime, "customers")  # says so beforehand
    assert plan.counts["deactivate"] == 10
    [warning] = plan.warnings
    assert "deletion guard would hold this run's 10" in warning
    assert "--confirm-deletions 10" in warning
    writes = _cinode_writes()
    refused = await run_sync(runtime, "customers")
    assert refused.outcome == "failed" and refused.tripped == "deletions"
    assert refused.error is not None
    assert "deactivate 10 record(s)" in refused.error
    assert "33% of its 30 linked records" in refused.error
    assert "--confirm-deletions 10" in refused.error
    assert refused.counts["deactivate"] == 0
    assert _cinode_writes() == writes  # not one write reached Cinode
    assert set(_statuses(world).values()) == {1}
    # The cursor stays before the held records, so the next run sees them again.
    assert world.store.get_cursor("maconomy-cinode", "customers") == cursor
    [run] = world.store.list_runs("maconomy-cinode", "customers", limit=1)
    assert run.status == "failed" and "deletion guard" in (run.error or "")

    again = await run_sync(runtime, "customers")
    assert again.tripped == "deletions" and set(_statuses(world).values()) == {1}

    too_few = await run_sync(runtime, "customers", confirm_deletions=9)
    assert too_few.tripped == "deletions" and set(_statuses(world).values()) == {1}

    confirmed = await run_sync(runtime, "customers", confirm_deletions=10)
    assert confirmed.outcome == "success", confirmed.error
    assert confirmed.counts["deactivate"] == 10
    statuses = _statuses(world)
    assert sorted(k for k, v in statuses.items() if v == 0) == blocked
    quiet = await run_sync(runtime, "customers")
    assert quiet.outcome == "success" and quiet.counts["deactivate"] == 0
    await runtime.aclose()


@pytest.mark.scenario("S12")
async def test_a_few_deactivations_go_through_and_limits_come_from_the_spec(
        world_factory) -> None:
    world = world_factory(records=30)
    for number in [c["customernumber"] for c in world.maconomy.customers.iter()]:
        world.maconomy.customers.patch(number, {"blocked": False})
    runtime = world.runtime(deactivating(world.spec))
    await run_sync(runtime, "customers")
    blocked = sorted(c["identification"] for c in world.cinode_customers())[:3]
    await _block(world, blocked)
    report = await run_sync(runtime, "customers")  # 3 of 30: under every default limit
    assert report.outcome == "success" and report.counts["deactivate"] == 3
    await runtime.aclose()

    strict = world.runtime(deactivating(world.spec, deletions={"max": 1}))
    await _block(world, sorted(c["identification"] for c in world.cinode_customers())[3:5])
    refused = await run_sync(strict, "customers")
    assert refused.tripped == "deletions" and "the sync's limit is 1" in (refused.error or "")
    assert list(_statuses(world).values()).count(0) == 3
    await strict.aclose()


class _BreaksAfterFirstPage(httpx.AsyncBaseTransport):
    """The Maconomy sandbox, failing every request after the first page was read."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.inner = contract_transport(world.maconomy)
        self.pages = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/filter"):
            self.pages += 1
            if self.pages == 1:
                self.world.maconomy.set_faults(Faults(error_rate=1.0))
        return response


@pytest.mark.scenario("S12")
async def test_a_listing_cut_short_deactivates_nothing(world_factory) -> None:
    world = world_factory(records=12)
    for number in [c["customernumber"] for c in world.maconomy.customers.iter()]:
        world.maconomy.customers.patch(number, {"blocked": False})
    spec = deactivating(world.spec, deletions={"max": 1000, "max_share": 1})
    connection = spec.connections["maconomy"]
    spec = replace(spec, connections={**spec.connections, "maconomy": replace(
        connection, options={**connection.options, "page_size": 5})})
    runtime = world.runtime(spec)
    await run_sync(runtime, "customers")
    for number in [c["customernumber"] for c in world.maconomy.customers.iter()]:
        world.maconomy.customers.patch(number, {"blocked": True})
    await runtime.aclose()

    # The first page of five says "blocked"; then the source breaks off.
    breaking = Runtime(spec=spec, store=world.store, environ=sandbox_env(world.config),
                       transports={"maconomy": _BreaksAfterFirstPage(world),
                                   "cinode": contract_transport(world.cinode)})
    try:  # the read gives up (or its endpoint's circuit breaker opens): the run fails
        stopped = await run_sync(breaking, "customers", full=True)
        assert stopped.outcome == "failed" and stopped.tripped == "circuit_breaker"
    except SpecsyncError:
        pass
    assert set(_statuses(world).values()) == {1}  # nothing deactivated
    [run] = world.store.list_runs("maconomy-cinode", "customers", limit=1)
    assert run.status == "failed" and run.counts["deactivate"] == 0
    await breaking.aclose()

    world.maconomy.set_faults(Faults())  # the whole listing, read again: now they go
    assert world.store.reset_breakers("maconomy-cinode", "maconomy") >= 1  # not cooling down
    whole = world.runtime(spec)
    report = await run_sync(whole, "customers", full=True)
    assert report.outcome == "success" and report.counts["deactivate"] == 12
    assert set(_statuses(world).values()) == {0}
    await whole.aclose()
