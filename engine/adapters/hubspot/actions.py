"""HubSpot custom workflow actions (automation v4): the request, our answer, the callback.

HubSpot POSTs an execution to the action's `actionUrl`, signed v3 (or v2 when the v3
headers are absent): `{callbackId, origin: {actionExecutionIndexIdentifier:
{enrollmentId, actionExecutionIndex}, ...}, object: {objectId, objectType, properties},
inputFields}`. It keeps `callbackId` (+ enrollment and index) across its retries, so
that is the idempotency key.

The answer is `{"outputFields": {..., "hs_execution_state": STATE}}` with STATE
SUCCESS, FAIL_CONTINUE (with `errorMessage`) or BLOCK; a BLOCKed execution is completed
later through `POST /automation/v4/actions/callbacks/{callbackId}/complete`
(`CallbacksApi.complete`, body `CallbackCompletionRequest {outputFields: dict[str,
str]}` in the SDK's `hubspot.automation.actions`), sent through the workflow
connection's adapter (`HubSpotAdapter.complete_action`) so it has the HTTP session's
retries, rate budget and redaction. Output values are strings in both, as the SDK's
`dict[str, str]` says: numbers and dates as `engine.values.to_wire_text` writes them,
lists and objects as JSON; an output without a value is left out. The request's
fields are those of HubSpot's custom workflow actions guide ("Execution"); `inputFields`
is read, and `fields` (its older name) when it is absent [unconfirmed: whether v4 still
sends `fields`].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.adapters.base import ActionExecution, ActionOutcome, InboundRequest
from engine.adapters.hubspot.signatures import check_v2, check_v3
from engine.errors import MalformedRequestError
from engine.values import to_wire_text

__all__ = ["HubSpotActions", "execution_id", "output_text"]

_STATES = {"succeeded": "SUCCESS", "failed": "FAIL_CONTINUE", "pending": "BLOCK"}


def output_text(value: Any) -> str:
    """One output field's value as HubSpot takes it: a string."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return to_wire_text(value)


def execution_id(execution: Mapping[str, Any]) -> str:
    """What HubSpot keeps across its retries of one execution."""
    key = str(execution["callbackId"])
    origin = execution.get("origin")
    index = origin.get("actionExecutionIndexIdentifier") if isinstance(origin, dict) else None
    if isinstance(index, dict):
        key += f"/{index.get('enrollmentId')}:{index.get('actionExecutionIndex')}"
    return key


class HubSpotActions:
    """HubSpot as an `ActionProtocol`."""

    def verify(self, secret: str, request: InboundRequest) -> str | None:
        if "x-hubspot-signature-v3" in request.headers:
            return check_v3(secret, request.method, request.uri, request.body,
                            request.headers, request.received_at)
        return check_v2(secret, request.method, request.uri, request.body, request.headers)

    def parse(self, body: bytes) -> ActionExecution:
        try:
            execution = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise MalformedRequestError("the body is not JSON") from exc
        if not isinstance(execution, dict) or not execution.get("callbackId"):
            raise MalformedRequestError("an execution needs a callbackId")
        enrolled = execution.get("object")
        enrolled = enrolled if isinstance(enrolled, dict) else {}
        properties = enrolled.get("properties")
        inputs = execution.get("inputFields", execution.get("fields"))
        return ActionExecution(
            execution_id=execution_id(execution),
            callback_id=str(execution["callbackId"]),
            object_id=str(enrolled.get("objectId") or ""),
            object_type=enrolled.get("objectType"),
            properties=dict(properties) if isinstance(properties, dict) else {},
            inputs=dict(inputs) if isinstance(inputs, dict) else {})

    def answer(self, outcome: ActionOutcome) -> dict[str, Any]:
        outputs = {str(name): output_text(value) for name, value in outcome.outputs.items()
                   if value is not None}
        if outcome.error is not None:
            outputs["errorMessage"] = outcome.error
        outputs["hs_execution_state"] = _STATES[outcome.state]
        return {"outputFields": outputs}

    async def complete(self, adapter: Any, execution: ActionExecution,
                       outcome: ActionOutcome) -> None:
        await adapter.complete_action(execution.callback_id, self.answer(outcome))
