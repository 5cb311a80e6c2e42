"""HubSpot CRM (v3 objects, v4 associations) for a private app.

The contract is HubSpot's official SDK, `hubspot-api-client` 12 (its API classes name
every path and verb, its models are generated from HubSpot's OpenAPI documents;
tests/contracts/hubspot/routes.json lists them). Each fact this adapter relies on, and
where it comes from ("unconfirmed" where neither the SDK nor HubSpot's guides say it):

- Auth: a private-app token as `Authorization: Bearer` (`auth_settings = ["oauth2"]` in
  every CRM API class: a bearer token). It does not expire, so a 401 is a configuration
  problem (FatalError), not a refresh signal. Rate limit 190 requests per 10 s per
  portal for private apps, and the `X-HubSpot-RateLimit-*` headers the budget learns
  from: HubSpot's API usage guidelines, not the SDK (`config.rate_limit` overrides).
- Records: `SimplePublicObject {id, properties: dict[str, str], createdAt, updatedAt,
  archived, propertiesWithHistory}` (hubspot.crm.objects models): every property value
  a string or null. The adapter flattens properties beside `id` and converts them to
  the catalog's types (and back with `engine.values.to_wire_text`).
- Object types: the standard names in paths (`hubspot.crm.companies`, `.deals`,
  `.products`, `.line_items`, `.commerce.invoices`: `/crm/v3/objects/<name>`); anything
  else through the generic `hubspot.crm.objects` routes (`/crm/v3/objects/{objectType}`).
  Projects are object type `0-970` [unconfirmed: the SDK has no projects module; override
  with `options.projects_object_type`, probed by `check()`]. Agreements are a custom
  object: `options.agreements_object_type`, else looked up once with
  `hubspot.crm.schemas CoreApi.get_all` (`GET /crm-object-schemas/v3/schemas` ->
  `CollectionResponseObjectSchemaNoPaging`, `ObjectSchema.objectTypeId`,
  `fullyQualifiedName`, `name`).
- Full reads: `BasicApi.get_page` (`GET /crm/v3/objects/<type>`, query `limit` (100),
  `after`, `properties` repeated as the SDK sends it (collection format `multi`)) ->
  `CollectionResponseSimplePublicObjectWithAssociationsForwardPaging`, next page at
  `paging.next.after` (`ForwardPaging.next: NextPage`).
- Get by id: `BasicApi.get_by_id` -> `SimplePublicObjectWithAssociations`; 404 means
  absent.
- Changed-since reads: `SearchApi.do_search` (`POST .../search`,
  `PublicObjectSearchRequest {filterGroups: [{filters: [Filter {propertyName, operator:
  GTE, value: str}]}], sorts, properties, limit, after: str}`) ->
  `CollectionResponseWithTotalSimplePublicObjectForwardPaging {total}`, on the cursor
  property (`hs_lastmodifieddate`) ascending. `sorts` is sent in the form HubSpot's CRM
  search guide documents, `[{propertyName, direction}]` (the SDK types it `list[str]`,
  hubspot-api-python#236). A search never returns more than 10,000 results (the search
  guide, not the SDK), so before a window fills the read restarts at the last timestamp
  it saw, skipping the records at that instant it already yielded. `limit` is 200, the
  guide's maximum (the SDK sets none); `options.search_window` lowers the window.
- `find_external` by a unique property: `BatchApi.read` (`POST .../batch/read`,
  `BatchReadInputSimplePublicObjectId {idProperty, properties, propertiesWithHistory
  (required by the SDK: sent empty), inputs: [{id}]}`, <= 100 inputs) -> 200
  `BatchResponseSimplePublicObject` or 207 `...WithErrors` for ids not found. By a
  property that is not unique: a search with `Filter.operator` IN and `values`.
- Writes (see `writes`): `BatchApi.update`, `.upsert`, `.create` (<= 100 inputs), 207
  per-input errors as `StandardError.context` `ids` / `objectWriteTraceId`; then v4
  associations (`hubspot.crm.associations.v4 BatchApi.create` / `.create_default`).
- Properties: `hubspot.crm.properties CoreApi.get_all` (read once per object,
  `Property.hasUniqueValue`, `groupName`, `hubspotDefined`); a property a write needs
  that the portal lacks (e.g. `kleer_client_id`) is made with `CoreApi.create`
  (`PropertyCreate {name, label, type, fieldType, groupName, hasUniqueValue,
  description}`), unique when it is one of the catalog's external id fields; a 409
  (made meanwhile) is read back with `CoreApi.get_by_name`.
- Workflow actions: a BLOCKed execution is completed with `CallbacksApi.complete`
  (`POST /automation/v4/actions/callbacks/{callbackId}/complete`,
  `CallbackCompletionRequest {outputFields: dict[str, str]}`) through this adapter's
  session (`complete_action`), so it has the session's retries, rate budget and
  redaction (see `actions`).
- Webhook events and signatures: see `webhooks` and `signatures`.

`check()` authenticates, then probes what the SDK does not confirm on the live portal:
that the projects object type answers, and that the agreements custom object exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from engine.adapters.base import (
    AdapterContext,
    CheckResult,
    ConnectionConfig,
    Record,
    WriteOp,
)
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession
from engine.adapters.hubspot.writes import BATCH_LIMIT, DEFAULT_ASSOCIATION_TYPES, Writes
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError
from engine.values import coerce

__all__ = [
    "DEFAULT_ASSOCIATION_TYPES",
    "HubSpotAdapter",
]

DEFAULT_RATE_LIMIT = (190, 10.0)
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_WINDOW = 10_000

Sleep = Callable[[float], Awaitable[object]]

# Catalog object -> the objectType HubSpot's paths take (agreements are looked up);
# `options.<object>_object_type` overrides any of them.
_OBJECT_TYPES = {"companies": "companies", "deals": "deals", "products": "products",
                 "line_items": "line_items", "invoices": "invoices", "projects": "0-970"}
_SCHEMAS = "/crm-object-schemas/v3/schemas"

# Catalog type -> (HubSpot property type, fieldType) for properties the adapter creates.
_PROPERTY_TYPES = {"string": ("string", "text"), "integer": ("number", "number"),
                   "number": ("number", "number"), "date": ("date", "date"),
                   "datetime": ("datetime", "date"), "boolean": ("bool", "booleancheckbox")}

def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.hubspot import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class HubSpotAdapter(Writes):
    """The HubSpot system; see the module docstring. One instance per connection."""

    name = "hubspot"

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient,
                 context: AdapterContext, *, retry: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.context = context
        token = config.auth.get("token")
        if not token:
            raise FatalError(f"hubspot connection {config.name!r}: auth needs a private "
                             "app token")
        self._token = token
        context.redactor.add(token)
        catalog = _catalog()
        assert catalog is not None
        self._catalog = catalog
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        self.session = HttpSession(
            client, name="hubspot",
            budget=context.budgets.for_credential(f"hubspot:{token}", limit, per),
            retry=retry or RetryPolicy(), redactor=context.redactor, auth=self._authorize,
            sleep=sleep)
        self._types: dict[str, str] = {}
        self._properties: dict[str, dict[str, dict[str, Any]]] = {}
        self._totals: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"HubSpotAdapter({self.config.name!r})"

    async def _authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token}"
        request.headers["Accept"] = "application/json"

    # ------------------------------------------------------------------ protocol

    def describe(self) -> Catalog:
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self._catalog.objects.get(obj)
        if info is None:
            raise FatalError(f"hubspot has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self._catalog.objects))}")
        return info

    async def check(self) -> CheckResult:
        """Authenticate, then probe the object types the SDK does not confirm."""
        try:
            await self.session.request("GET", "/crm/v3/objects/companies",
                                       params={"limit": 1, "properties": ["name"]})
        except FatalError as exc:
            if exc.status == 401:
                return CheckResult(False, "HubSpot refused the private app token (401): "
                                          "check the token in the connection's auth.")
            if exc.status == 403:
                return CheckResult(False, "HubSpot accepted the token but it lacks a scope "
                                          f"(403): {exc.vendor_reason}")
            return CheckResult(False, f"HubSpot refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"HubSpot is unreachable: {type(exc).__name__}: "
                                      f"{self.context.redactor.text(str(exc))}")
        notes = [await self._probe("projects"), await self._probe("agreements")]
        return CheckResult(True, "Authenticated with HubSpot; companies are readable. "
                           + " ".join(notes))

    async def _probe(self, obj: str) -> str:
        """One sentence on whether `obj`'s object type answers on this portal."""
        name = obj.capitalize()
        try:
            object_type = await self._type(obj)
        except FatalError as exc:
            if exc.status is not None:
                return (f"{name}: HubSpot refused to list custom object schemas "
                        f"({exc.status}): {exc.vendor_reason}")
            return (f"{name}: the portal has no custom object {obj!r}; create it (POST "
                    f"{_SCHEMAS}) or set options.{obj}_object_type before syncing {obj}.")
        except Exception as exc:  # a probe reports; it never raises
            return (f"{name}: not checked ({type(exc).__name__}: "
                    f"{self.context.redactor.text(str(exc))}).")
        try:
            await self.session.request("GET", f"/crm/v3/objects/{object_type}",
                                       params={"limit": 1})
        except FatalError as exc:
            if exc.status == 403:
                return (f"{name} ({object_type}): the token lacks the scope to read them "
                        f"(403); syncs of {obj} fail until it has it.")
            return (f"{name}: HubSpot does not know object type {object_type!r} "
                    f"({exc.status}); set options.{obj}_object_type to the portal's, or "
                    f"leave {obj} out of the spec.")
        except Exception as exc:  # a probe reports; it never raises
            return (f"{name}: not checked ({type(exc).__name__}: "
                    f"{self.context.redactor.text(str(exc))}).")
        return f"{name} ({object_type}): readable."

    def total(self, obj: str) -> int | None:
        """HubSpot's search `total` from the last changed-since read of `obj`."""
        return self._totals.get(obj)

    def max_batch(self, obj: str) -> int:
        return BATCH_LIMIT

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    async def complete_action(self, callback_id: str, body: Mapping[str, Any]) -> None:
        """Complete a BLOCKed workflow-action execution (automation v4 callbacks API).

        Through the session: retried on 429/5xx within the rate budget; completing twice
        is harmless, so the POST counts as idempotent.
        """
        await self.session.request(
            "POST", f"/automation/v4/actions/callbacks/{quote(callback_id, safe='')}"
            "/complete", json=dict(body), idempotent=True)

    # ------------------------------------------------------------------ metadata

    async def _type(self, obj: str) -> str:
        """The objectType for `obj`'s paths: configured, standard, or (custom objects)
        looked up once in the portal's schemas."""
        if obj in self._types:
            return self._types[obj]
        configured = self.config.options.get(f"{obj}_object_type")
        if configured:
            self._types[obj] = str(configured)
            return self._types[obj]
        if obj in _OBJECT_TYPES:
            return _OBJECT_TYPES[obj]
        async with self._lock:
            if obj not in self._types:
                response = await self.session.request("GET", _SCHEMAS)
                for schema in response.json().get("results") or []:
                    fqn = str(schema.get("fullyQualifiedName") or "")
                    if schema.get("name") == obj or fqn.endswith(f"_{obj}"):
                        self._types[obj] = str(schema.get("objectTypeId") or fqn)
                        break
                else:
                    raise FatalError(
                        f"hubspot: the portal has no custom object {obj!r}; create it "
                        f"(POST {_SCHEMAS}) or set options.{obj}_object_type")
        return self._types[obj]

    async def _property_map(self, obj: str) -> dict[str, dict[str, Any]]:
        """The portal's property definitions for `obj`, read once per adapter."""
        if obj not in self._properties:
            response = await self.session.request(
                "GET", f"/crm/v3/properties/{await self._type(obj)}")
            self._properties[obj] = {p["name"]: dict(p) for p in response.json().get("results")
                                     or [] if isinstance(p, Mapping) and "name" in p}
        return self._properties[obj]

    async def _is_unique(self, obj: str, name: str) -> bool:
        return bool((await self._property_map(obj)).get(name, {}).get("hasUniqueValue"))

    async def _ensure_properties(self, obj: str, info: ObjectInfo,
                                 ops: Sequence[WriteOp]) -> None:
        """Create the catalog properties a write needs that the portal lacks."""
        known = await self._property_map(obj)
        needed: set[str] = set()
        for op in ops:
            needed.update(n for n in op.payload if "." not in n and n != "associations")
            if op.external_field:
                needed.add(op.external_field)
        missing = sorted(n for n in needed if n not in known and n in info.fields
                         and info.fields[n].type in _PROPERTY_TYPES
                         and not info.fields[n].read_only)
        for name in missing:
            await self._create_property(obj, info, name, known)

    async def _create_property(self, obj: str, info: ObjectInfo, name: str,
                               known: dict[str, dict[str, Any]]) -> None:
        kind, field_type = _PROPERTY_TYPES[info.fields[name].type]
        groups = [p.get("groupName") for p in known.values() if not p.get("hubspotDefined")]
        groups = [g for g in groups if g] or [p.get("groupName") for p in known.values()
                                              if p.get("groupName")]
        body = {"name": name, "label": info.fields[name].label or name.replace("_", " "),
                "type": kind, "fieldType": field_type,
                "groupName": self.config.options.get("property_group")
                or (groups[0] if groups else f"{obj}information"),
                "hasUniqueValue": name in info.external_id_fields,
                "description": "Created by specsync"}
        path = f"/crm/v3/properties/{await self._type(obj)}"
        response = await self.session.request("POST", path, json=body, idempotent=True,
                                              expected=(409,))
        if response.status_code == 409:  # created meanwhile by someone else
            response = await self.session.request("GET", f"{path}/{name}")
        known[name] = response.json()

    def _read_properties(self, info: ObjectInfo) -> list[str]:
        return [p for p in info.readable(nested=False)
                if p != info.id_field and info.fields[p].type not in ("object", "list")]

    def _record(self, info: ObjectInfo, raw: Mapping[str, Any]) -> Record:
        props = raw.get("properties") or {}
        record: Record = {info.id_field: str(raw["id"])}
        for name in self._read_properties(info):
            record[name] = coerce(props.get(name), info.fields[name].type)
        return record

    # ------------------------------------------------------------------ reads

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if cursor_field is not None and cursor_field not in info.cursor_fields:
            raise FatalError(f"hubspot {obj} cannot be read changed-since on "
                             f"{cursor_field!r}; cursor fields: "
                             f"{', '.join(info.cursor_fields) or 'none'}")
        if since is not None:
            if not info.cursor_fields:
                raise FatalError(f"hubspot {obj} has no cursor field to read changes by")
            return self._read_changed(obj, info, since, cursor_field or info.cursor_fields[0])
        return self._read_all(obj, info)

    async def _read_all(self, obj: str, info: ObjectInfo) -> AsyncIterator[Record]:
        path = f"/crm/v3/objects/{await self._type(obj)}"
        params: dict[str, Any] = {"limit": LIST_LIMIT,
                                  "properties": self._read_properties(info)}
        while True:
            data = (await self.session.request("GET", path, params=params)).json()
            for raw in data.get("results") or []:
                yield self._record(info, raw)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params["after"] = after

    async def _search(self, obj: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.session.request(
            "POST", f"/crm/v3/objects/{await self._type(obj)}/search", json=body,
            idempotent=True)
        data: dict[str, Any] = response.json()
        return data

    def _window(self) -> int:
        return int(self.config.options.get("search_window", SEARCH_WINDOW))

    async def _read_changed(self, obj: str, info: ObjectInfo, since: datetime,
                            field: str) -> AsyncIterator[Record]:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        floor = int(since.timestamp() * 1000)
        seen_at_floor: set[str] = set()
        limit = min(SEARCH_LIMIT, self._window())
        properties = self._read_properties(info)
        first_total: int | None = None
        while True:
            after = 0
            consumed = 0
            progressed = False
            last_ms: int | None = None
            ids_at_last: set[str] = set()
            truncated = False
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": [{"propertyName": field, "operator": "GTE",
                                                   "value": str(floor)}]}],
                    "sorts": [{"propertyName": field, "direction": "ASCENDING"}],
                    "properties": properties, "limit": limit}
                if after:
                    body["after"] = str(after)
                data = await self._search(obj, body)
                results = data.get("results") or []
                total = int(data.get("total") or 0)
                if first_total is None:
                    first_total = total
                    self._totals[obj] = total
                for raw in results:
                    record = self._record(info, raw)
                    stamp = record.get(field)
                    moment = int(stamp.timestamp() * 1000) if isinstance(stamp, datetime) \
                        else None
                    if moment == floor and record[info.id_field] in seen_at_floor:
                        continue
                    if moment != last_ms:
                        last_ms, ids_at_last = moment, set()
                    ids_at_last.add(record[info.id_field])
                    progressed = True
                    yield record
                consumed += len(results)
                nxt = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not results or nxt is None:
                    truncated = consumed < total
                    break
                if int(nxt) + limit > self._window():
                    truncated = True  # the next page would pass the search window
                    break
                after = int(nxt)
            if not truncated:
                return
            if not progressed or last_ms is None:
                raise FatalError(
                    f"hubspot {obj}: more than {self._window()} records changed at the same "
                    f"instant ({field} = {floor}); a search window cannot step past them")
            # Restart the window at the last instant seen; skip what was yielded there.
            if last_ms == floor:
                seen_at_floor |= ids_at_last
            else:
                floor, seen_at_floor = last_ms, ids_at_last

    async def get(self, obj: str, target_id: str) -> Record | None:
        info = self._object(obj)
        response = await self.session.request(
            "GET", f"/crm/v3/objects/{await self._type(obj)}/{target_id}",
            params={"properties": self._read_properties(info)}, expected=(404,))
        if response.status_code == 404:
            return None
        return self._record(info, response.json())

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields and field_name != "hs_object_id":
            raise FatalError(f"hubspot {obj} cannot be looked up by {field_name!r}; external "
                             f"id fields: {', '.join(info.external_id_fields) or 'none'}")
        wanted = sorted({str(v) for v in values if v not in (None, "")})
        found: dict[str, Record] = {}
        properties = self._read_properties(info)
        object_type = await self._type(obj)
        unique = await self._is_unique(obj, field_name)
        for start in range(0, len(wanted), BATCH_LIMIT):
            chunk = wanted[start:start + BATCH_LIMIT]
            if unique:
                # The exact look-up HubSpot has: one call per 100 values.
                response = await self.session.request(
                    "POST", f"/crm/v3/objects/{object_type}/batch/read", idempotent=True,
                    json={"idProperty": field_name, "properties": properties,
                          "propertiesWithHistory": [],
                          "inputs": [{"id": v} for v in chunk]})
                raws = response.json().get("results") or []
            else:
                raws = [raw async for raw in self._search_in(obj, field_name, chunk,
                                                             properties)]
            for raw in raws:
                record = self._record(info, raw)
                key = (raw.get("properties") or {}).get(field_name)
                if key is not None and str(key) in chunk:
                    found.setdefault(str(key), record)
        return found

    async def _search_in(self, obj: str, field_name: str, values: list[str],
                         properties: list[str]) -> AsyncIterator[dict[str, Any]]:
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": field_name, "operator": "IN",
                                               "values": values}]}],
                "properties": [*properties, field_name], "limit": SEARCH_LIMIT}
            if after:
                body["after"] = after
            data = await self._search(obj, body)
            for raw in data.get("results") or []:
                yield raw
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
