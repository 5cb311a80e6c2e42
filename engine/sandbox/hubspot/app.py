"""A faithful local HubSpot CRM: v3 objects, search, batch, properties, v4 associations,
webhooks and workflow custom actions (apis.md section 2).

What it does the way HubSpot does (so adapters tested here survive the real thing):

- Auth: `Authorization: Bearer <private-app token>` (never expires) or an OAuth access
  token from `POST /oauth/v1/token` (refresh grant, `expires_in` 1800 s by the sandbox
  clock); anything else is 401 `INVALID_AUTHENTICATION` / `EXPIRED_AUTHENTICATION`.
- Objects `contacts companies deals products line_items invoices projects (0-970)
  subscriptions` and the custom object `agreements` (`p{portalId}_agreements`, `2-…`),
  addressed by name, type id or fully qualified name. Every property value is a string;
  numbers, dates, datetimes and booleans are normalised the way HubSpot stores them;
  unknown properties, bad numbers, non-midnight dates, invalid options and read-only
  properties are 400 `VALIDATION_ERROR`; a value already held by another record in a
  `hasUniqueValue` property is 409 `CONFLICT`.
- Cursor paging (`limit` <= 100, `paging.next.after` + `link`, none on the last page);
  search (OR of AND filter groups, 5 groups / 10 per group / 25 filters, `limit` <= 200,
  `total`, the 10,000-result cap); batch create/read/update/upsert/archive (<= 100
  inputs, 207 multi-status with `numErrors`/`errors`).
- Rate limits: 190 requests per 10 s and 650,000 per day per portal, 5 searches per
  second, `X-HubSpot-RateLimit-*` headers, 429 with category `RATE_LIMITS` and
  `policyName`.
- Webhooks: the app's subscriptions (seeded with the Kleer app's, managed through
  `/webhooks/v3/{appId}/...` or `/_sandbox/webhooks/subscriptions`) fire on property
  changes, creations and deletions; deliveries are JSON arrays (<= 100 events) signed
  v1 and v3; a retry re-signs and increments `attemptNumber`. API writes carry
  `changeSource: INTEGRATION` with the app id as `sourceId`; `PATCH
  /_sandbox/records/{objectType}/{id}` edits as a user in the UI (`CRM_UI`).
- Workflow custom actions v4: definitions, a control call that fires an execution at
  the action URL (signed v2 and v3), records the synchronous answer, re-fires the same
  execution on request, and the callback completion endpoints.

Knobs (`SandboxConfig.options`): `hubspot_burst_limit` (190), `hubspot_daily_limit`
(650000), `hubspot_search_per_second` (5), `hubspot_token_lifetime_seconds` (1800),
`hubspot_client_id`, `hubspot_refresh_token`, `hubspot_developer_api_key` (the
`hapikey` of the app-level webhooks and action-definition endpoints, which also accept
the bearer token), `hubspot_webhook_attempts` (4), `hubspot_webhook_backoff_seconds`
(0.05; HubSpot itself retries for about a day), `hubspot_action_timeout_seconds` (20).

Assumed shapes ([assumed] in apis.md), implemented as described there: the projects
object's type id 0-970 and `hs_*` names, the agreements custom object (type id
`2-<n>`), list `limit` max 100, search `limit` max 200, 409 on duplicate unique values,
the 429 body, association type ids for pairs apis.md does not list (numbered from
1000), and that a `propertyChange` subscription without `propertyName` (a sandbox
convenience) fires for every property. List cursors are offsets (HubSpot's are
opaque), so records created while paging can shift a page. `propertiesWithHistory` is
accepted and ignored.

Usage::

    sandbox = HubSpotSandbox(SandboxConfig(clock=ManualClock()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://hubspot.test",
                                 headers={"authorization": "Bearer pat-sandbox-token"}) as c:
        page = (await c.get("/crm/v3/objects/companies", params={"limit": 100})).json()
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.adapters.hubspot.signatures import sign_v1, sign_v2, sign_v3
from engine.sandbox.hubspot import seed
from engine.sandbox.hubspot.credentials import CURL_EXAMPLE, HubSpotCredentials
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.platform import (
    Collection,
    Faults,
    RateDecision,
    RateLimiter,
    Sandbox,
    SandboxConfig,
    WebhookDelivery,
    WebhookDispatcher,
)

__all__ = [
    "ASSOCIATION_TYPE_IDS",
    "OBJECT_TYPES",
    "HubSpotSandbox",
    "ObjectType",
]

# --------------------------------------------------------------------------- object types


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type and the names HubSpot accepts for it in paths."""

    name: str  # "companies": the store key and the v3 path name
    type_id: str  # "0-2"
    singular: str  # "company": association type names, action objectType
    legacy_webhooks: bool  # has `<singular>.propertyChange` subscription types
    modified: str = "hs_lastmodifieddate"
    defaults: tuple[str, ...] = ()  # properties returned when none are asked for
    aliases: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.type_id, self.singular, *self.aliases)


_CUSTOM_AGREEMENTS_ID = "2-7000001"

OBJECT_TYPES: dict[str, ObjectType] = {o.name: o for o in (
    ObjectType("contacts", "0-1", "contact", True, "lastmodifieddate",
               ("createdate", "email", "firstname", "lastname", "lastmodifieddate")),
    ObjectType("companies", "0-2", "company", True, "hs_lastmodifieddate",
               ("createdate", "domain", "hs_lastmodifieddate", "name")),
    ObjectType("deals", "0-3", "deal", True, "hs_lastmodifieddate",
               ("amount", "closedate", "createdate", "dealname", "dealstage",
                "hs_lastmodifieddate", "pipeline")),
    ObjectType("products", "0-7", "product", True, "hs_lastmodifieddate",
               ("createdate", "description", "hs_lastmodifieddate", "name", "price")),
    ObjectType("line_items", "0-8", "line_item", True, "hs_lastmodifieddate",
               ("amount", "createdate", "hs_lastmodifieddate", "hs_product_id", "name",
                "price", "quantity"), aliases=("line_item",)),
    ObjectType("invoices", "0-53", "invoice", False, "hs_lastmodifieddate",
               ("createdate", "hs_currency", "hs_invoice_status", "hs_lastmodifieddate",
                "hs_number"), required=("hs_currency",)),
    ObjectType("subscriptions", "0-69", "subscription", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "hs_name", "hs_status")),
    ObjectType("projects", "0-970", "project", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "hs_name", "hs_status")),
    ObjectType("agreements", _CUSTOM_AGREEMENTS_ID, "agreement", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "name", "kleer_agreement_id"),
               aliases=("p_agreements",)),
)}

#: Default association type ids (apis.md 2.2): (from, to) -> id, HUBSPOT_DEFINED.
_KNOWN_ASSOCIATIONS: dict[tuple[str, str], int] = {
    ("companies", "contacts"): 280, ("contacts", "companies"): 279,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
    ("invoices", "deals"): 175, ("deals", "invoices"): 176,
    ("invoices", "contacts"): 177, ("contacts", "invoices"): 178,
    ("invoices", "companies"): 179, ("companies", "invoices"): 180,
    ("invoices", "line_items"): 409, ("line_items", "invoices"): 410,
    ("subscriptions", "companies"): 297, ("companies", "subscriptions"): 298,
    ("subscriptions", "deals"): 299, ("deals", "subscriptions"): 300,
    ("subscriptions", "line_items"): 301, ("line_items", "subscriptions"): 302,
    ("contacts", "deals"): 4, ("deals", "contacts"): 3,
}
#: Primary labels: (from, to) -> id.
_PRIMARY_ASSOCIATIONS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1, ("companies", "contacts"): 2,
    ("deals", "companies"): 5, ("companies", "deals"): 6,
}


def _association_table() -> dict[tuple[str, str], int]:
    table = dict(_KNOWN_ASSOCIATIONS)
    next_id = 1000  # [assumed] ids for pairs apis.md does not list
    for a, b in itertools.combinations(sorted(OBJECT_TYPES), 2):
        if (a, b) not in table:
            table[(a, b)], table[(b, a)] = next_id, next_id + 1
            next_id += 2
    return table


#: Every ordered pair of object types -> its default (unlabelled) association type id.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = _association_table()
_PAIR_OF_TYPE_ID: dict[int, tuple[str, str]] = {
    **{v: k for k, v in ASSOCIATION_TYPE_IDS.items()},
    **{v: k for k, v in _PRIMARY_ASSOCIATIONS.items()},
}


# --------------------------------------------------------------------------- errors


