"""Commands that read and write through a spec's connections: `plan`, `run`, `explain`.

Each loads the spec with the same checks as `specsync validate` (a broken spec never
runs), opens the state store (`--state`, else $SPECSYNC_STATE, else .specsync/state.db)
and builds one `Runtime` that it closes however the command ends.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from engine.cli.core import command
from engine.cli.options import add_state_option
from engine.cli.report import failure_lines, internal_matching_note, render_plan
from engine.cli.runtime import open_runtime

if TYPE_CHECKING:
    from rich.console import Console

    from engine.cli.progress import RunProgress
    from engine.spec.model import Spec
    from engine.sync.changes import Plan
    from engine.sync.exact import PlannedSync, RunGuard
    from engine.sync.pace import RunEstimate
    from engine.sync.pipeline import RunReport
    from engine.sync.planned import PlannedLinks
    from engine.sync.runtime import Runtime

__all__ = ["EXPLAIN", "PLAN", "RUN", "failure_lines", "internal_matching_note", "open_runtime",
           "render_plan"]

T = TypeVar("T")


def _run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    import asyncio

    return asyncio.run(main())


def _sync_names(spec: Spec, name: str | None) -> list[str]:
    """The syncs a command works on: the one named, else all of them in spec order."""
    if name is None:
        return list(spec.syncs)
    if name not in spec.syncs:
        from engine.errors import SpecsyncError

        raise SpecsyncError(f"the spec has no sync `{name}`; syncs: {', '.join(spec.syncs)}")
    return [name]


def _console(*, stderr: bool = False) -> Console:
    """A rich console; tables keep their columns readable when output is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


# -- plan -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanArgs:
    spec: str
    sync: str | None
    json: bool
    full: bool
    state: str | None
    out: str | None = None


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--sync", metavar="NAME", help="only this sync (default: every sync)")
    p.add_argument("--json", action="store_true", help="the plans as JSON, for tools")
    p.add_argument("--full", action="store_true", help="plan a full reconcile, ignoring cursors")
    p.add_argument("--out", metavar="FILE", help="also write the exact plan, with the hashes "
                   "it was computed from, for `specsync run --plan FILE`")
    add_state_option(p)


async def _plan_with_estimate(runtime: Runtime, name: str, *, full: bool,
                              links: PlannedLinks, exact: list[PlannedSync] | None = None
                              ) -> tuple[Plan, RunEstimate]:
    """The plan of one sync, and what a run of it asks of each connection: the requests
    planning sent (a run reads and looks up the same) plus the writes it would add."""
    from engine.sync.pace import estimate_run, request_meter
    from engine.sync.pipeline import plan_sync

    sync = runtime.spec.syncs[name]
    source, target = sync.source_connection, sync.target_connection
    meters = [m for m in (request_meter(runtime, c) for c in dict.fromkeys((source, target)))
              if m is not None]
    before = {m.connection: m.sent() for m in meters}
    if exact is None:
        plan = await plan_sync(runtime, name, full=full, links=links)
    else:
        from engine.cli.exact import exact_plan

        plan = await exact_plan(runtime, name, full=full, links=links, exact=exact)
    links.expect(plan)  # a later sync linking to these records finds them
    measured = {m.connection: m.sent() - before[m.connection] for m in meters}
    max_batch = runtime.adapter(target).max_batch(sync.target_object)
    return plan, estimate_run(plan, source=source, target=target, measured=measured,
                              meters=meters, max_batch=max_batch,
                              target_object=sync.target_object,
                              costs=runtime.adapter(target))




