"""POST /actions/{integration}/{action}: workflow actions, for any vendor that has them.

The vendor's side of the protocol (how a request is verified and read, how we answer,
how a pending execution is completed later) is its `ActionProtocol`, found through the
workflow connection's vendor in the registry; this module is the generic part.

An execution creates (or, `mode: update`, updates) a record in the target system from
the enrolled object, answers with output fields, then runs the action's `then_sync`
syncs for the written record at once (push the result back). Templates see the record
`action_record` builds (the same in `specsync test`). An update changes the record its
`find` names: the id `find.id` renders, else the link an action or sync of
`find.linked` made for the enrolled object, else the one this action updated before.

Exactly-once effect per execution (reliability.md, "Workflow actions"):

- the request is verified first (the vendor's signature check);
- the idempotency key is integration + action + the execution id the vendor keeps
  across its retries, and `claim_action` is taken BEFORE any work: a duplicate or
  retried execution gets the stored answer and never writes again;
- a create first looks for its own link for the enrolled object (an earlier attempt or
  execution that wrote and linked, whatever became of its answer), then looks the
  target up by the target's external-id field when the mapped payload carries one, so a
  takeover after a crash, or a retry after a lost answer, adopts what the first try
  created; a record found that the target cannot update is taken as it is;
- the written record is linked (origin "action") under the scope `action:<name>`, and,
  for each `then_sync` sync that reads the action's target and writes the enrolled
  object, under that sync with the enrolled object as its target, so the push-back
  updates the enrolled object instead of creating a second one.

Timing: vendors wait a limited time (HubSpot ~20 s). Work that has not finished after
`sync_timeout` is answered `pending` and completed later through the protocol's
`complete`, sent by the workflow connection's adapter (its retries and rate budget).
A retry that arrives while this process still works on the execution is also answered
`pending` (the completion follows); one that finds an unfinished claim of another
process gets 503, which the vendor retries, and takes the claim over once it is
`stale_after` old. Failures: a record the target refuses (RecordError, FatalError) is
stored and answered `failed`; a transient failure is not stored, and the execution is
retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.adapters.base import (
    ActionExecution,
    ActionOutcome,
    ActionProtocol,
    Record,
    WriteOp,
)
from engine.adapters.catalog import ObjectInfo
from engine.errors import AmbiguousWriteError, FatalError, MalformedRequestError, RecordError
from engine.runner.context import RunnerContext
from engine.runner.creates import create_lock
from engine.runner.deployment import Deployment
from engine.runner.webhooks import inbound, read_body
from engine.spec.environment import MissingEnvironmentError
from engine.spec.model import Action, Sync
from engine.state.base import ActionStatus, BatchCommit, Link
from engine.sync.changes import payload_hash
from engine.sync.mapping import Mapper
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from engine.templates import OMIT, RenderContext, build_key, compile_transform

__all__ = ["ActionRunner", "action_key", "action_record", "receive_action"]

log = logging.getLogger(__name__)

def action_key(integration: str, action: str, execution: ActionExecution) -> str:
    """The idempotency key of one execution (what the vendor keeps across its retries)."""
    return f"{integration}/{action}/{execution.execution_id}"


def action_record(properties: Mapping[str, Any], inputs: Mapping[str, Any], *,
                  object_id: str, object_type: str | None, declared: Iterable[str] = (),
                  id_field: str | None = None) -> Record:
    """The one record an action's field templates see, in a run and in `specsync test`.

    - top-level names: the enrolled object's properties (its id under the source's id
      field, from `objectId` when the properties lack it), then the workflow's input
      fields over them; a declared input the workflow did not send is none, unless
      the object has a property of that name;
    - `inputs`: every declared input (none when not sent) and whatever else was sent;
    - `object`: `{objectId, objectType, properties}`: the enrolled object.

    Declared inputs are always defined so a template never fails on one that a
    workflow left empty (HubSpot omits those).
    """
    props = dict(properties)
    if id_field and props.get(id_field) in (None, ""):
        props[id_field] = object_id
    record: Record = dict(props)
    for name in declared:
        record.setdefault(name, None)
    record.update(inputs)
    record["inputs"] = {**dict.fromkeys(declared), **inputs}
    record["object"] = {"objectId": object_id, "objectType": object_type,
                        "properties": props}
    return record


def _object_info(runtime: Runtime, connection: str | None, obj: str | None
                 ) -> ObjectInfo | None:
    """A connection's object as its adapter's catalog declares it (no adapter built)."""
    conn = runtime.spec.connections.get(connection) if connection else None
    catalog = runtime.registry.catalog(conn.adapter) if conn is not None else None
    return catalog.objects.get(obj) if catalog is not None and obj else None


_PENDING = ActionOutcome("pending")


@dataclass
class _Flight:
    blocked: bool = False


async def _one(record: Record) -> AsyncIterator[Record]:
    yield record


class ActionRunner:
    """Executes actions; keeps track of the ones in flight in this process."""

    def __init__(self, ctx: RunnerContext, *, sync_timeout: float = 10.0,
                 stale_after: float = 120.0) -> None:
        self.ctx = ctx
        self.sync_timeout = sync_timeout
        self.stale_after = stale_after
        self.tasks: set[asyncio.Task[Any]] = set()
        self._flights: dict[str, _Flight] = {}

    async def execute(self, deployment: Deployment, integration: str, action: Action,
                      protocol: ActionProtocol, execution: ActionExecution) -> Response:
        key = action_key(integration, action.name, execution)
        claim = await asyncio.to_thread(self.ctx.store.claim_action, key, self.ctx.clock(),
                                        stale_after=self.stale_after)
        if not claim.fresh:
            if claim.status != "pending" and claim.result is not None:
                return JSONResponse(claim.result.get("response"))
            flight = self._flights.get(key)
            if flight is not None:
                flight.blocked = True  # the running execution will call back
                return JSONResponse(protocol.answer(_PENDING))
            return JSONResponse({"error": "this execution is in progress; retry later"},
                                status_code=503, headers={"Retry-After": "30"})
        flight = _Flight()
        self._flights[key] = flight
        task = asyncio.get_running_loop().create_task(
            self._perform(deployment, integration, action, protocol, execution, key, flight),
            name=f"action:{key}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=self.sync_timeout)
        if not done:
            flight.blocked = True
            return JSONResponse(protocol.answer(_PENDING))
        response = task.result()
        if response is None:
            return JSONResponse({"error": "the target system is unavailable; retry later"},
                                status_code=503, headers={"Retry-After": "60"})
        return JSONResponse(response)

    async def _perform(self, deployment: Deployment, integration: str, action: Action,
                       protocol: ActionProtocol, execution: ActionExecution, key: str,
                       flight: _Flight) -> dict[str, Any] | None:
        runtime = deployment.runtimes[integration]
        outcome: ActionOutcome
        status: ActionStatus
        try:
            outputs = await self.run_action(deployment, integration, action, execution)
            outcome, status = ActionOutcome("succeeded", outputs), "succeeded"
        except (RecordError, FatalError) as exc:
            message = runtime.redactor.text(str(exc))[:500]
            log.warning("workflow action failed", extra={"integration": integration,
                                                           "action": action.name,
                                                           "error": message})
            outcome, status = ActionOutcome("failed", error=message), "failed"
        except Exception as exc:
            message = runtime.redactor.text(f"{type(exc).__name__}: {exc}")[:500]
            log.warning("workflow action hit a transient failure", extra={
                "integration": integration, "action": action.name, "error": message})
            if not flight.blocked:
                self._flights.pop(key, None)
                return None  # not stored: the vendor's retry (after stale_after) runs it again
            outcome, status = ActionOutcome("failed", error=message), "failed"
        response = protocol.answer(outcome)
        try:
            await asyncio.to_thread(self.ctx.store.complete_action, key,
                                    {"response": response}, status, now=self.ctx.clock())
        finally:
            self._flights.pop(key, None)
        if flight.blocked:
            await self._complete(runtime, action, protocol, execution, outcome)
        return response

    async def run_action(self, deployment: Deployment, integration: str, action: Action,
                         execution: ActionExecution) -> dict[str, Any]:
        """Map, write, link, push back; returns the rendered output fields. A create runs
        alone for its enrolled object in this process (creates.py: a sync's inbound
        create and a workflow execution for one record make one record)."""
        if action.mode == "update" or not execution.object_id:
            return await self._run_action(deployment, integration, action, execution)
        async with create_lock(self.ctx, integration, action.name, execution.object_id):
            return await self._run_action(deployment, integration, action, execution)

    async def _run_action(self, deployment: Deployment, integration: str, action: Action,
                          execution: ActionExecution) -> dict[str, Any]:
        runtime = deployment.runtimes[integration]
        spec = runtime.spec
        store = runtime.store
        object_id = execution.object_id
        if not object_id:
            raise RecordError("action.no-object", "the execution names no enrolled object")
        properties = dict(execution.properties)
        inputs = dict(execution.inputs)
        source: Record = properties
        if action.source_connection and action.source_object:
            try:
                fresh = await runtime.adapter(action.source_connection).get(
                    action.source_object, object_id)
            except FatalError as exc:  # e.g. the adapter is not installed here
                log.info("enrolled object not re-read (%s); using the execution's properties",
                         exc)
                fresh = None
            if fresh:
                source = {**properties, **fresh}
        source_info = _object_info(runtime, action.source_connection, action.source_object)
        record = action_record(source, inputs, object_id=object_id,
                               object_type=execution.object_type,
                               declared=action.inputs,
                               id_field=source_info.id_field if source_info else None)
        object_view = record["object"]
        inputs = record["inputs"]

        target = runtime.adapter(action.target_connection)
        obj = action.target_object
        info = target.describe().objects.get(obj)
        render = RenderContext(setup=spec.setup, links=runtime.links(), now=runtime.clock())
        mapper = Mapper(action.fields, target=info,
                        text=runtime.text_rules(action.target_connection))
        create = mapper.create_payload(record, render)
        update = mapper.update_payload(record, render)
        scope = f"action:{action.name}"
        target_id: str | None = None
        if action.mode == "update":
            target_id = self._find(runtime, action, record, render, object_id)
            ops = [WriteOp("update", object_id, update, target_id)]
        else:
            existing = self._linked(runtime, scope, object_id) or \
                await self._existing(target, info, obj, create)
            if existing is not None:
                target_id = existing
                updatable = info is not None and "update" in info.operations and update
                ops = [WriteOp("update", object_id, update, existing)] if updatable else []
            else:
                ops = [WriteOp("create", object_id, create)]
        if ops:
            result = (await target.write(obj, ops))[0]
            if result.error is not None:
                raise result.error
            if result.ambiguous:
                raise AmbiguousWriteError(f"the {target.name} write's outcome is unknown")
            target_id = result.target_id or target_id
        if not target_id:
            raise AmbiguousWriteError(f"{target.name} did not say which record it wrote")
        store.commit_batch(BatchCommit(integration, scope, runtime.clock(), links=[
            Link(object_id, target_id, payload_hash(update), origin="action")]))
        written = await target.get(obj, target_id) if info and "get" in info.operations \
            else None
        written = written or {**create, (info.id_field if info else "id"): target_id}

        context = {"target": written, "inputs": inputs, "object": object_view}
        outputs: dict[str, Any] = {}
        for name, transform in action.outputs.items():
            value = compile_transform(transform).render(context, render)
            if value is not OMIT:
                outputs[name] = value
        for sync_name in action.then_sync:
            await self._push_back(runtime, integration, action, sync_name, written, object_id)
        return outputs

    @staticmethod
    def _find(runtime: Runtime, action: Action, record: Record, render: RenderContext,
              object_id: str) -> str:
        """The record an update action changes (the spec's `find`): the id its template
        renders, else the link each named action or sync made for the enrolled object,
        else the record this action updated for it before."""
        spec = runtime.spec
        tried: list[str] = []
        if action.find_id is not None:
            value = compile_transform(action.find_id).render(record, render)
            if value is not OMIT and value not in (None, ""):
                return str(value)
            tried.append("find.id (empty)")
        names = list(dict.fromkeys((*action.find_linked, action.name)))
        for name in names:
            if name in spec.actions:
                scope, key = f"action:{name}", object_id
            else:
                sync = spec.syncs[name]
                try:
                    key = build_key(sync.key.components, sync.key.separator, record)
                except RecordError:
                    tried.append(f"sync {name} (no key)")
                    continue
                scope = name
            link = runtime.store.get_links(spec.integration, scope, [key]).get(key)
            if link is not None and link.active and link.target_id:
                return link.target_id
            tried.append(f"{'action' if name in spec.actions else 'sync'} {name}")
        raise RecordError(
            "action.not-linked",
            f"no {action.target_connection} {action.target_object} is known for object "
            f"{object_id} (tried {', '.join(tried)}); run the action or sync that makes it "
            "first, or give its id")

    @staticmethod
    def _linked(runtime: Runtime, scope: str, object_id: str) -> str | None:
        """The record this action already wrote for the enrolled object (its own link)."""
        link = runtime.store.get_links(runtime.spec.integration, scope,
                                       [object_id]).get(object_id)
        return link.target_id if link is not None and link.active and link.target_id \
            else None

    @staticmethod
    async def _existing(target: Any, info: Any, obj: str, payload: Mapping[str, Any]) -> \
            str | None:
        """The target record a create would duplicate, by an external-id field it writes."""
        if info is None or "find_external" not in info.operations:
            return None
        for field_name in info.external_id_fields:
            value = payload.get(field_name)
            if value in (None, ""):
                continue
            found = await target.find_external(obj, field_name, [str(value)])
            record = found.get(str(value))
            if isinstance(record, RecordError):
                raise record  # e.g. more than one record holds the value
            if record is not None:
                return str(record.get(info.id_field))
        return None

    @staticmethod
    def _writes_enrolled(action: Action, sync: Sync) -> bool:
        """Whether `sync` writes the kind of object the workflow enrolled (a company
        for create_client's companies sync; not a deal's invoice)."""
        if sync.target_connection != action.workflow_connection:
            return False
        if action.source_connection and action.source_object:
            return (sync.target_connection, sync.target_object) == (
                action.source_connection, action.source_object)
        return True  # no source declared: the enrolled object's kind is unknown

    async def _push_back(self, runtime: Runtime, integration: str, action: Action,
                         sync_name: str, written: Record, object_id: str) -> None:
        sync = runtime.spec.syncs[sync_name]
        reads_target = (sync.source_connection, sync.source_object) == (
            action.target_connection, action.target_object)
        try:
            async with self.ctx.gate.hold(integration, sync_name):
                if not reads_target:
                    report = await run_sync(runtime, sync_name, trigger="action")
                else:
                    key = build_key(sync.key.components, sync.key.separator, written)
                    if self._writes_enrolled(action, sync) and \
                            not runtime.store.get_links(integration, sync_name, [key]):
                        # The enrolled object IS this record's counterpart: link it, with no
                        # hash, so the push-back updates it rather than creating another.
                        runtime.store.commit_batch(BatchCommit(
                            integration, sync_name, runtime.clock(),
                            links=[Link(key, object_id, "", origin="action")]))
                    report = await run_sync(runtime, sync_name, trigger="action",
                                            records=_one(written))
            self.ctx.metrics.observe_run(integration, sync_name, "action", report.outcome,
                                         report.counts, report.tripped)
        except Exception as exc:
            # The action itself succeeded; the scheduled run pushes the result back later.
            log.error("push-back after a workflow action failed", extra={
                "integration": integration, "sync": sync_name,
                "error": runtime.redactor.text(f"{type(exc).__name__}: {exc}")[:500]})

    async def _complete(self, runtime: Runtime, action: Action, protocol: ActionProtocol,
                        execution: ActionExecution, outcome: ActionOutcome) -> None:
        """Report a pending execution's outcome through the workflow connection's adapter
        (its session retries transient failures within the rate budget)."""
        try:
            adapter = runtime.adapter(action.workflow_connection)
            await protocol.complete(adapter, execution, outcome)
        except Exception as exc:
            log.error("could not complete a pending workflow action", extra={
                "integration": runtime.spec.integration, "action": action.name,
                "error": runtime.redactor.text(f"{type(exc).__name__}: {exc}")[:500]})


async def receive_action(request: Request) -> Response:
    ctx: RunnerContext = request.app.state.runner
    runner: ActionRunner = request.app.state.runner_control.actions
    integration = request.path_params["integration"]
    name = request.path_params["action"]
    deployment = ctx.deployment
    spec = deployment.specs.get(integration)
    action = spec.actions.get(name) if spec else None

    def reject(reason: str, status: int, message: str) -> Response:
        ctx.metrics.rejected.labels(integration, f"action:{name}", reason).inc()
        log.warning("workflow action request refused", extra={
            "integration": integration, "action": name, "status": status, "reason": message})
        return JSONResponse({"error": message}, status_code=status)

    if spec is None or action is None:
        return reject("unknown", 404, "no such workflow action")
    connection = spec.connections[action.workflow_connection]
    vendor = deployment.vendor(integration, action.workflow_connection)
    protocol = vendor.actions if vendor is not None else None
    if protocol is None:
        return reject("unknown", 404, "the workflow connection's system has no workflow actions")
    body = await read_body(request, ctx.max_body_bytes)
    if body is None:
        return reject("too_large", 413, f"the body exceeds {ctx.max_body_bytes} bytes")
    try:
        secret = deployment.webhook_secret(connection)
    except MissingEnvironmentError as exc:
        log.error("workflow actions of %s cannot be verified: %s", integration, exc)
        return reject("unavailable", 503, "the receiver is not configured yet")
    if secret is None:
        return reject("unknown", 404, "the workflow connection configures no webhooks.secret")
    reason = protocol.verify(secret, inbound(request, body, ctx))
    if reason is not None:
        return reject("signature", 401, reason)
    try:
        execution = protocol.parse(body)
    except MalformedRequestError as exc:
        return reject("malformed", 400, str(exc))
    return await runner.execute(deployment, integration, action, protocol, execution)
