"""CLI commands that run specs: plan, run, check, status, history, explain, sandbox.

They share one way of finding the state store (`--state`, else $SPECSYNC_STATE, else
`.specsync/state.db`) and of loading a spec (the same validation as `specsync validate`;
a broken spec never runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from engine.cli import extra_command

__all__: list[str] = []


def _state_url(args: argparse.Namespace) -> str | None:
    return args.state or os.environ.get("SPECSYNC_STATE")


def _add_state(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", metavar="URL",
                   help="state store: a SQLite path or postgresql:// URL "
                   "(default $SPECSYNC_STATE or .specsync/state.db)")


def _syncs(spec: Any, name: str | None) -> list[str]:
    if name is None:
        return list(spec.syncs)
    if name not in spec.syncs:
        from engine.errors import SpecsyncError

        raise SpecsyncError(f"the spec has no sync `{name}`; syncs: {', '.join(spec.syncs)}")
    return [name]


def _runtime(spec: Any, store: Any) -> Any:
    from engine.sync.runtime import Runtime

    return Runtime(spec=spec, store=store)


def _console(stderr: bool = False) -> Any:
    """A rich console; tables keep their columns readable when output is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def render_plan(plan: Any) -> str:
    """A plan for people: counts, then each change field by field."""
    from engine.redact import Redactor

    redact = Redactor()
    marks = {"create": "+", "update": "~", "adopt": "=", "deactivate": "-", "delete": "-",
             "error": "!"}
    counts = plan.counts
    head = ", ".join(f"{counts.get(k, 0)} to {k}" for k in ("create", "update", "adopt",
                                                             "deactivate", "delete"))
    lines = [f"{plan.integration}/{plan.sync}: {head}; {counts.get('skip', 0)} unchanged, "
             f"{counts.get('filtered', 0)} filtered out, {counts.get('error', 0)} failing"]
    for change in sorted(plan.changes, key=lambda c: (c.kind, c.key)):
        if change.kind in ("skip", "filtered"):
            continue
        target = f" -> {change.target_id}" if change.target_id else ""
        lines.append(f"  {marks.get(change.kind, '?')} {change.kind} {change.key}{target}")
        if change.kind == "error":
            lines.append(f"      [{change.code}] {redact.text(change.reason)}")
        for f in change.fields:
            old = "" if change.kind == "create" else f"{redact.text(_show(f.old))} -> "
            lines.append(f"      {f.field}: {old}{redact.text(_show(f.new))}")
    if plan.truncated:
        lines.append("  (more changes than shown; the counts cover every record)")
    return "\n".join(lines)


async def _plan(args: argparse.Namespace) -> int:
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import plan_sync

    spec = load_spec(args.spec)
    with open_store(_state_url(args)) as store:
        runtime = _runtime(spec, store)
        try:
            plans = [await plan_sync(runtime, name, full=args.full)
                     for name in _syncs(spec, args.sync)]
        finally:
            await runtime.aclose()
    if args.json:
        print(json.dumps([p.to_dict() for p in plans], indent=2, ensure_ascii=False))
    else:
        from engine.docs.describe import creation_only_note

        notes = {p.sync: creation_only_note(spec, p.sync) for p in plans}
        print("\n\n".join(render_plan(p) + (f"\n  note: {notes[p.sync]}"
                                              if notes[p.sync] else "") for p in plans))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    return asyncio.run(_plan(args))


