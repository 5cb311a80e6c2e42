"""'Run this now': the one interface the embedded and distributed modes do not share.

Everything else (specs, runtimes, the pipeline, the state store, the inbox processing)
is the same code in both modes. What differs is only *where* work runs when something
asks for it:

    class Work(Protocol):
        async def run_sync(scope, sync, *, trigger)   # run this sync now
        async def process_inbox(source)               # process this source's inbox batch

- `InProcess` does it here and now (the embedded runner's way, and what a worker does
  when it takes a job);
- `Queued` defers a procrastinate job that some worker takes (engine/scale/queue.py).

Keeping it this small keeps Temporal possible later: a third implementation would start
a workflow where `Queued` defers a job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.runner.context import RunnerContext
from engine.runner.inbox import InboxWorker
from engine.scale.queue import defer_in, inbox_job, sync_job
from engine.scale.schedule import group_of
from engine.state.base import InboxEvent
from engine.sync.pipeline import RunReport, run_sync

__all__ = ["InProcess", "Queued", "SourceInbox", "Work"]

log = logging.getLogger(__name__)


class Work(Protocol):
    async def run_sync(self, scope: str, sync: str, *, trigger: str) -> None:
        """Run one sync of one scope (a tenant's integration) now."""
        ...

    async def process_inbox(self, source: str) -> None:
        """Process the due webhook events of one source (`scope/connection`)."""
        ...


class SourceInbox(InboxWorker):
    """The inbox worker, claiming the events of one source only (one job's batch)."""

    def __init__(self, ctx: RunnerContext, source: str, **options: Any) -> None:
        super().__init__(ctx, **options)
        self.source = source

    async def _claim(self) -> list[InboxEvent]:
        store: Any = self.ctx.store
        return await asyncio.to_thread(store.inbox_claim, self.worker_id, self.batch_size,
                                       self.ctx.clock(), self.lease_seconds,
                                       source=self.source)


class InProcess:
    """Work done in this process, on this loop."""

    def __init__(self, ctx: RunnerContext, *, inbox_options: dict[str, Any] | None = None
                 ) -> None:
        self.ctx = ctx
        self.inbox_options = dict(inbox_options or {})
        self.reports: list[RunReport] = []

    async def run_sync(self, scope: str, sync: str, *, trigger: str) -> None:
        runtime = self.ctx.deployment.runtimes.get(scope)
        if runtime is None or sync not in runtime.spec.syncs:
            log.warning("no sync %s/%s is served here (the specs changed?); job dropped",
                        scope, sync)
            return
        async with self.ctx.gate.hold(scope, sync):
            try:
                report = await run_sync(runtime, sync, trigger=trigger)
            except BaseException:
                self.ctx.metrics.runs.labels(scope, sync, trigger, "failed").inc()
                raise
        self.ctx.metrics.observe_run(scope, sync, trigger, report.outcome, report.counts,
                                     report.tripped)
        log.info("run finished", extra={
            "integration": scope, "sync": sync, "trigger": trigger, "run_id": report.run_id,
            "outcome": report.outcome,
            **{f"n_{k}": v for k, v in report.counts.items() if v}})

    async def process_inbox(self, source: str) -> None:
        worker = SourceInbox(self.ctx, source, **self.inbox_options)
        while await worker.process_once():
            pass  # until the source has nothing due


class Queued:
    """Work deferred as procrastinate jobs, each in a transaction of its own."""

    def __init__(self, store: Any, ctx: RunnerContext,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store  # PostgresStateStore: jobs live in its database
        self.ctx = ctx
        self.clock = clock

    def _defer(self, job: Any) -> None:
        with self.store.transaction() as cur:
            defer_in(cur, [job])

    async def run_sync(self, scope: str, sync: str, *, trigger: str) -> None:
        spec = self.ctx.deployment.specs[scope]
        job = sync_job(scope, sync, trigger, group=group_of(spec, sync))
        await asyncio.to_thread(self._defer, job)

    async def process_inbox(self, source: str) -> None:
        await asyncio.to_thread(self._defer, inbox_job(source))
