"""The runner's Starlette app: webhooks, workflow actions, health and metrics, plus the
scheduler and inbox worker that run beside it for the app's lifetime.

While the lifespan runs, the background work (scheduler, inbox worker, workflow-action
executions) runs on a loop of its own on another thread (workloop.py), so a sync run
never delays a webhook's answer. Without a lifespan (in-process tests) everything runs
on the caller's loop, as before.

    app = build_app(["specs/"], state_url="sqlite:///state.db")
    # uvicorn.run(app) — or, in tests, httpx.ASGITransport(app=app)

Specs are loaded and the store opened when the app is built (a spec error raises
SpecError at once, before anything listens). The lifespan only starts and stops the
background tasks, so in-process tests without a lifespan still get working endpoints.

Routes:
    POST /webhooks/{integration}/{connection}   webhooks.py
    POST /actions/{integration}/{action}        actions.py
    GET  /healthz   the process is alive
    GET  /readyz    specs are loaded and the state store answers (503 otherwise)
    GET  /metrics   Prometheus text format (metrics.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from engine.adapters.base import Record
from engine.adapters.ratelimit import RateBudgets
from engine.redact import Redactor
from engine.runner.actions import ActionRunner, receive_action
from engine.runner.context import RunnerContext
from engine.runner.control import RunControl
from engine.runner.deployment import Deployment
from engine.runner.inbox import InboxWorker
from engine.runner.metrics import CONTENT_TYPE, RunnerMetrics
from engine.runner.schedule import Scheduler
from engine.runner.webhooks import receive_webhook
from engine.runner.workloop import WorkLoop
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.pipeline import RunReport, run_sync
from engine.sync.runtime import utc_now

if TYPE_CHECKING:
    from engine.console.settings import ConsoleSettings

__all__ = ["Runner", "build_app"]

log = logging.getLogger(__name__)


class Runner:
    """Owns the background work of one app: scheduler, inbox worker, spec reloads."""

    def __init__(self, ctx: RunnerContext, *, spec_paths: list[str] | None,
                 loader: Callable[[], Deployment] | None, schedule: bool, inbox: bool,
                 inbox_options: Mapping[str, Any] | None = None,
                 owns_store: bool = False,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.ctx = ctx
        self.spec_paths = spec_paths
        self.loader = loader
        self.owns_store = owns_store
        self.scheduler = Scheduler(ctx.store, ctx.deployment.scheduled_jobs(), self.run_scheduled,
                                   gate=ctx.gate, clock=ctx.clock,
                                   sleep=sleep) if schedule else None
        self.worker = InboxWorker(ctx, **dict(inbox_options or {})) if inbox else None
        if self.worker is not None:
            ctx.wake_inbox = self._wake_worker
        self.actions = ActionRunner(ctx)
        self.control = RunControl(self)
        self.retired: list[Deployment] = []
        # More background work for the work loop (the console's alert monitor): each is
        # called with the stop event and runs until it is set.
        self.background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        self.work: WorkLoop | None = None  # while started: where background work runs
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake_sent = False

    async def run_scheduled(self, integration: str, sync: str) -> None:
        await self.run_now(integration, sync, trigger="schedule")

    async def run_now(self, integration: str, sync: str, *, trigger: str,
                      records: AsyncIterator[Record] | None = None) -> RunReport:
        """Run a sync here and now (the caller holds its gate), shown on the progress
        board while it runs, counted in the metrics, and logged."""
        runtime = self.ctx.deployment.runtimes[integration]
        live = self.ctx.progress.begin(runtime, sync, trigger=trigger)
        try:
            report = await run_sync(runtime, sync, trigger=trigger, records=records,
                                    progress=live.update)
        except Exception:
            self.ctx.metrics.runs.labels(integration, sync, trigger, "failed").inc()
            raise
        finally:
            self.ctx.progress.end(live)
            self.ctx.run_finished(integration, sync)
        self.ctx.metrics.observe_run(integration, sync, trigger, report.outcome,
                                     report.counts, report.tripped)
        log.info("%s run finished", trigger, extra={
            "integration": integration, "sync": sync, "run_id": report.run_id,
            "outcome": report.outcome, **{f"n_{k}": v for k, v in report.counts.items() if v}})
        for warning in report.warnings:  # e.g. records skipped, held fields: said once
            log.warning("%s run of %s/%s: %s", trigger, integration, sync, warning, extra={
                "integration": integration, "sync": sync, "run_id": report.run_id})
        return report

    def reload(self) -> Deployment:
        """Load the specs again and swap them in; work in flight finishes on the old ones.

        Raises SpecError (and keeps the running specs) when the new specs are invalid.
        """
        if self.loader is None:
            raise RuntimeError("this runner was built from a Deployment; nothing to reload")
        fresh = self.loader()
        old, self.ctx.deployment = self.ctx.deployment, fresh
        self.retired.append(old)  # closed at shutdown: runs may still hold its adapters
        work = self.work if self.work is not None and self.work.running else None
        if work is not None:
            work.call_soon(fresh.prepare_adapters)
        if self.scheduler is not None:
            jobs = fresh.scheduled_jobs()
            if work is not None:
                work.call_soon(self.scheduler.replace_jobs, jobs)
            else:
                self.scheduler.replace_jobs(jobs)
        log.info("specs reloaded", extra={"integrations": sorted(fresh.specs)})
        return fresh

    async def start(self) -> None:
        """Start the work loop and, on it, the scheduler and the inbox worker."""
        if self.work is not None:
            raise RuntimeError("the runner is started already")
        self.work = WorkLoop()
        self.work.start()
        await self.work.run(self._start_background())

    def _wake_worker(self) -> None:
        """New events are stored: wake the inbox worker, across threads when it runs on
        the work loop (one poke in flight at a time: a burst costs one)."""
        work = self.work
        if work is None:  # not started: whoever drives the worker does so on this loop
            self._woken()
        elif work.running and not self._wake_sent:
            self._wake_sent = True
            with contextlib.suppress(RuntimeError):  # stopping: picked up at next start
                work.call_soon(self._woken)

    def _woken(self) -> None:
        self._wake_sent = False
        if self.worker is not None:
            self.worker.wake()

    async def _start_background(self) -> None:
        self.ctx.deployment.prepare_adapters()  # on the loop that will use them
        with contextlib.suppress(Exception):
            recovered = await asyncio.to_thread(self.ctx.store.recover_interrupted,
                                                self.ctx.clock())
            if recovered:
                log.warning("%d run(s) of an earlier process were interrupted", recovered)
        loop = asyncio.get_running_loop()
        self._stop.clear()
        self.ctx.deployment.allow_runs()
        if self.scheduler is not None:
            self._tasks.append(loop.create_task(self.scheduler.run(self._stop),
                                                name="specsync-scheduler"))
        if self.worker is not None:
            self._tasks.append(loop.create_task(self.worker.run(self._stop),
                                                name="specsync-inbox"))
        for work in self.background:
            self._tasks.append(loop.create_task(work(self._stop),
                                                name=f"specsync-{work.__qualname__}"))

    async def execute(self, handler: Callable[[Request], Any], request: Request) -> Response:
        """Run a request handler that does background work (a workflow action) where
        that work lives: on the work loop once started, else here. The body is read on
        this loop (its connection lives here), at most `max_body_bytes` + 1 of it, so
        the handler still sees when a body is too large."""
        work = self.work
        if work is None or not work.running:
            result: Response = await handler(request)
            return result
        body = await _read_capped(request, self.ctx.max_body_bytes + 1)
        replay = Request(request.scope, receive=_replay(body))
        answer: Response = await work.run(handler(replay))
        return answer

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Stop taking new work; let runs and the inbox batch in flight finish (or, past
        the grace period, cancel them: their events are claimed again after the lease)."""
        work = self.work
        if work is not None and work.running:
            try:
                await work.run(self._stop_background(grace_seconds))
            finally:
                await work.aclose()
                self.work = None
        else:
            self.work = None
            await self._stop_background(grace_seconds)
        writer = self.ctx.inbox_writer_if_any()
        if writer is not None:
            await writer.aclose()
        if self.owns_store:
            self.ctx.store.close()

    async def _stop_background(self, grace_seconds: float) -> None:
        self._stop.set()
        for deployment in (*self.retired, self.ctx.deployment):
            deployment.request_stop("the server's shutdown")  # runs stop at a batch's end
        pending: list[asyncio.Task[Any]] = list(self._tasks)
        if self.scheduler is not None:
            pending.extend(self.scheduler.tasks.values())
        pending.extend(self.actions.tasks)
        pending.extend(self.control.tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        self._tasks.clear()
        for deployment in (*self.retired, self.ctx.deployment):
            await deployment.aclose()
        self.retired.clear()


async def _read_capped(request: Request, limit: int) -> bytes:
    """Up to `limit` bytes of the body (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _replay(body: bytes) -> Callable[[], Any]:
    """An ASGI `receive` that hands out `body` once, then reports a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def _readyz(request: Request) -> Response:
    ctx: RunnerContext = request.app.state.runner
    try:
        depth = await asyncio.to_thread(ctx.store.inbox_depth)
    except Exception as exc:
        return JSONResponse({"status": "unavailable",
                             "reason": f"state store: {type(exc).__name__}"}, status_code=503)
    specs = sorted(ctx.deployment.specs)
    if not specs:
        return JSONResponse({"status": "unavailable", "reason": "no specs loaded"},
                            status_code=503)
    problems = ctx.deployment.problems()
    if problems:  # a connection that cannot work (a missing secret) is not ready to serve
        return JSONResponse({"status": "unavailable", "reason": "connections not configured",
                             "problems": problems, "integrations": specs}, status_code=503)
    return JSONResponse({"status": "ready", "integrations": specs, "inbox_depth": depth})


async def _metrics(request: Request) -> Response:
    ctx: RunnerContext = request.app.state.runner
    # In a thread: rendering reads the inbox depth from the store, which may be busy.
    return Response(await asyncio.to_thread(ctx.metrics.render), media_type=CONTENT_TYPE)


async def _action(request: Request) -> Response:
    runner: Runner = request.app.state.runner_control
    return await runner.execute(receive_action, request)


def build_app(
    spec_paths: Iterable[str] | None = None,
    *,
    deployment: Deployment | None = None,
    store: StateStore | None = None,
    state_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    redactor: Redactor | None = None,
    public_url: str | None = None,
    max_body_bytes: int = 1_000_000,
    max_inbox_depth: int = 200_000,
    schedule: bool = True,
    inbox: bool = True,
    inbox_options: Mapping[str, Any] | None = None,
    grace_seconds: float = 30.0,
    console: ConsoleSettings | None = None,
) -> Starlette:
    """The runner app for these specs (or a ready `deployment`) and state store.

    `transports` maps connection names to httpx transports (tests: ASGI transports to
    sandboxes). `schedule`/`inbox` switch the background tasks off for tests that drive
    them by hand through `app.state.runner_control`. `console` turns on the operator
    console under /console (when it names a secret) and alerts (when it names a webhook).
    `clock` and `sleep` are the scheduler's time (tests drive schedules with them).
    """
    owns_store = store is None
    if store is None:
        store = open_store(state_url)
    budgets = RateBudgets()
    paths = list(spec_paths) if spec_paths is not None else None

    def load() -> Deployment:
        assert paths is not None
        return Deployment.load(paths, store, environ=environ, transports=transports,
                               budgets=budgets, redactor=redactor, clock=clock)

    try:
        current = deployment or load()
    except BaseException:
        if owns_store:
            store.close()
        raise
    metrics_holder: dict[str, RunnerContext] = {}

    def all_budgets() -> Iterable[Any]:
        ctx = metrics_holder.get("ctx")
        if ctx is None:
            return ()
        seen = {id(rt.budgets): rt.budgets for rt in ctx.deployment.runtimes.values()}
        return [b for group in seen.values() for b in group]

    def depth() -> int | None:
        ctx = metrics_holder.get("ctx")
        return ctx.inbox_depth(max_age=0.0) if ctx else None

    def state() -> object:
        ctx = metrics_holder.get("ctx")
        return ctx.store if ctx else None

    ctx = RunnerContext(current, store, RunnerMetrics(depth, all_budgets, state), clock=clock,
                        public_url=public_url, max_body_bytes=max_body_bytes,
                        max_inbox_depth=max_inbox_depth)
    metrics_holder["ctx"] = ctx
    runner = Runner(ctx, spec_paths=paths, loader=load if paths is not None else None,
                    schedule=schedule, inbox=inbox, inbox_options=inbox_options,
                    owns_store=owns_store, sleep=sleep)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runner.start()
        try:
            yield
        finally:
            await runner.stop(grace_seconds)

    routes: list[BaseRoute] = [
        Route("/webhooks/{integration}/{connection}", receive_webhook, methods=["POST"]),
        Route("/actions/{integration}/{action}", _action, methods=["POST"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
    if console is not None:
        from engine.console import AlertMonitor, Console  # only when asked for

        if console.console_on:
            routes.extend(Console(runner, console, public_url=public_url).routes())
        if console.alerts_on:
            monitor = AlertMonitor(ctx, console, public_url=public_url)
            ctx.run_finished = monitor.poke
            runner.background.append(monitor.run)
            app_monitor: AlertMonitor | None = monitor
        else:
            app_monitor = None
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runner = ctx
    app.state.runner_control = runner
    app.state.alerts = app_monitor if console is not None else None
    return app
