"""The procrastinate side of scale-out: the app, its schema, and the jobs we defer.

Three tasks, three queues (a worker takes `sync` and `inbox`; `serve` takes `schedule`):

    specsync.sync   (scope, sync, trigger)  run one sync now            queue specsync-sync
    specsync.inbox  (source)                process a source's events   queue specsync-inbox
    specsync.tick   (timestamp)             schedules, stalls, retries  queue specsync-schedule
    specsync.action (scope, action, key, execution)  a workflow action  queue specsync-action

Locks say what may not run at once, queueing locks what may not wait twice:

- a sync job's *lock* is its dependency group (`sync_lock`): the syncs of one integration
  linked by `linked('...')` share one, so a sync never runs beside itself or beside the
  syncs whose links it reads, and jobs of one group run in the order they were deferred
  (the tick defers an upstream sync before the syncs that read its links);
- its *queueing lock* is the sync itself: a burst of triggers coalesces into the one job
  already waiting (`AlreadyEnqueued` is the expected answer, not an error);
- an inbox job's lock and queueing lock are its source, and it is deferred a moment late
  (`coalesce_seconds`) so the deliveries of a burst are processed by one job.

Procrastinate's tables live in the state store's schema (the same PostgreSQL search
path), so a job can be deferred in the transaction that stores what it will work on
(`defer_in`). The schema is installed on first use under an advisory lock; an installed
schema of another procrastinate version is reported, never altered.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector, SyncPsycopgConnector
from procrastinate import exceptions as pexc
from procrastinate.jobs import Job
from procrastinate.manager import JobManager
from psycopg import sql

from engine.errors import StateError
from engine.scale.budget import ensure_budget_table

__all__ = [
    "ACTION_QUEUE",
    "ACTION_TASK",
    "INBOX_QUEUE",
    "INBOX_TASK",
    "SCHEDULE_QUEUE",
    "SYNC_QUEUE",
    "SYNC_TASK",
    "TICK_TASK",
    "QueueConfig",
    "defer_in",
    "ensure_schema",
    "inbox_job",
    "make_app",
    "sync_job",
]

log = logging.getLogger(__name__)

SYNC_QUEUE, INBOX_QUEUE, SCHEDULE_QUEUE = "specsync-sync", "specsync-inbox", "specsync-schedule"
SYNC_TASK, INBOX_TASK, TICK_TASK = "specsync.sync", "specsync.inbox", "specsync.tick"
ACTION_QUEUE, ACTION_TASK = "specsync-action", "specsync.action"  # engine/scale/actions.py

# Webhook-driven work goes before scheduled work (a person may be waiting for it).
PRIORITY = {"webhook": 10, "action": 10, "manual": 5, "schedule": 0, "retry": 0}


@dataclass(frozen=True)
class QueueConfig:
    """Where the queue lives and how quickly it reacts."""

    dsn: str
    schema: str = "specsync"
    coalesce_seconds: float = 0.5   # an inbox job waits this long for the rest of a burst
    tick_seconds: int = 5           # how often serve's tick looks for due schedules
    stall_seconds: float = 30.0     # a worker silent this long has died: its jobs go back
    heartbeat_seconds: float = 5.0
    # A job held back by its lock is fetched at the next poll (no notification announces
    # that a lock was released): this bounds the wait behind a finished run.
    poll_seconds: float = 1.0

    def __repr__(self) -> str:  # never the DSN: it may carry a password
        return f"QueueConfig(schema={self.schema!r}, tick={self.tick_seconds}s)"


def _search_path(schema: str) -> str:
    return f"-c search_path={schema}"


def make_app(config: QueueConfig, *, max_size: int = 4) -> App:
    """A procrastinate App on the state store's database and schema (not opened)."""
    connector = PsycopgConnector(conninfo=config.dsn, min_size=1, max_size=max_size,
                                 kwargs={"options": _search_path(config.schema)})
    return App(connector=connector)


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"specsync-procrastinate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def ensure_schema(config: QueueConfig) -> bool:
    """Install procrastinate's tables in the schema if absent; True if installed now."""
    from importlib.metadata import version

    from procrastinate.schema import SchemaManager

    wanted = version("procrastinate")
    try:
        with psycopg.connect(config.dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(config.schema),))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(config.schema)))
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(
                sql.Identifier(config.schema)))
            conn.execute("CREATE TABLE IF NOT EXISTS specsync_queue_schema"
                         " (procrastinate TEXT NOT NULL, installed_at TIMESTAMPTZ NOT NULL"
                         " DEFAULT now())")
            ensure_budget_table(conn)
            row = conn.execute("SELECT procrastinate FROM specsync_queue_schema").fetchone()
            if row is not None:
                if row[0] != wanted:
                    raise StateError(
                        f"the job queue in schema {config.schema!r} was installed by "
                        f"procrastinate {row[0]}; this is {wanted}. Apply procrastinate's "
                        "migrations between the two (its sql/migrations folder), then "
                        "update specsync_queue_schema")
                return False
            conn.execute(SchemaManager.get_schema().encode())
            conn.execute("INSERT INTO specsync_queue_schema (procrastinate) VALUES (%s)",
                         (wanted,))
            return True
    except psycopg.Error as exc:
        raise StateError(f"cannot install the job queue: {exc}") from exc


