"""HubSpot CRM (v3 objects, v4 associations) for a private app.

Facts this adapter is built on (apis.md section 2):

- Auth is a private-app token as `Authorization: Bearer`; it does not expire, so a 401
  is a configuration problem (FatalError), not a refresh signal. 190 requests per 10 s
  per portal by default (`config.rate_limit` overrides); the budget also learns the
  `X-HubSpot-RateLimit-*` headers.
- Records are `{id, properties}` with every property a string. The adapter flattens
  properties beside `id` and converts them to the catalog's types (and back with
  `engine.values.to_wire_text`). Reads ask for exactly the catalog's fields
  (`properties=`) and page with the `after` cursor (100 per page).
- Changed-since reads search on the cursor property (`hs_lastmodifieddate`) with GTE
  and an ascending sort. A search never returns more than 10,000 results, so before a
  window fills the read restarts at the last timestamp it saw, skipping the records
  at that instant it already yielded.
- Object types: standard names, projects as `0-970`, and agreements as a custom object
  whose type id comes from `options["agreements_object_type"]` or the schemas API.
- `find_external` is `batch/read` with `idProperty` when the property is unique, else
  a search with `IN`.
- Writes are batches of up to 100, chosen by what the op knows:
  - an update with a target id is `batch/update` by that id, never an upsert: the
    record may not hold the external value yet (a company a workflow enrolled before
    it had a `kleer_client_id`), and an upsert on that value would then create a
    second record or collide on another unique property. The external field goes in
    the properties (the op's key when the payload lacks it), so the record becomes
    findable by it from then on;
  - an update without a target id is `batch/update` with `idProperty` (it never
    creates);
  - a create is `batch/upsert` on the op's external field when that is a unique
    property (safe to retry: keyed), else `batch/create` (with an
    `objectWriteTraceId` per input, so a 207 names the failed ones).
  HubSpot refuses a whole upsert/update batch for one bad record (400/409); the
  adapter then bisects the batch, so the good records land and each bad one gets its
  own error in about log2(batch) extra calls. A 207 (missing ids, per-input errors)
  gives each op its own result.
- Custom properties a write needs (e.g. `kleer_client_id`) are created once through
  the properties API when missing, unique when they are the catalog's external id
  fields; the property list is read once per object and remembered.
- The write-only `associations` payload field (`{"companies": "<id>"}`) is written
  after the records exist through v4 batch associations, with the default type ids of
  apis.md 2.2 where known and HubSpot's "default" association otherwise.
- Webhook signature checks (v1, v2, v3) are pure helpers at the bottom, used by the
  webhook runner.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.adapters.base import (
    AdapterContext,
    CheckResult,
    ConnectionConfig,
    Record,
    WriteOp,
    WriteResult,
)
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession, vendor_reason
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RecordError
from engine.values import coerce, to_wire_text

__all__ = [
    "DEFAULT_ASSOCIATION_TYPES",
    "HubSpotAdapter",
]

DEFAULT_RATE_LIMIT = (190, 10.0)
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_WINDOW = 10_000
BATCH_LIMIT = 100

Sleep = Callable[[float], Awaitable[object]]

# Catalog object -> the objectType HubSpot's paths take (agreements are resolved).
_OBJECT_TYPES = {"companies": "companies", "deals": "deals", "products": "products",
                 "line_items": "line_items", "invoices": "invoices", "projects": "0-970"}

#: HubSpot-defined default association type ids (apis.md 2.2): (from, to) -> id.
DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("companies", "contacts"): 280, ("contacts", "companies"): 279,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
    ("invoices", "deals"): 175, ("invoices", "contacts"): 177,
    ("invoices", "companies"): 179, ("companies", "invoices"): 180,
    ("invoices", "line_items"): 409, ("line_items", "invoices"): 410,
    ("subscriptions", "companies"): 297, ("companies", "subscriptions"): 298,
    ("subscriptions", "line_items"): 301, ("line_items", "subscriptions"): 302,
    ("subscriptions", "deals"): 299, ("quotes", "line_items"): 67,
    ("orders", "companies"): 509,
}

# Catalog type -> (HubSpot property type, fieldType) for properties the adapter creates.
_PROPERTY_TYPES = {"string": ("string", "text"), "integer": ("number", "number"),
                   "number": ("number", "number"), "date": ("date", "date"),
                   "datetime": ("datetime", "date"), "boolean": ("bool", "booleancheckbox")}

# Statuses that refuse a batch for its content (bisect), not for our configuration.
_REFUSED = (400, 409)
_PROPERTY_IN_MESSAGE = re.compile(
    r"""(?:"name"\s*:\s*"|[Pp]roperty\s+["']|propertyName['"]?\s*[:=]\s*\[?["'])([a-z0-9_]+)""")


@dataclass
class _Pending:
    """One op being written: where its result goes and what it sends."""

    index: int
    op: WriteOp
    properties: dict[str, str]
    id_value: str | None = None  # what HubSpot knows the record by: external value or id


def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.hubspot import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class HubSpotAdapter:
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
        try:
            await self.session.request("GET", "/crm/v3/objects/companies",
                                       params={"limit": 1, "properties": "name"})
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
        return CheckResult(True, "Authenticated with HubSpot; companies are readable.")

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
            "POST", f"/automation/v4/actions/callbacks/{callback_id}/complete",
            json=dict(body), idempotent=True)

    # ------------------------------------------------------------------ metadata

    async def _type(self, obj: str) -> str:
        """The objectType for `obj`'s paths; agreements are looked up once."""
        if obj in _OBJECT_TYPES:
            return _OBJECT_TYPES[obj]
        if obj in self._types:
            return self._types[obj]
        configured = self.config.options.get(f"{obj}_object_type")
        if configured:
            self._types[obj] = str(configured)
            return self._types[obj]
        async with self._lock:
            if obj not in self._types:
                response = await self.session.request("GET", "/crm/v3/schemas")
                for schema in response.json().get("results") or []:
                    fqn = str(schema.get("fullyQualifiedName") or "")
                    if schema.get("name") == obj or fqn.endswith(f"_{obj}"):
                        self._types[obj] = str(schema.get("objectTypeId") or fqn)
                        break
                else:
                    raise FatalError(
                        f"hubspot: the portal has no custom object {obj!r}; create it "
                        f"(POST /crm/v3/schemas) or set options.{obj}_object_type")
        return self._types[obj]

    async def _property_map(self, obj: str) -> dict[str, dict[str, Any]]:
        """The portal's property definitions for `obj`, read once per adapter."""
        if obj not in self._properties:
            response = await self.session.request(
                "GET", f"/crm/v3/properties/{await self._type(obj)}")
            self._properties[obj] = {p["name"]: p for p in response.json().get("results")
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
                                  "properties": ",".join(self._read_properties(info))}
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
            params={"properties": ",".join(self._read_properties(info))}, expected=(404,))
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

    # ------------------------------------------------------------------ writes

    def _wire_properties(self, info: ObjectInfo, op: WriteOp) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in op.payload.items():
            field = info.fields.get(name)
            if name == "associations" or "." in name or (field and field.read_only):
                continue
            if value is None and op.kind == "create":
                continue
            out[name] = to_wire_text(value)  # None -> "" clears the property
        return out

    @staticmethod
    def _external_value(info: ObjectInfo, op: WriteOp) -> str | None:
        """The op's external id as HubSpot stores it: the payload's value, else the key
        (the engine keys external matches by that value). None without a writable
        external field."""
        name = op.external_field
        if not name or (name in info.fields and info.fields[name].read_only):
            return None
        value = op.payload.get(name)
        return to_wire_text(value) if value not in (None, "") else op.key

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        info = self._object(obj)
        results: list[WriteResult | None] = [None] * len(ops)
        live = [op for op in ops if op.kind != "delete"]
        if live:
            await self._ensure_properties(obj, info, live)
        upserts: dict[str, list[_Pending]] = {}
        creates: list[_Pending] = []
        # Updates by record id (None) or by a unique property (idProperty).
        updates: dict[str | None, list[_Pending]] = {}
        for index, op in enumerate(ops):
            if op.kind == "delete":
                results[index] = WriteResult(op.key, op.target_id, error=RecordError(
                    "vendor.unsupported", "the integration does not delete HubSpot records"))
                continue
            pending = _Pending(index, op, self._wire_properties(info, op))
            field = op.external_field
            external = self._external_value(info, op)
            unique = field is not None and external is not None and \
                await self._is_unique(obj, field)
            if op.kind == "update" or op.target_id:
                if field is not None and external is not None:
                    pending.properties[field] = external  # findable by its key from now on
                if op.target_id:
                    pending.id_value = op.target_id
                    updates.setdefault(None, []).append(pending)
                elif unique:
                    pending.id_value = external
                    updates.setdefault(field, []).append(pending)
                else:
                    results[index] = WriteResult(op.key, None, error=RecordError(
                        "vendor.unsupported", "an update needs the target id or a unique "
                        "external id property"))
            elif field is not None and unique:
                pending.id_value = external
                pending.properties.pop(field, None)
                upserts.setdefault(field, []).append(pending)
            else:
                creates.append(pending)
        object_type = await self._type(obj)
        for id_property, items in upserts.items():
            for chunk in _distinct_chunks(items):
                await self._bisect(chunk, results, lambda c, p=id_property: self._upsert(
                    object_type, p, c, results))
        for start in range(0, len(creates), BATCH_LIMIT):
            await self._bisect(creates[start:start + BATCH_LIMIT], results,
                               lambda c: self._create(object_type, c, results))
        for by, items in updates.items():
            for chunk in _distinct_chunks(items):
                await self._bisect(chunk, results, lambda c, p=by: self._update(
                    object_type, p, c, results))
        await self._associate(obj, ops, results)
        return [r if r is not None else WriteResult(op.key, op.target_id, error=RecordError(
            "vendor.rejected", "HubSpot answered without this record")) for r, op in
                zip(results, ops, strict=True)]

    async def _bisect(self, items: list[_Pending], results: list[WriteResult | None],
                      send: Callable[[list[_Pending]], Awaitable[RecordError | None]]
                      ) -> None:
        """Send `items`; if HubSpot refuses the whole batch, halve it until each bad
        record stands alone with its own error."""
        if not items:
            return
        refused = await send(items)
        if refused is None:
            return
        if len(items) == 1:
            item = items[0]
            results[item.index] = WriteResult(item.op.key, item.op.target_id, error=refused)
            return
        middle = len(items) // 2
        await self._bisect(items[:middle], results, send)
        await self._bisect(items[middle:], results, send)

    async def _batch(self, object_type: str, action: str, inputs: list[dict[str, Any]],
                     *, idempotent: bool) -> httpx.Response:
        return await self.session.request(
            "POST", f"/crm/v3/objects/{object_type}/batch/{action}",
            json={"inputs": inputs}, idempotent=idempotent, expected=_REFUSED)

    async def _upsert(self, object_type: str, id_property: str, items: list[_Pending],
                      results: list[WriteResult | None]) -> RecordError | None:
        response = await self._batch(object_type, "upsert", [
            {"idProperty": id_property, "id": item.id_value, "properties": item.properties}
            for item in items], idempotent=True)
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        by_value = {str((r.get("properties") or {}).get(id_property)): r
                    for r in data.get("results") or []}
        failed = self._errors_by(data, "ids")
        self._fill(results, items, lambda i: by_value.get(str(i.id_value)),
                   lambda i: failed.get(str(i.id_value)))
        return None

    async def _create(self, object_type: str, items: list[_Pending],
                      results: list[WriteResult | None]) -> RecordError | None:
        try:
            response = await self._batch(object_type, "create", [
                {"properties": item.properties, "objectWriteTraceId": str(item.index)}
                for item in items], idempotent=False)
        except AmbiguousWriteError:
            for item in items:
                results[item.index] = WriteResult(item.op.key, None, ambiguous=True)
            return None
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        raws = data.get("results") or []
        by_trace = {str(r.get("objectWriteTraceId")): r for r in raws
                    if r.get("objectWriteTraceId") is not None}
        if not by_trace and len(raws) == len(items):
            by_trace = {str(i.index): r for i, r in zip(items, raws, strict=True)}
        failed = self._errors_by(data, "objectWriteTraceId")
        self._fill(results, items, lambda i: by_trace.get(str(i.index)),
                   lambda i: failed.get(str(i.index)), created=True)
        return None

    async def _update(self, object_type: str, id_property: str | None,
                      items: list[_Pending], results: list[WriteResult | None]
                      ) -> RecordError | None:
        """`batch/update` by record id, or by a unique property (`idProperty`)."""
        extra = {"idProperty": id_property} if id_property else {}
        response = await self._batch(object_type, "update", [
            {"id": item.id_value, **extra, "properties": item.properties} for item in items],
            idempotent=True)
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        raws = data.get("results") or []
        by_value = {str(r.get("id") if id_property is None else
                        (r.get("properties") or {}).get(id_property)): r for r in raws}
        failed = self._errors_by(data, "ids")
        self._fill(results, items, lambda i: by_value.get(str(i.id_value)),
                   lambda i: failed.get(str(i.id_value)))
        return None

    @staticmethod
    def _fill(results: list[WriteResult | None], items: list[_Pending],
              result_of: Callable[[_Pending], Any],
              error_of: Callable[[_Pending], RecordError | None], *, created: bool = False
              ) -> None:
        """One result per item: the record HubSpot answered with, else its error."""
        for item in items:
            raw = result_of(item)
            if raw is not None:
                results[item.index] = WriteResult(item.op.key, str(raw["id"]),
                                                  created=bool(raw.get("new", created)))
            else:
                results[item.index] = WriteResult(item.op.key, item.op.target_id, error=(
                    error_of(item) or RecordError("vendor.rejected",
                                                  "HubSpot answered without this record")))

    def _errors_by(self, data: Mapping[str, Any], key: str) -> dict[str, RecordError]:
        """A 207's errors keyed by the context values (`ids`, `objectWriteTraceId`)."""
        out: dict[str, RecordError] = {}
        for error in data.get("errors") or []:
            if not isinstance(error, Mapping):
                continue
            message = self.context.redactor.text(str(error.get("message") or "rejected"))
            record_error = RecordError("vendor.rejected", message,
                                       field=_property_named(error))
            for value in (error.get("context") or {}).get(key) or []:
                out[str(value)] = record_error
        return out

    def _rejection(self, response: httpx.Response) -> RecordError:
        reason = vendor_reason(response, self.context.redactor) or \
            f"HubSpot answered {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            body = {}
        return RecordError("vendor.rejected", reason,
                           field=_property_named(body) if isinstance(body, Mapping) else None)

    async def _associate(self, obj: str, ops: Sequence[WriteOp],
                         results: list[WriteResult | None]) -> None:
        """Write the `associations` payload field of every op that landed."""
        pairs: dict[str, list[tuple[int, str, str]]] = {}
        for index, op in enumerate(ops):
            links = op.payload.get("associations")
            result = results[index]
            if not isinstance(links, Mapping) or result is None or not result.ok:
                continue
            for to_obj, targets in links.items():
                for target in targets if isinstance(targets, list | tuple) else [targets]:
                    if target not in (None, ""):
                        assert result.target_id is not None
                        pairs.setdefault(to_obj, []).append((index, result.target_id,
                                                             str(target)))
        for to_obj, items in pairs.items():
            for start in range(0, len(items), BATCH_LIMIT):
                chunk = items[start:start + BATCH_LIMIT]
                for index, error in (await self._link(obj, to_obj, chunk)).items():
                    done = results[index]
                    assert done is not None
                    results[index] = WriteResult(done.key, done.target_id, error=error,
                                                 created=done.created)

    async def _link(self, obj: str, to_obj: str, items: list[tuple[int, str, str]]
                    ) -> dict[int, RecordError]:
        """Associate each (from, to) pair; the errors by op index."""
        field = f"associations.{to_obj}"
        if to_obj not in self._catalog.objects and to_obj != "contacts":
            return {index: RecordError("vendor.rejected", f"cannot associate with "
                                       f"{to_obj!r}: not a HubSpot object", field=field)
                    for index, _, _ in items}
        from_type = await self._type(obj)
        to_type = await self._type(to_obj) if to_obj != "contacts" else "contacts"
        type_id = DEFAULT_ASSOCIATION_TYPES.get((obj, to_obj))
        if type_id is not None:
            action = "create"
            types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]
            inputs = [{"from": {"id": a}, "to": {"id": b}, "types": types}
                      for _, a, b in items]
        else:
            action = "associate/default"  # HubSpot picks the default type for the pair
            inputs = [{"from": {"id": a}, "to": {"id": b}} for _, a, b in items]
        response = await self.session.request(
            "POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/{action}",
            json={"inputs": inputs}, idempotent=True, expected=(400, 404))
        errors: dict[int, RecordError] = {}
        if response.status_code in (400, 404):
            if len(items) == 1:
                reason = vendor_reason(response, self.context.redactor)
                return {items[0][0]: RecordError("vendor.rejected", f"written, but not "
                                                 f"associated: {reason}", field=field)}
            middle = len(items) // 2
            return {**await self._link(obj, to_obj, items[:middle]),
                    **await self._link(obj, to_obj, items[middle:])}
        failed = self._errors_by(response.json(), "ids")
        for index, a, b in items:
            error = failed.get(b) or failed.get(a)
            if error is not None:
                errors[index] = RecordError("vendor.rejected", f"written, but not associated "
                                            f"with {to_obj} {b}: {error.message}", field=field)
        return errors


def _distinct_chunks(items: list[_Pending]) -> list[list[_Pending]]:
    """Batches of at most 100 in which no id value (external value or record id)
    repeats (HubSpot refuses a batch with duplicate ids); a repeat goes to a later
    batch, keeping op order."""
    chunks: list[list[_Pending]] = []
    last: dict[str | None, int] = {}  # value -> the chunk that last took it
    for item in items:
        for n in range(last.get(item.id_value, -1) + 1, len(chunks)):
            if len(chunks[n]) < BATCH_LIMIT:
                break
        else:
            n = len(chunks)
            chunks.append([])
        chunks[n].append(item)
        last[item.id_value] = n
    return chunks


def _property_named(error: Mapping[str, Any]) -> str | None:
    """The property a HubSpot error is about, from its context or its message."""
    context = error.get("context")
    if isinstance(context, Mapping):
        names = context.get("propertyName")
        if isinstance(names, list) and names:
            return str(names[0])
    for detail in error.get("errors") or []:
        if isinstance(detail, Mapping):
            name = _property_named(detail)
            if name:
                return name
    match = _PROPERTY_IN_MESSAGE.search(str(error.get("message") or ""))
    return match.group(1) if match else None