class HubSpotError(Exception):
    """An answer in HubSpot's error envelope; raised by handlers, rendered by `_api`."""

    def __init__(self, status: int, message: str, category: str, *,
                 errors: list[dict[str, Any]] | None = None,
                 context: dict[str, list[str]] | None = None,
                 sub_category: str | None = None, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": correlation_id, "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        out.update(self.extra)
        return out


def _validation(message: str, *, code: str = "INVALID_INPUT", name: str | None = None,
                status: int = 400) -> HubSpotError:
    detail: dict[str, Any] = {"message": message, "code": code}
    if name is not None:
        detail["context"] = {"propertyName": [name]}
    return HubSpotError(status, message, "VALIDATION_ERROR", errors=[detail])


def _not_found(object_id: str, object_type: str = "") -> HubSpotError:
    return HubSpotError(404, f"Object not found.  objectId are usually numeric. "
                        f"{object_type} {object_id}".rstrip(), "OBJECT_NOT_FOUND",
                        context={"id": [object_id]})


@dataclass
class _PropertyProblem:
    """One property that could not be written, before it becomes a 400 or 409."""

    name: str
    code: str
    message: str
    conflict: bool = False

    def detail(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.code,
                "name": self.name, "localizedErrorMessage": self.message}

    @staticmethod
    def to_error(problems: list[_PropertyProblem]) -> HubSpotError:
        if any(p.conflict for p in problems):
            first = next(p for p in problems if p.conflict)
            return HubSpotError(409, first.message, "CONFLICT",
                                errors=[{"message": first.message, "code": first.code,
                                         "context": {"propertyName": [first.name]}}])
        details = json.dumps([p.detail() for p in problems], ensure_ascii=False)
        return HubSpotError(400, f"Property values were not valid: {details}",
                            "VALIDATION_ERROR",
                            errors=[{"message": p.message, "code": p.code,
                                     "context": {"propertyName": [p.name]}}
                                    for p in problems])


# --------------------------------------------------------------------------- values


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_instant(value: Any) -> datetime | None:
    """Epoch milliseconds (number or numeric text) or ISO 8601 -> aware UTC, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_RE.match(text):
                return datetime.fromisoformat(text).replace(tzinfo=UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def _normalise(definition: Mapping[str, Any], value: Any) -> str | _PropertyProblem:
    """A written value -> the string HubSpot stores ("" clears), or the problem."""
    name = definition["name"]
    kind = definition["type"]
    if value is None or value == "":
        return ""
    if isinstance(value, dict | list):
        return _PropertyProblem(name, "INVALID_VALUE", f"{value!r} is not a valid value for "
                                f"property {name!r}")
    if kind == "number":
        try:
            number = Decimal(str(value).strip())
            if not number.is_finite() or isinstance(value, bool):
                raise InvalidOperation
        except InvalidOperation:
            return _PropertyProblem(name, "INVALID_DOUBLE", f"{value!r} was not a valid number.")
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    if kind == "bool":
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            return _PropertyProblem(name, "INVALID_BOOLEAN", f"{value!r} is not a valid "
                                    "boolean; expected true or false.")
        return text
    if kind == "datetime":
        moment = _parse_instant(value)
        if moment is None:
            return _PropertyProblem(name, "INVALID_DATETIME", f"{value!r} is not a valid "
                                    "datetime; use epoch milliseconds or ISO 8601.")
        return iso_ms(moment)
    if kind == "date":
        moment = _parse_instant(value)
        if moment is None:
            return _PropertyProblem(name, "INVALID_DATE", f"{value!r} is not a valid date; "
                                    "use YYYY-MM-DD or epoch milliseconds at midnight UTC.")
        if moment.time() != datetime.min.time():
            return _PropertyProblem(name, "INVALID_DATE", f"{value!r} is not midnight UTC; "
                                    "date properties need a timestamp at midnight UTC.")
        return moment.date().isoformat()
    text = "true" if value is True else "false" if value is False else str(value)
    if kind == "enumeration":
        allowed = [o["value"] for o in definition.get("options", [])]
        if allowed and text not in allowed:
            return _PropertyProblem(name, "INVALID_OPTION", f"{text!r} was not one of the "
                                    f"allowed options: {allowed}")
    return text


# --------------------------------------------------------------------------- search

_MAX_GROUPS, _MAX_PER_GROUP, _MAX_FILTERS = 5, 10, 25
_SEARCH_CAP = 10_000
_OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
                        "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                        "NOT_CONTAINS_TOKEN"})
_TOKEN_SPLIT = re.compile(r"[^\w*@.-]+", re.UNICODE)


def _comparable(kind: str, value: Any) -> Any:
    """A stored or filter value -> something ordered the way HubSpot compares that type."""
    if value is None:
        return None
    if kind == "number":
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return None
    if kind in ("datetime", "date"):
        moment = _parse_instant(value)
        return None if moment is None else moment.timestamp()
    return str(value).lower()


def _token_match(stored: str, pattern: str) -> bool:
    tokens = [t for t in _TOKEN_SPLIT.split(stored.lower()) if t]
    regex = re.compile("^" + ".*".join(map(re.escape, pattern.lower().split("*"))) + "$")
    return any(regex.match(t) for t in tokens) or bool(regex.match(stored.lower()))


def _filter_matches(flt: Mapping[str, Any], kind: str, stored: str | None) -> bool:
    op = flt["operator"]
    present = stored is not None and stored != ""
    if op == "HAS_PROPERTY":
        return present
    if op == "NOT_HAS_PROPERTY":
        return not present
    if not present:
        return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    assert stored is not None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = _token_match(stored, str(flt.get("value", "")))
        return hit if op == "CONTAINS_TOKEN" else not hit
    have = _comparable(kind, stored)
    if op in ("IN", "NOT_IN"):
        wanted = {_comparable(kind, v) for v in flt.get("values") or []}
        return (have in wanted) == (op == "IN")
    want = _comparable(kind, flt.get("value"))
    if have is None or want is None:
        return op == "NEQ"
    if op == "EQ":
        return bool(have == want)
    if op == "NEQ":
        return bool(have != want)
    if op == "BETWEEN":
        high = _comparable(kind, flt.get("highValue"))
        return high is not None and bool(want <= have <= high)
    return bool({"LT": have < want, "LTE": have <= want, "GT": have > want,
                 "GTE": have >= want}[op])


# --------------------------------------------------------------------------- the store


class _ObjectStore:
    """One object type: its records (a base `Collection`), property catalog, unique
    indexes and archived records."""

    def __init__(self, otype: ObjectType, sandbox: HubSpotSandbox, size: int) -> None:
        self.type = otype
        self.collection = Collection(
            otype.name, key="id", size=size,
            factory=seed.record_factory(otype.name, sandbox.config.seed,
                                        sandbox.config.defect_rate),
            clock=sandbox.clock, index_of=lambda rid: seed.base_index(otype.name, str(rid)))
        created = "2020-01-01T00:00:00.000Z"
        self.properties: dict[str, dict[str, Any]] = {
            p.name: p.to_json(otype.name, created) for p in seed.PROPERTIES[otype.name]}
        self.archived: dict[str, dict[str, Any]] = {}
        self._unique: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(seed.OBJECT_ID_BASE[otype.name] + seed.CREATED_ID_OFFSET)

    def new_id(self) -> str:
        return str(next(self._ids))

    def is_unique(self, name: str) -> bool:
        prop = self.properties.get(name)
        return bool(prop and prop.get("hasUniqueValue"))

    def unique_index(self, name: str) -> dict[str, str]:
        index = self._unique.get(name)
        if index is None:
            # Learned once by reading every record; kept current by `store`/`remove`.
            index = {}
            for record in self.collection.iter():
                value = record["properties"].get(name)
                if value:
                    index[value] = record["id"]
            self._unique[name] = index
        return index

    def find(self, record_id: str, id_property: str | None = None) -> dict[str, Any] | None:
        if id_property and id_property != "hs_object_id":
            if not self.is_unique(id_property):
                raise _validation(f"Property {id_property!r} is not a unique property of "
                                  f"{self.type.name}; idProperty needs hasUniqueValue.",
                                  name=id_property)
            found = self.unique_index(id_property).get(str(record_id))
            return None if found is None else self.collection.get(found)
        return self.collection.get(str(record_id))

    def store(self, record: dict[str, Any], previous: dict[str, Any] | None) -> None:
        for name, index in self._unique.items():
            old = (previous or {}).get("properties", {}).get(name)
            new = record["properties"].get(name)
            if old and index.get(old) == record["id"]:
                del index[old]
            if new:
                index[new] = record["id"]
        self.collection.put(record)

    def remove(self, record: dict[str, Any]) -> None:
        for name, index in self._unique.items():
            value = record["properties"].get(name)
            if value and index.get(value) == record["id"]:
                del index[value]
        self.collection.delete(record["id"])


class _Associations:
    """Associations between records, both directions: generated ones plus an overlay."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.added: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self.removed: set[tuple[tuple[str, str], tuple[str, str]]] = set()

    def _seeded(self, otype: str, oid: str) -> dict[tuple[str, str], set[int]]:
        index = seed.base_index(otype, oid)
        out: dict[tuple[str, str], set[int]] = {}
        if index is None or index >= self.sizes.get(otype, 0):
            return out
        for to_type, to_index in seed.seeded_associations(otype, index, self.sizes):
            key = (to_type, seed.base_id(to_type, to_index))
            if ((otype, oid), key) in self.removed:
                continue
            ids = {ASSOCIATION_TYPE_IDS[(otype, to_type)]}
            primary = _PRIMARY_ASSOCIATIONS.get((otype, to_type))
            if primary is not None:
                ids.add(primary)
            out[key] = ids
        return out

    def of(self, otype: str, oid: str) -> dict[tuple[str, str], set[int]]:
        """Every association of one record: `(to_type, to_id) -> {type ids}`."""
        out = self._seeded(otype, oid)
        for key, ids in self.added.get((otype, oid), {}).items():
            out.setdefault(key, set()).update(ids)
        return {k: v for k, v in out.items() if v}

    def add(self, a: tuple[str, str], b: tuple[str, str], type_ids: Iterable[int]) -> None:
        for type_id in type_ids:
            pair = _PAIR_OF_TYPE_ID.get(type_id)
            inverse = _inverse(type_id, pair) if pair else ASSOCIATION_TYPE_IDS[(b[0], a[0])]
            self.added.setdefault(a, {}).setdefault(b, set()).add(type_id)
            self.added.setdefault(b, {}).setdefault(a, set()).add(inverse)
        self.removed.discard((a, b))
        self.removed.discard((b, a))

    def remove(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        existed = b in self.of(*a)
        self.added.get(a, {}).pop(b, None)
        self.added.get(b, {}).pop(a, None)
        self.removed.add((a, b))
        self.removed.add((b, a))
        return existed

    def drop_record(self, a: tuple[str, str]) -> None:
        for b in list(self.of(*a)):
            self.remove(a, b)


def _inverse(type_id: int, pair: tuple[str, str]) -> int:
    a, b = pair
    if _PRIMARY_ASSOCIATIONS.get((a, b)) == type_id:
        return _PRIMARY_ASSOCIATIONS[(b, a)]
    return ASSOCIATION_TYPE_IDS[(b, a)]


# --------------------------------------------------------------------------- webhooks


@dataclass
class _Subscription:
    id: int
    subscription_type: str  # "company.propertyChange", "object.creation", ...
    object_type_id: str | None
    property_name: str | None
    active: bool
    created_at: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self.id), "eventType": self.subscription_type,
                               "subscriptionType": self.subscription_type,
                               "active": self.active, "createdAt": self.created_at,
                               "updatedAt": self.created_at}
        if self.property_name:
            out["propertyName"] = self.property_name
        if self.object_type_id:
            out["objectTypeId"] = self.object_type_id
        return out

    def matches(self, otype: ObjectType, event: str, prop: str | None) -> bool:
        if not self.active:
            return False
        prefix, _, kind = self.subscription_type.partition(".")
        if kind != event:
            return False
        if prefix == "object":
            if self.object_type_id != otype.type_id:
                return False
        elif not (otype.legacy_webhooks and prefix == otype.singular):
            return False
        return event != "propertyChange" or self.property_name in (None, prop)


