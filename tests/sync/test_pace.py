"""Progress and plan estimates from a real run: counts reported as records are read, and
a plan's request estimate against the requests a run of it sends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from engine.cli.progress import RunProgress, print_periodically
from engine.sync.changes import ChangeKind, Plan
from engine.sync.pace import duration, estimate_run, request_meter, write_requests
from engine.sync.pipeline import plan_sync, run_sync
from engine.sync.runtime import Runtime

T = TypeVar("T")


async def test_reads_are_reported_before_their_writes(world_factory) -> None:
    world = world_factory(records=30)
    runtime = world.runtime()
    try:
        seen: list[dict[str, int]] = []
        await run_sync(runtime, "customers", progress=lambda c: seen.append(dict(c)))
    finally:
        await runtime.aclose()
    first = seen[0]
    assert first["read"] == 30 and first[ChangeKind.CREATE] == 0  # before any write
    assert seen[-1][ChangeKind.CREATE] == 30


async def _sent(runtime: Runtime, work: Callable[[], Awaitable[T]]) -> tuple[T, dict[str, int]]:
    """What `work` returns and the requests it sent per connection (fresh adapters: a
    plan and a run are separate processes, each authenticates)."""
    try:
        meters = [m for m in (request_meter(runtime, c) for c in ("maconomy", "cinode"))
                  if m is not None]
        assert {m.connection for m in meters} == {"maconomy", "cinode"}
        result = await work()
        return result, {m.connection: m.sent() for m in meters}
    finally:
        await runtime.aclose()


async def test_a_plans_estimate_is_a_floor_of_the_requests_its_run_sends(world_factory
                                                                          ) -> None:
    world = world_factory(records=30)
    planning = world.runtime()
    plan, measured = await _sent(planning, lambda: plan_sync(planning, "customers"))
    meters = [m for m in (request_meter(planning, c) for c in ("maconomy", "cinode")) if m]
    estimate = estimate_run(plan, source="maconomy", target="cinode", measured=measured,
                            meters=meters, max_batch=1)
    running = world.runtime()
    report, sent = await _sent(running, lambda: run_sync(running, "customers"))
    assert report.counts[ChangeKind.CREATE] == 30
    loads = {load.connection: load for load in estimate.loads}
    assert loads["cinode"].writes == 30 and loads["cinode"].per_second == 20  # 40 per 2 s
    assert loads["maconomy"].requests == sent["maconomy"]  # the same reads
    # a Cinode customer is two calls (the customer, then its address): the floor is the
    # lookups (a count and one listing page for all 30 keys, not a search each) and one
    # call per record
    assert loads["cinode"].requests == 2 + 30 <= sent["cinode"]
    assert estimate.seconds == pytest.approx((loads["maconomy"].requests + 32) / 20)
    text = estimate.describe()
    assert text.startswith(f"a run sends at least {estimate.requests} requests (maconomy ")
    assert "cinode 2 read + 30 write" in text and "cinode 20 requests/s" in text


async def test_progress_lines_while_a_run_goes_on(world_factory) -> None:
    world = world_factory(records=60)
    runtime = world.runtime()
    lines: list[str] = []
    try:
        sync = runtime.spec.syncs["customers"]
        source = runtime.adapter(sync.source_connection)
        progress = RunProgress("customers", total=lambda: source.total(sync.source_object),
                               target=request_meter(runtime, "cinode"))
        printer = asyncio.create_task(print_periodically(progress, lines.append,
                                                         interval=0.005))
        try:
            await run_sync(runtime, "customers", progress=progress.update)
            await asyncio.sleep(0.02)
        finally:
            printer.cancel()
    finally:
        await runtime.aclose()
    assert lines and all(line.startswith("customers: ") for line in lines)
    assert "None" not in "".join(lines)
    assert lines[-1].startswith("customers: 60 read (the source states no total) · 60 written")
    if "requests/s" in lines[-1]:  # shown once a second of requests was seen
        assert " of 20 requests/s" in lines[-1]


def test_writes_count_per_call_and_an_adopt_that_only_links_sends_nothing() -> None:
    from engine.sync.changes import Change

    plan = Plan("i", "s")
    for n in range(5):
        plan.add(Change(ChangeKind.CREATE, f"c{n}", payload={"a": n}), keep=True)
    plan.add(Change(ChangeKind.ADOPT, "linked", "7"), keep=True)
    plan.add(Change(ChangeKind.ADOPT, "fixed", "8", payload={"a": 1}), keep=True)
    plan.add(Change(ChangeKind.SKIP, "same", "9"), keep=True)
    assert write_requests(plan, 1) == 6
    assert write_requests(plan, 100) == 2  # one batch of creates, one adopt that updates


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (59.5, "60 s"), (61, "1 min 1 s"),
                                               (3600 * 2 + 47 * 60, "2 h 47 min"),
                                               (7200, "2 h")])
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text