async def _run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import run_sync

    spec = load_spec(args.spec)
    console = _console(stderr=True)
    reports = []
    with open_store(_state_url(args)) as store:
        runtime = _runtime(spec, store)
        try:
            for name in _syncs(spec, args.sync):
                source = runtime.adapter(spec.syncs[name].source_connection)
                total = source.total(spec.syncs[name].source_object)
                with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                              TextColumn("{task.completed}/{task.total} read"),
                              TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                              console=console, transient=True, disable=args.quiet) as bar:
                    task = bar.add_task(name, total=total, rate="")
                    loop = asyncio.get_running_loop()
                    started = loop.time()

                    def progress(counts: dict[str, int], task: Any = task, bar: Any = bar,
                                 started: float = started, loop: Any = loop) -> None:
                        elapsed = max(loop.time() - started, 1e-6)
                        written = sum(counts.get(k, 0) for k in
                                      ("create", "update", "adopt", "deactivate", "delete"))
                        bar.update(task, completed=counts["read"],
                                   rate=f"{counts['read'] / elapsed:,.0f} read/s, "
                                   f"{written / elapsed:,.0f} written/s")

                    reports.append(await run_sync(runtime, name, full=args.full,
                                                  progress=progress))
        finally:
            await runtime.aclose()
    table = Table(title=f"{spec.integration} {spec.version}")
    for column in ("sync", "outcome", "read", "created", "updated", "adopted", "unchanged",
                   "filtered", "deactivated", "failed", "seconds"):
        table.add_column(column, justify="right" if column not in ("sync", "outcome") else "left")
    for r in reports:
        c = r.counts
        table.add_row(r.sync, r.outcome, str(c["read"]), str(c["create"]), str(c["update"]),
                      str(c["adopt"]), str(c["skip"]), str(c["filtered"]),
                      str(c["deactivate"] + c["delete"]), str(c["error"]), f"{r.seconds:.1f}")
    _console().print(table)
    for r in reports:
        for warning in r.warnings:
            console.print(f"[yellow]warning[/] {r.sync}: {warning}")
        for failure in r.failures[:20]:
            console.print(f"[red]failed[/] {r.sync} {failure.key}: [{failure.code}] "
                          f"{runtime.redactor.text(failure.reason)}")
    return 0 if all(r.outcome == "success" for r in reports) else 1


def cmd_run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _check(args: argparse.Namespace) -> int:
    from engine.spec.load import load_spec
    from engine.state import open_store

    spec = load_spec(args.spec)
    ok = True
    with open_store(_state_url(args)) as store:
        runtime = _runtime(spec, store)
        try:
            for name, connection in spec.connections.items():
                try:
                    result = await runtime.adapter(name).check()
                    good, message = result.ok, result.message
                except Exception as exc:  # a check reports, it does not crash
                    good, message = False, runtime.redactor.text(f"{type(exc).__name__}: {exc}")
                ok = ok and good
                print(f"{'ok  ' if good else 'FAIL'} {name} ({connection.adapter}): {message}")
        finally:
            await runtime.aclose()
    return 0 if ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    return asyncio.run(_check(args))


def cmd_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    from engine.state import open_store

    with open_store(_state_url(args)) as store:
        runs = store.list_runs(limit=500)
        latest: dict[tuple[str, str], Any] = {}
        for run in runs:
            latest.setdefault((run.integration, run.sync), run)
        table = Table(title="syncs")
        for column in ("integration", "sync", "last run", "outcome", "read", "written",
                       "failed", "links", "cursor", "failing now"):
            table.add_column(column)
        for (integration, sync), run in sorted(latest.items()):
            counts = run.counts
            written = sum(counts.get(k, 0) for k in ("create", "update", "adopt"))
            table.add_row(integration, sync, run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                          run.status, str(counts.get("read", 0)), str(written),
                          str(counts.get("error", 0)),
                          str(store.count_links(integration, sync)),
                          store.get_cursor(integration, sync) or "-",
                          str(len(store.failing_keys(integration, sync))))
        console = _console()
        console.print(table)
        failures = store.list_failures(limit=args.limit)
        if failures:
            ft = Table(title="failing records (retried every run)")
            for column in ("integration", "sync", "key", "code", "attempts", "message"):
                ft.add_column(column)
            for f in failures:
                ft.add_row(f.integration, f.sync, f.source_key, f.code, str(f.attempts),
                           f.message[:100])
            console.print(ft)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from rich.table import Table

    from engine.state import open_store

    with open_store(_state_url(args)) as store:
        table = Table(title="runs, newest first")
        for column in ("id", "integration", "sync", "started", "seconds", "outcome", "trigger",
                       "counts", "spec"):
            table.add_column(column)
        for run in store.list_runs(args.integration, args.sync, limit=args.limit):
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
            seconds = f"{run.duration.total_seconds():.1f}" if run.duration else "-"
            table.add_row(str(run.id), run.integration, run.sync,
                          run.started_at.strftime("%Y-%m-%d %H:%M:%S"), seconds, run.status,
                          run.trigger, counts, run.spec_hash[:10])
        _console().print(table)
    return 0