class _HubSpotDispatcher(WebhookDispatcher):
    """The shared dispatcher, with HubSpot's retry rules: each attempt rewrites
    `attemptNumber` in every event and is signed afresh; 429 is retried as well."""

    async def _deliver(self, item: Any, faults: Faults) -> None:
        client = self._client or await self._default_client()
        events = json.loads(item.body)
        for attempt in range(1, self.max_attempts + 1):
            if faults.webhook_delay_ms:
                await asyncio.sleep(faults.webhook_delay_ms / 1000.0)
            for event in events:
                event["attemptNumber"] = attempt - 1
            body = json.dumps(events, separators=(",", ":")).encode()
            headers = dict(item.headers(item.url, body) if callable(item.headers)
                           else item.headers)
            status: int | None = None
            error: str | None = None
            try:
                response = await client.post(item.url, content=body, headers=headers,
                                             timeout=self.timeout_seconds)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.log.append(WebhookDelivery(item.url, body, headers, attempt, status, error,
                                            item.duplicate, self.clock.now()))
            if status is not None and status < 500 and status != 429:
                return  # delivered, or refused for good (HubSpot drops 4xx)
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))


# --------------------------------------------------------------------------- actions


@dataclass
class _Execution:
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


# --------------------------------------------------------------------------- the sandbox

Handler = Callable[[Request], Awaitable[Response]]


