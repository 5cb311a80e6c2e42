"""`specsync worker`: take sync runs, inbox batches and workflow actions from the queue.

Run N of them, on one machine or several, against one PostgreSQL:

    specsync worker specs/ --state postgresql://specsync@db/specsync --concurrency 4

- a job is one sync run or one source's inbox batch (engine/scale/queue.py);
- SIGTERM / SIGINT: no new jobs; jobs in flight get `grace_seconds`, then are cancelled
  (a cancelled run ends "interrupted": committed batches stay, the cursor is never
  ahead) and go back to the queue when this worker's heartbeat is seen to have stopped;
- SIGKILL: nothing is lost; the tick gives the job to another worker after the stall
  timeout, and that worker takes the dead run's lease over (at once on the same
  machine, after the lease's ttl from another one);
- a lost connection to PostgreSQL (a restart) ends the runs in flight cleanly (their
  jobs are put back) and the worker starts again once the database answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from engine.diagnostics import Severity, render_text
from engine.heap import settle
from engine.logs import configure_logging
from engine.runner.context import RunnerContext
from engine.runner.metrics import RunnerMetrics
from engine.scale.cluster import Cluster, open_cluster
from engine.scale.queue import ACTION_QUEUE, INBOX_QUEUE, SYNC_QUEUE, make_app
from engine.scale.tasks import TaskContext, register_tasks
from engine.scale.work import InProcess
from engine.spec.load import validate_paths

__all__ = ["run_worker", "work"]

log = logging.getLogger("engine.scale.worker")

RESTART_SECONDS = 2.0


async def work(cluster: Cluster, *, concurrency: int = 2, name: str | None = None,
               grace_seconds: float = 30.0, stop: asyncio.Event | None = None,
               queues: Sequence[str] = (SYNC_QUEUE, INBOX_QUEUE, ACTION_QUEUE)) -> None:
    """Process jobs until `stop` is set (or SIGTERM when `stop` is None)."""
    metrics = RunnerMetrics()
    ctx = RunnerContext(cluster.deployment, cluster.store, metrics)
    tasks = TaskContext(InProcess(ctx), cluster.store, cluster.config,
                        specs=lambda: ctx.deployment.specs)
    stop = stop or _stop_on_signals()
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    cluster.deployment.prepare_adapters()
    while not stop.is_set():
        app = make_app(cluster.config, max_size=concurrency + 2)
        register_tasks(app, cluster.config)
        try:
            async with app.open_async():
                runner = asyncio.ensure_future(app.run_worker_async(
                    queues=list(queues), concurrency=concurrency, name=name,
                    additional_context={"specsync": tasks},
                    install_signal_handlers=False,
                    shutdown_graceful_timeout=grace_seconds,
                    update_heartbeat_interval=cluster.config.heartbeat_seconds,
                    fetch_job_polling_interval=cluster.config.poll_seconds,
                    stalled_worker_timeout=cluster.config.stall_seconds))
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():  # runs in progress stop at their batch's end
                    ctx.deployment.request_stop("the worker's shutdown")
                if not runner.done():
                    runner.cancel()  # procrastinate's graceful stop: in-flight jobs finish
                stopper.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                if not runner.cancelled() and runner.exception() is not None:
                    raise runner.exception()  # type: ignore[misc]
        except Exception as exc:
            if stop.is_set():
                break
            log.error("the worker stopped (%s: %s); starting again in %.0fs",
                      type(exc).__name__, exc, RESTART_SECONDS)
        if not stop.is_set():
            await asyncio.sleep(RESTART_SECONDS)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker(spec_paths: list[str], *, state_url: str | None,
                     tenants: str | None = None, concurrency: int = 2,
                     name: str | None = None, log_level: str = "INFO",
                     json_logs: bool = False, grace_seconds: float = 30.0,
                     **queue_options: Any) -> int:
    """The command's body: validate, open the cluster, work until stopped."""
    redactor = configure_logging(log_level, json=json_logs)
    diags, sources, count = validate_paths(spec_paths)
    if any(d.severity is Severity.ERROR for d in diags):
        print(render_text(diags, sources), file=sys.stderr)
        return 1
    if count == 0:
        print("no specs to work on", file=sys.stderr)
        return 1
    cluster = open_cluster(spec_paths, state_url=state_url, tenants=tenants,
                           redactor=redactor, **queue_options)
    try:
        for runtime in cluster.deployment.runtimes.values():
            for connection in runtime.spec.connections:
                try:
                    runtime.config(connection)  # secrets reach the redactor first
                except Exception as exc:
                    log.error("connection %s/%s: %s", runtime.spec.integration, connection,
                              exc)
        settle()  # what start-up loaded stays: collections skip it (engine/heap.py)
        log.info("specsync worker started", extra={
            "scopes": len(cluster.deployment.runtimes), "concurrency": concurrency})
        await work(cluster, concurrency=concurrency, name=name, grace_seconds=grace_seconds)
    finally:
        await cluster.aclose()
    log.info("specsync worker stopped")
    return 0
