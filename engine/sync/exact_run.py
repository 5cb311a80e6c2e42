"""Making, checking and running an exact plan (exact.py has the file and its comparisons).

    exact = load_plan("plan.json")                   # written by `specsync plan --out`
    stale = await stale_since(runtime, exact)        # [] when the plan still holds
    reports = await run_exact(runtime, exact, run)   # run: run_sync with the guard
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from engine.errors import SpecsyncError
from engine.state.base import StateStore
from engine.sync.changes import Plan
from engine.sync.exact import ExactPlan, PlannedSync, Recorder, RunGuard, StaleRecord, stale_records
from engine.sync.pipeline import RunReport, plan_sync
from engine.sync.planned import PlannedLinks
from engine.sync.runtime import Runtime

__all__ = ["check_position", "run_exact", "stale_since"]


async def _position(runtime: Runtime, name: str) -> tuple[str | None, str | None]:
    integration = runtime.spec.integration

    def read(state: StateStore) -> tuple[str | None, str | None]:
        return state.get_cursor(integration, name), state.get_fingerprint(integration, name)

    return await runtime.astore.run(read)


async def _plan_all(runtime: Runtime, syncs: list[tuple[str, bool]]
                    ) -> tuple[list[Plan], list[PlannedSync]]:
    """Plan the syncs one after the other as `specsync plan` does, recording each."""
    links = PlannedLinks(runtime.store, runtime.spec.integration)
    plans, planned = [], []
    for name, full in syncs:
        cursor, fingerprint = await _position(runtime, name)
        recorder: Recorder | None = None

        def on_batch(job: Any, batch: Any, changes: Any) -> None:
            nonlocal recorder
            recorder = recorder or Recorder(job.decider.key_of)
            recorder.batch(batch, changes)

        plan = await plan_sync(runtime, name, full=full, links=links, keep=sys.maxsize,
                               on_batch=on_batch)
        links.expect(plan)
        plans.append(plan)
        planned.append((recorder or Recorder(lambda r: "")).planned(
            plan, full=full, cursor=cursor, fingerprint=fingerprint))
    return plans, planned


def check_position(runtime: Runtime, exact: ExactPlan) -> None:
    """Refuse a plan made for another integration or spec version."""
    spec = runtime.spec
    if exact.integration != spec.integration:
        raise SpecsyncError(f"the plan is for integration {exact.integration}, not "
                            f"{spec.integration}")
    if exact.spec_hash != spec.content_hash:
        raise SpecsyncError(f"the spec changed since the plan was made (spec hash "
                            f"{exact.spec_hash[:12]}, now {spec.content_hash[:12]}): make a "
                            "new plan")
    unknown = [s.sync for s in exact.syncs if s.sync not in spec.syncs]
    if unknown:
        raise SpecsyncError(f"the plan names syncs the spec does not have: {', '.join(unknown)}")


async def stale_since(runtime: Runtime, exact: ExactPlan) -> list[StaleRecord]:
    """What changed since the plan: a moved position, or records whose change differs."""
    check_position(runtime, exact)
    stale: list[StaleRecord] = []
    for planned in exact.syncs:
        cursor, fingerprint = await _position(runtime, planned.sync)
        if (cursor, fingerprint) != (planned.cursor, planned.fingerprint):
            stale.append(StaleRecord(planned.sync, "*", "a run since the plan moved this "
                                     "sync on (its cursor or fingerprint changed)"))
    if stale:
        return stale
    _, now = await _plan_all(runtime, [(s.sync, s.full) for s in exact.syncs])
    for planned, again in zip(exact.syncs, now, strict=True):
        stale.extend(stale_records(planned, again))
    return stale


async def run_exact(runtime: Runtime, exact: ExactPlan,
                    run: Callable[[str, bool, RunGuard], Awaitable[RunReport]]
                    ) -> tuple[list[RunReport], RunGuard]:
    """Run the plan's syncs in order, each through `run` with the guard; the guard
    learns the ids each sync's creates made, which the plans after it named by
    placeholder."""
    guard = RunGuard(exact)
    reports = []
    integration = runtime.spec.integration
    for planned in exact.syncs:
        reports.append(await run(planned.sync, planned.full, guard))
        keys = [c.key for c in planned.changes.values() if c.kind == "create"]
        if keys:
            def links(state: StateStore, name: str = planned.sync,
                      wanted: list[str] = keys) -> dict[str, str]:
                return {k: link.target_id
                        for k, link in state.get_links(integration, name, wanted).items()}

            guard.made(planned.sync, await runtime.astore.run(links))
    return reports, guard
