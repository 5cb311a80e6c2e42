"""CRM objects v3, one record at a time (the SDK's `BasicApi` of `hubspot.crm.objects` and
of each standard object's module).

- `GET /crm/v3/objects/{objectType}`: pages with `limit` (<= 100) and the `after` cursor
  (`paging.next.after` + `link`, none on the last page), `properties`,
  `propertiesWithHistory`, `associations`, `archived` ->
  `CollectionResponseSimplePublicObjectWithAssociationsForwardPaging`. List cursors are
  offsets [assumed: HubSpot's are opaque], so records created while paging can shift a
  page.
- `GET .../{objectId}` (`idProperty` for a unique property) ->
  `SimplePublicObjectWithAssociations`; `POST` -> 201 `SimplePublicObject`; `PATCH`
  -> `SimplePublicObject`; `DELETE` archives -> 204 (also for an unknown id).
- `POST /crm/v3/objects/{companies|contacts|deals}/merge` (`PublicMergeInput`) -> the
  surviving `SimplePublicObject`; fires a `merge` event.
- `POST /crm/v3/objects/contacts/gdpr-delete` (`PublicGdprDeleteInput`) -> 204; the contact
  is gone for good and a `contact.privacyDeletion` event fires.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.catalog import OBJECT_TYPES
from engine.sandbox.hubspot.errors import read_json, validation
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.records import Records

__all__ = ["Objects", "after_param", "limit_param", "requested"]

_OBJECTS = "/crm/v3/objects/{objectType}"


def requested(request: Request, key: str) -> list[str] | None:
    """A list query parameter, repeated (`multi`, as the SDK sends it) or comma-joined."""
    values = request.query_params.getlist(key)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return names or None


def limit_param(raw: Any, default: int, maximum: int) -> int:
    try:
        limit = default if raw in (None, "") else int(str(raw))
    except ValueError:
        raise validation(f"limit {raw!r} is not a whole number") from None
    if limit < 1 or limit > maximum:
        raise validation(f"limit must be between 1 and {maximum}, got {limit}")
    return limit


def after_param(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    try:
        after = int(str(raw))
    except ValueError:
        raise validation(f"after {raw!r} is not a valid paging cursor") from None
    if after < 0:
        raise validation(f"after {raw!r} is not a valid paging cursor")
    return after


class Objects:
    """The basic object routes."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def routes(self, gate: Gate) -> list[BaseRoute]:
        api = gate.api
        merges = [Route(f"/crm/v3/objects/{o.name}/merge", api(self.merge), methods=["POST"])
                  for o in OBJECT_TYPES.values() if o.mergeable]
        return [
            *merges,
            Route("/crm/v3/objects/contacts/gdpr-delete", api(self.gdpr_delete),
                  methods=["POST"]),
            Route(_OBJECTS, api(self.list), methods=["GET"]),
            Route(_OBJECTS, api(self.create), methods=["POST"]),
            Route(_OBJECTS + "/{objectId}", api(self.get), methods=["GET"]),
            Route(_OBJECTS + "/{objectId}", api(self.patch), methods=["PATCH"]),
            Route(_OBJECTS + "/{objectId}", api(self.delete), methods=["DELETE"]),
        ]

    async def list(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        q = request.query_params
        limit = limit_param(q.get("limit"), 10, 100)
        after = after_param(q.get("after"))
        if q.get("archived", "false").lower() == "true":
            archived = list(store.archived.values())
            records = archived[after:after + limit]
            more = after + limit < len(archived)
        else:
            records = store.collection.page(after, limit + 1)
            more = len(records) > limit
            records = records[:limit]
        props, assocs = requested(request, "properties"), requested(request, "associations")
        history = requested(request, "propertiesWithHistory")
        body: dict[str, Any] = {"results": [self.records.render(store, r, props, assocs,
                                                                history) for r in records]}
        if more:
            nxt = str(after + limit)
            body["paging"] = {"next": {"after": nxt, "link": str(
                request.url.include_query_params(after=nxt))}}
        return JSONResponse(body)

    async def get(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        object_id = request.path_params["objectId"]
        q = request.query_params
        if q.get("archived", "false").lower() == "true":
            record = store.archived.get(object_id)
            if record is None:
                record = self.records.existing(store, object_id)  # 404 in HubSpot's words
        else:
            record = self.records.existing(store, object_id, q.get("idProperty"))
        return JSONResponse(self.records.render(
            store, record, requested(request, "properties"),
            requested(request, "associations"), requested(request, "propertiesWithHistory")))

    async def create(self, request: Request) -> Response:
        """`SimplePublicObjectInputForCreate {properties, associations}`."""
        store = self.records.object_store(request.path_params["objectType"])
        body = await read_json(request)
        if not isinstance(body, dict):
            raise validation("expected {properties, associations}")
        record = self.records.create(store, body.get("properties"), body.get("associations"))
        return JSONResponse(self.records.written(store, record), status_code=201)

    async def patch(self, request: Request) -> Response:
        """`SimplePublicObjectInput {properties}`."""
        store = self.records.object_store(request.path_params["objectType"])
        record = self.records.existing(store, request.path_params["objectId"],
                                       request.query_params.get("idProperty"))
        body = await read_json(request)
        if not isinstance(body, dict):
            raise validation("expected {properties}")
        updated = self.records.update(store, record, body.get("properties"))
        return JSONResponse(self.records.written(store, updated))

    async def delete(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        record = store.find(request.path_params["objectId"])
        if record is not None:
            self.records.archive(store, record)
        return Response(status_code=204)  # HubSpot answers 204 for unknown ids too

    async def merge(self, request: Request) -> Response:
        """`PublicMergeInput {primaryObjectId, objectIdToMerge}` -> the survivor."""
        store = self.records.object_store(request.url.path.split("/")[4])
        body = await read_json(request)
        if not isinstance(body, dict) or not body.get("primaryObjectId") or \
                not body.get("objectIdToMerge"):
            raise validation("expected {primaryObjectId, objectIdToMerge}")
        primary = self.records.existing(store, str(body["primaryObjectId"]))
        merged = self.records.existing(store, str(body["objectIdToMerge"]))
        survivor = self.records.merge(store, primary, merged)
        return JSONResponse(self.records.written(store, survivor))

    async def gdpr_delete(self, request: Request) -> Response:
        """`PublicGdprDeleteInput {objectId, idProperty}` (contacts only)."""
        store = self.records.object_store("contacts")
        body = await read_json(request)
        if not isinstance(body, dict) or not body.get("objectId"):
            raise validation("expected {objectId, idProperty?}")
        record = self.records.existing(store, str(body["objectId"]), body.get("idProperty"))
        self.records.purge(store, record)
        return Response(status_code=204)