class HubSpotSandbox(Sandbox):
    """The HubSpot CRM simulator: see the module docstring for what it covers."""

    vendor = "hubspot"

    credentials_type = HubSpotCredentials
    curl_example = CURL_EXAMPLE
    credentials: HubSpotCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: HubSpotCredentials | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        opts = cfg.options
        self.webhooks = _HubSpotDispatcher(
            self.clock, client=cfg.webhook_client, faults=lambda: self.faults,
            max_attempts=int(opts.get("hubspot_webhook_attempts", 4)),
            backoff_seconds=float(opts.get("hubspot_webhook_backoff_seconds", 0.05)))
        self.portal_id = self.credentials.portal_id
        self.app_id = self.credentials.app_id
        self.client_id = str(opts.get("hubspot_client_id", "hubspot-sandbox-client-id"))
        self.refresh_token = str(opts.get("hubspot_refresh_token",
                                          "hubspot-sandbox-refresh-token"))
        self.developer_key = str(opts.get("hubspot_developer_api_key",
                                          "hubspot-sandbox-developer-key"))
        self.token_lifetime = int(opts.get("hubspot_token_lifetime_seconds", 1800))
        self.action_timeout = float(opts.get("hubspot_action_timeout_seconds", 20.0))
        self._rng = random.Random(cfg.seed)
        sizes = seed.object_sizes(cfg.records)
        self.stores: dict[str, _ObjectStore] = {
            name: _ObjectStore(otype, self, sizes[name]) for name, otype in OBJECT_TYPES.items()}
        self.associations = _Associations(sizes)
        self._aliases: dict[str, str] = {}
        for otype in OBJECT_TYPES.values():
            for alias in otype.names:
                self._aliases[alias.lower()] = otype.name
        self._aliases[f"p{self.portal_id}_agreements"] = "agreements"
        self._access_tokens: dict[str, datetime] = {}
        # Webhooks: subscriptions, the pending events of the request being handled.
        created = seed.iso_ms(self.clock.now())
        self._sub_ids = itertools.count(1000)
        self.subscriptions: dict[int, _Subscription] = {}
        for kind, type_id, prop in seed.DEFAULT_SUBSCRIPTIONS:
            sub = _Subscription(next(self._sub_ids), kind, type_id, prop, True, created)
            self.subscriptions[sub.id] = sub
        self._event_ids = itertools.count(5_000_000_000 + cfg.seed * 1_000_000)
        self._outbox: list[dict[str, Any]] = []
        self.max_events_per_delivery = 100
        # Workflow actions.
        self._definition_ids = itertools.count(100)
        self.action_definitions: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, _Execution] = {}
        self._enrollments = itertools.count(1)
        # Rate limits: one portal, so one key.
        self._burst = RateLimiter(int(opts.get("hubspot_burst_limit", 190)), 10, self.clock)
        self._daily = RateLimiter(int(opts.get("hubspot_daily_limit", 650_000)), 86_400,
                                  self.clock)
        self._secondly = RateLimiter(int(opts.get("hubspot_search_per_second", 5)), 1,
                                     self.clock)

    # ------------------------------------------------------------------ base hooks

    def error_response(self, status: int, message: str) -> Response:
        category = {502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
                    504: "GATEWAY_TIMEOUT"}.get(status, "INTERNAL_ERROR")
        return self._error(HubSpotError(status, message, category))

    def too_many_requests_response(self, decision: RateDecision,
                                   policy: str = "TEN_SECONDLY_ROLLING") -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        label = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly",
                 "DAILY": "daily"}.get(policy, policy.lower())
        error = HubSpotError(429, f"You have reached your {label} limit.", "RATE_LIMITS",
                             extra={"errorType": "RATE_LIMIT", "policyName": policy,
                                    "groupName": f"privateapp:{self.app_id}"},
                             headers={"Retry-After": str(retry_after)})
        response = self._error(error)
        if policy == "SECONDLY":
            response.headers["X-HubSpot-RateLimit-Secondly"] = str(decision.limit)
            response.headers["X-HubSpot-RateLimit-Secondly-Remaining"] = "0"
        else:
            response.headers["X-HubSpot-RateLimit-Max"] = str(decision.limit)
            response.headers["X-HubSpot-RateLimit-Remaining"] = "0"
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        return response

    def health(self) -> dict[str, Any]:
        return {"portalId": self.portal_id,
                "objects": {name: len(s.collection) for name, s in self.stores.items()},
                "subscriptions": len(self.subscriptions)}

    # ------------------------------------------------------------------ plumbing

    def _correlation_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _error(self, error: HubSpotError) -> Response:
        return JSONResponse(error.body(self._correlation_id()), status_code=error.status,
                            headers=error.headers)

    def _now(self) -> datetime:
        return self.clock.now()

    def _authenticate(self, request: Request, *, developer: bool = False) -> None:
        if developer and request.query_params.get("hapikey") == self.developer_key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HubSpotError(401, "Authentication credentials not found. This API supports "
                               "OAuth 2.0 authentication and you can find more details at "
                               "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                               "INVALID_AUTHENTICATION")
        if hmac.compare_digest(token, self.credentials.token):
            return
        expires = self._access_tokens.get(token)
        if expires is None:
            raise HubSpotError(401, "The OAuth token used to make this call is invalid or "
                               "unknown.", "INVALID_AUTHENTICATION")
        if self._now() >= expires:
            minutes = int((self._now() - expires).total_seconds() // 60)
            raise HubSpotError(401, f"The OAuth token used to make this call expired "
                               f"{minutes} minute(s) ago.", "EXPIRED_AUTHENTICATION")

    def _limit(self, search: bool) -> tuple[Response | None, dict[str, str]]:
        if not self.config.rate_limits:
            return None, {}
        burst, daily = self._burst.check("portal"), self._daily.check("portal")
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(burst.limit),
            "X-HubSpot-RateLimit-Remaining": str(burst.remaining),
            "X-HubSpot-RateLimit-Daily": str(daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(daily.remaining),
        }
        if not daily.allowed:
            return self.too_many_requests_response(daily, "DAILY"), headers
        if not burst.allowed:
            return self.too_many_requests_response(burst), headers
        if search:
            second = self._secondly.check("portal")
            headers["X-HubSpot-RateLimit-Secondly"] = str(second.limit)
            headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(second.remaining)
            if not second.allowed:
                return self.too_many_requests_response(second, "SECONDLY"), headers
        return None, headers

    def _api(self, handler: Handler, *, search: bool = False, developer: bool = False,
             limited: bool = True) -> Handler:
        """Wrap a vendor endpoint: auth, rate limit, error envelope, webhook flush."""

        async def endpoint(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                self._authenticate(request, developer=developer)
                if limited:
                    refused, headers = self._limit(search)
                    if refused is not None:
                        return refused
                response = await handler(request)
            except HubSpotError as error:
                response = self._error(error)
            finally:
                self._flush_events()
            for name, value in headers.items():
                response.headers[name] = value
            return response

        return endpoint

    def _control(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except HubSpotError as error:
                return self._error(error)
            finally:
                self._flush_events()

        return endpoint

    async def _json(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise HubSpotError(400, "Invalid input JSON on line 1: the request body is not "
                               "valid JSON", "VALIDATION_ERROR") from None

    def object_store(self, name: str) -> _ObjectStore:
        """The store for an object type named any way HubSpot accepts (400 otherwise)."""
        canonical = self._aliases.get(name.lower())
        if canonical is None:
            raise HubSpotError(400, f"Unable to infer object type from: {name}",
                               "VALIDATION_ERROR")
        return self.stores[canonical]

    # ------------------------------------------------------------------ records

    def _requested(self, request: Request, key: str) -> list[str] | None:
        values = request.query_params.getlist(key)
        names = [n.strip() for v in values for n in v.split(",") if n.strip()]
        return names or None

    def _render(self, store: _ObjectStore, record: Mapping[str, Any],
                properties: list[str] | None = None,
                associations: list[str] | None = None) -> dict[str, Any]:
        stored = record["properties"]
        wanted = list(properties) if properties else list(store.type.defaults)
        for always in ("hs_object_id", "createdate", store.type.modified):
            if always not in wanted:
                wanted.append(always)
        props = {name: stored.get(name) for name in wanted if name in store.properties}
        out: dict[str, Any] = {"id": record["id"], "properties": props,
                               "createdAt": record["createdAt"],
                               "updatedAt": record["updatedAt"],
                               "archived": record.get("archived", False)}
        if record.get("archivedAt"):
            out["archivedAt"] = record["archivedAt"]
        if associations:
            assoc: dict[str, Any] = {}
            for to_name in associations:
                try:
                    to_store = self.object_store(to_name)
                except HubSpotError:
                    continue
                results = [{"id": to_id, "type": f"{store.type.singular}_to_"
                            f"{to_store.type.singular}"}
                           for (to_type, to_id), _ in sorted(
                               self.associations.of(store.type.name, record["id"]).items())
                           if to_type == to_store.type.name]
                if results:
                    assoc[to_name] = {"results": results}
            if assoc:
                out["associations"] = assoc
        return out

    def _prepare(self, store: _ObjectStore, properties: Any, record_id: str | None,
                 *, creating: bool) -> tuple[dict[str, str], list[_PropertyProblem]]:
        """Validate and normalise written properties; "" means clear."""
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            raise _validation("properties must be an object of property names to values")
        values: dict[str, str] = {}
        problems: list[_PropertyProblem] = []
        for name, value in properties.items():
            definition = store.properties.get(name)
            if definition is None:
                problems.append(_PropertyProblem(name, "PROPERTY_DOESNT_EXIST",
                                                 f'Property "{name}" does not exist'))
                continue
            read_only = definition["modificationMetadata"]["readOnlyValue"]
            if read_only or (name == "createdate" and not creating):
                if name in ("hs_object_id",) and str(value) == str(record_id):
                    continue
                problems.append(_PropertyProblem(name, "READ_ONLY_VALUE",
                                                 f'Property "{name}" is read-only'))
                continue
            normalised = _normalise(definition, value)
            if isinstance(normalised, _PropertyProblem):
                problems.append(normalised)
                continue
            if normalised and definition.get("hasUniqueValue"):
                holder = store.unique_index(name).get(normalised)
                if holder is not None and holder != record_id:
                    problems.append(_PropertyProblem(
                        name, "CONFLICTING_UNIQUE_VALUE",
                        f"{normalised} already has that value on {store.type.singular} "
                        f"{holder} for property {name}", conflict=True))
                    continue
            values[name] = normalised
        if creating:
            missing = [n for n in store.type.required if not values.get(n)]
            problems.extend(_PropertyProblem(n, "REQUIRED_PROPERTY",
                                             f'Property "{n}" is required') for n in missing)
        return values, problems

    def _derive(self, store: _ObjectStore, props: dict[str, str]) -> None:
        if store.type.name == "line_items" and props.get("price") and props.get("quantity"):
            total = Decimal(props["price"]) * Decimal(props["quantity"]) \
                - Decimal(props.get("discount") or "0")
            amount = _normalise(store.properties["amount"], total)
            if isinstance(amount, str):
                props["amount"] = amount

    def create_record(self, store: _ObjectStore, properties: Any,
                      associations: Any = None, *, source: tuple[str, str] | None = None,
                      ) -> dict[str, Any]:
        """Create one record (raises HubSpotError on invalid input); fires webhooks."""
        record_id = store.new_id()
        values, problems = self._prepare(store, properties, record_id, creating=True)
        links = self._parse_associations(store, associations)
        if problems:
            raise _PropertyProblem.to_error(problems)
        now = iso_ms(self._now())
        props = {k: v for k, v in values.items() if v}
        props.setdefault("createdate", now)
        props[store.type.modified] = now
        props["hs_object_id"] = record_id
        self._derive(store, props)
        record = {"id": record_id, "properties": props, "createdAt": props["createdate"],
                  "updatedAt": now, "archived": False}
        store.store(record, None)
        for (to_type, to_id), type_ids in links:
            self.associations.add((store.type.name, record_id), (to_type, to_id), type_ids)
        self._emit(store.type, record_id, "creation", None, None, source)
        for name, value in sorted(props.items()):
            if name not in ("hs_object_id", store.type.modified):
                self._emit(store.type, record_id, "propertyChange", name, value, source)
        return record

    def update_record(self, store: _ObjectStore, record: dict[str, Any], properties: Any,
                      *, source: tuple[str, str] | None = None) -> dict[str, Any]:
        """Apply a PATCH to an existing record; stamps and fires only on real changes."""
        values, problems = self._prepare(store, properties, record["id"], creating=False)
        if problems:
            raise _PropertyProblem.to_error(problems)
        props = dict(record["properties"])
        changed: dict[str, str] = {}
        for name, value in values.items():
            if props.get(name, "") != value:
                changed[name] = value
                if value:
                    props[name] = value
                else:
                    props.pop(name, None)
        if not changed:
            return record
        self._derive(store, props)
        now = iso_ms(self._now())
        props[store.type.modified] = now
        updated = {**record, "properties": props, "updatedAt": now}
        store.store(updated, record)
        for name, value in changed.items():
            self._emit(store.type, record["id"], "propertyChange", name, value, source)
        return updated

    def archive_record(self, store: _ObjectStore, record: dict[str, Any],
                       *, source: tuple[str, str] | None = None) -> None:
        now = iso_ms(self._now())
        store.remove(record)
        store.archived[record["id"]] = {**record, "archived": True, "archivedAt": now,
                                        "updatedAt": now}
        self.associations.drop_record((store.type.name, record["id"]))
        self._emit(store.type, record["id"], "deletion", None, None, source)

    def _parse_associations(self, store: _ObjectStore,
                            associations: Any) -> list[tuple[tuple[str, str], list[int]]]:
        if not associations:
            return []
        if not isinstance(associations, list):
            raise _validation("associations must be a list of {to, types}")
        out: list[tuple[tuple[str, str], list[int]]] = []
        for item in associations:
            try:
                to_id = str(item["to"]["id"])
                type_ids = [int(t["associationTypeId"]) for t in item["types"]]
            except (KeyError, TypeError, ValueError):
                raise _validation("each association needs to.id and types[]."
                                  "associationTypeId") from None
            targets = set()
            for type_id in type_ids:
                pair = _PAIR_OF_TYPE_ID.get(type_id)
                if pair is None or pair[0] != store.type.name:
                    raise _validation(f"{type_id} is not a valid association type id from "
                                      f"{store.type.name}", code="INVALID_ASSOCIATION_TYPE")
                targets.add(pair[1])
            for to_type in targets:
                if self.stores[to_type].collection.get(to_id) is None:
                    raise _validation(f"{to_type} {to_id} does not exist; cannot associate",
                                      code="INVALID_OBJECT_IDS")
                out.append(((to_type, to_id), [t for t in type_ids
                                                if _PAIR_OF_TYPE_ID[t][1] == to_type]))
        return out

    # ------------------------------------------------------------------ webhooks

    def _emit(self, otype: ObjectType, object_id: str, event: str, prop: str | None,
              value: str | None, source: tuple[str, str] | None) -> None:
        if not self.webhooks.targets:
            return
        change_source, source_id = source or ("INTEGRATION", str(self.app_id))
        occurred = int(self._now().timestamp() * 1000)
        for sub in self.subscriptions.values():
            if not sub.matches(otype, event, prop):
                continue
            payload: dict[str, Any] = {
                "eventId": next(self._event_ids), "subscriptionId": sub.id,
                "portalId": self.portal_id, "appId": self.app_id, "occurredAt": occurred,
                "subscriptionType": sub.subscription_type, "attemptNumber": 0,
                "objectId": int(object_id), "changeSource": change_source,
                "sourceId": source_id,
            }
            if sub.subscription_type.startswith("object."):
                payload["objectTypeId"] = otype.type_id
            if event == "propertyChange":
                payload["propertyName"] = prop
                payload["propertyValue"] = value or ""
            self._outbox.append(payload)

    def _flush_events(self) -> None:
        """Deliver this request's events: one batch (<= 100 events) per POST per target."""
        if not self._outbox:
            return
        events, self._outbox = self._outbox, []
        step = self.max_events_per_delivery
        for url in self.webhooks.targets:
            for start in range(0, len(events), step):
                body = json.dumps(events[start:start + step], separators=(",", ":")).encode()
                self.webhooks.enqueue(url, body, self._webhook_headers)

    def _webhook_headers(self, url: str, body: bytes) -> dict[str, str]:
        secret = self.credentials.client_secret
        timestamp = int(self._now().timestamp() * 1000)
        return {
            "content-type": "application/json",
            "user-agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            "x-hubspot-signature": sign_v1(secret, body),
            "x-hubspot-signature-version": "v1",
            "x-hubspot-signature-v3": sign_v3(secret, "POST", url, body, timestamp),
            "x-hubspot-request-timestamp": str(timestamp),
        }

    def _add_subscription(self, body: Mapping[str, Any]) -> _Subscription:
        kind = body.get("subscriptionType") or body.get("eventType")
        if not isinstance(kind, str) or "." not in kind:
            raise _validation("subscriptionType (or eventType) is required, e.g. "
                              "company.propertyChange")
        prefix, _, event = kind.partition(".")
        if event not in ("creation", "deletion", "propertyChange", "merge", "restore",
                         "associationChange"):
            raise _validation(f"{kind!r} is not a known subscription type")
        type_id = body.get("objectTypeId")
        if prefix == "object":
            if not type_id:
                raise _validation("object.* subscriptions need objectTypeId, e.g. 0-970")
            self.object_store(str(type_id))
        elif not any(o.singular == prefix and o.legacy_webhooks for o in OBJECT_TYPES.values()):
            raise _validation(f"{kind!r} is not a known subscription type")
        sub = _Subscription(next(self._sub_ids), kind, str(type_id) if type_id else None,
                            body.get("propertyName") or None, bool(body.get("active", True)),
                            iso_ms(self._now()))
        self.subscriptions[sub.id] = sub
        return sub

    # ------------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        api, dev = self._api, (lambda h: self._api(h, developer=True))
        objects = "/crm/v3/objects/{objectType}"
        v4 = "/crm/v4/objects/{fromType}/{fromId}/associations"
        hooks = "/webhooks/v3/{appId}"
        return [
            Route("/oauth/v1/token", self._oauth_token, methods=["POST"]),
            Route("/oauth/v1/access-tokens/{token}", self._oauth_introspect, methods=["GET"]),
            Route(objects + "/search", api(self._search, search=True), methods=["POST"]),
            Route(objects + "/batch/{action}", api(self._batch), methods=["POST"]),
            Route(objects, api(self._list), methods=["GET"]),
            Route(objects, api(self._create), methods=["POST"]),
            Route(objects + "/{objectId}", api(self._get), methods=["GET"]),
            Route(objects + "/{objectId}", api(self._patch), methods=["PATCH"]),
            Route(objects + "/{objectId}", api(self._delete), methods=["DELETE"]),
            Route("/crm/v3/properties/{objectType}", api(self._properties),
                  methods=["GET", "POST"]),
            Route("/crm/v3/properties/{objectType}/{propertyName}", api(self._property),
                  methods=["GET"]),
            Route("/crm/v3/schemas", api(self._schemas), methods=["GET"]),
            Route("/crm/v3/schemas/{objectType}", api(self._schemas), methods=["GET"]),
            Route("/crm/v3/pipelines/{objectType}", api(self._pipelines), methods=["GET"]),
            Route(v4 + "/default/{toType}/{toId}", api(self._assoc_default), methods=["PUT"]),
            Route(v4 + "/{toType}/{toId}", api(self._assoc_put), methods=["PUT", "DELETE"]),
            Route(v4 + "/{toType}", api(self._assoc_list), methods=["GET"]),
            Route("/crm/v4/associations/{fromType}/{toType}/batch/{action:path}",
                  api(self._assoc_batch), methods=["POST"]),
            Route(hooks + "/settings", dev(self._hook_settings),
                  methods=["GET", "PUT", "DELETE"]),
            Route(hooks + "/subscriptions", dev(self._hook_subscriptions),
                  methods=["GET", "POST"]),
            Route(hooks + "/subscriptions/batch/update", dev(self._hook_batch_update),
                  methods=["POST"]),
            Route(hooks + "/subscriptions/{subscriptionId}", dev(self._hook_subscription),
                  methods=["GET", "PATCH", "DELETE"]),
            Route("/automation/v4/actions/callbacks/complete", api(self._callbacks_complete),
                  methods=["POST"]),
            Route("/automation/v4/actions/callbacks/{callbackId}/complete",
                  api(self._callback_complete), methods=["POST"]),
            Route("/automation/v4/actions/{appId}", dev(self._action_definitions),
                  methods=["GET", "POST"]),
            Route("/automation/v4/actions/{appId}/{definitionId}",
                  dev(self._action_definition), methods=["GET"]),
        ]

    def control_routes(self) -> list[BaseRoute]:
        c = self._control
        return [
            Route("/records/{objectType}", c(self._ui_create), methods=["POST"]),
            Route("/records/{objectType}/{objectId}", c(self._ui_record),
                  methods=["GET", "PATCH", "DELETE"]),
            Route("/webhooks/subscriptions", c(self._control_subscriptions),
                  methods=["GET", "POST", "DELETE"]),
            Route("/actions/definitions", c(self._control_define_action), methods=["POST"]),
            Route("/actions/executions", c(self._control_executions), methods=["GET"]),
            Route("/actions/executions/{callbackId}", c(self._control_execution),
                  methods=["GET"]),
            Route("/actions/executions/{callbackId}/retry", c(self._control_retry),
                  methods=["POST"]),
            Route("/actions/{definitionId}/fire", c(self._control_fire), methods=["POST"]),
        ]

    # ------------------------------------------------------------------ oauth

    async def _oauth_token(self, request: Request) -> Response:
        # x-www-form-urlencoded, parsed here: starlette's form() needs python-multipart.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}

        def refuse(status: str, message: str) -> Response:
            return JSONResponse({"status": status, "message": message,
                                 "correlationId": self._correlation_id()}, status_code=400)
        if form.get("grant_type") != "refresh_token":
            return refuse("BAD_GRANT_TYPE", "grant_type must be refresh_token in the sandbox")
        if form.get("client_id") != self.client_id:
            return refuse("BAD_CLIENT_ID", "missing or invalid client_id")
        secret = str(form.get("client_secret") or "")
        if not hmac.compare_digest(secret, self.credentials.client_secret):
            return refuse("BAD_CLIENT_SECRET", "missing or invalid client_secret")
        if form.get("refresh_token") != self.refresh_token:
            return refuse("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        token = f"sandbox-access-{self._rng.getrandbits(96):024x}"
        self._access_tokens[token] = self._now() + timedelta(seconds=self.token_lifetime)
        return JSONResponse({"access_token": token, "refresh_token": self.refresh_token,
                             "expires_in": self.token_lifetime, "token_type": "bearer"})

    async def _oauth_introspect(self, request: Request) -> Response:
        token = request.path_params["token"]
        expires = self._access_tokens.get(token)
        if expires is None or self._now() >= expires:
            return JSONResponse({"status": "error", "message": "The OAuth token is invalid or "
                                 "expired", "correlationId": self._correlation_id(),
                                 "category": "EXPIRED_AUTHENTICATION"}, status_code=404)
        return JSONResponse({
            "token": token, "hub_id": self.portal_id, "app_id": self.app_id, "user_id": 1,
            "user": "sandbox@example.com", "hub_domain": "sandbox.hubspot.test",
            "scopes": ["crm.objects.companies.read", "crm.objects.companies.write",
                       "crm.objects.deals.read", "crm.objects.deals.write"],
            "token_type": "access",
            "expires_in": int((expires - self._now()).total_seconds())})

    # ------------------------------------------------------------------ objects

    def _limit_param(self, raw: str | None, default: int, maximum: int) -> int:
        try:
            limit = default if raw in (None, "") else int(str(raw))
        except ValueError:
            raise _validation(f"limit {raw!r} is not a whole number") from None
        if limit < 1 or limit > maximum:
            raise _validation(f"limit must be between 1 and {maximum}, got {limit}")
        return limit

    def _after_param(self, raw: Any) -> int:
        if raw in (None, ""):
            return 0
        try:
            after = int(str(raw))
        except ValueError:
            raise _validation(f"after {raw!r} is not a valid paging cursor") from None
        if after < 0:
            raise _validation(f"after {raw!r} is not a valid paging cursor")
        return after

    async def _list(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        q = request.query_params
        limit = self._limit_param(q.get("limit"), 10, 100)
        after = self._after_param(q.get("after"))
        props, assocs = self._requested(request, "properties"), \
            self._requested(request, "associations")
        if q.get("archived", "false").lower() == "true":
            archived = list(store.archived.values())
            records = archived[after:after + limit]
            more = after + limit < len(archived)
        else:
            records = store.collection.page(after, limit + 1)
            more = len(records) > limit
            records = records[:limit]
        body: dict[str, Any] = {"results": [self._render(store, r, props, assocs)
                                            for r in records]}
        if more:
            nxt = str(after + limit)
            body["paging"] = {"next": {"after": nxt, "link": str(
                request.url.include_query_params(after=nxt))}}
        return JSONResponse(body)

    async def _get(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        object_id = request.path_params["objectId"]
        q = request.query_params
        if q.get("archived", "false").lower() == "true":
            record = store.archived.get(object_id)
        else:
            record = store.find(object_id, q.get("idProperty"))
        if record is None:
            raise _not_found(object_id)
        return JSONResponse(self._render(store, record, self._requested(request, "properties"),
                                         self._requested(request, "associations")))

    async def _create(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _validation("expected {properties, associations}")
        record = self.create_record(store, body.get("properties"), body.get("associations"))
        return JSONResponse(self._render(store, record, list(record["properties"])),
                            status_code=201)

    async def _patch(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        object_id = request.path_params["objectId"]
        record = store.find(object_id, request.query_params.get("idProperty"))
        if record is None:
            raise _not_found(object_id)
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _validation("expected {properties}")
        updated = self.update_record(store, record, body.get("properties"))
        return JSONResponse(self._render(store, updated, list(updated["properties"])))

    async def _delete(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        record = store.find(request.path_params["objectId"])
        if record is not None:
            self.archive_record(store, record)
        return Response(status_code=204)  # HubSpot answers 204 for unknown ids too

    # ------------------------------------------------------------------ search

    def _check_filters(self, store: _ObjectStore, groups: Any) -> list[list[dict[str, Any]]]:
        if groups is None:
            return []
        if not isinstance(groups, list):
            raise _validation("filterGroups must be a list")
        if len(groups) > _MAX_GROUPS:
            raise _validation(f"Too many filter groups: {len(groups)}; the maximum is "
                              f"{_MAX_GROUPS}.", code="TOO_MANY_FILTER_GROUPS")
        out: list[list[dict[str, Any]]] = []
        total = 0
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > _MAX_PER_GROUP:
                raise _validation(f"Too many filters in a filter group: {len(filters)}; the "
                                  f"maximum is {_MAX_PER_GROUP}.", code="TOO_MANY_FILTERS")
            total += len(filters)
            for flt in filters:
                op = flt.get("operator")
                name = flt.get("propertyName")
                if op not in _OPERATORS:
                    raise _validation(f"Unknown operator {op!r}; expected one of "
                                      f"{', '.join(sorted(_OPERATORS))}.",
                                      code="INVALID_OPERATOR")
                if name not in store.properties:
                    raise _validation(f"Property {name!r} does not exist on "
                                      f"{store.type.name}.", code="PROPERTY_DOESNT_EXIST",
                                      name=str(name))
                if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
                    raise _validation(f"{op} needs `values` (a list).", name=name)
                if op == "BETWEEN" and flt.get("highValue") is None:
                    raise _validation("BETWEEN needs `value` and `highValue`.", name=name)
            out.append(filters)
        if total > _MAX_FILTERS:
            raise _validation(f"Too many filters: {total}; the maximum is {_MAX_FILTERS} "
                              "across all filter groups.", code="TOO_MANY_FILTERS")
        return out

    async def _search(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _validation("expected a search request object")
        groups = self._check_filters(store, body.get("filterGroups"))
        limit = self._limit_param(body.get("limit"), 10, 200)
        after = self._after_param(body.get("after"))
        if after >= _SEARCH_CAP:
            raise _validation(f"Search results are capped at {_SEARCH_CAP}; `after` "
                              f"{after} is past the cap. Narrow the query instead "
                              "(e.g. by hs_lastmodifieddate).", code="SEARCH_LIMIT_EXCEEDED")
        query = str(body.get("query") or "").strip()
        kinds = {n: p["type"] for n, p in store.properties.items()}

        def matches(record: Mapping[str, Any]) -> bool:
            props = record["properties"]
            if query and not any(isinstance(v, str) and _token_match(v, query + "*")
                                 for v in props.values()):
                return False
            if not groups:
                return True
            return any(all(_filter_matches(f, kinds[f["propertyName"]],
                                           props.get(f["propertyName"])) for f in group)
                       for group in groups)

        sorts = self._sorts(store, body.get("sorts"))
        if not groups and not query and not sorts:
            # Nothing to filter or sort: page the store directly (cheap for big portals).
            total, page = len(store.collection), store.collection.page(after, limit)
            return self._search_page(store, body, total, page, after, limit)
        hits = [r for r in store.collection.iter() if matches(r)]
        for sort in reversed(sorts):
            name, descending = sort
            kind = kinds[name]
            present = [r for r in hits if r["properties"].get(name) not in (None, "")]
            absent = [r for r in hits if r["properties"].get(name) in (None, "")]
            present.sort(key=lambda r: _comparable(kind, r["properties"][name]),
                         reverse=descending)
            hits = present + absent
        return self._search_page(store, body, len(hits), hits[after:after + limit], after,
                                 limit)

    def _search_page(self, store: _ObjectStore, body: Mapping[str, Any], total: int,
                     page: list[dict[str, Any]], after: int, limit: int) -> Response:
        result: dict[str, Any] = {
            "total": total,
            "results": [self._render(store, r, body.get("properties") or None) for r in page]}
        nxt = after + limit
        if nxt < total and nxt < _SEARCH_CAP:
            result["paging"] = {"next": {"after": str(nxt)}}
        return JSONResponse(result)

    def _sorts(self, store: _ObjectStore, sorts: Any) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for sort in sorts or []:
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            elif isinstance(sort, dict):
                name = str(sort.get("propertyName"))
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            else:
                raise _validation("sorts must be property names or {propertyName, direction}")
            if name not in store.properties:
                raise _validation(f"Cannot sort by {name!r}: no such property.", name=name)
            out.append((name, descending))
        return out

    # ------------------------------------------------------------------ batch

    async def _batch(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        action = request.path_params["action"]
        body = await self._json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise _validation("expected {\"inputs\": [...]}")
        if len(inputs) > 100:
            raise _validation(f"Batch input limit exceeded: {len(inputs)} inputs; the "
                              "maximum is 100.", code="BATCH_LIMIT_EXCEEDED")
        started = iso_ms(self._now())
        handler = {"create": self._batch_create, "read": self._batch_read,
                   "update": self._batch_update, "upsert": self._batch_upsert,
                   "archive": self._batch_archive}.get(action)
        if handler is None:
            raise HubSpotError(404, f"Unknown batch action {action!r}", "OBJECT_NOT_FOUND")
        results, errors, status = handler(store, inputs, body)
        if action == "archive":
            return Response(status_code=204)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results,
                               "requestedAt": started, "startedAt": started,
                               "completedAt": iso_ms(self._now())}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
            status = 207
        return JSONResponse(out, status_code=status)

    @staticmethod
    def _standard_error(message: str, category: str, context: dict[str, list[str]],
                        status: str = "error") -> dict[str, Any]:
        return {"status": status, "category": category, "message": message,
                "context": context, "links": {}, "errors": []}

    def _batch_create(self, store: _ObjectStore, inputs: list[Any],
                      body: Mapping[str, Any]) -> tuple[list[Any], list[Any], int]:
        traced = all(isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs)
        checked: list[tuple[dict[str, Any], HubSpotError | None]] = []
        for item in inputs:
            if not isinstance(item, dict):
                raise _validation("each input must be {properties, associations}")
            _, problems = self._prepare(store, item.get("properties"), None,
                                             creating=True)
            error = _PropertyProblem.to_error(problems) if problems else None
            if error is None:
                try:
                    self._parse_associations(store, item.get("associations"))
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
                    record = self.create_record(store, item.get("properties"),
                                                item.get("associations"))
                except HubSpotError as exc:
                    error = exc
                else:
                    rendered = self._render(store, record, list(record["properties"]))
                    if item.get("objectWriteTraceId"):
                        rendered["objectWriteTraceId"] = str(item["objectWriteTraceId"])
                    results.append(rendered)
                    continue
            errors.append(self._standard_error(
                error.message, error.category,
                {"objectWriteTraceId": [str(item.get("objectWriteTraceId"))]}))
        return results, errors, 201

    def _batch_read(self, store: _ObjectStore, inputs: list[Any],
                    body: Mapping[str, Any]) -> tuple[list[Any], list[Any], int]:
        id_property = body.get("idProperty")
        props = body.get("properties") or None
        results, missing = [], []
        for item in inputs:
            object_id = str((item or {}).get("id"))
            record = store.find(object_id, id_property)
            if record is None:
                missing.append(object_id)
            else:
                results.append(self._render(store, record, props))
        errors = [self._standard_error(f"Could not get some {store.type.name} objects, they "
                                       f"may be deleted or not exist. Check that ids are "
                                       f"valid.", "OBJECT_NOT_FOUND", {"ids": missing})
                  ] if missing else []
        return results, errors, 200

    def _batch_update(self, store: _ObjectStore, inputs: list[Any],
                      body: Mapping[str, Any]) -> tuple[list[Any], list[Any], int]:
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []
        missing = []
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise _validation("each input must be {id, properties}")
            record = store.find(str(item["id"]), item.get("idProperty"))
            if record is None:
                missing.append(str(item["id"]))
                continue
            _, problems = self._prepare(store, item.get("properties"), record["id"],
                                        creating=False)
            if problems:
                raise _PropertyProblem.to_error(problems)
            found.append((item, record))
        ids = [r["id"] for _, r in found]
        if len(set(ids)) != len(ids):
            raise _validation("Duplicate IDs found in batch input", code="DUPLICATE_IDS")
        results = [self._render(store, u, list(u["properties"])) for u in
                   (self.update_record(store, r, i.get("properties")) for i, r in found)]
        errors = [self._standard_error(f"Could not find {store.type.name} with ids "
                                       f"{', '.join(missing)}", "OBJECT_NOT_FOUND",
                                       {"ids": missing})] if missing else []
        return results, errors, 200

    def _batch_upsert(self, store: _ObjectStore, inputs: list[Any],
                      body: Mapping[str, Any]) -> tuple[list[Any], list[Any], int]:
        keys: list[tuple[str, str]] = []
        for item in inputs:
            if not isinstance(item, dict) or not item.get("idProperty") or "id" not in item:
                raise _validation("each upsert input must be {idProperty, id, properties}")
            name = str(item["idProperty"])
            if not store.is_unique(name):
                raise _validation(f"Property {name!r} is not a unique property "
                                  "(hasUniqueValue); upsert needs one.", name=name,
                                  code="INVALID_ID_PROPERTY")
            keys.append((name, str(item["id"])))
        if len(set(keys)) != len(keys):
            raise _validation("Duplicate IDs found in batch input", code="DUPLICATE_IDS")
        plan: list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = []
        for item, (name, value) in zip(inputs, keys, strict=True):
            record = store.find(value, name)
            props = dict(item.get("properties") or {})
            props[name] = value
            _, problems = self._prepare(store, props, record["id"] if record else None,
                                        creating=record is None)
            if problems:
                raise _PropertyProblem.to_error(problems)
            plan.append((item, record, props))
        results = []
        for _item, record, props in plan:
            if record is None:
                stored = self.create_record(store, props)
                new = True
            else:
                stored = self.update_record(store, record, props)
                new = False
            rendered = self._render(store, stored, list(stored["properties"]))
            rendered["new"] = new
            results.append(rendered)
        return results, [], 200

    def _batch_archive(self, store: _ObjectStore, inputs: list[Any],
                       body: Mapping[str, Any]) -> tuple[list[Any], list[Any], int]:
        for item in inputs:
            record = store.find(str((item or {}).get("id")))
            if record is not None:
                self.archive_record(store, record)
        return [], [], 204

    # ------------------------------------------------------------------ properties & schemas

    async def _properties(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        if request.method == "GET":
            return JSONResponse({"results": list(store.properties.values())})
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _validation("expected a property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not body.get(k)]
        if missing:
            raise _validation(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _validation(f"Property name {name!r} must be lowercase letters, digits "
                              "and underscores, starting with a letter", name=name)
        if name in store.properties:
            raise HubSpotError(409, f"Property named '{name}' already exists.",
                               "OBJECT_ALREADY_EXISTS", context={"name": [name]})
        kind = str(body["type"])
        if kind not in ("string", "number", "date", "datetime", "enumeration", "bool"):
            raise _validation(f"Unknown property type {kind!r}", name=name)
        now = iso_ms(self._now())
        options = [{"label": str(o.get("label", o.get("value"))), "value": str(o["value"]),
                    "displayOrder": int(o.get("displayOrder", i)),
                    "hidden": bool(o.get("hidden", False))}
                   for i, o in enumerate(body.get("options") or [])]
        prop = {
            "name": name, "label": str(body["label"]), "type": kind,
            "fieldType": str(body["fieldType"]), "description": str(body.get("description",
                                                                          "")),
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

    async def _property(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        name = request.path_params["propertyName"]
        prop = store.properties.get(name)
        if prop is None:
            raise HubSpotError(404, f"Unable to find property {name} for {store.type.name}",
                               "OBJECT_NOT_FOUND", context={"name": [name]})
        return JSONResponse(prop)

    def _schema(self) -> dict[str, Any]:
        store = self.stores["agreements"]
        now = "2020-01-01T00:00:00.000Z"
        return {
            "id": _CUSTOM_AGREEMENTS_ID.split("-")[1], "name": "agreements",
            "objectTypeId": _CUSTOM_AGREEMENTS_ID,
            "fullyQualifiedName": f"p{self.portal_id}_agreements",
            "labels": {"singular": "Agreement", "plural": "Agreements"},
            "primaryDisplayProperty": "name", "requiredProperties": ["name"],
            "searchableProperties": ["name", "kleer_agreement_id"],
            "secondaryDisplayProperties": ["kleer_agreement_id"],
            "properties": list(store.properties.values()),
            "associations": [{"fromObjectTypeId": _CUSTOM_AGREEMENTS_ID,
                              "toObjectTypeId": OBJECT_TYPES[to].type_id,
                              "id": str(ASSOCIATION_TYPE_IDS[("agreements", to)]),
                              "name": f"agreement_to_{OBJECT_TYPES[to].singular}"}
                             for to in ("companies", "deals", "line_items")],
            "createdAt": now, "updatedAt": now, "archived": False,
        }

    async def _schemas(self, request: Request) -> Response:
        wanted = request.path_params.get("objectType")
        if wanted is None:
            return JSONResponse({"results": [self._schema()]})
        if self.object_store(wanted).type.name != "agreements":
            raise HubSpotError(404, f"Unable to find schema {wanted}", "OBJECT_NOT_FOUND")
        return JSONResponse(self._schema())

    async def _pipelines(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        if store.type.name != "deals":
            return JSONResponse({"results": []})
        stages = [{"id": s, "label": s.replace("to", " to ").title(), "displayOrder": i,
                   "metadata": {"probability": str(min(1.0, round(0.2 * (i + 1), 1)))
                                if s != "closedlost" else "0.0"},
                   "createdAt": "2020-01-01T00:00:00.000Z",
                   "updatedAt": "2020-01-01T00:00:00.000Z", "archived": False}
                  for i, s in enumerate(seed.DEAL_STAGES)]
        return JSONResponse({"results": [{"id": "default", "label": "Sales Pipeline",
                                          "displayOrder": 0, "stages": stages,
                                          "createdAt": "2020-01-01T00:00:00.000Z",
                                          "updatedAt": "2020-01-01T00:00:00.000Z",
                                          "archived": False}]})

    # ------------------------------------------------------------------ associations v4

    def _record_ref(self, type_name: str, object_id: str) -> tuple[_ObjectStore, str]:
        store = self.object_store(type_name)
        if store.collection.get(str(object_id)) is None:
            raise _not_found(str(object_id), store.type.name)
        return store, str(object_id)

    def _assoc_result(self, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
        type_ids = self.associations.of(*a).get(b, set())
        return {"fromObjectTypeId": OBJECT_TYPES[a[0]].type_id, "fromObjectId": int(a[1]),
                "toObjectTypeId": OBJECT_TYPES[b[0]].type_id, "toObjectId": int(b[1]),
                "labels": sorted(self._label(t) for t in type_ids if self._label(t))}

    @staticmethod
    def _label(type_id: int) -> str:
        return "Primary" if type_id in _PRIMARY_ASSOCIATIONS.values() else ""

    async def _assoc_default(self, request: Request) -> Response:
        p = request.path_params
        a_store, a_id = self._record_ref(p["fromType"], p["fromId"])
        b_store, b_id = self._record_ref(p["toType"], p["toId"])
        a, b = (a_store.type.name, a_id), (b_store.type.name, b_id)
        self.associations.add(a, b, [ASSOCIATION_TYPE_IDS[(a[0], b[0])]])
        return JSONResponse({"status": "COMPLETE", "results": [
            self._default_result(a, b), self._default_result(b, a)],
            "startedAt": iso_ms(self._now()), "completedAt": iso_ms(self._now())})

    @staticmethod
    def _default_result(a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
        return {"from": {"id": a[1]}, "to": {"id": b[1]}, "associationSpec": {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": ASSOCIATION_TYPE_IDS[(a[0], b[0])]}}

    def _type_specs(self, a: str, b: str, specs: Any) -> list[int]:
        if not isinstance(specs, list) or not specs:
            raise _validation("expected a list of {associationCategory, associationTypeId}")
        type_ids = []
        for spec_ in specs:
            try:
                type_id = int(spec_["associationTypeId"])
                category = str(spec_["associationCategory"])
            except (KeyError, TypeError, ValueError):
                raise _validation("each type needs associationCategory and "
                                  "associationTypeId") from None
            if category not in ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"):
                raise _validation(f"unknown associationCategory {category!r}")
            if _PAIR_OF_TYPE_ID.get(type_id) != (a, b):
                raise _validation(f"association type {type_id} does not go from {a} to {b}",
                                  code="INVALID_ASSOCIATION_TYPE")
            type_ids.append(type_id)
        return type_ids

    async def _assoc_put(self, request: Request) -> Response:
        p = request.path_params
        a_store, a_id = self._record_ref(p["fromType"], p["fromId"])
        b_store = self.object_store(p["toType"])
        a, b = (a_store.type.name, a_id), (b_store.type.name, str(p["toId"]))
        if request.method == "DELETE":
            self.associations.remove(a, b)
            return Response(status_code=204)
        self._record_ref(p["toType"], p["toId"])
        type_ids = self._type_specs(a[0], b[0], await self._json(request))
        self.associations.add(a, b, type_ids)
        return JSONResponse({"fromObjectTypeId": a_store.type.type_id,
                             "fromObjectId": int(a_id),
                             "toObjectTypeId": b_store.type.type_id, "toObjectId": int(b[1]),
                             "labels": []}, status_code=201)

    def _assoc_rows(self, a: tuple[str, str], to_type: str) -> list[dict[str, Any]]:
        rows = []
        for (other_type, other_id), type_ids in sorted(self.associations.of(*a).items()):
            if other_type != to_type:
                continue
            rows.append({"toObjectId": int(other_id), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": t,
                 "label": self._label(t) or None} for t in sorted(type_ids)]})
        return rows

    async def _assoc_list(self, request: Request) -> Response:
        p = request.path_params
        a_store, a_id = self._record_ref(p["fromType"], p["fromId"])
        to_type = self.object_store(p["toType"]).type.name
        rows = self._assoc_rows((a_store.type.name, a_id), to_type)
        limit = self._limit_param(request.query_params.get("limit"), 500, 500)
        after = self._after_param(request.query_params.get("after"))
        body: dict[str, Any] = {"results": rows[after:after + limit]}
        if after + limit < len(rows):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(body)

    async def _assoc_batch(self, request: Request) -> Response:
        p = request.path_params
        a_type = self.object_store(p["fromType"]).type.name
        b_type = self.object_store(p["toType"]).type.name
        action = p["action"]
        body = await self._json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise _validation("expected {\"inputs\": [...]}")
        if len(inputs) > (1000 if action == "read" else 100):
            raise _validation(f"Batch input limit exceeded: {len(inputs)} inputs.",
                              code="BATCH_LIMIT_EXCEEDED")
        started = iso_ms(self._now())
        results: list[Any] = []
        errors: list[Any] = []
        for item in inputs:
            try:
                # read takes {id}; the writes take {from: {id}, to: {id}}
                from_id = str(item["id"] if action == "read" and "id" in item
                              else item["from"]["id"])
            except (KeyError, TypeError):
                raise _validation("each input needs from.id (or id for read)") from None
            a = (a_type, from_id)
            if self.stores[a_type].collection.get(from_id) is None:
                errors.append(self._standard_error(f"{a_type} {from_id} does not exist",
                                                   "OBJECT_NOT_FOUND", {"ids": [from_id]}))
                continue
            if action == "read":
                rows = self._assoc_rows(a, b_type)
                if rows:
                    results.append({"from": {"id": from_id}, "to": rows})
                continue
            to_id = str((item.get("to") or {}).get("id"))
            b = (b_type, to_id)
            if action == "archive":
                self.associations.remove(a, b)
                continue
            if self.stores[b_type].collection.get(to_id) is None:
                errors.append(self._standard_error(f"{b_type} {to_id} does not exist",
                                                   "OBJECT_NOT_FOUND", {"ids": [to_id]}))
                continue
            if action == "create":
                type_ids = self._type_specs(a_type, b_type, item.get("types"))
            elif action == "associate/default":
                type_ids = [ASSOCIATION_TYPE_IDS[(a_type, b_type)]]
            else:
                raise HubSpotError(404, f"Unknown batch action {action!r}",
                                   "OBJECT_NOT_FOUND")
            self.associations.add(a, b, type_ids)
            results.append(self._default_result(a, b) if action == "associate/default"
                            else self._assoc_result(a, b))
        if action == "archive":
            return Response(status_code=204)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": iso_ms(self._now())}
        if errors:
            out["numErrors"], out["errors"] = len(errors), errors
        return JSONResponse(out, status_code=207 if errors else
                            (201 if action in ("create", "associate/default") else 200))

    # ------------------------------------------------------------------ webhooks API

    def _check_app(self, request: Request) -> None:
        if str(request.path_params["appId"]) != str(self.app_id):
            raise HubSpotError(404, f"App {request.path_params['appId']} not found",
                               "OBJECT_NOT_FOUND")

    async def _hook_settings(self, request: Request) -> Response:
        self._check_app(request)
        now = iso_ms(self._now())
        if request.method == "DELETE":
            for url in list(self.webhooks.targets):
                self.webhooks.unregister(url)
            return Response(status_code=204)
        if request.method == "PUT":
            body = await self._json(request)
            url = body.get("targetUrl") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise _validation("targetUrl must be an http(s) URL")
            for old in list(self.webhooks.targets):
                self.webhooks.unregister(old)
            self.webhooks.register(url)
        if not self.webhooks.targets:
            raise HubSpotError(404, "No webhook settings for this app", "OBJECT_NOT_FOUND")
        return JSONResponse({"targetUrl": self.webhooks.targets[0],
                             "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"},
                             "createdAt": now, "updatedAt": now})

    async def _hook_subscriptions(self, request: Request) -> Response:
        self._check_app(request)
        if request.method == "POST":
            sub = self._add_subscription(await self._json(request))
            return JSONResponse(sub.to_json(), status_code=201)
        return JSONResponse({"results": [s.to_json() for s in self.subscriptions.values()]})

    def _find_subscription(self, raw: Any) -> _Subscription:
        try:
            sub = self.subscriptions.get(int(raw))
        except (TypeError, ValueError):
            sub = None
        if sub is None:
            raise HubSpotError(404, f"Subscription {raw} not found", "OBJECT_NOT_FOUND")
        return sub

    async def _hook_subscription(self, request: Request) -> Response:
        self._check_app(request)
        sub = self._find_subscription(request.path_params["subscriptionId"])
        if request.method == "DELETE":
            del self.subscriptions[sub.id]
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await self._json(request)
            if isinstance(body, dict) and "active" in body:
                sub.active = bool(body["active"])
        return JSONResponse(sub.to_json())

    async def _hook_batch_update(self, request: Request) -> Response:
        self._check_app(request)
        body = await self._json(request)
        results = []
        for item in (body.get("inputs") or []) if isinstance(body, dict) else []:
            sub = self._find_subscription(item.get("id"))
            sub.active = bool(item.get("active", sub.active))
            results.append(sub.to_json())
        now = iso_ms(self._now())
        return JSONResponse({"status": "COMPLETE", "results": results, "startedAt": now,
                             "completedAt": now})

    # ------------------------------------------------------------------ workflow actions

    def define_action(self, body: Any) -> dict[str, Any]:
        """Store a custom action definition (`actionUrl`, `objectTypes`, ...); returns it."""
        if not isinstance(body, dict) or not str(body.get("actionUrl", "")).startswith(
                ("http://", "https://")):
            raise _validation("an action definition needs actionUrl (http or https)")
        definition_id = str(next(self._definition_ids))
        definition = {"id": definition_id, "revisionId": "1", "published": False,
                      "objectTypes": [], "inputFields": [], "outputFields": [],
                      "functions": [], "labels": {}, **body}
        definition["id"] = definition_id
        self.action_definitions[definition_id] = definition
        return definition

    async def _action_definitions(self, request: Request) -> Response:
        self._check_app(request)
        if request.method == "POST":
            return JSONResponse(self.define_action(await self._json(request)),
                                status_code=201)
        return JSONResponse({"results": list(self.action_definitions.values())})

    async def _action_definition(self, request: Request) -> Response:
        self._check_app(request)
        definition = self.action_definitions.get(request.path_params["definitionId"])
        if definition is None:
            raise HubSpotError(404, "Action definition not found", "OBJECT_NOT_FOUND")
        return JSONResponse(definition)

    def _complete(self, callback_id: str, body: Any) -> None:
        execution = self.executions.get(callback_id)
        if execution is None:
            raise HubSpotError(404, f"No pending action execution with callbackId "
                               f"{callback_id}", "OBJECT_NOT_FOUND",
                               context={"callbackId": [callback_id]})
        output = body.get("outputFields") if isinstance(body, dict) else None
        if not isinstance(output, dict):
            raise _validation("expected {\"outputFields\": {\"hs_execution_state\": ...}}")
        state = output.get("hs_execution_state")
        if state not in ("SUCCESS", "FAIL_CONTINUE"):
            raise _validation("outputFields.hs_execution_state must be SUCCESS or "
                              "FAIL_CONTINUE", name="hs_execution_state")
        execution.completions.append({**output, "completedAt": iso_ms(self._now())})

    async def _callback_complete(self, request: Request) -> Response:
        self._complete(request.path_params["callbackId"], await self._json(request))
        return Response(status_code=204)

    async def _callbacks_complete(self, request: Request) -> Response:
        body = await self._json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise _validation("expected {\"inputs\": [{callbackId, outputFields}]}")
        if len(inputs) > 100:
            raise _validation(f"Batch input limit exceeded: {len(inputs)} inputs; the "
                              "maximum is 100.", code="BATCH_LIMIT_EXCEEDED")
        for item in inputs:
            self._complete(str((item or {}).get("callbackId")), item)
        return Response(status_code=204)

    async def fire_action(self, definition_id: str, object_id: str, *,
                          object_type: str | None = None,
                          input_fields: Mapping[str, Any] | None = None,
                          workflow_id: int = 1) -> _Execution:
        """Run one workflow action execution against its action URL (as HubSpot does)."""
        definition = self.action_definitions.get(definition_id)
        if definition is None:
            raise HubSpotError(404, f"Action definition {definition_id} not found",
                               "OBJECT_NOT_FOUND")
        kind = object_type or (definition.get("objectTypes") or ["COMPANY"])[0]
        store = self.object_store(str(kind))
        record = store.collection.get(str(object_id))
        if record is None:
            raise _not_found(str(object_id), store.type.name)
        wanted = (definition.get("objectRequestOptions") or {}).get("properties") or []
        enrollment = next(self._enrollments)
        callback_id = f"ap-{self.portal_id}-{enrollment * 1000 + int(definition_id)}-1-0"
        fields = dict(input_fields or {})
        payload = {
            "callbackId": callback_id,
            "origin": {"portalId": self.portal_id, "actionDefinitionId": int(definition_id),
                       "actionDefinitionVersion": int(definition.get("revisionId", 1)),
                       "actionExecutionIndexIdentifier": {"enrollmentId": enrollment,
                                                          "actionExecutionIndex": 0},
                       "extensionDefinitionId": int(definition_id),
                       "extensionDefinitionVersionId": int(definition.get("revisionId", 1))},
            "context": {"source": "WORKFLOWS", "workflowId": workflow_id},
            "object": {"objectId": int(object_id),
                       "objectType": store.type.singular.upper() if store.type.legacy_webhooks
                       else store.type.type_id,
                       "properties": {n: record["properties"].get(n) for n in wanted}},
            "inputFields": fields,
            "fields": fields,
        }
        execution = _Execution(callback_id, definition_id, str(definition["actionUrl"]),
                               payload)
        self.executions[callback_id] = execution
        await self._send_execution(execution)
        return execution

    async def _send_execution(self, execution: _Execution) -> None:
        body = json.dumps(execution.payload, separators=(",", ":")).encode()
        secret = self.credentials.client_secret
        timestamp = int(self._now().timestamp() * 1000)
        url = execution.url
        headers = {
            "content-type": "application/json",
            "x-hubspot-signature": sign_v2(secret, "POST", url, body),
            "x-hubspot-signature-version": "v2",
            "x-hubspot-signature-v3": sign_v3(secret, "POST", url, body, timestamp),
            "x-hubspot-request-timestamp": str(timestamp),
        }
        attempt: dict[str, Any] = {"attempt": len(execution.attempts) + 1,
                                   "at": iso_ms(self._now()), "status": None,
                                   "response": None, "error": None}
        client = self.config.webhook_client
        owned = client is None
        client = client or httpx.AsyncClient()
        try:
            response = await client.post(url, content=body, headers=headers,
                                         timeout=self.action_timeout)
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

    # ------------------------------------------------------------------ control calls

    async def _ui_create(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        body = await self._json(request)
        props = body.get("properties", body) if isinstance(body, dict) else None
        record = self.create_record(store, props, body.get("associations")
                                    if isinstance(body, dict) else None,
                                    source=("CRM_UI", "userId:1"))
        return JSONResponse(self._render(store, record, list(record["properties"])),
                            status_code=201)

    async def _ui_record(self, request: Request) -> Response:
        store = self.object_store(request.path_params["objectType"])
        object_id = request.path_params["objectId"]
        record = store.find(object_id)
        if record is None:
            raise _not_found(object_id)
        if request.method == "DELETE":
            self.archive_record(store, record, source=("CRM_UI", "userId:1"))
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await self._json(request)
            props = body.get("properties", body) if isinstance(body, dict) else None
            record = self.update_record(store, record, props, source=("CRM_UI", "userId:1"))
        return JSONResponse(self._render(store, record, list(record["properties"])))

    async def _control_subscriptions(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.subscriptions.clear()
            return Response(status_code=204)
        if request.method == "POST":
            body = await self._json(request)
            if isinstance(body, dict) and body.get("targetUrl"):
                self.webhooks.register(str(body["targetUrl"]))
            sub = self._add_subscription(body if isinstance(body, dict) else {})
            return JSONResponse(sub.to_json(), status_code=201)
        return JSONResponse({"targets": self.webhooks.targets,
                             "results": [s.to_json() for s in self.subscriptions.values()]})

    async def _control_define_action(self, request: Request) -> Response:
        return JSONResponse(self.define_action(await self._json(request)), status_code=201)

    async def _control_fire(self, request: Request) -> Response:
        body = await self._json(request)
        if not isinstance(body, dict) or "objectId" not in body:
            raise _validation("expected {objectId, objectType?, inputFields?, workflowId?}")
        execution = await self.fire_action(
            request.path_params["definitionId"], str(body["objectId"]),
            object_type=body.get("objectType"), input_fields=body.get("inputFields"),
            workflow_id=int(body.get("workflowId", 1)))
        return JSONResponse(execution.to_json(), status_code=201)

    def _execution(self, callback_id: str) -> _Execution:
        execution = self.executions.get(callback_id)
        if execution is None:
            raise HubSpotError(404, f"No execution {callback_id}", "OBJECT_NOT_FOUND")
        return execution

    async def _control_execution(self, request: Request) -> Response:
        return JSONResponse(self._execution(request.path_params["callbackId"]).to_json())

    async def _control_executions(self, request: Request) -> Response:
        return JSONResponse({"results": [e.to_json() for e in self.executions.values()]})

    async def _control_retry(self, request: Request) -> Response:
        execution = self._execution(request.path_params["callbackId"])
        await self._send_execution(execution)
        return JSONResponse(execution.to_json())

    # ------------------------------------------------------------------ conveniences

    def records(self, object_type: str) -> Iterator[dict[str, Any]]:
        """Every live record of a type, for tests and the demo."""
        return self.object_store(object_type).collection.iter()