def plan(args: PlanArgs) -> int:
    notes: dict[str, str | None] = {}
    exact: list[PlannedSync] | None = [] if args.out else None
    spec_hash: list[tuple[str, str]] = []

    async def main() -> list[tuple[Plan, RunEstimate]]:
        from engine.docs.describe import creation_only_note
        from engine.sync.planned import PlannedLinks

        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            names = _sync_names(runtime.spec, args.sync)
            # Fields the target's API can set at creation only: never planned as updates.
            notes.update((name, creation_only_note(runtime.spec, name)) for name in names)
            # one for all: a sync's plan sees the links the syncs planned before it make
            links = PlannedLinks(runtime.store, runtime.spec.integration)
            spec_hash.append((runtime.spec.integration, runtime.spec.content_hash))
            planned = [await _plan_with_estimate(runtime, name, full=args.full, links=links,
                                                 exact=exact)
                       for name in names]
            for p, _ in planned:
                unmatched = internal_matching_note(runtime, p)
                if unmatched:
                    notes[p.sync] = "; ".join(n for n in (notes.get(p.sync), unmatched) if n)
            return planned

    plans = _run_async(main)
    if args.out and exact is not None:
        from engine.sync.exact import ExactPlan

        [(integration, content_hash)] = spec_hash
        ExactPlan(integration, content_hash, exact).write(args.out)
        print(f"wrote the exact plan to {args.out}: `specsync run {args.spec} --plan "
              f"{args.out}` does exactly this", file=sys.stderr)
    if args.json:
        import json

        print(json.dumps([{**p.to_dict(), "estimate": e.to_dict(),
                           **({"note": notes[p.sync]} if notes.get(p.sync) else {})}
                          for p, e in plans],
                         indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(render_plan(p) + f"\n  estimate: {e.describe()}"
                           + (f"\n  note: {notes[p.sync]}" if notes.get(p.sync) else "")
                           for p, e in plans))
    return 0


PLAN = command(
    "plan", help="show what a run would create, update, adopt and deactivate; writes nothing",
    example="specsync plan specs/maconomy-cinode --sync customers",
    args=PlanArgs, handler=plan, arguments=_plan_arguments,
    description="Read the source and the target and show, field by field (old -> new), "
    "what a run would change. Nothing is written, not even to the state store's cursors.",
)


# -- run --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunArgs:
    spec: str
    sync: str | None
    full: bool
    quiet: bool
    state: str | None
    plan: str | None = None
    confirm_deletions: int | None = None
    grace: float = 30.0


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--sync", metavar="NAME", help="only this sync (default: every sync)")
    p.add_argument("--full", action="store_true", help="read everything, not only changes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--plan", metavar="FILE", help="run exactly the plan `specsync plan --out "
                   "FILE` wrote; refused, naming the records, when the source or the "
                   "target changed since in a way that changes it")
    p.add_argument("--confirm-deletions", metavar="N", type=int, default=None,
                   help="let up to N deactivations and deletes through the deletion guard "
                   "this once (the number a refused run named)")
    p.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM or Ctrl-C, how long the writes in flight may take to "
                   "finish before they are abandoned (default: 30)")
    add_state_option(p)


async def _run_one(runtime: Runtime, name: str, *, full: bool, quiet: bool,
                   console: Console, interval: float = 10.0,
                   guard: RunGuard | None = None,
                   confirm_deletions: int | None = None) -> RunReport:
    """One sync to the end, with its progress on stderr (engine/cli/progress.py)."""
    import asyncio

    from engine.cli.progress import RunProgress, print_periodically
    from engine.sync.pace import request_meter
    from engine.sync.pipeline import run_sync

    sync = runtime.spec.syncs[name]
    source = runtime.adapter(sync.source_connection)
    state = RunProgress(name, total=lambda: source.total(sync.source_object),
                        target=request_meter(runtime, sync.target_connection))
    if quiet or guard is not None:
        return await run_sync(runtime, name, full=full, guard=guard,
                              confirm_deletions=confirm_deletions)
    if not console.is_terminal:  # a log or CI: a line every `interval` seconds
        printer = asyncio.create_task(print_periodically(
            state, lambda line: console.print(line, markup=False, highlight=False),
            interval=interval))
        try:
            return await run_sync(runtime, name, full=full, progress=state.update,
                                  confirm_deletions=confirm_deletions)
        finally:
            printer.cancel()
    return await _run_with_bar(runtime, name, full=full, console=console, state=state,
                               confirm_deletions=confirm_deletions)


