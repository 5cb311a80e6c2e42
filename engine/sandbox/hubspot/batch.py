"""CRM objects v3 in batches (the SDK's `BatchApi`): create, read, update, upsert, archive,
each at most 100 inputs.

- `batch/create` (`BatchInputSimplePublicObjectBatchInputForCreate`) -> 201
  `BatchResponseSimplePublicObject`. With an `objectWriteTraceId` on every input, bad
  inputs become `errors` of a 207 (`...WithErrors`, `numErrors`) and the good ones land;
  without, one bad input refuses the whole batch (400/409).
- `batch/read` (`BatchReadInputSimplePublicObjectId {idProperty, properties,
  propertiesWithHistory, inputs}`) -> 200, or 207 naming the ids not found.
- `batch/update` (`{inputs: [{id, idProperty?, properties}]}`) -> 200, or 207 naming the
  missing ids; one invalid input refuses the batch; repeated ids are 400.
- `batch/upsert` (`{inputs: [{idProperty, id, properties}]}`, `idProperty` a unique
  property) -> 200 `BatchResponseSimplePublicUpsertObject` (`new` per result).
- `batch/archive` (`{inputs: [{id}]}`) -> 204.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.errors import (
    HubSpotError,
    PropertyProblem,
    read_json,
    standard_error,
    validation,
)
from engine.sandbox.hubspot.gate import Gate, Handler
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.hubspot.store import ObjectStore

__all__ = ["Batch"]

BATCH_LIMIT = 100
Outcome = tuple[list[Any], list[Any], int]  # results, errors, status without errors


class Batch:
    """The batch routes of `/crm/v3/objects/{objectType}/batch/...`."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def routes(self, gate: Gate) -> list[BaseRoute]:
        actions: dict[str, Callable[[ObjectStore, list[Any], Mapping[str, Any]], Outcome]] = {
            "create": self._create, "read": self._read, "update": self._update,
            "upsert": self._upsert, "archive": self._archive}
        return [Route(f"/crm/v3/objects/{{objectType}}/batch/{action}",
                      gate.api(self._endpoint(action, handler)), methods=["POST"])
                for action, handler in actions.items()]

    def _endpoint(self, action: str, handler: Callable[..., Outcome]) -> Handler:
        async def endpoint(request: Request) -> Response:
            store = self.records.object_store(request.path_params["objectType"])
            body = await read_json(request)
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if not isinstance(inputs, list):
                raise validation("expected {\"inputs\": [...]}")
            if len(inputs) > BATCH_LIMIT:
                raise validation(f"Batch input limit exceeded: {len(inputs)} inputs; the "
                                 f"maximum is {BATCH_LIMIT}.", code="BATCH_LIMIT_EXCEEDED")
            started = iso_ms(self.records.clock.now())
            results, errors, status = handler(store, inputs, body)
            if action == "archive":
                return Response(status_code=204)
            out: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                   "requestedAt": started, "startedAt": started,
                                   "completedAt": iso_ms(self.records.clock.now())}
            if errors:
                out["numErrors"] = len(errors)
                out["errors"] = errors
                status = 207
            return JSONResponse(out, status_code=status)

        return endpoint

    def _create(self, store: ObjectStore, inputs: list[Any],
                body: Mapping[str, Any]) -> Outcome:
        records = self.records
        traced = all(isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs)
        checked: list[tuple[dict[str, Any], HubSpotError | None]] = []
        for item in inputs:
            if not isinstance(item, dict):
                raise validation("each input must be {properties, associations}")
            _, problems = records.prepare(store, item.get("properties"), None, creating=True)
            error = PropertyProblem.to_error(problems) if problems else None
            if error is None:
                try:
                    records.parse_associations(store, item.get("associations"))
                except HubSpotError as exc:
                    error = exc
            if error is not None and not traced:
                raise error  # without trace ids HubSpot rejects the whole batch
            checked.append((item, error))
        # Unique values repeated inside the batch are a conflict too.
        seen: dict[tuple[str, str], int] = {}
        for n, (item, error) in enumerate(checked):
            if error is not None:
                continue
            for name, value in (item.get("properties") or {}).items():
                if value and store.is_unique(name):
                    key = (name, str(value))
                    if key in seen:
                        conflict = HubSpotError(409, f"Duplicate value {value} for unique "
                                                f"property {name} in batch input", "CONFLICT")
                        if not traced:
                            raise conflict
                        checked[n] = (item, conflict)
                    seen[key] = n
        results, errors = [], []
        for item, error in checked:
            if error is None:
                try:
                    record = records.create(store, item.get("properties"),
                                            item.get("associations"))
                except HubSpotError as exc:
                    error = exc
                else:
                    rendered = records.written(store, record)
                    if item.get("objectWriteTraceId"):
                        rendered["objectWriteTraceId"] = str(item["objectWriteTraceId"])
                    results.append(rendered)
                    continue
            errors.append(standard_error(
                error.message, error.category,
                {"objectWriteTraceId": [str(item.get("objectWriteTraceId"))]}))
        return results, errors, 201

    def _read(self, store: ObjectStore, inputs: list[Any], body: Mapping[str, Any]) -> Outcome:
        id_property = body.get("idProperty")
        props = body.get("properties") or None
        history = body.get("propertiesWithHistory") or None
        results, missing = [], []
        for item in inputs:
            object_id = str((item or {}).get("id"))
            record = store.find(object_id, id_property)
            if record is None:
                missing.append(object_id)
            else:
                results.append(self.records.render(store, record, props, history=history))
        errors = [standard_error(f"Could not get some {store.type.name} objects, they may be "
                                 f"deleted or not exist. Check that ids are valid.",
                                 "OBJECT_NOT_FOUND", {"ids": missing})] if missing else []
        return results, errors, 200

    def _update(self, store: ObjectStore, inputs: list[Any],
                body: Mapping[str, Any]) -> Outcome:
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []
        missing = []
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation("each input must be {id, properties}")
            record = store.find(str(item["id"]), item.get("idProperty"))
            if record is None:
                missing.append(str(item["id"]))
                continue
            _, problems = self.records.prepare(store, item.get("properties"), record["id"],
                                               creating=False)
            if problems:
                raise PropertyProblem.to_error(problems)
            found.append((item, record))
        ids = [r["id"] for _, r in found]
        if len(set(ids)) != len(ids):
            raise validation("Duplicate IDs found in batch input", code="DUPLICATE_IDS")
        results = [self.records.written(store, u) for u in
                   (self.records.update(store, r, i.get("properties")) for i, r in found)]
        errors = [standard_error(f"Could not find {store.type.name} with ids "
                                 f"{', '.join(missing)}", "OBJECT_NOT_FOUND",
                                 {"ids": missing})] if missing else []
        return results, errors, 200

    def _upsert(self, store: ObjectStore, inputs: list[Any],
                body: Mapping[str, Any]) -> Outcome:
        keys: list[tuple[str, str]] = []
        for item in inputs:
            if not isinstance(item, dict) or not item.get("idProperty") or "id" not in item:
                raise validation("each upsert input must be {idProperty, id, properties}")
            name = str(item["idProperty"])
            if not store.is_unique(name):
                raise validation(f"Property {name!r} is not a unique property "
                                 "(hasUniqueValue); upsert needs one.", name=name,
                                 code="INVALID_ID_PROPERTY")
            keys.append((name, str(item["id"])))
        if len(set(keys)) != len(keys):
            raise validation("Duplicate IDs found in batch input", code="DUPLICATE_IDS")
        plan: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        for item, (name, value) in zip(inputs, keys, strict=True):
            record = store.find(value, name)
            props = dict(item.get("properties") or {})
            props[name] = value
            _, problems = self.records.prepare(store, props, record["id"] if record else None,
                                               creating=record is None)
            if problems:
                raise PropertyProblem.to_error(problems)
            plan.append((record, props))
        results = []
        for record, props in plan:
            if record is None:
                stored, new = self.records.create(store, props), True
            else:
                stored, new = self.records.update(store, record, props), False
            rendered = self.records.written(store, stored)
            rendered["new"] = new
            results.append(rendered)
        return results, [], 200

    def _archive(self, store: ObjectStore, inputs: list[Any],
                 body: Mapping[str, Any]) -> Outcome:
        for item in inputs:
            record = store.find(str((item or {}).get("id")))
            if record is not None:
                self.records.archive(store, record)
        return [], [], 204
