"""Workflow actions as jobs: `serve --distributed` receives, a worker executes.

The receiving side (`QueuedActions`, in place of the embedded `ActionRunner` there)
verifies and parses the execution as the embedded server does, then, in ONE
transaction, claims the execution's idempotency key and defers its job; it answers
`pending` at once (HubSpot: BLOCK), and the worker that takes the job reports the
outcome through the vendor's completion callback. So a server never holds a vendor's
request while a target system is slow, and the action runs where the syncs run, under
the same rate budgets.

Exactly once, as in the embedded mode: the claim is taken before any work and
committed with the job, so a retried or duplicated execution finds the claim and is
answered with the stored outcome, or `pending` while its job waits; a job runs under
a lock of its own key and skips an execution already completed. A transient failure
puts the job back (`TryLater`, growing waits) and the execution stays pending; after
`MAX_ATTEMPTS` it is completed as failed, so the vendor's workflow goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from procrastinate.jobs import Job
from starlette.responses import JSONResponse, Response

from engine.adapters.base import ActionExecution, ActionOutcome, ActionProtocol
from engine.errors import FatalError, RecordError
from engine.runner.actions import ActionRunner, action_key
from engine.runner.context import RunnerContext
from engine.runner.deployment import Deployment
from engine.scale.queue import ACTION_QUEUE, ACTION_TASK, PRIORITY, defer_in
from engine.spec.model import Action

__all__ = ["MAX_ATTEMPTS", "QueuedActions", "action_job", "perform_action"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
_PENDING = ActionOutcome("pending")


def action_job(scope: str, action: str, execution: ActionExecution, key: str) -> Job:
    """The job that executes one workflow-action execution (locked by its key)."""
    return Job(queue=ACTION_QUEUE, task_name=ACTION_TASK, lock=f"action:{key}",
               queueing_lock=f"action:{key}", priority=PRIORITY["action"],
               task_kwargs={"scope": scope, "action": action, "key": key,
                            "execution": dataclasses.asdict(execution)})


class QueuedActions(ActionRunner):
    """The distributed server's actions: claim and defer in one transaction, answer
    pending (see the module docstring)."""

    async def execute(self, deployment: Deployment, integration: str, action: Action,
                      protocol: ActionProtocol, execution: ActionExecution) -> Response:
        key = action_key(integration, action.name, execution)
        job = action_job(integration, action.name, execution, key)
        store: Any = self.ctx.store
        claim = await asyncio.to_thread(_claim_and_defer, store, key, self.ctx.clock(), job)
        if not claim.fresh and claim.status != "pending" and claim.result is not None:
            return JSONResponse(claim.result.get("response"))
        return JSONResponse(protocol.answer(_PENDING))


def _claim_and_defer(store: Any, key: str, now: Any, job: Job) -> Any:
    with store.transaction() as cur:
        claim = store.claim_action(key, now)  # joins this transaction (a savepoint)
        if claim.fresh:
            defer_in(cur, [job])
        return claim


async def perform_action(ctx: RunnerContext, scope: str, action_name: str, key: str,
                         execution: Mapping[str, Any], attempts: int) -> None:
    """Execute one queued execution and report it through the vendor's callback.

    Raises `TryLater` on a transient failure while attempts remain."""
    from engine.scale.tasks import TryLater

    deployment = ctx.deployment
    spec = deployment.specs.get(scope)
    action = spec.actions.get(action_name) if spec else None
    if spec is None or action is None:
        log.warning("no action %s/%s is served here (the specs changed?); job dropped",
                    scope, action_name)
        return
    vendor = deployment.vendor(scope, action.workflow_connection)
    protocol = vendor.actions if vendor is not None else None
    if protocol is None:
        log.warning("the workflow connection of %s/%s has no actions; job dropped", scope,
                    action_name)
        return
    store: Any = ctx.store
    claim = await asyncio.to_thread(store.claim_action, key, ctx.clock())
    if not claim.fresh and claim.status != "pending":
        return  # completed by an earlier job: never twice
    found = ActionExecution(**execution)
    runner = ActionRunner(ctx)
    runtime = deployment.runtimes[scope]
    try:
        outputs = await runner.run_action(deployment, scope, action, found)
        outcome, status = ActionOutcome("succeeded", outputs), "succeeded"
    except (RecordError, FatalError) as exc:
        message = runtime.redactor.text(str(exc))[:500]
        outcome, status = ActionOutcome("failed", error=message), "failed"
    except Exception as exc:
        message = runtime.redactor.text(f"{type(exc).__name__}: {exc}")[:500]
        if attempts + 1 < MAX_ATTEMPTS:
            raise TryLater(10.0 * 2 ** attempts, message) from exc
        outcome, status = ActionOutcome("failed", error=message), "failed"
    log.info("workflow action done", extra={"integration": scope, "action": action_name,
                                             "outcome": status})
    await asyncio.to_thread(store.complete_action, key,
                            {"response": protocol.answer(outcome)}, status, now=ctx.clock())
    await runner._complete(runtime, action, protocol, found, outcome)