async def _run_with_bar(runtime: Runtime, name: str, *, full: bool, console: Console,
                        state: RunProgress, confirm_deletions: int | None = None
                        ) -> RunReport:
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    from engine.sync.pipeline import run_sync

    class Line(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(state.line())

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), Line(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(name, total=None)

        def progress(counts: dict[str, int]) -> None:
            state.update(counts)
            now = state.state()
            bar.update(task, total=now.total, completed=now.done)

        return await run_sync(runtime, name, full=full, progress=progress,
                              confirm_deletions=confirm_deletions)


def _print_reports(spec: Spec, runtime: Runtime, reports: list[RunReport],
                   console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{spec.integration} {spec.version}")
    for column in ("sync", "outcome", "read", "created", "updated", "adopted", "unchanged",
                   "filtered", "deactivated", "failed", "seconds"):
        table.add_column(column, justify="right" if column not in ("sync", "outcome") else "left")
    for r in reports:
        c = r.counts
        table.add_row(r.sync, r.outcome, str(c["read"]), str(c["create"]), str(c["update"]),
                      str(c["adopt"]), str(c["skip"]), str(c["filtered"]),
                      str(c["deactivate"] + c["delete"]), str(c["error"]), f"{r.seconds:.1f}")
    from rich.markup import escape

    _console().print(table)
    for r in reports:
        if r.tripped and r.error:  # a safeguard's reason: what stopped the run, and why
            console.print(f"[red]stopped[/] {r.sync}: {escape(r.error)}")
        for warning in r.warnings:
            console.print(f"[yellow]warning[/] {r.sync}: {escape(warning)}")
        for line in failure_lines(r.failures, total=r.counts["error"]):
            console.print(f"[red]failed[/] {r.sync} {escape(runtime.redactor.text(line))}")




def run(args: RunArgs) -> int:
    """Run the syncs; SIGTERM or SIGINT stops them gracefully (engine/cli/signals.py)
    and the command exits 128 + the signal's number."""
    from engine.cli.signals import GracefulStop

    console = _console(stderr=True)
    if args.plan:
        from engine.cli.exact import run_plan

        return run_plan(args, console)
    signum: int | None = None

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    async def main() -> list[RunReport]:
        nonlocal signum
        async with open_runtime(args.spec, args.state) as runtime:
            reports: list[RunReport] = []
            async with GracefulStop(runtime.stop, grace=args.grace, say=say) as stopping:
                for name in _sync_names(runtime.spec, args.sync):
                    if stopping.stopped:
                        break  # the syncs not started yet stay for the next run
                    report = await stopping.shield(_run_one(
                        runtime, name, full=args.full, quiet=args.quiet, console=console,
                        confirm_deletions=args.confirm_deletions))
                    if report is None:
                        say(f"{name}: interrupted; the writes in flight were abandoned, "
                            "what was committed stays")
                        break
                    reports.append(report)
            signum = stopping.signum
            _print_reports(runtime.spec, runtime, reports, console)
            return reports

    reports = _run_async(main)
    if signum is not None:
        return 128 + signum
    return 0 if all(r.outcome == "success" for r in reports) else 1


RUN = command(
    "run", help="run the syncs of a spec once, with a progress bar and a summary table",
    example="specsync run specs/maconomy-cinode --sync projects --full",
    args=RunArgs, handler=run, arguments=_run_arguments,
    description="Run each sync (or the one named) to the end: read changes since the "
    "cursor, filter, map, match, write only what changed. Exits 1 when a sync fails.",
)


# -- explain ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ExplainArgs:
    spec: str
    sync: str
    key: str
    state: str | None


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("sync", metavar="SYNC", help="the sync's name in the spec")
    p.add_argument("key", metavar="KEY", help="the source record's key, as run history shows it")
    add_state_option(p)


async def _explain(runtime: Runtime, sync_name: str, wanted: str) -> int:
    from engine.sync.explain import explain_record

    sync = runtime.spec.syncs[sync_name]
    found = await explain_record(runtime, sync_name, wanted)
    print(f"{found.integration}/{sync.name}: {sync.source_connection}.{sync.source_object}"
          f" -> {sync.target_connection}.{sync.target_object}")
    if not found.found:
        print(f"  no source record for key {wanted!r} (looked up id {found.source_id!r})")
        return 1
    if found.key_error:
        print(f"  key: cannot be built: {found.key_error}")
    else:
        print(f"  key: {found.key_parts} = {found.key!r} ({found.key_match} match)")
    if found.filter is not None:
        print("  filter:")
        print(found.filter.render())
    print("  fields:")
    for field in found.fields:
        when = " (on create)" if field.create_only else ""
        if field.value is not None:
            value = field.value if len(field.value) <= 80 else field.value[:77] + "..."
            print(f"    {field.target}{when} = {value}")
        else:
            print(f"    {field.target}{when}: error [{field.error_code}] {field.error}")
    link = found.link
    if link is None:
        print("  last write: none (no link yet; a run would look the target up by "
              f"{sync.key.target_field or 'id'} and create or adopt it)")
    else:
        at = link.updated_at.isoformat() if link.updated_at else "?"
        print(f"  last write: target {link.target_id}, {link.origin}, hash "
              f"{link.hash[:12]}, at {at}{'' if link.active else ' (inactive)'}")
    failure = found.failure
    if failure is not None:
        print(f"  failing: [{failure.code}] {failure.message} ({failure.attempts} attempts)")
    return 0


def explain(args: ExplainArgs) -> int:
    async def main() -> int:
        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            [name] = _sync_names(runtime.spec, args.sync)
            return await _explain(runtime, name, args.key)

    return _run_async(main)


EXPLAIN = command(
    "explain", help="for one source record: the filter's clauses, each field's value, the "
    "key, the last write",
    example="specsync explain specs/maconomy-cinode customers 10042",
    args=ExplainArgs, handler=explain, arguments=_explain_arguments,
    description="Why one source record is (or is not) synced, and as what: each filter "
    "clause held or failed, each mapped field's value, its key, the link and last write.",
)
