"""Sandboxes and queue helpers the scale-out tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.runner.context import RunnerContext
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.scale.cluster import open_cluster
from engine.scale.work import Queued
from engine.state import Run, open_store

ROOT = Path(__file__).parents[2]
MACONOMY_CINODE = str(ROOT / "specs" / "maconomy-cinode" / "spec.yaml")


def maconomy_cinode_env(maconomy: str, cinode: str) -> dict[str, str]:
    return {"MACONOMY_URL": maconomy, "MACONOMY_USER": MaconomyCredentials().user,
            "MACONOMY_PASSWORD": MaconomyCredentials().password,
            "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
            "CINODE_URL": cinode, "CINODE_ACCESS_ID": CinodeCredentials().access_id,
            "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret,
            "CINODE_COMPANY_ID": "1"}


def request_runs(spec: str, state: str, environ: dict[str, str],
                 wanted: list[tuple[str, str]], *, seconds: float = 0.0,
                 every: float = 0.2, trigger: str = "manual", tenants: str | None = None,
                 until: Callable[[], bool] | None = None) -> int:
    """Ask for runs the way a server does (Queued work defers their jobs), again and
    again for `seconds`, or until `until()` holds (`seconds` then bounds it); returns
    how many requests were made."""
    cluster = open_cluster([spec], state_url=state, environ=environ, tenants=tenants)

    async def defer() -> int:
        work = Queued(cluster.store, RunnerContext(cluster.deployment, cluster.store))
        made = 0
        deadline = time.monotonic() + seconds
        while True:
            for scope, sync in wanted:
                await work.run_sync(scope, sync, trigger=trigger)
                made += 1
            if time.monotonic() >= deadline or (until is not None and
                                                 await asyncio.to_thread(until)):
                return made
            await asyncio.sleep(every)

    try:
        return asyncio.run(defer())
    finally:
        asyncio.run(cluster.aclose())


def runs(state: str, integration: str | None = None, sync: str | None = None) -> list[Run]:
    with open_store(state) as store:
        return store.list_runs(integration, sync, limit=10_000)


def jobs(state: str) -> list[dict[str, Any]]:
    """procrastinate's jobs of the test's schema: id, task, status, attempts, args."""
    store: Any = open_store(state)
    try:
        with store.transaction() as cur:
            cur.execute("SELECT id, task_name, status, attempts, args FROM procrastinate_jobs"
                        " ORDER BY id")
            return [dict(zip(("id", "task", "status", "attempts", "args"), row, strict=True))
                    for row in cur.fetchall()]
    finally:
        store.close()


def workers_ready(state: str, count: int) -> bool:
    """Whether `count` procrastinate workers have registered (they take jobs now)."""
    from engine.errors import StateError

    store: Any = open_store(state)
    try:
        with store.transaction() as cur:
            cur.execute("SELECT count(*) FROM procrastinate_workers")
            row = cur.fetchone()
            return bool(row and row[0] >= count)
    except StateError:
        return False  # the queue's tables are not installed yet
    finally:
        store.close()


def queue_idle(state: str) -> bool:
    return not any(j["status"] in ("todo", "doing") and j["task"] != "specsync.tick"
                   for j in jobs(state))


def overlapping(found: list[Run]) -> list[tuple[int, int]]:
    """Pairs of runs whose [started, finished] intervals overlap."""
    spans = sorted((r.started_at, r.finished_at, r.id) for r in found)
    pairs = []
    latest: tuple[Any, int] | None = None  # the end reaching furthest so far, its run
    for start, end, run_id in spans:
        assert end is not None, f"run {run_id} never finished"
        if latest is not None and start < latest[0]:
            pairs.append((latest[1], run_id))
        if latest is None or end > latest[0]:
            latest = (end, run_id)
    return pairs
