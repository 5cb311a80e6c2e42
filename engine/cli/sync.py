"""Commands that read and write through a spec's connections: `plan`, `run`, `check`, `explain`.

Each loads the spec with the same checks as `specsync validate` (a broken spec never
runs), opens the state store (`--state`, else $SPECSYNC_STATE, else .specsync/state.db)
and builds one `Runtime` that it closes however the command ends.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from engine.cli.core import command
from engine.cli.options import add_state_option, state_url

if TYPE_CHECKING:
    from rich.console import Console

    from engine.cli.progress import RunProgress
    from engine.spec.model import Spec
    from engine.state import StateStore
    from engine.sync.changes import Plan
    from engine.sync.pace import RunEstimate
    from engine.sync.pipeline import RunReport
    from engine.sync.planned import PlannedLinks
    from engine.sync.runtime import Runtime

__all__ = ["CHECK", "EXPLAIN", "PLAN", "RUN", "render_plan"]

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


def _open_store(state: str | None, *, read_only: bool) -> StateStore:
    """The state store; a command that only reads gets an empty one in memory when the
    file does not exist (nothing ran yet), rather than creating it by looking."""
    from engine.state import SqliteStateStore, StoreNotFoundError, open_store

    try:
        return open_store(state_url(state), create=not read_only)
    except StoreNotFoundError:
        return SqliteStateStore(":memory:")


@asynccontextmanager
async def _open_runtime(spec_path: str, state: str | None, *,
                        read_only: bool = False) -> AsyncIterator[Runtime]:
    """The spec loaded, its state store open, a Runtime over both; all closed at the end."""
    from engine.spec.load import load_spec
    from engine.sync.runtime import Runtime

    spec = load_spec(spec_path)
    with _open_store(state, read_only=read_only) as store:
        runtime = Runtime(spec=spec, store=store)
        try:
            yield runtime
        finally:
            await runtime.aclose()


def _console(*, stderr: bool = False) -> Console:
    """A rich console; tables keep their columns readable when output is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def _show(value: object) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


_WRITES = ("create", "update", "adopt", "deactivate", "delete")
_UNREADABLE = "(not readable)"  # engine.sync.decide's old value of a write-only field
_MARKS = {"create": "+", "update": "~", "adopt": "=", "deactivate": "-", "delete": "-",
          "error": "!"}


def render_plan(plan: Plan) -> str:
    """A plan for people: counts, then each change field by field."""
    from engine.redact import Redactor

    redact = Redactor()
    counts = plan.counts
    head = ", ".join(f"{counts.get(k, 0)} to {k}" for k in _WRITES)
    lines = [f"{plan.integration}/{plan.sync}: {head}; {counts.get('skip', 0)} unchanged, "
             f"{counts.get('filtered', 0)} filtered out, {counts.get('error', 0)} failing"]
    for change in sorted(plan.changes, key=lambda c: (c.kind, c.key)):
        if change.kind in ("skip", "filtered"):
            continue
        target = f" -> {change.target_id}" if change.target_id else ""
        lines.append(f"  {_MARKS.get(change.kind, '?')} {change.kind} {change.key}{target}")
        if change.kind == "error":
            lines.append(f"      [{change.code}] {redact.text(change.reason)}")
        # A field the target cannot read back is sent with every update and cannot be
        # compared: one line for those, so they do not bury the change that caused it.
        fields = [f for f in change.fields if f.old != _UNREADABLE]
        unreadable = [f.field for f in change.fields if f.old == _UNREADABLE]
        if not fields:
            fields, unreadable = list(change.fields), []
        for f in fields:
            old = "" if change.kind == "create" else f"{redact.text(_show(f.old))} -> "
            lines.append(f"      {f.field}: {old}{redact.text(_show(f.new))}")
        if unreadable:
            lines.append(f"      also sent (the target cannot read it back to compare): "
                         f"{', '.join(unreadable)}")
    if plan.truncated:
        lines.append("  (more changes than shown; the counts cover every record)")
    return "\n".join(lines)


# -- plan -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanArgs:
    spec: str
    sync: str | None
    json: bool
    full: bool
    state: str | None


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--sync", metavar="NAME", help="only this sync (default: every sync)")
    p.add_argument("--json", action="store_true", help="the plans as JSON, for tools")
    p.add_argument("--full", action="store_true", help="plan a full reconcile, ignoring cursors")
    add_state_option(p)


async def _plan_with_estimate(runtime: Runtime, name: str, *, full: bool,
                              links: PlannedLinks) -> tuple[Plan, RunEstimate]:
    """The plan of one sync, and what a run of it asks of each connection: the requests
    planning sent (a run reads and looks up the same) plus the writes it would add."""
    import dataclasses

    from engine.sync.pace import estimate_run, request_meter
    from engine.sync.pipeline import plan_sync
    from engine.sync.quota import quota_days

    sync = runtime.spec.syncs[name]
    source, target = sync.source_connection, sync.target_connection
    meters = [m for m in (request_meter(runtime, c) for c in dict.fromkeys((source, target)))
              if m is not None]
    before = {m.connection: m.sent() for m in meters}
    plan = await plan_sync(runtime, name, full=full, links=links)
    links.expect(plan)  # a later sync linking to these records finds them
    measured = {m.connection: m.sent() - before[m.connection] for m in meters}
    max_batch = runtime.adapter(target).max_batch(sync.target_object)
    estimate = estimate_run(plan, source=source, target=target, measured=measured,
                            meters=meters, max_batch=max_batch,
                            target_object=sync.target_object, costs=runtime.adapter(target))
    # More requests than the target's daily quota: a backfill over days (quota.py).
    load = next((x for x in estimate.loads if x.connection == target), None)
    quota = quota_days(next((m for m in meters if m.connection == target), None),
                       load.requests if load else 0)
    return plan, dataclasses.replace(estimate, quota=quota)


