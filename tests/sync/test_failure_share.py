"""The failed-record threshold end to end (reliability.md S20): Maconomy -> Cinode.

Cinode refuses a customer name over its maximum length. When most records of a run
are refused, the run stops once the spec's minimum was attempted, is marked failed with
the reason, and keeps every refused record recorded for the next run. A few refused
records never stop a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.spec.model import Spec, build_spec
from engine.sync.pipeline import run_sync

World = Any  # tests/sync/conftest.py builds it


def batched(spec: Spec, **failures: Any) -> Spec:
    raw = dict(spec.raw)
    syncs = dict(raw["syncs"])
    customers = {**syncs["customers"], "batch_size": 10}
    if failures:
        customers["safeguards"] = {"failures": failures}
    syncs["customers"] = customers
    raw["syncs"] = syncs
    return build_spec(spec.path, raw, "batched")


def _spoil(world: World, numbers: list[str]) -> None:
    for number in numbers:
        world.maconomy.customers.patch(number, {"name1": "X" * 600})


@pytest.mark.scenario("S20")
async def test_a_run_failing_most_records_stops_and_keeps_them_for_retry(
        world_factory) -> None:
    world = world_factory(records=40)
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    _spoil(world, numbers)  # every name too long: the target refuses them all
    runtime = world.runtime(batched(world.spec))
    report = await run_sync(runtime, "customers")
    assert report.outcome == "failed" and report.tripped == "failures"
    assert report.error is not None
    assert "20 of 20 records written or failed in this run failed (100%" in report.error
    assert "limit is 50%" in report.error
    assert report.counts["read"] == 20  # stopped after the batch that crossed the line
    failing = world.store.failing_keys("maconomy-cinode", "customers")
    assert len(failing) == 20 and set(failing) <= set(numbers)
    [run] = world.store.list_runs("maconomy-cinode", "customers", limit=1)
    assert run.status == "failed" and "failed-record threshold" in (run.error or "")
    assert world.store.get_cursor("maconomy-cinode", "customers") is None

    for number in numbers:  # fixed at the source: the next run writes everything
        world.maconomy.customers.patch(number, {"name1": f"Fixed {number} AB"})
    fixed = await run_sync(runtime, "customers")
    assert fixed.outcome == "success" and fixed.counts["create"] == 40, fixed.counts
    assert world.store.failing_keys("maconomy-cinode", "customers") == []
    await runtime.aclose()


@pytest.mark.scenario("S20")
async def test_a_few_poison_records_do_not_stop_a_run_and_the_limit_is_the_specs(
        world_factory) -> None:
    world = world_factory(records=30)
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    _spoil(world, numbers[:9])  # 9 of 30 refused: 30%, under the default 50%
    runtime = world.runtime(batched(world.spec))
    report = await run_sync(runtime, "customers")
    assert report.outcome == "partial" and report.tripped is None
    assert report.counts["error"] == 9 and report.counts["create"] == 21
    await runtime.aclose()

    strict = world.runtime(batched(world.spec, max_share=0.1, min=5))
    _spoil(world, numbers[9:12])  # the 9 retried and 3 more: refused again
    stopped = await run_sync(strict, "customers", full=True)
    assert stopped.tripped == "failures" and "limit is 10%" in (stopped.error or "")
    await strict.aclose()
