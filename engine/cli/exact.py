"""`plan --out FILE` and `run --plan FILE`: the command side of exact plans
(engine/sync/exact.py and exact_run.py hold the plan file and its checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from engine.cli.sync import RunArgs
    from engine.sync.changes import Plan
    from engine.sync.exact import PlannedSync, RunGuard
    from engine.sync.pipeline import RunReport
    from engine.sync.planned import PlannedLinks
    from engine.sync.runtime import Runtime

__all__ = ["exact_plan", "run_plan"]


async def exact_plan(runtime: Runtime, name: str, *, full: bool, links: PlannedLinks,
                      exact: list[PlannedSync]) -> Plan:
    """plan_sync keeping every change, recorded with its hashes for `--out`."""
    import sys

    from engine.sync.exact import Recorder
    from engine.sync.pipeline import plan_sync

    state = runtime.store
    cursor = state.get_cursor(runtime.spec.integration, name)
    fingerprint = state.get_fingerprint(runtime.spec.integration, name)
    recorder = Recorder(lambda record: "")

    def on_batch(job: Any, batch: Any, changes: Any) -> None:
        recorder.key_of = job.decider.key_of
        recorder.batch(batch, changes)

    plan = await plan_sync(runtime, name, full=full, links=links, keep=sys.maxsize,
                           on_batch=on_batch)
    exact.append(recorder.planned(plan, full=full, cursor=cursor, fingerprint=fingerprint))
    return plan



def run_plan(args: RunArgs, console: Console) -> int:
    """`run --plan FILE`: refuse a stale plan, naming its records; else run exactly it."""
    from rich.markup import escape

    from engine.cli.sync import _print_reports, _run_async, _run_one, open_runtime
    from engine.sync.exact import load_plan
    from engine.sync.exact_run import run_exact, stale_since

    if args.sync or args.full:
        console.print("[red]error[/] --plan runs what the plan says: no --sync or --full")
        return 2
    exact = load_plan(args.plan or "")

    async def main() -> int:
        async with open_runtime(args.spec, args.state) as runtime:
            stale = await stale_since(runtime, exact)
            if stale:
                console.print(f"[red]refused[/]: the plan is stale, {len(stale)} "
                              f"{'record' if len(stale) == 1 else 'records'} changed since "
                              "it was made (nothing was written; make a new plan):")
                for record in stale[:50]:
                    console.print(f"  {escape(record.sync)} {escape(record.key)}: "
                                  f"{escape(record.why)}", markup=True, highlight=False)
                if len(stale) > 50:
                    console.print(f"  ... and {len(stale) - 50} more")
                return 1

            async def one(name: str, full: bool, guard: RunGuard) -> RunReport:
                return await _run_one(runtime, name, full=full, quiet=True, console=console,
                                      guard=guard)

            reports, guard = await run_exact(runtime, exact, one)
            _print_reports(runtime.spec, runtime, reports, console)
            for held in guard.held:
                console.print(f"[yellow]held back[/] {escape(held.sync)} {escape(held.key)}: "
                              f"{escape(held.why)}")
            return 0 if all(r.outcome == "success" for r in reports) else 1

    return _run_async(main)