def plan(args: PlanArgs) -> int:
    notes: dict[str, str | None] = {}

    async def main() -> list[tuple[Plan, RunEstimate]]:
        from engine.docs.describe import creation_only_note
        from engine.sync.planned import PlannedLinks

        async with _open_runtime(args.spec, args.state, read_only=True) as runtime:
            names = _sync_names(runtime.spec, args.sync)
            # Fields the target's API can set at creation only: never planned as updates.
            notes.update((name, creation_only_note(runtime.spec, name)) for name in names)
            # one for all: a sync's plan sees the links the syncs planned before it make
            links = PlannedLinks(runtime.store, runtime.spec.integration)
            return [await _plan_with_estimate(runtime, name, full=args.full, links=links)
                    for name in names]

    plans = _run_async(main)
    if args.json:
        import json

        print(json.dumps([{**p.to_dict(), "estimate": e.to_dict()} for p, e in plans],
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


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--sync", metavar="NAME", help="only this sync (default: every sync)")
    p.add_argument("--full", action="store_true", help="read everything, not only changes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_state_option(p)


async def _run_one(runtime: Runtime, name: str, *, full: bool, quiet: bool,
                   console: Console, interval: float = 10.0) -> RunReport:
    """One sync to the end, with its progress on stderr (engine/cli/progress.py)."""
    import asyncio

    from engine.cli.progress import RunProgress, print_periodically
    from engine.sync.pace import request_meter
    from engine.sync.pipeline import run_sync

    sync = runtime.spec.syncs[name]
    source = runtime.adapter(sync.source_connection)
    state = RunProgress(name, total=lambda: source.total(sync.source_object),
                        target=request_meter(runtime, sync.target_connection))
    if quiet:
        return await run_sync(runtime, name, full=full)
    if not console.is_terminal:  # a log or CI: a line every `interval` seconds
        printer = asyncio.create_task(print_periodically(
            state, lambda line: console.print(line, markup=False, highlight=False),
            interval=interval))
        try:
            return await run_sync(runtime, name, full=full, progress=state.update)
        finally:
            printer.cancel()
    return await _run_with_bar(runtime, name, full=full, console=console, state=state)


async def _run_with_bar(runtime: Runtime, name: str, *, full: bool, console: Console,
                        state: RunProgress) -> RunReport:
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

        return await run_sync(runtime, name, full=full, progress=progress)


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
        for warning in r.warnings:
            console.print(f"[yellow]warning[/] {r.sync}: {escape(warning)}")
        for failure in r.failures[:20]:  # escaped: `[links.missing]` is text, not markup
            console.print(f"[red]failed[/] {r.sync} {escape(failure.key)}: "
                          f"{escape(f'[{failure.code}]')} "
                          f"{escape(runtime.redactor.text(failure.reason))}")


def run(args: RunArgs) -> int:
    console = _console(stderr=True)

    async def main() -> list[RunReport]:
        async with _open_runtime(args.spec, args.state) as runtime:
            reports = [await _run_one(runtime, name, full=args.full, quiet=args.quiet,
                                      console=console)
                       for name in _sync_names(runtime.spec, args.sync)]
            _print_reports(runtime.spec, runtime, reports, console)
            return reports

    reports = _run_async(main)
    return 0 if all(r.outcome == "success" for r in reports) else 1


RUN = command(
    "run", help="run the syncs of a spec once, with a progress bar and a summary table",
    example="specsync run specs/maconomy-cinode --sync projects --full",
    args=RunArgs, handler=run, arguments=_run_arguments,
    description="Run each sync (or the one named) to the end: read changes since the "
    "cursor, filter, map, match, write only what changed. Exits 1 when a sync fails.",
)


# -- check ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckArgs:
    spec: str
    state: str | None


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    add_state_option(p)


def check(args: CheckArgs) -> int:
    from engine.errors import SpecsyncError

    async def main() -> bool:
        ok = True
        async with _open_runtime(args.spec, args.state, read_only=True) as runtime:
            for name, connection in runtime.spec.connections.items():
                try:
                    result = await runtime.adapter(name).check()
                    good, message = result.ok, result.message
                except SpecsyncError as exc:  # one the user can act on: its words only
                    good, message = False, runtime.redactor.text(str(exc))
                except Exception as exc:  # a check reports, it does not crash
                    good = False
                    message = runtime.redactor.text(f"{type(exc).__name__}: {exc}")
                ok = ok and good
                print(f"{'ok  ' if good else 'FAIL'} {name} ({connection.adapter}): {message}")
        return ok

    return 0 if _run_async(main) else 1


CHECK = command(
    "check", help="test each connection of a spec and say plainly which works",
    example="specsync check specs/kleer-hubspot",
    args=CheckArgs, handler=check, arguments=_check_arguments,
    description="Connect to every system the spec names, with its credentials, and report "
    "per connection. Exits 1 when any connection fails.",
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
        async with _open_runtime(args.spec, args.state, read_only=True) as runtime:
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
