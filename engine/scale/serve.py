"""`specsync serve --distributed`: receive and schedule; the workers do the work.

The same Starlette app as the embedded server (webhooks, actions, health, metrics), with
two differences:

- its store is a `QueueingStore`: a stored webhook event defers its source's inbox job
  in the same transaction, and no inbox worker or scheduler runs here;
- beside it runs a procrastinate worker for the `specsync-schedule` queue only, whose
  periodic tick (once per period for the whole cluster, however many servers run)
  defers due sync jobs, re-defers retried inbox events and gives back stalled jobs.

Its `/metrics` adds the queue: `specsync_queue_jobs{tenant,integration,sync,state}`
(waiting, running, stalled, retried; engine/scale/queue_view.py).

Workflow actions are jobs too: the execution is claimed and its job deferred in one
transaction, the vendor is answered `pending`, and the worker reports the outcome
through the vendor's callback (engine/scale/actions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from starlette.applications import Starlette

from engine.redact import Redactor
from engine.runner.app import build_app
from engine.scale.actions import QueuedActions
from engine.scale.cluster import Cluster, QueueingStore, open_cluster
from engine.scale.queue import SCHEDULE_QUEUE, make_app
from engine.scale.queue_view import QueueCollector
from engine.scale.tasks import TaskContext, register_tasks

__all__ = ["distributed_app", "schedule_worker"]


async def schedule_worker(cluster: Cluster, specs: Any, stop: asyncio.Event) -> None:
    """Run the tick until `stop` is set (a procrastinate worker on the schedule queue)."""
    tasks = TaskContext(None, cluster.store, cluster.config, specs=specs)
    while not stop.is_set():
        app = make_app(cluster.config, max_size=3)
        register_tasks(app, cluster.config)
        try:
            async with app.open_async():
                runner = asyncio.ensure_future(app.run_worker_async(
                    queues=[SCHEDULE_QUEUE], concurrency=1, name="specsync-schedule",
                    additional_context={"specsync": tasks}, install_signal_handlers=False,
                    update_heartbeat_interval=cluster.config.heartbeat_seconds,
                    fetch_job_polling_interval=cluster.config.poll_seconds,
                    stalled_worker_timeout=cluster.config.stall_seconds))
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
                runner.cancel()
                stopper.cancel()
                await asyncio.gather(runner, stopper, return_exceptions=True)
        except Exception:
            if stop.is_set():
                return
        if not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)


def distributed_app(spec_paths: list[str], *, state_url: str | None,
                    tenants: str | None = None, redactor: Redactor | None = None,
                    public_url: str | None = None, grace_seconds: float = 30.0,
                    environ: Mapping[str, str] | None = None,
                    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                    **queue_options: Any) -> Starlette:
    """The receiving and scheduling app of a cluster (see the module docstring)."""
    cluster = open_cluster(spec_paths, state_url=state_url, tenants=tenants,
                           environ=environ, transports=transports, redactor=redactor,
                           **queue_options)
    store = QueueingStore(cluster.store, cluster.config)
    app = build_app(deployment=cluster.deployment, store=store,
                    redactor=redactor, public_url=public_url, schedule=False, inbox=False,
                    grace_seconds=grace_seconds)
    inner = app.router.lifespan_context
    ctx = app.state.runner
    ctx.metrics.registry.register(QueueCollector(cluster.store, cluster.config.stall_seconds))
    app.state.runner_control.actions = QueuedActions(ctx)  # actions become jobs

    @contextlib.asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        ticker = asyncio.ensure_future(
            schedule_worker(cluster, lambda: ctx.deployment.specs, stop))
        try:
            async with inner(application):
                yield
        finally:
            stop.set()
            await asyncio.gather(ticker, return_exceptions=True)
            await cluster.budgets.aclose()
            cluster.store.close()

    app.router.lifespan_context = lifespan
    app.state.cluster = cluster
    return app
