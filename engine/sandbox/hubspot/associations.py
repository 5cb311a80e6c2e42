"""Associations v4 (the SDK's `hubspot.crm.associations.v4` BasicApi and BatchApi).

- `PUT /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}`
  (a list of `AssociationSpec {associationCategory, associationTypeId}`) -> 201
  `LabelsBetweenObjectPair`; `DELETE` -> 204.
- `PUT .../associations/default/{toObjectType}/{toObjectId}` -> 200
  `BatchResponsePublicDefaultAssociation` (both directions).
- `GET .../associations/{toObjectType}` (`limit` <= 500, `after`) ->
  `CollectionResponseMultiAssociatedObjectWithLabelForwardPaging`.
- `POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create`
  (`{inputs: [{from: {id}, to: {id}, types: [AssociationSpec]}]}`) -> 201
  `BatchResponseLabelsBetweenObjectPair`, 207 with errors for missing records;
  `batch/associate/default` (`{inputs: [{from, to}]}`) -> 200
  `BatchResponsePublicDefaultAssociation` (errors, if any, in the same 200);
  `batch/read` (`{inputs: [{id, after?}]}`, <= 1000) -> 200, 207 for missing records;
  `batch/archive` (`{inputs: [{from: {id}, to: [{id}]}]}`) -> 204;
  `batch/labels/archive` (`{inputs: [{from, to, types}]}`) -> 204.

Record ids are JSON strings everywhere (`fromObjectId`, `toObjectId`), as the SDK's
models declare them. Adding or removing an association fires `associationChange` on
both sides.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.catalog import (
    ASSOCIATION_TYPE_IDS,
    OBJECT_TYPES,
    PAIR_OF_TYPE_ID,
    label_of,
)
from engine.sandbox.hubspot.errors import (
    not_found,
    read_json,
    standard_error,
    validation,
)
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.objects import after_param, limit_param
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.hubspot.store import ObjectStore, Pair

__all__ = ["AssociationsApi"]

_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


class AssociationsApi:
    """The v4 routes."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def routes(self, gate: Gate) -> list[BaseRoute]:
        api = gate.api
        one = "/crm/v4/objects/{fromType}/{fromId}/associations"
        batch = "/crm/v4/associations/{fromType}/{toType}/batch"
        return [
            Route(one + "/default/{toType}/{toId}", api(self.put_default), methods=["PUT"]),
            Route(one + "/{toType}/{toId}", api(self.put), methods=["PUT"]),
            Route(one + "/{toType}/{toId}", api(self.delete), methods=["DELETE"]),
            Route(one + "/{toType}", api(self.list), methods=["GET"]),
            Route(batch + "/create", api(self.batch_create), methods=["POST"]),
            Route(batch + "/associate/default", api(self.batch_default), methods=["POST"]),
            Route(batch + "/read", api(self.batch_read), methods=["POST"]),
            Route(batch + "/archive", api(self.batch_archive), methods=["POST"]),
            Route(batch + "/labels/archive", api(self.batch_archive_labels),
                  methods=["POST"]),
        ]

    # ------------------------------------------------------------------ answers

    def _now(self) -> str:
        return iso_ms(self.records.clock.now())

    def _labels(self, a: Pair, b: Pair) -> dict[str, Any]:
        """`LabelsBetweenObjectPair`."""
        type_ids = self.records.associations.of(*a).get(b, set())
        return {"fromObjectTypeId": OBJECT_TYPES[a[0]].type_id, "fromObjectId": a[1],
                "toObjectTypeId": OBJECT_TYPES[b[0]].type_id, "toObjectId": b[1],
                "labels": sorted(label for t in type_ids if (label := label_of(t)))}

    @staticmethod
    def _default(a: Pair, b: Pair) -> dict[str, Any]:
        """`PublicDefaultAssociation`."""
        return {"from": {"id": a[1]}, "to": {"id": b[1]}, "associationSpec": {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": ASSOCIATION_TYPE_IDS[(a[0], b[0])]}}

    def _rows(self, a: Pair, to_type: str) -> list[dict[str, Any]]:
        """`MultiAssociatedObjectWithLabel` per associated record of `to_type`."""
        rows = []
        for (other_type, other_id), type_ids in sorted(self.records.associations.of(*a)
                                                       .items()):
            if other_type != to_type:
                continue
            rows.append({"toObjectId": other_id, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": label_of(t)}
                for t in sorted(type_ids)]})
        return rows

    def _batch_answer(self, results: list[Any], errors: list[Any], started: str, *,
                      status: int, partial: int | None = 207) -> Response:
        out: dict[str, Any] = {"status": "COMPLETE", "results": results,
                               "startedAt": started, "completedAt": self._now()}
        if errors:
            out["numErrors"], out["errors"] = len(errors), errors
        return JSONResponse(out, status_code=partial if errors and partial else status)

    # ------------------------------------------------------------------ helpers

    def _ref(self, type_name: str, object_id: str) -> tuple[ObjectStore, Pair]:
        store = self.records.object_store(type_name)
        if store.collection.get(str(object_id)) is None:
            raise not_found(str(object_id), store.type.name)
        return store, (store.type.name, str(object_id))

    @staticmethod
    def _type_specs(a: str, b: str, specs: Any) -> list[int]:
        if not isinstance(specs, list) or not specs:
            raise validation("expected a list of {associationCategory, associationTypeId}")
        type_ids = []
        for spec in specs:
            try:
                type_id = int(spec["associationTypeId"])
                category = str(spec["associationCategory"])
            except (KeyError, TypeError, ValueError):
                raise validation("each type needs associationCategory and "
                                 "associationTypeId") from None
            if category not in _CATEGORIES:
                raise validation(f"unknown associationCategory {category!r}")
            if PAIR_OF_TYPE_ID.get(type_id) != (a, b):
                raise validation(f"association type {type_id} does not go from {a} to {b}",
                                 code="INVALID_ASSOCIATION_TYPE")
            type_ids.append(type_id)
        return type_ids

    async def _inputs(self, request: Request, limit: int = 100) -> list[Any]:
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise validation("expected {\"inputs\": [...]}")
        if len(inputs) > limit:
            raise validation(f"Batch input limit exceeded: {len(inputs)} inputs.",
                             code="BATCH_LIMIT_EXCEEDED")
        return inputs

    def _types(self, request: Request) -> tuple[str, str]:
        p = request.path_params
        return (self.records.object_store(p["fromType"]).type.name,
                self.records.object_store(p["toType"]).type.name)

    @staticmethod
    def _id(node: Any, what: str) -> str:
        if not isinstance(node, dict) or node.get("id") in (None, ""):
            raise validation(f"each input needs {what}.id")
        return str(node["id"])

    def _missing(self, kind: str, object_id: str) -> dict[str, Any] | None:
        if self.records.stores[kind].collection.get(object_id) is None:
            return standard_error(f"{kind} {object_id} does not exist", "OBJECT_NOT_FOUND",
                                  {"ids": [object_id]})
        return None

    # ------------------------------------------------------------------ one record

    async def put_default(self, request: Request) -> Response:
        p = request.path_params
        _, a = self._ref(p["fromType"], p["fromId"])
        _, b = self._ref(p["toType"], p["toId"])
        started = self._now()
        self.records.associate(a, b, [ASSOCIATION_TYPE_IDS[(a[0], b[0])]])
        return self._batch_answer([self._default(a, b), self._default(b, a)], [], started,
                                  status=200)

    async def put(self, request: Request) -> Response:
        p = request.path_params
        _, a = self._ref(p["fromType"], p["fromId"])
        _, b = self._ref(p["toType"], p["toId"])
        type_ids = self._type_specs(a[0], b[0], await read_json(request))
        self.records.associate(a, b, type_ids)
        return JSONResponse(self._labels(a, b), status_code=201)

    async def delete(self, request: Request) -> Response:
        p = request.path_params
        _, a = self._ref(p["fromType"], p["fromId"])
        b = (self.records.object_store(p["toType"]).type.name, str(p["toId"]))
        self.records.dissociate(a, b)
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        p = request.path_params
        _, a = self._ref(p["fromType"], p["fromId"])
        rows = self._rows(a, self.records.object_store(p["toType"]).type.name)
        limit = limit_param(request.query_params.get("limit"), 500, 500)
        after = after_param(request.query_params.get("after"))
        body: dict[str, Any] = {"results": rows[after:after + limit]}
        if after + limit < len(rows):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(body)

    # ------------------------------------------------------------------ batches

    async def batch_create(self, request: Request) -> Response:
        a_type, b_type = self._types(request)
        inputs = await self._inputs(request)
        started = self._now()
        results, errors = [], []
        for item in inputs:
            a = (a_type, self._id(item.get("from"), "from"))
            b = (b_type, self._id(item.get("to"), "to"))
            type_ids = self._type_specs(a_type, b_type, item.get("types"))
            error = self._missing(a_type, a[1]) or self._missing(b_type, b[1])
            if error is not None:
                errors.append(error)
                continue
            self.records.associate(a, b, type_ids)
            results.append(self._labels(a, b))
        return self._batch_answer(results, errors, started, status=201)

    async def batch_default(self, request: Request) -> Response:
        a_type, b_type = self._types(request)
        inputs = await self._inputs(request)
        started = self._now()
        results, errors = [], []
        for item in inputs:
            a = (a_type, self._id(item.get("from"), "from"))
            b = (b_type, self._id(item.get("to"), "to"))
            error = self._missing(a_type, a[1]) or self._missing(b_type, b[1])
            if error is not None:
                errors.append(error)
                continue
            self.records.associate(a, b, [ASSOCIATION_TYPE_IDS[(a_type, b_type)]])
            results.append(self._default(a, b))
        # The SDK documents only 200 here: errors travel in the same answer.
        return self._batch_answer(results, errors, started, status=200, partial=None)

    async def batch_read(self, request: Request) -> Response:
        a_type, b_type = self._types(request)
        inputs = await self._inputs(request, limit=1000)
        started = self._now()
        results, errors = [], []
        for item in inputs:
            from_id = self._id(item, "inputs[]")
            error = self._missing(a_type, from_id)
            if error is not None:
                errors.append(error)
                continue
            rows = self._rows((a_type, from_id), b_type)
            if rows:
                results.append({"from": {"id": from_id}, "to": rows})
        return self._batch_answer(results, errors, started, status=200)

    async def batch_archive(self, request: Request) -> Response:
        a_type, b_type = self._types(request)
        for item in await self._inputs(request):
            a = (a_type, self._id(item.get("from"), "from"))
            targets = item.get("to")
            if not isinstance(targets, list):
                raise validation("each input needs to: a list of {id}")
            for target in targets:
                self.records.dissociate(a, (b_type, self._id(target, "to[]")))
        return Response(status_code=204)

    async def batch_archive_labels(self, request: Request) -> Response:
        a_type, b_type = self._types(request)
        associations = self.records.associations
        for item in await self._inputs(request):
            a = (a_type, self._id(item.get("from"), "from"))
            b = (b_type, self._id(item.get("to"), "to"))
            type_ids = set(self._type_specs(a_type, b_type, item.get("types")))
            left = associations.of(*a).get(b, set()) - type_ids
            if not left:
                self.records.dissociate(a, b)
            elif type_ids & associations.of(*a).get(b, set()):
                associations.remove(a, b)
                associations.add(a, b, sorted(left))
        return Response(status_code=204)

