"""Custom workflow actions v4: definitions, executions and their callbacks (the SDK's
`hubspot.automation.actions` DefinitionsApi and CallbacksApi).

- Definitions (developer `hapikey`): `GET|POST /automation/v4/actions/{appId}`
  (`PublicActionDefinitionEgg` -> 201 `PublicActionDefinition`), `GET|PATCH|DELETE
  .../{appId}/{definitionId}`. A stored definition always answers as the SDK's
  `PublicActionDefinition`: fields a request left out get HubSpot's defaults (input
  fields take STATIC_VALUE, options lists are empty, `published` false).
- Executions: a control call (`POST /_sandbox/actions/{definitionId}/fire`) makes the
  portal POST an execution to the definition's `actionUrl`, signed v2 and v3, as
  HubSpot does: `{callbackId, origin: {portalId, actionDefinitionId,
  actionDefinitionVersion, actionExecutionIndexIdentifier: {enrollmentId,
  actionExecutionIndex}, extensionDefinitionId, extensionDefinitionVersionId}, context:
  {source, workflowId}, object: {objectId, objectType, properties}, inputFields}` (plus
  `fields`, the older name of `inputFields`). The synchronous answer is recorded;
  `.../executions/{callbackId}/retry` re-sends the same execution.
- Callbacks (bearer): `POST /automation/v4/actions/callbacks/{callbackId}/complete`
  (`CallbackCompletionRequest {outputFields}`) and `.../callbacks/complete`
  (`{inputs: [{callbackId, outputFields}]}`, <= 100) -> 204; `hs_execution_state` must be
  SUCCESS or FAIL_CONTINUE; an unknown callbackId is 404.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.adapters.hubspot.signatures import sign_v2, sign_v3
from engine.sandbox.hubspot.errors import HubSpotError, not_found, read_json, validation
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.objects import after_param, limit_param
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.platform import SandboxConfig

__all__ = ["Actions", "Execution", "definition_of"]

_FIELD_TYPES = ("string", "number", "bool", "datetime", "enumeration", "date",
                "phone_number", "currency_number", "json", "object_coordinates")
_LABEL_KEYS = ("inputFieldDescriptions", "appDisplayName", "outputFieldLabels",
               "inputFieldOptionLabels", "actionDescription", "executionRules",
               "inputFieldLabels", "actionName", "actionCardContent")
_TYPE_KEYS = ("helpText", "referencedObjectType", "description",
              "externalOptionsReferenceType", "label", "fieldType", "optionsUrl")


def _type_definition(raw: Any) -> dict[str, Any]:
    """A `FieldTypeDefinition`: `name`, `type`, `options`, `externalOptions` always."""
    if not isinstance(raw, dict) or not raw.get("name"):
        raise validation("each field needs typeDefinition.name")
    kind = str(raw.get("type") or "string")
    if kind not in _FIELD_TYPES:
        raise validation(f"typeDefinition.type {kind!r} is not one of "
                         f"{', '.join(_FIELD_TYPES)}")
    options = []
    for n, option in enumerate(raw.get("options") or []):
        if not isinstance(option, dict) or "value" not in option:
            raise validation("each option needs a value")
        options.append({"label": str(option.get("label", option["value"])),
                        "value": str(option["value"]),
                        "displayOrder": int(option.get("displayOrder", n)),
                        "doubleData": float(option.get("doubleData", 0.0)),
                        "hidden": bool(option.get("hidden", False)),
                        "description": str(option.get("description", "")),
                        "readOnly": bool(option.get("readOnly", False))})
    out = {"name": str(raw["name"]), "type": kind, "options": options,
           "externalOptions": bool(raw.get("externalOptions", False))}
    out.update({key: raw[key] for key in _TYPE_KEYS if raw.get(key) is not None})
    return out


def definition_of(definition_id: str, body: Mapping[str, Any], revision: int
                  ) -> dict[str, Any]:
    """A `PublicActionDefinition` from an egg (or a control call's body)."""
    url = body.get("actionUrl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation("an action definition needs actionUrl (http or https)")
    object_types = body.get("objectTypes") or []
    if not isinstance(object_types, list):
        raise validation("objectTypes must be a list, e.g. [\"DEAL\"]")
    labels: dict[str, dict[str, Any]] = {}
    for language, raw in (body.get("labels") or {}).items():
        text = raw if isinstance(raw, dict) else {}
        labels[str(language)] = {key: text[key] for key in _LABEL_KEYS if key in text}
        labels[str(language)].setdefault("actionName", "Custom action")
    inputs = []
    for raw in body.get("inputFields") or []:
        if not isinstance(raw, dict):
            raise validation("each input field is {typeDefinition, isRequired}")
        item = {"typeDefinition": _type_definition(raw.get("typeDefinition")),
                "isRequired": bool(raw.get("isRequired", False)),
                "supportedValueTypes": list(raw.get("supportedValueTypes")
                                            or ["STATIC_VALUE"])}
        if raw.get("automationFieldType"):
            item["automationFieldType"] = str(raw["automationFieldType"])
        inputs.append(item)
    out: dict[str, Any] = {
        "id": definition_id, "revisionId": str(revision), "actionUrl": url,
        "published": bool(body.get("published", False)),
        "objectTypes": [str(t) for t in object_types], "labels": labels,
        "inputFields": inputs,
        "outputFields": [{"typeDefinition": _type_definition(
            (raw or {}).get("typeDefinition"))} for raw in body.get("outputFields") or []],
        "functions": [{"functionType": str(f.get("functionType")),
                       **({"id": str(f["id"])} if f.get("id") else {})}
                      for f in body.get("functions") or [] if isinstance(f, dict)],
    }
    options = body.get("objectRequestOptions")
    if isinstance(options, dict):
        out["objectRequestOptions"] = {"properties": [str(p) for p in
                                                      options.get("properties") or []]}
    return out


@dataclass
class Execution:
    """One workflow action execution: what was sent, what came back, how it ended."""

    callback_id: str
    definition_id: str
    url: str
    payload: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.completions:
            return str(self.completions[-1].get("hs_execution_state", "SUCCESS"))
        for attempt in reversed(self.attempts):
            output = (attempt.get("response") or {}).get("outputFields") \
                if isinstance(attempt.get("response"), dict) else None
            if output and "hs_execution_state" in output:
                return str(output["hs_execution_state"])
            if attempt.get("status") and 200 <= attempt["status"] < 300:
                return "SUCCESS"
        return "FAILED" if self.attempts else "PENDING"

    def to_json(self) -> dict[str, Any]:
        return {"callbackId": self.callback_id, "definitionId": self.definition_id,
                "url": self.url, "request": self.payload, "attempts": self.attempts,
                "completions": self.completions, "state": self.state}


class Actions:
    """Definitions, executions and callbacks of the app's custom workflow actions."""

    def __init__(self, records: Records, config: SandboxConfig, *, portal_id: int,
                 app_id: int, secret: str, timeout: float) -> None:
        self.records = records
        self.config = config
        self.portal_id = portal_id
        self.app_id = app_id
        self.secret = secret
        self.timeout = timeout
        self._definition_ids = itertools.count(100)
        self._enrollments = itertools.count(1)
        self.definitions: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, Execution] = {}

    def routes(self, gate: Gate) -> list[BaseRoute]:
        base = "/automation/v4/actions"
        return [
            Route(base + "/callbacks/complete", gate.api(self.complete_batch),
                  methods=["POST"]),
            Route(base + "/callbacks/{callbackId}/complete", gate.api(self.complete_one),
                  methods=["POST"]),
            Route(base + "/{appId}", gate.developer(self.definitions_root),
                  methods=["GET", "POST"]),
            Route(base + "/{appId}/{definitionId}", gate.developer(self.definition),
                  methods=["GET", "PATCH", "DELETE"]),
        ]

    # ------------------------------------------------------------------ definitions

    def define(self, body: Any) -> dict[str, Any]:
        """Store a definition (`PublicActionDefinitionEgg`); returns it as answered."""
        if not isinstance(body, dict):
            raise validation("expected an action definition object")
        definition_id = str(next(self._definition_ids))
        stored = definition_of(definition_id, body, 1)
        self.definitions[definition_id] = stored
        return stored

    def _check_app(self, request: Request) -> None:
        if str(request.path_params["appId"]) != str(self.app_id):
            raise HubSpotError(404, f"App {request.path_params['appId']} not found",
                               "OBJECT_NOT_FOUND")

    def _find(self, definition_id: str) -> dict[str, Any]:
        found = self.definitions.get(definition_id)
        if found is None:
            raise HubSpotError(404, f"Action definition {definition_id} not found",
                               "OBJECT_NOT_FOUND")
        return found

    async def definitions_root(self, request: Request) -> Response:
        self._check_app(request)
        if request.method == "POST":
            return JSONResponse(self.define(await read_json(request)), status_code=201)
        limit = limit_param(request.query_params.get("limit"), 100, 100)
        after = after_param(request.query_params.get("after"))
        listed = list(self.definitions.values())
        body: dict[str, Any] = {"results": listed[after:after + limit]}
        if after + limit < len(listed):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(body)

    async def definition(self, request: Request) -> Response:
        self._check_app(request)
        definition_id = request.path_params["definitionId"]
        current = self._find(definition_id)
        if request.method == "DELETE":
            del self.definitions[definition_id]
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await read_json(request)
            if not isinstance(body, dict):
                raise validation("expected a PublicActionDefinitionPatch object")
            merged = {**current, **body}
            current = definition_of(definition_id, merged, int(current["revisionId"]) + 1)
            self.definitions[definition_id] = current
        return JSONResponse(current)

    # ------------------------------------------------------------------ callbacks

    def _complete(self, callback_id: str, body: Any) -> None:
        execution = self.executions.get(callback_id)
        if execution is None:
            raise HubSpotError(404, f"No pending action execution with callbackId "
                               f"{callback_id}", "OBJECT_NOT_FOUND",
                               context={"callbackId": [callback_id]})
        output = body.get("outputFields") if isinstance(body, dict) else None
        if not isinstance(output, dict):
            raise validation("expected {\"outputFields\": {\"hs_execution_state\": ...}}")
        state = output.get("hs_execution_state")
        if state not in ("SUCCESS", "FAIL_CONTINUE"):
            raise validation("outputFields.hs_execution_state must be SUCCESS or "
                             "FAIL_CONTINUE", name="hs_execution_state")
        execution.completions.append({**output,
                                      "completedAt": iso_ms(self.records.clock.now())})

    async def complete_one(self, request: Request) -> Response:
        self._complete(request.path_params["callbackId"], await read_json(request))
        return Response(status_code=204)

    async def complete_batch(self, request: Request) -> Response:
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise validation("expected {\"inputs\": [{callbackId, outputFields}]}")
        if len(inputs) > 100:
            raise validation(f"Batch input limit exceeded: {len(inputs)} inputs; the "
                             "maximum is 100.", code="BATCH_LIMIT_EXCEEDED")
        for item in inputs:
            self._complete(str((item or {}).get("callbackId")), item)
        return Response(status_code=204)

    # ------------------------------------------------------------------ executions

    async def fire(self, definition_id: str, object_id: str, *,
                   object_type: str | None = None,
                   input_fields: Mapping[str, Any] | None = None,
                   workflow_id: int = 1) -> Execution:
        """Run one workflow action execution against its action URL (as HubSpot does)."""
        definition = self._find(definition_id)
        kind = object_type or (definition.get("objectTypes") or ["COMPANY"])[0]
        store = self.records.object_store(str(kind))
        record = store.collection.get(str(object_id))
        if record is None:
            raise not_found(str(object_id), store.type.name)
        wanted = (definition.get("objectRequestOptions") or {}).get("properties") or []
        enrollment = next(self._enrollments)
        callback_id = f"ap-{self.portal_id}-{enrollment * 1000 + int(definition_id)}-1-0"
        fields = dict(input_fields or {})
        revision = int(definition["revisionId"])
        payload = {
            "callbackId": callback_id,
            "origin": {"portalId": self.portal_id, "actionDefinitionId": int(definition_id),
                       "actionDefinitionVersion": revision,
                       "actionExecutionIndexIdentifier": {"enrollmentId": enrollment,
                                                          "actionExecutionIndex": 0},
                       "extensionDefinitionId": int(definition_id),
                       "extensionDefinitionVersionId": revision},
            "context": {"source": "WORKFLOWS", "workflowId": workflow_id},
            "object": {"objectId": int(object_id),
                       "objectType": store.type.singular.upper() if store.type.legacy_webhooks
                       else store.type.type_id,
                       "properties": {n: record["properties"].get(n) for n in wanted}},
            "inputFields": fields,
            "fields": fields,
        }
        execution = Execution(callback_id, definition_id, str(definition["actionUrl"]),
                              payload)
        self.executions[callback_id] = execution
        await self.send(execution)
        return execution

    async def send(self, execution: Execution) -> None:
        """POST the execution to its action URL once, recording the answer."""
        body = json.dumps(execution.payload, separators=(",", ":")).encode()
        timestamp = int(self.records.clock.now().timestamp() * 1000)
        url = execution.url
        headers = {
            "content-type": "application/json",
            "x-hubspot-signature": sign_v2(self.secret, "POST", url, body),
            "x-hubspot-signature-version": "v2",
            "x-hubspot-signature-v3": sign_v3(self.secret, "POST", url, body, timestamp),
            "x-hubspot-request-timestamp": str(timestamp),
        }
        attempt: dict[str, Any] = {"attempt": len(execution.attempts) + 1,
                                   "at": iso_ms(self.records.clock.now()), "status": None,
                                   "response": None, "error": None}
        client = self.config.webhook_client
        owned = client is None
        client = client or httpx.AsyncClient()
        try:
            response = await client.post(url, content=body, headers=headers,
                                         timeout=self.timeout)
            attempt["status"] = response.status_code
            try:
                attempt["response"] = response.json()
            except ValueError:
                attempt["response"] = response.text[:2000]
        except httpx.HTTPError as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if owned:
                await client.aclose()
        execution.attempts.append(attempt)

    def execution(self, callback_id: str) -> Execution:
        found = self.executions.get(callback_id)
        if found is None:
            raise HubSpotError(404, f"No execution {callback_id}", "OBJECT_NOT_FOUND")
        return found
