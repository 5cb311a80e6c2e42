"""What the portal knows about its objects: properties, custom object schemas, pipelines.

- `GET /crm/v3/properties/{objectType}` -> `CollectionResponsePropertyNoPaging`;
  `POST` (`PropertyCreate {name, label, type, fieldType, groupName, hasUniqueValue,
  options, ...}`) -> 201 `Property`, 409 `OBJECT_ALREADY_EXISTS` for a taken name;
  `GET .../{propertyName}` -> `Property` (the SDK's `hubspot.crm.properties` CoreApi).
- `GET /crm-object-schemas/v3/schemas` -> `CollectionResponseObjectSchemaNoPaging`;
  `GET .../{objectType}` -> `ObjectSchema` (`hubspot.crm.schemas` CoreApi): the one
  custom object, agreements (`p{portalId}_agreements`, `2-7000001`).
- `GET /crm/v3/pipelines/{objectType}` -> `CollectionResponsePipelineNoPaging`: deals have
  the default sales pipeline; other types have none here.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot import seed
from engine.sandbox.hubspot.catalog import (
    ASSOCIATION_TYPE_IDS,
    CUSTOM_AGREEMENTS_ID,
    OBJECT_TYPES,
)
from engine.sandbox.hubspot.errors import HubSpotError, read_json, validation
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.seed import iso_ms

__all__ = ["Metadata"]

_PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
_SINCE = "2020-01-01T00:00:00.000Z"


class Metadata:
    """The properties, schemas and pipelines routes."""

    def __init__(self, records: Records, portal_id: int) -> None:
        self.records = records
        self.portal_id = portal_id

    def routes(self, gate: Gate) -> list[BaseRoute]:
        api = gate.api
        schemas = "/crm-object-schemas/v3/schemas"
        return [
            Route("/crm/v3/properties/{objectType}", api(self.properties),
                  methods=["GET", "POST"]),
            Route("/crm/v3/properties/{objectType}/{propertyName}", api(self.property),
                  methods=["GET"]),
            Route(schemas, api(self.schemas), methods=["GET"]),
            Route(schemas + "/{objectType}", api(self.schema), methods=["GET"]),
            Route("/crm/v3/pipelines/{objectType}", api(self.pipelines), methods=["GET"]),
        ]

    async def properties(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        if request.method == "GET":
            return JSONResponse({"results": list(store.properties.values())})
        body = await read_json(request)
        if not isinstance(body, dict):
            raise validation("expected a property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not body.get(k)]
        if missing:
            raise validation(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise validation(f"Property name {name!r} must be lowercase letters, digits "
                             "and underscores, starting with a letter", name=name)
        if name in store.properties:
            raise HubSpotError(409, f"Property named '{name}' already exists.",
                               "OBJECT_ALREADY_EXISTS", context={"name": [name]})
        kind = str(body["type"])
        if kind not in _PROPERTY_TYPES:
            raise validation(f"Unknown property type {kind!r}", name=name)
        now = iso_ms(self.records.clock.now())
        options = [{"label": str(o.get("label", o.get("value"))), "value": str(o["value"]),
                    "displayOrder": int(o.get("displayOrder", i)),
                    "hidden": bool(o.get("hidden", False))}
                   for i, o in enumerate(body.get("options") or [])]
        prop = {
            "name": name, "label": str(body["label"]), "type": kind,
            "fieldType": str(body["fieldType"]),
            "description": str(body.get("description", "")),
            "groupName": str(body["groupName"]), "options": options,
            "displayOrder": int(body.get("displayOrder", -1)), "calculated": False,
            "externalOptions": False, "hasUniqueValue": bool(body.get("hasUniqueValue")),
            "hidden": bool(body.get("hidden", False)), "hubspotDefined": False,
            "formField": bool(body.get("formField", False)),
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False,
                                     "readOnlyValue": False},
            "createdAt": now, "updatedAt": now, "archived": False,
        }
        store.properties[name] = prop
        return JSONResponse(prop, status_code=201)

    async def property(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        name = request.path_params["propertyName"]
        prop = store.properties.get(name)
        if prop is None:
            raise HubSpotError(404, f"Unable to find property {name} for {store.type.name}",
                               "OBJECT_NOT_FOUND", context={"name": [name]})
        return JSONResponse(prop)

    def _agreements(self) -> dict[str, Any]:
        store = self.records.stores["agreements"]
        return {
            "id": CUSTOM_AGREEMENTS_ID.split("-")[1], "name": "agreements",
            "objectTypeId": CUSTOM_AGREEMENTS_ID,
            "fullyQualifiedName": f"p{self.portal_id}_agreements",
            "labels": {"singular": "Agreement", "plural": "Agreements"},
            "primaryDisplayProperty": "name", "requiredProperties": ["name"],
            "searchableProperties": ["name", "kleer_agreement_id"],
            "secondaryDisplayProperties": ["kleer_agreement_id"],
            "properties": list(store.properties.values()),
            "associations": [{"fromObjectTypeId": CUSTOM_AGREEMENTS_ID,
                              "toObjectTypeId": OBJECT_TYPES[to].type_id,
                              "id": str(ASSOCIATION_TYPE_IDS[("agreements", to)]),
                              "name": f"agreement_to_{OBJECT_TYPES[to].singular}"}
                             for to in ("companies", "deals", "line_items")],
            "createdAt": _SINCE, "updatedAt": _SINCE, "archived": False,
        }

    async def schemas(self, request: Request) -> Response:
        return JSONResponse({"results": [self._agreements()]})

    async def schema(self, request: Request) -> Response:
        wanted = request.path_params["objectType"]
        try:
            store = self.records.object_store(wanted)
        except HubSpotError:
            store = None
        if store is None or store.type.name != "agreements":
            raise HubSpotError(404, f"Unable to find schema {wanted}", "OBJECT_NOT_FOUND")
        return JSONResponse(self._agreements())

    async def pipelines(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        if store.type.name != "deals":
            return JSONResponse({"results": []})
        stages = [{"id": s, "label": s.replace("to", " to ").title(), "displayOrder": i,
                   "metadata": {"probability": str(min(1.0, round(0.2 * (i + 1), 1)))
                                if s != "closedlost" else "0.0"},
                   "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                   "createdAt": _SINCE, "updatedAt": _SINCE, "archived": False}
                  for i, s in enumerate(seed.DEAL_STAGES)]
        return JSONResponse({"results": [{"id": "default", "label": "Sales Pipeline",
                                          "displayOrder": 0, "stages": stages,
                                          "createdAt": _SINCE, "updatedAt": _SINCE,
                                          "archived": False}]})
