"""Commands of the scaled-out deployment: `specsync worker` and `specsync state move`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.cli.core import command, group
from engine.cli.options import add_state_option, count, state_url

__all__ = ["STATE", "WORKER"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class WorkerArgs:
    specs: list[str]
    tenants: str | None
    concurrency: int
    name: str | None
    json_logs: bool
    log_level: str
    state: str | None


def _worker_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC",
                   help="spec files or integration directories (the same as `serve`'s)")
    p.add_argument("--tenants", metavar="FILE",
                   help="a tenants file: many customers from the same specs (see README)")
    p.add_argument("--concurrency", type=count(1), default=2, metavar="N",
                   help="jobs this worker runs at once (default 2)")
    p.add_argument("--name", metavar="NAME", help="the worker's name in logs (default "
                   "host:pid)")
    p.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    p.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                   help="the least severe log level written (default INFO)")
    add_state_option(p)


def worker(args: WorkerArgs) -> int:
    import asyncio

    from engine.errors import StateError
    from engine.scale.tenants import TenantsError
    from engine.scale.worker import run_worker

    try:
        return asyncio.run(run_worker(args.specs, state_url=state_url(args.state),
                                      tenants=args.tenants, concurrency=args.concurrency,
                                      name=args.name, log_level=args.log_level,
                                      json_logs=args.json_logs))
    except (StateError, TenantsError) as exc:
        print(f"specsync worker: {exc}")
        return 1


WORKER = command(
    "worker", help="run sync runs and inbox batches from the shared PostgreSQL queue",
    example="specsync worker specs/ --state postgresql://specsync@db/specsync --concurrency 4",
    args=WorkerArgs, handler=worker, arguments=_worker_arguments,
    description="Take jobs (sync runs, webhook inbox batches) that `specsync serve "
    "--distributed` defers, until SIGTERM. Run as many as you like, on one machine or "
    "several, against one PostgreSQL.",
)


@dataclass(frozen=True)
class MoveArgs:
    source: str
    target: str


def _move_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", required=True, metavar="PATH",
                   help="the SQLite state store (e.g. .specsync/state.db)")
    p.add_argument("--to", dest="target", required=True, metavar="URL",
                   help="an empty PostgreSQL store: postgresql://user@host/db[?schema=NAME]")


def move(args: MoveArgs) -> int:
    from engine.errors import StateError
    from engine.scale.move import move_state

    try:
        report = move_state(args.source, args.target)
    except StateError as exc:
        print(f"specsync state move: nothing moved: {exc}")
        return 1
    moved = ", ".join(f"{table} {rows}" for table, rows in report.rows.items())
    print(f"moved in {report.seconds:.1f}s: {moved}")
    if report.interrupted:
        print(f"{report.interrupted} run(s) left running by a dead process are marked "
              "interrupted")
    print("next: start workers and `specsync serve --distributed` with --state set to the "
          "PostgreSQL URL")
    return 0


MOVE = command(
    "move", help="move an embedded SQLite state store into an empty PostgreSQL one",
    example="specsync state move --from .specsync/state.db --to postgresql://db/specsync",
    args=MoveArgs, handler=move, arguments=_move_arguments,
    description="Copy links, hashes, cursors, failing records, run history, the inbox, "
    "action claims and schedule positions in one transaction. Refuses when the target "
    "holds state or a run is in progress; the first run after the move writes nothing.",
)

STATE = group(
    "state", help="manage the state store (move it to PostgreSQL)",
    example="specsync state move --from .specsync/state.db --to postgresql://db/specsync",
    subcommands=(MOVE,),
)
