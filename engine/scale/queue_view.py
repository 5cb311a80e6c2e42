"""What the job queue holds, per tenant and sync: for `specsync status` and `/metrics`.

    rows = read_queue(store, stall_seconds=30)
    rows[0]  # QueueRow(scope='acme:maconomy-cinode', sync='customers', waiting=1, ...)

Counted from procrastinate's tables, in the state store's schema:

- waiting: jobs not yet taken (`todo`, including those put back for later);
- running: jobs taken by a worker whose heartbeat is fresh;
- stalled: jobs taken by a worker silent for `stall_seconds` (or gone): the tick gives
  them back to the queue;
- retried: waiting or running jobs that already failed or were put back at least once.

An inbox job is shown under its source's scope as `inbox:<connection>`. The cluster's
own tick is left out: it is not a tenant's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.errors import StateError
from engine.scale.queue import INBOX_TASK, SYNC_TASK
from engine.scale.tenants import split_scope

__all__ = ["QueueCollector", "QueueRow", "read_queue"]

STATES = ("waiting", "running", "stalled", "retried")

_QUERY = """
SELECT coalesce(j.args->>'scope', split_part(j.args->>'source', '/', 1)) AS scope,
       coalesce(j.args->>'sync', 'inbox:' || split_part(j.args->>'source', '/', 2)) AS sync,
       count(*) FILTER (WHERE j.status = 'todo'),
       count(*) FILTER (WHERE j.status = 'doing' AND w.last_heartbeat
                        >= now() - make_interval(secs => %(stall)s)),
       count(*) FILTER (WHERE j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat
                        < now() - make_interval(secs => %(stall)s))),
       count(*) FILTER (WHERE j.attempts > 0)
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
 WHERE j.status IN ('todo', 'doing') AND j.task_name = ANY(%(tasks)s)
 GROUP BY 1, 2
 ORDER BY 1, 2"""


@dataclass(frozen=True)
class QueueRow:
    scope: str
    sync: str
    waiting: int
    running: int
    stalled: int
    retried: int

    @property
    def tenant(self) -> str:
        return split_scope(self.scope)[0] or "-"

    @property
    def integration(self) -> str:
        return split_scope(self.scope)[1]


def read_queue(store: Any, *, stall_seconds: float = 30.0) -> list[QueueRow] | None:
    """The queue's jobs per scope and sync; None when the store holds no job queue
    (SQLite, or PostgreSQL no worker or distributed server has used yet)."""
    if not hasattr(store, "transaction"):
        return None
    try:
        with store.transaction() as cur:
            cur.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                return None
            cur.execute(_QUERY, {"stall": float(stall_seconds),
                                 "tasks": [SYNC_TASK, INBOX_TASK]})
            return [QueueRow(str(scope), str(sync), *map(int, counts))
                    for scope, sync, *counts in cur.fetchall()]
    except StateError:
        raise
    except Exception as exc:  # a database error while reading: say so, plainly
        raise StateError(f"cannot read the job queue: {exc}") from exc


class QueueCollector(Collector):
    """`specsync_queue_jobs{tenant,integration,sync,state}`, read when scraped."""

    def __init__(self, store: Any, stall_seconds: float) -> None:
        self.store = store
        self.stall_seconds = stall_seconds

    def collect(self) -> list[Metric]:
        gauge = GaugeMetricFamily(
            "specsync_queue_jobs", "Jobs in the cluster's queue: waiting, running, stalled "
            "(their worker went silent), retried (failed or put back before)",
            labels=["tenant", "integration", "sync", "state"])
        try:
            rows = read_queue(self.store, stall_seconds=self.stall_seconds) or []
        except StateError:
            rows = []  # the database is away: /metrics still answers
        for row in rows:
            for state in STATES:
                gauge.add_metric([row.tenant, row.integration, row.sync, state],
                                 float(getattr(row, state)))
        return [gauge]
