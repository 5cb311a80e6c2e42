"""The procrastinate tasks: thin shells that hand each job to `InProcess` work.

A task's answer to a failure is one of three:

- the sync is busy elsewhere (its lease is held: a run of another worker, or of a worker
  that died and whose lease has not expired yet), or the state store failed (PostgreSQL
  restarting): `TryLater`, the job goes back to the queue with a delay and keeps its
  place as the one waiting job of the sync;
- the run stopped for a rate budget that would have kept the worker waiting for long
  (`RetriableError` with `retry_after`): `TryLater` at that time, the worker slot is free
  meanwhile; committed batches stay committed and the rerun resumes from the cursor;
- anything else: the job fails and is logged; the next slot, webhook or tick tries again
  (failing records are retried by every run anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App, JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from engine.errors import RetriableError, StateError
from engine.scale.queue import (
    ACTION_QUEUE,
    ACTION_TASK,
    INBOX_QUEUE,
    INBOX_TASK,
    SCHEDULE_QUEUE,
    SYNC_QUEUE,
    SYNC_TASK,
    TICK_TASK,
    QueueConfig,
)
from engine.scale.schedule import tick
from engine.scale.work import InProcess
from engine.spec.model import Spec

__all__ = ["TaskContext", "TryLater", "register_tasks"]

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 5.0
MAX_LATER_SECONDS = 3600.0


class TryLater(Exception):
    """Put the job back; it runs again in `seconds`."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = max(0.5, min(MAX_LATER_SECONDS, seconds))


class _Later(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, TryLater):
            return RetryDecision(retry_at=datetime.now(UTC) + timedelta(
                seconds=exception.seconds))
        return None


@dataclass
class TaskContext:
    """What the tasks of one process work with (handed to procrastinate's worker)."""

    work: InProcess | None  # None in a process that only schedules
    store: Any              # PostgresStateStore
    config: QueueConfig
    specs: Callable[[], Mapping[str, Spec]]  # the scopes served now (reloads swap them)

    @staticmethod
    def of(context: JobContext) -> TaskContext:
        found: TaskContext = context.additional_context["specsync"]
        return found


def _retry_later(exc: BaseException) -> TryLater | None:
    if isinstance(exc, StateError):
        return TryLater(BUSY_RETRY_SECONDS, str(exc))
    if isinstance(exc, RetriableError) and exc.retry_after is not None:
        return TryLater(exc.retry_after, str(exc))
    return None


def register_tasks(app: App, config: QueueConfig) -> None:
    """Register the three tasks (and the tick's period) on `app`."""

    @app.task(name=SYNC_TASK, queue=SYNC_QUEUE, pass_context=True, retry=_Later())
    async def sync_task(context: JobContext, scope: str, sync: str, trigger: str) -> None:
        work = TaskContext.of(context).work
        assert work is not None, "this process takes no sync jobs"
        try:
            await work.run_sync(scope, sync, trigger=trigger)
        except Exception as exc:
            later = _retry_later(exc)
            if later is None:
                raise
            log.info("run of %s/%s put back for %.0fs: %s", scope, sync, later.seconds,
                     type(exc).__name__)
            raise later from exc

    @app.task(name=ACTION_TASK, queue=ACTION_QUEUE, pass_context=True, retry=_Later())
    async def action_task(context: JobContext, scope: str, action: str, key: str,
                          execution: dict[str, Any]) -> None:
        from engine.scale.actions import perform_action

        work = TaskContext.of(context).work
        assert work is not None, "this process takes no action jobs"
        attempts = context.job.attempts if context.job else 0
        try:
            await perform_action(work.ctx, scope, action, key, execution, attempts)
        except StateError as exc:
            raise TryLater(BUSY_RETRY_SECONDS, str(exc)) from exc

    @app.task(name=INBOX_TASK, queue=INBOX_QUEUE, pass_context=True, retry=_Later())
    async def inbox_task(context: JobContext, source: str) -> None:
        work = TaskContext.of(context).work
        assert work is not None, "this process takes no inbox jobs"
        try:
            await work.process_inbox(source)
        except StateError as exc:
            raise TryLater(BUSY_RETRY_SECONDS, str(exc)) from exc

    @app.periodic(cron=f"* * * * * */{config.tick_seconds}", periodic_id="specsync-tick")
    @app.task(name=TICK_TASK, queue=SCHEDULE_QUEUE, pass_context=True,
              queueing_lock="specsync-tick")
    async def tick_task(context: JobContext, timestamp: int) -> None:
        import asyncio

        ctx = TaskContext.of(context)
        now = datetime.now(UTC)
        report = await asyncio.to_thread(tick, ctx.store, ctx.specs(), now)
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(
                seconds_since_heartbeat=ctx.config.stall_seconds):
            await manager.retry_job(job)
            report.stalled += 1
            log.warning("job %s of a worker that stopped answering is given back", job.id,
                        extra={"task": job.task_name})
        await manager.prune_stalled_workers(ctx.config.stall_seconds)
        report.interrupted = await asyncio.to_thread(ctx.store.recover_interrupted, now)
        if report.deferred or report.stalled or report.interrupted:
            log.info("tick", extra={"due": report.due, "deferred": report.deferred,
                                    "coalesced": report.coalesced, "stalled": report.stalled,
                                    "interrupted": report.interrupted})
