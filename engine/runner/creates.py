"""Inbound creates: a webhook record the target has no counterpart for yet, created there.

An inbound sync matches records by the target id they carry (e.g. a HubSpot company's
`kleer_client_id`). A record created in the source has none: the sync's filter leaves
it out, and without more it would never reach the target. A sync's `create: {action}`
hands such records, when they arrive by webhook (and its `when` filter selects them),
to a `mode: create` workflow action between the same objects, run exactly as a
workflow execution would run it:

- the action's own mapping writes the target record, carrying the source record in a
  target external-id field (e.g. `foreign-id: hubspot-company-<id>`);
- its `then_sync` pushes the new record back, which writes the target id to the source
  record (the two are linked from then on), and links the pair so the push-back
  updates the source record instead of creating another;
- the source's webhooks for that push-back re-read a record that now carries its id
  and holds exactly what was written: an echo, skipped (inbox.py), so nothing loops.

One record, whichever path comes first: the webhook path and a workflow execution of
the same action for the same source record run one at a time (`create_lock`: the gate
`create:<action>:<object id>` in this process, and a state-store lease of that name
across the processes of a distributed deployment), and each first looks for the record
the other made (the action's link, then the target's external-id field), so the second
adopts the first one's record. Scheduled runs never create through this (a first safety-net
run would otherwise create every record of the source); a lost creation webhook is
picked up by the next change to a triggering property, or the workflow action.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from engine.adapters.base import ActionExecution, Record
from engine.errors import FatalError, RecordError
from engine.rules import compile_rule, parse_rule
from engine.runner.context import RunnerContext
from engine.runner.deployment import Deployment
from engine.spec.model import Sync
from engine.state.base import BatchCommit, FailedRecord
from engine.templates import build_key

__all__ = ["create_gate", "create_lock", "create_through_action", "creates_record"]

_LEASE_SECONDS = 120.0  # longer than a create and its push-back take
_WAIT_SECONDS = 60.0  # then the execution fails transiently and is retried

log = logging.getLogger(__name__)


def create_gate(action: str, object_id: str) -> str:
    """The gate name both paths hold while creating for one source record."""
    return f"create:{action}:{object_id}"


@asynccontextmanager
async def create_lock(ctx: RunnerContext, integration: str, action: str,
                      object_id: str) -> AsyncIterator[None]:
    """Hold the right to create `action`'s record for one source record: this process's
    gate, then the store lease other processes of the deployment respect."""
    name = create_gate(action, object_id)
    async with ctx.gate.hold(integration, name):
        lease, holder = f"{integration}/{name}", uuid.uuid4().hex
        deadline = time.monotonic() + _WAIT_SECONDS
        while (epoch := await asyncio.to_thread(ctx.store.acquire_lease, lease, holder,
                                                ctx.clock(), _LEASE_SECONDS)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"another process is still creating the record of {name}")
            await asyncio.sleep(0.25)
        try:
            yield
        finally:
            await asyncio.to_thread(ctx.store.release_lease, lease, holder, epoch)


def creates_record(sync: Sync, record: Mapping[str, Any], setup: Mapping[str, Any]) -> bool:
    """Whether a webhook record goes to the sync's create action: it names no target
    record (its key cannot be built) and the `create.when` filter, if any, selects it."""
    if sync.create_action is None:
        return False
    try:
        key = build_key(sync.key.components, sync.key.separator, record)
    except RecordError:
        key = ""
    if key.strip():
        return False
    if sync.create_when is None:
        return True
    return bool(compile_rule(parse_rule(sync.create_when), setup=setup)(record))


async def create_through_action(ctx: RunnerContext, deployment: Deployment, integration: str,
                                sync: Sync, object_id: str, record: Record) -> bool:
    """Run the sync's create action for one source record; True when it was created or
    found. A record the target refuses is recorded as the sync's failing record
    `#<object id>` (status lists it); a transient failure propagates (event retried)."""
    from engine.runner.actions import ActionRunner

    runtime = deployment.runtimes[integration]
    action = runtime.spec.actions[sync.create_action or ""]
    execution = ActionExecution(execution_id=f"webhook:{sync.name}:{object_id}",
                                callback_id="", object_id=object_id, object_type=None,
                                properties=dict(record), inputs={})
    key = f"#{object_id}"
    try:
        outputs = await ActionRunner(ctx).run_action(deployment, integration, action, execution)
    except (RecordError, FatalError) as exc:
        code = exc.code if isinstance(exc, RecordError) else "create.failed"
        message = runtime.redactor.text(f"creating it through action {action.name}: {exc}")
        runtime.store.commit_batch(BatchCommit(integration, sync.name, runtime.clock(),
                                               failures=[FailedRecord(key, code, message)]))
        log.warning("inbound create failed", extra={"integration": integration,
                                                     "sync": sync.name, "error": message})
        return False
    runtime.store.commit_batch(BatchCommit(integration, sync.name, runtime.clock(),
                                           resolved=[key]))
    log.info("inbound create", extra={"integration": integration, "sync": sync.name,
                                      "action": action.name, "outputs": sorted(outputs)})
    return True
