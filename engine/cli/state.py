"""Commands that read the state store only: `status` and `history`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.cli.core import command
from engine.cli.options import add_state_option, count, state_url

if TYPE_CHECKING:
    from rich.console import Console

    from engine.state import Run, StateStore

__all__ = ["HISTORY", "STATUS"]


def _console() -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


@dataclass(frozen=True)
class StatusArgs:
    limit: int
    state: str | None


def _status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=count(0), default=20, metavar="N",
                   help="failing records to list (default 20)")
    add_state_option(p)


def _no_store(exc: Exception) -> int:
    """A read-only command found no state file: nothing ran there, and nothing is created."""
    _console().print(f"no runs yet: {exc} (`specsync run SPEC` runs a spec's syncs once "
                     "and creates it)", markup=False, highlight=False)
    return 0


def status(args: StatusArgs) -> int:
    from rich.table import Table

    from engine.state import StoreNotFoundError, open_store
    from engine.sync.quota import BACKFILL_PREFIX

    try:
        store = open_store(state_url(args.state), create=False)
    except StoreNotFoundError as exc:
        return _no_store(exc)
    with store:
        latest: dict[tuple[str, str], Run] = {}
        for run in store.list_runs(limit=500):
            latest.setdefault((run.integration, run.sync), run)
        console = _console()
        if not latest:
            console.print("no runs yet: `specsync run SPEC` runs a spec's syncs once")
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
        if latest:
            console.print(table)
        for (integration, sync), run in sorted(latest.items()):
            # A backfill the daily quota stopped: where it stands and its ETA (quota.py).
            if run.error and run.error.startswith(BACKFILL_PREFIX):
                console.print(f"{integration}/{sync}: {run.error}", markup=False,
                              highlight=False)
        _print_queue(console, store)
        failures = store.list_failures(limit=args.limit)
        if failures:
            failing = Table(title="failing records (retried every run)")
            for column in ("integration", "sync", "key", "code", "attempts", "message"):
                failing.add_column(column)
            from engine.redact import Redactor

            redact = Redactor()  # stored masked; masked again for rows an old version kept
            for f in failures:
                failing.add_row(f.integration, f.sync, f.source_key, f.code, str(f.attempts),
                                redact.text(f.message)[:100])
            console.print(failing)
        _print_held(store, console, args.limit)
        _print_source_deletes(store, console, sorted(latest))
        _print_conflicts(store, console, args.limit)
        from engine.cli.safeguards import print_safeguards

        print_safeguards(store, latest, console)
    return 0


def _print_conflicts(store: StateStore, console: Console, limit: int) -> None:
    """Two-way fields both systems changed since the last sync, newest first (S28)."""
    from rich.table import Table

    from engine.redact import Redactor

    conflicts = store.list_conflicts(limit=limit)
    if not conflicts:
        return
    counts = store.conflict_counts()
    table = Table(title=f"conflicts: a field changed on both sides ({sum(counts.values())} "
                  "recorded; the policy's winner was kept)")
    for column in ("when", "integration", "sync", "key", "field", "source value",
                   "target value", "kept", "policy"):
        table.add_column(column)
    redact = Redactor()  # stored masked; masked again all the same
    for c in conflicts:
        table.add_row(c.at.strftime("%Y-%m-%d %H:%M:%S"), c.integration, c.sync,
                      c.source_key, c.field, redact.text(c.source_value)[:60],
                      redact.text(c.target_value)[:60], c.winner, c.policy)
    console.print(table)


def _print_queue(console: Console, store: object) -> None:
    """The distributed mode's job queue, per tenant and sync (nothing for SQLite)."""
    import os

    from rich.table import Table

    from engine.errors import StateError

    try:
        from engine.scale.cluster import tuning
        from engine.scale.queue_view import read_queue
    except ImportError:  # the scale extra is not installed: there is no queue to show
        return
    try:
        stall = tuning(os.environ).get("stall_seconds", 30.0)
        rows = read_queue(store, stall_seconds=stall)
    except StateError as exc:
        console.print(f"job queue: {exc}", markup=False, highlight=False)
        return
    if rows is None:
        return
    if not rows:
        console.print("job queue: empty (no job waiting or running)")
        return
    table = Table(title="job queue (distributed mode)")
    for column in ("tenant", "integration", "sync", "waiting", "running", "stalled",
                   "retried"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.tenant, row.integration, row.sync, str(row.waiting),
                      str(row.running), str(row.stalled), str(row.retried))
    console.print(table)


