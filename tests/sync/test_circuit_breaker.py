"""Circuit breakers per (system, endpoint) end to end (reliability.md S15).

The Cinode sandbox answers every request with a 5xx: the breaker of the endpoint opens
after the spec's `failures`, the run stops cleanly (nothing linked, cursor unmoved,
requests bounded), the next run sends nothing to it while it cools down, and after the
cool-down one probe closes it and the run completes without duplicates.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.adapters.breaker import CircuitBreakers, endpoint_of
from engine.sandbox.platform import Faults
from engine.spec.model import Spec, build_spec
from engine.sync.pipeline import run_sync
from tests.contracts.recording import current_ledger

World = Any  # tests/sync/conftest.py builds it


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def with_breaker(spec: Spec, **settings: Any) -> Spec:
    raw = dict(spec.raw)
    connections = dict(raw["connections"])
    connections["cinode"] = {**connections["cinode"], "circuit_breaker": settings}
    raw["connections"] = connections
    return build_spec(spec.path, raw, "breaker")


def test_an_endpoint_leaves_ids_out() -> None:
    assert endpoint_of("get", "/crm/v3/objects/companies/123") == \
        "GET /crm/v3/objects/companies/{id}"
    assert endpoint_of("PATCH", "/v0.1/companies/7/customers/4411") == \
        "PATCH /v0.1/companies/{id}/customers/{id}"
    assert endpoint_of("GET", "/v1/users/sara.andersson@example.com") == "GET /v1/users/{id}"
    assert endpoint_of("GET", "/containers/v1/acme/customercard/filter") == \
        "GET /containers/v1/acme/customercard/filter"


@pytest.mark.scenario("S15")
async def test_a_5xx_storm_opens_the_breaker_and_a_probe_closes_it(world_factory) -> None:
    world = world_factory(records=20, cinode_faults=Faults(error_rate=1.0, seed=5))
    spec = with_breaker(world.spec, failures=3, cool_down="30s")
    clock = Clock()
    runtime = world.runtime(spec)
    runtime.breakers = CircuitBreakers("maconomy-cinode", clock=clock)

    failed = await run_sync(runtime, "customers")
    assert failed.outcome == "failed" and failed.tripped == "circuit_breaker"
    assert "circuit breaker opened after 3 consecutive failures" in (failed.error or "")
    sent = len(current_ledger().of("cinode"))
    assert sent <= 4, [e.path for e in current_ledger().of("cinode")]  # no hammering
    assert world.store.count_links("maconomy-cinode", "customers") == 0
    assert world.store.get_cursor("maconomy-cinode", "customers") is None
    [saved] = [b for b in world.store.breakers() if b.state == "open"]
    assert (saved.integration, saved.system, saved.failures) == ("maconomy-cinode", "cinode", 3)
    assert saved.reason is not None and saved.reason.startswith("HTTP 50")
    [run] = world.store.list_runs("maconomy-cinode", "customers", limit=1)
    assert run.status == "failed" and "circuit breaker" in (run.error or "")

    world.cinode.set_faults(Faults())  # the system recovers; the breaker still cools down
    clock.now += 10
    cooling = await run_sync(runtime, "customers")
    assert cooling.tripped == "circuit_breaker"
    assert len(current_ledger().of("cinode")) == sent  # nothing sent to it meanwhile

    clock.now += 30  # past the cool-down: one probe, it succeeds, the breaker closes
    done = await run_sync(runtime, "customers")
    assert done.outcome == "success", done.error
    assert done.counts["create"] == 20 and len(world.cinode_customers()) == 20
    assert [b for b in world.store.breakers() if b.state != "closed"] == []
    await runtime.aclose()


@pytest.mark.scenario("S15")
async def test_an_open_breaker_holds_across_processes_until_reset(world_factory) -> None:
    world = world_factory(records=5, cinode_faults=Faults(error_rate=1.0, seed=2))
    spec = with_breaker(world.spec, failures=2, cool_down="1h")
    first = world.runtime(spec)
    assert (await run_sync(first, "customers")).tripped == "circuit_breaker"
    await first.aclose()
    sent = len(current_ledger().of("cinode"))

    world.cinode.set_faults(Faults())
    fresh = world.runtime(spec)  # a new process: the saved state is read back
    assert (await run_sync(fresh, "customers")).tripped == "circuit_breaker"
    assert len(current_ledger().of("cinode")) == sent
    await fresh.aclose()

    assert world.store.reset_breakers("maconomy-cinode", "cinode") == 1
    after = world.runtime(spec)
    report = await run_sync(after, "customers")
    assert report.outcome == "success" and report.counts["create"] == 5
    await after.aclose()