async def _explain(args: argparse.Namespace) -> int:
    from engine.errors import RecordError
    from engine.redact import Redactor
    from engine.rules import explain_rule, parse_rule
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import SyncJob

    spec = load_spec(args.spec)
    redact = Redactor()
    with open_store(_state_url(args)) as store:
        runtime = _runtime(spec, store)
        try:
            job = SyncJob(runtime, _syncs(spec, args.sync)[0])
            sync = job.sync
            source_id = job.source_id_for(args.key)
            record = await job.source.get(sync.source_object, source_id) if source_id else None
            print(f"{spec.integration}/{sync.name}: {sync.source_connection}.{sync.source_object}"
                  f" -> {sync.target_connection}.{sync.target_object}")
            if record is None:
                print(f"  no source record for key {args.key!r} (looked up id {source_id!r})")
                return 1
            try:
                key = job.key_of(record)
                print(f"  key: {' + '.join(sync.key.components)} joined by "
                      f"{sync.key.separator!r} = {key!r} ({sync.key.match} match)")
            except RecordError as exc:
                print(f"  key: cannot be built: [{exc.code}] {exc.message}")
                key = args.key
            if sync.filter:
                explanation = explain_rule(parse_rule(sync.filter), record, setup=spec.setup,
                                           clock=runtime.clock)
                print("  filter:")
                print(explanation.render())
            print("  fields:")
            complete = job.mapper.complete(record)
            for compiled in (*job.mapper.fields, *job.mapper.placement):
                when = " (on create)" if compiled.create_only else ""
                try:
                    value = compiled.render(complete, job.ctx)
                    print(f"    {compiled.target}{when} = {redact.text(_show(value))}")
                except RecordError as exc:
                    print(f"    {compiled.target}{when}: error [{exc.code}] "
                          f"{redact.text(exc.message)}")
            link = store.get_links(spec.integration, sync.name, [key]).get(key)
            if link is None:
                print("  last write: none (no link yet; a run would look the target up by "
                      f"{sync.key.target_field or 'id'} and create or adopt it)")
            else:
                when = link.updated_at.isoformat() if link.updated_at else "?"
                print(f"  last write: target {link.target_id}, {link.origin}, hash "
                      f"{link.hash[:12]}, at {when}{'' if link.active else ' (inactive)'}")
            for failure in store.list_failures(spec.integration, sync.name, limit=1000):
                if failure.source_key == key:
                    print(f"  failing: [{failure.code}] {failure.message} "
                          f"({failure.attempts} attempts)")
        finally:
            await runtime.aclose()
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    return asyncio.run(_explain(args))


def cmd_sandbox_up(args: argparse.Namespace) -> int:
    from engine.sandbox.platform import Faults
    from engine.sandbox.serve import run_sandboxes

    faults = Faults.parse(args.faults) if args.faults else Faults()
    return run_sandboxes(records=args.records, faults=faults, seed=args.seed, host=args.host) or 0


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.runner.serve import serve

    return asyncio.run(serve(args.specs, host=args.host, port=args.port,
                             state_url=_state_url(args), json_logs=args.json_logs,
                             log_level=args.log_level, public_url=args.public_url))


def _register(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what a run would create, update and skip, field by "
                       "field, without writing")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--sync", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.add_argument("--full", action="store_true", help="plan a full reconcile, ignoring cursors")
    _add_state(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("run", help="run the syncs of a spec once")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--sync", metavar="NAME")
    p.add_argument("--full", action="store_true", help="read everything, not only changes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_state(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("check", help="test each connection of a spec")
    p.add_argument("spec", metavar="SPEC")
    _add_state(p)
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("status", help="syncs, last runs, cursors and failing records")
    p.add_argument("--limit", type=int, default=20)
    _add_state(p)
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("history", help="recent runs")
    p.add_argument("--integration")
    p.add_argument("--sync")
    p.add_argument("--limit", type=int, default=30)
    _add_state(p)
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("explain", help="why one source record is (not) synced, and as what")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("sync", metavar="SYNC")
    p.add_argument("key", metavar="KEY")
    _add_state(p)
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("serve", help="run schedules, webhooks and workflow actions until "
                       "stopped (SIGHUP reloads specs, SIGTERM stops gracefully)")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--public-url", help="the base URL vendors call, when behind a proxy")
    p.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    p.add_argument("--log-level", default="INFO")
    _add_state(p)
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("sandbox", help="local simulators of Kleer, Cinode, Maconomy, HubSpot")
    sandbox = p.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    up = sandbox.add_parser("up", help="run all four on loopback until Ctrl-C")
    up.add_argument("--records", type=int, default=50, help="records per object (default 50)")
    up.add_argument("--faults", default="", help="e.g. latency=50ms,error_rate=0.1,seed=7")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--host", default="127.0.0.1")
    up.set_defaults(handler=cmd_sandbox_up)


extra_command(_register)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - convenience
    from engine.cli import main as cli_main

    return cli_main(argv if argv is not None else sys.argv[1:])