def _print_source_deletes(store: StateStore, console: Console,
                          syncs: list[tuple[str, str]]) -> None:
    """Linked records the last complete full read no longer listed (source_deletes.py)."""
    for integration, sync in syncs:
        last = store.last_sweep(integration, sync)
        if last is None or not last.unseen:
            continue
        keys = [link.source_key for link in store.unseen_links(integration, sync, 5)]
        more = f" and {last.unseen - len(keys)} more" if last.unseen > len(keys) else ""
        console.print(f"{integration}/{sync}: {last.unseen} linked record(s) deleted in the "
                      f"source (not in the full read of {last.finished:%Y-%m-%d %H:%M} UTC): "
                      f"{', '.join(keys)}{more}; the sync's on_source_delete says what "
                      "happens to them", markup=False, highlight=False)


def _print_held(store: StateStore, console: Console, limit: int) -> None:
    """Source changes the target cannot take (fields it sets at creation only)."""
    import json

    from rich.table import Table

    from engine.redact import Redactor

    held = store.list_held(limit=limit)
    if not held:
        return
    redact = Redactor()
    table = Table(title="changes not written: the target sets these fields at creation only"
                  " (change them there by hand, or set the source back)")
    for column in ("integration", "sync", "key", "field", "as created", "source now", "since"):
        table.add_column(column)
    for record in held:
        for name, (old, new) in sorted((record.held or {}).items()):
            table.add_row(record.integration, record.sync, record.source_key, name,
                          redact.text(json.dumps(old, ensure_ascii=False))[:60],
                          redact.text(json.dumps(new, ensure_ascii=False))[:60],
                          record.held_since.strftime("%Y-%m-%d %H:%M:%S")
                          if record.held_since else "-")
    console.print(table)


STATUS = command(
    "status", help="each sync's last run, counts, links, cursor and failing records; "
    "with workers, the job queue per tenant and sync",
    example="specsync status --state postgresql://specsync@db/specsync",
    args=StatusArgs, handler=status, arguments=_status_arguments,
)


@dataclass(frozen=True)
class HistoryArgs:
    integration: str | None
    sync: str | None
    limit: int
    state: str | None


def _history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--integration", metavar="NAME", help="only runs of this integration")
    p.add_argument("--sync", metavar="NAME", help="only runs of syncs with this name")
    p.add_argument("--limit", type=count(1), default=30, metavar="N",
                   help="runs to show, newest first (default 30)")
    add_state_option(p)


def history(args: HistoryArgs) -> int:
    from rich.table import Table

    from engine.redact import Redactor
    from engine.state import StoreNotFoundError, open_store

    try:
        store = open_store(state_url(args.state), create=False)
    except StoreNotFoundError as exc:
        return _no_store(exc)
    with store:
        table = Table(title="runs, newest first")
        for column in ("id", "integration", "sync", "started", "seconds", "outcome", "trigger",
                       "counts", "spec"):
            table.add_column(column)
        runs = store.list_runs(args.integration, args.sync, limit=args.limit)
        for run in runs:
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
            seconds = f"{run.duration.total_seconds():.1f}" if run.duration else "-"
            table.add_row(str(run.id), run.integration, run.sync,
                          run.started_at.strftime("%Y-%m-%d %H:%M:%S"), seconds, run.status,
                          run.trigger, counts, run.spec_hash[:10])
    console = _console()
    if not runs:
        which = " ".join(f"{k} {v}" for k, v in (("of integration", args.integration),
                                                  ("of sync", args.sync)) if v)
        console.print(f"no runs yet{' ' + which if which else ''}")
        return 0
    console.print(table)
    redact = Redactor()
    for run in runs:
        if run.error:  # why a run failed, which the table has no room for
            console.print(f"run {run.id} ({run.integration}/{run.sync}) {run.status}: "
                          f"{redact.text(run.error)}", markup=False, highlight=False)
    return 0


HISTORY = command(
    "history", help="recent runs, newest first",
    example="specsync history --integration maconomy-cinode --sync projects --limit 10",
    args=HistoryArgs, handler=history, arguments=_history_arguments,
)