def sync_job(scope: str, sync: str, trigger: str, *, group: str,
             at: datetime | None = None) -> Job:
    """The job that runs one sync (see the module docstring for its locks)."""
    return Job(queue=SYNC_QUEUE, task_name=SYNC_TASK,
               lock=f"sync:{scope}/{group}", queueing_lock=f"sync:{scope}/{sync}",
               priority=PRIORITY.get(trigger, 0),
               task_kwargs={"scope": scope, "sync": sync, "trigger": trigger},
               scheduled_at=at)


def inbox_job(source: str, *, at: datetime | None = None) -> Job:
    """The job that processes the due inbox events of one source (tenant's connection)."""
    return Job(queue=INBOX_QUEUE, task_name=INBOX_TASK, lock=f"inbox:{source}",
               queueing_lock=f"inbox:{source}", priority=PRIORITY["webhook"],
               task_kwargs={"source": source}, scheduled_at=at)


_DEFERRER = JobManager(SyncPsycopgConnector())  # never opened: it only uses our connection


def _waiting(cur: psycopg.Cursor[Any], locks: Sequence[str]) -> set[str]:
    cur.execute("SELECT queueing_lock FROM procrastinate_jobs WHERE status = 'todo'"
                " AND queueing_lock = ANY(%s)", (list(locks),))
    return {row[0] for row in cur.fetchall()}


def defer_in(cur: psycopg.Cursor[Any], jobs: Iterable[Job]) -> tuple[int, int]:
    """Defer jobs inside the caller's transaction; (deferred, coalesced).

    A job whose queueing lock already has a waiting job is coalesced into it. Jobs known
    to be coalesced are skipped up front; a race with another deferrer is caught per job
    in a savepoint, so the caller's transaction survives it.
    """
    todo = list(jobs)
    if not todo:
        return 0, 0
    waiting = _waiting(cur, [j.queueing_lock for j in todo if j.queueing_lock])
    fresh: list[Job] = []
    seen: set[str] = set()
    for job in todo:
        if job.queueing_lock in waiting or job.queueing_lock in seen:
            continue
        if job.queueing_lock:
            seen.add(job.queueing_lock)
        fresh.append(job)
    conn = cur.connection
    try:
        with conn.transaction():
            _DEFERRER.batch_defer_jobs(fresh, connection=conn)
        return len(fresh), len(todo) - len(fresh)
    except (pexc.AlreadyEnqueued, pexc.UniqueViolation):
        pass  # another process deferred one meanwhile: one at a time
    deferred = 0
    for job in fresh:
        try:
            with conn.transaction():
                _DEFERRER.defer_job(job, connection=conn)
            deferred += 1
        except (pexc.AlreadyEnqueued, pexc.UniqueViolation):
            continue
    return deferred, len(todo) - deferred


def later(seconds: float, now: datetime) -> datetime:
    return now + timedelta(seconds=seconds)
