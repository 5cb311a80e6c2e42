"""The queue per tenant and sync, as `specsync status` and `/metrics` show it."""

from __future__ import annotations

import io
import sys

import pytest
from prometheus_client import generate_latest

from engine.cli import main
from engine.runner.metrics import RunnerMetrics
from engine.scale.cluster import queue_config
from engine.scale.queue import defer_in, ensure_schema, inbox_job, sync_job
from engine.scale.queue_view import QueueCollector, QueueRow, read_queue
from engine.state import open_store

pytestmark = [pytest.mark.postgres]


def _jobs(pg_url: str) -> None:
    """acme: customers running, projects waiting (put back once); zeta: customers held
    by a worker gone silent; one inbox job waiting; the tick's jobs are not tenants'."""
    ensure_schema(queue_config(pg_url))
    with open_store(pg_url) as store, store.transaction() as cur:
        defer_in(cur, [
            sync_job("acme:maconomy-cinode", "customers", "schedule", group="customers"),
            sync_job("acme:maconomy-cinode", "projects", "webhook", group="projects"),
            sync_job("zeta:maconomy-cinode", "customers", "manual", group="customers"),
            inbox_job("acme:maconomy-cinode/cinode")])
        cur.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")
        alive = cur.fetchone()[0]
        cur.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES"
                    " (now() - interval '10 minutes') RETURNING id")
        silent = cur.fetchone()[0]
        cur.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE"
                    " args->>'scope' = 'acme:maconomy-cinode' AND args->>'sync' = 'customers'",
                    (alive,))
        cur.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s"
                    " WHERE args->>'scope' = 'zeta:maconomy-cinode'", (silent,))
        cur.execute("UPDATE procrastinate_jobs SET attempts = 1 WHERE args->>'sync' = 'projects'")
        cur.execute("INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                    " VALUES ('specsync-schedule', 'specsync.tick', '{}')")


def test_the_queue_per_tenant_and_sync(pg_url: str) -> None:
    _jobs(pg_url)
    with open_store(pg_url) as store:
        rows = read_queue(store, stall_seconds=30)
    assert rows == [
        QueueRow("acme:maconomy-cinode", "customers", 0, 1, 0, 0),
        QueueRow("acme:maconomy-cinode", "inbox:cinode", 1, 0, 0, 0),
        QueueRow("acme:maconomy-cinode", "projects", 1, 0, 0, 1),
        QueueRow("zeta:maconomy-cinode", "customers", 0, 0, 1, 0),
    ]
    assert rows[0].tenant == "acme" and rows[0].integration == "maconomy-cinode"


def test_a_store_without_a_queue_has_no_queue_view(pg_url: str, tmp_path) -> None:
    with open_store(pg_url) as store:
        assert read_queue(store) is None
    with open_store(str(tmp_path / "state.db")) as store:
        assert read_queue(store) is None


def test_status_shows_the_queue(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _jobs(pg_url)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["status", "--state", pg_url]) == 0
    text = out.getvalue()
    assert "job queue" in text
    lines = [line for line in text.splitlines() if "zeta" in line]
    assert len(lines) == 1
    assert [cell.strip() for cell in lines[0].split("│")[1:8]] == [
        "zeta", "maconomy-cinode", "customers", "0", "0", "1", "0"], lines


def test_metrics_show_the_queue(pg_url: str) -> None:
    _jobs(pg_url)
    metrics = RunnerMetrics()
    with open_store(pg_url) as store:
        metrics.registry.register(QueueCollector(store, 30.0))
        text = generate_latest(metrics.registry).decode()
    assert ('specsync_queue_jobs{integration="maconomy-cinode",state="stalled",'
            'sync="customers",tenant="zeta"} 1.0') in text
    assert ('specsync_queue_jobs{integration="maconomy-cinode",state="retried",'
            'sync="projects",tenant="acme"} 1.0') in text
