"""Cinode (REST v0.1): users, subcontractors, customers and projects.

Facts this adapter is built on (apis.md section 1):

- Auth: `GET /token` with Basic `access_id:access_secret` gives a 120-second JWT and a
  refresh token. The token endpoint allows 2 calls per 2 s, so the token is cached and
  renewed ~30 s before it expires (refresh token first, a fresh `/token` if that fails),
  and a 401 mid-run renews it once (single-flight, through `HttpSession`).
- The company id comes from `options["company_id"]`, else the JWT's `companySub`.
- 40 requests per 2 s per company (`config.rate_limit` overrides); one budget per
  credential, shared with every other sync using it.
- Plain GET lists are not paginated, so reads use the paged `POST .../search`
  endpoints (subcontractors have none; their list is small and read whole).
- Full reads page in `createdDateTime` order, which updates during the read do not
  disturb. Changed-since reads page newest-first by `updatedDateTime` and stop at the
  first record older than `since`: an update during the read then shows up as a
  duplicate (dropped) instead of shifting a record past the page boundary unseen, and
  the read costs pages in proportion to the changes, not the collection. The changed
  records are held until the oldest is reached and yielded oldest-first, so memory
  grows with the number of changes, never with the collection.
- Writes are one call per record (Cinode has no batch endpoint). Users are created
  with the add model (with a generated password that is never logged) and the fields
  it lacks are applied with a JSON Patch (which spells `firstname`/`lastname` in lower
  case). Projects and subcontractors have no PATCH: their PUT replaces the whole edit
  model, so the adapter reads the record and merges before it writes. Subcontractor
  PUT is a newer API than the 2024 spec [assumed].
- Write-only catalog fields are resolved here: customer `countryCode` -> `countryId`
  and `currencyCode` -> `turnOverCurrencyId` (look-ups, create only: the edit model has
  neither), `invoiceAddress` -> the address with `addressType` 2, `responsibleUserId`
  -> a manager, `contactName` -> a contact, `tags` -> the tag replacement endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
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
from engine.values import coerce_record, parse_datetime

__all__ = ["CinodeAdapter"]

log = logging.getLogger("engine.adapters.cinode")

DEFAULT_RATE_LIMIT = (40, 2.0)
TOKEN_RATE_LIMIT = (2, 2.0)
REFRESH_MARGIN = 30.0  # seconds before expiry a token is renewed
DEFAULT_PAGE_SIZE = 500

# Vendor statuses that reject one record, not the run (403 is data-dependent in Cinode).
_REJECTED = (400, 403, 404, 409, 422)

_JSON_PATCH = {"Content-Type": "application/json-patch+json"}

# Search endpoints: (path, sortBy for createdDateTime, sortBy for updatedDateTime).
# Project sortBy for UpdatedDateTime is 5 in the vendor enum but 6 in its prose; the
# adapter checks the order it gets back rather than trusting either.
_SEARCH = {
    "users": ("users/search", 0, 4),
    "customers": ("customers/search", 0, 13),
    "projects": ("projects/search", 0, 5),
}

# Read model keys copied as they are, per object; other catalog fields are derived.
_DIRECT = {
    "users": ("id", "companyUserId", "firstName", "lastName", "gender", "dateOfBirth",
              "phone", "title", "status", "employmentNumber", "internalIdentifier",
              "employmentStartDate", "employmentEndDate", "availabilityPercent",
              "languageId", "defaultCurrencyId", "locationId", "baseSalary", "taxTable",
              "companyUserType", "createdDateTime", "updatedDateTime"),
    "subcontractors": ("id", "firstName", "lastName", "email", "gender", "phone",
                       "languageId", "currencyId", "companyAddressId", "companyName",
                       "companyIdentifier", "internalIdentifier", "title", "status",
                       "createdDateTime"),
    "customers": ("id", "name", "description", "corporateIdentityNumber", "vatNumber",
                  "identification", "email", "homepage", "phone", "status",
                  "updatedDateTime"),
    "projects": ("id", "title", "customerId", "description", "identifier",
                 "customerIdentifier", "pipelineId", "currentStageId", "currentState",
                 "estimatedValue", "contractValue", "estimatedCloseDate", "probability",
                 "priority", "salesManagerIds", "createdDateTime", "updatedDateTime"),
}

# Users: what the add model takes; the rest of a new user goes in a JSON Patch.
_USER_ADD = ("email", "firstName", "lastName", "gender", "status", "title", "languageId",
             "employmentNumber", "employmentStartDate", "locationId", "defaultCurrencyId")
_USER_PATCH = ("email", "firstName", "lastName", "gender", "dateOfBirth", "phone", "title",
               "status", "employmentNumber", "internalIdentifier", "employmentStartDate",
               "employmentEndDate", "availabilityPercent", "locationId", "defaultCurrencyId",
               "baseSalary", "taxTable")
_PATCH_PATH = {"firstName": "firstname", "lastName": "lastname"}  # Cinode's spelling

_CUSTOMER_EDIT = ("name", "description", "corporateIdentityNumber", "vatNumber",
                  "identification", "email", "homepage", "phone", "status")

_PROJECT_EDIT = ("title", "customerId", "description", "identifier", "customerIdentifier",
                 "intermediatorId", "estimatedCloseDate", "estimatedValue", "contractValue",
                 "probability", "pipelineId", "pipelineStageId", "currencyId",
                 "projectState", "teamId", "stateReasonId", "priority", "salesManagerIds",
                 "projectManagerIds")

_SUBCONTRACTOR_EDIT = ("firstName", "lastName", "email", "gender", "languageId", "title",
                       "phone", "profileLanguageId", "tariff", "currencyId",
                       "companyCalendarId", "companyAddressId", "companyName",
                       "companyIdentifier", "internalIdentifier", "linkedIn", "rating")

# Vendor error keys that name a catalog field under another name.
_ERROR_FIELDS = {"companyuseremail": "email", "countryid": "countryCode",
                 "turnovercurrencyid": "currencyCode", "projectstate": "currentState",
                 "confirmpassword": None, "password": None, "passwordconfirm": None}

Sleep = Callable[[float], Awaitable[object]]


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the adapter only reads its own token's expiry."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _wire(value: Any) -> Any:
    """A typed payload value as Cinode's JSON wants it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def _tag_names(tags: Any) -> list[str]:
    return [t["name"] if isinstance(t, Mapping) else str(t) for t in tags or []
            if not isinstance(t, Mapping) or t.get("name")]


def _generated_password() -> str:
    # Upper, lower, digit and symbol, whatever the tenant's password policy asks for.
    return secrets.token_urlsafe(24) + "aZ9!"


def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.cinode import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class CinodeAdapter:
    """The Cinode system; see the module docstring. One instance per connection."""

    name = "cinode"

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient,
                 context: AdapterContext, *, retry: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.context = context
        try:
            self._access_id = config.auth["access_id"]
            self._access_secret = config.auth["access_secret"]
        except KeyError as exc:
            raise FatalError(f"cinode connection {config.name!r}: auth needs access_id and "
                             f"access_secret; {exc.args[0]} is missing") from None
        context.redactor.add(self._access_id, self._access_secret)
        self._catalog = _catalog()
        assert self._catalog is not None
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        retry = retry or RetryPolicy()
        self.session = HttpSession(
            client, name="cinode",
            budget=context.budgets.for_credential(f"cinode:{self._access_id}", limit, per),
            retry=retry, redactor=context.redactor, auth=self._authorize,
            on_unauthorized=self._renew_after_401, sleep=sleep)
        # The token endpoint has its own limit and does not count against the plan.
        self._token_session = HttpSession(
            client, name="cinode-token",
            budget=context.budgets.for_credential(f"cinode-token:{self._access_id}",
                                                  *TOKEN_RATE_LIMIT),
            retry=retry, redactor=context.redactor, sleep=sleep)
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()
        company = config.options.get("company_id")
        try:
            self._company_id: int | None = int(company) if company not in (None, "") else None
        except (TypeError, ValueError):
            raise FatalError(f"cinode connection {config.name!r}: options.company_id must be "
                             f"a whole number, got {company!r}") from None
        self._totals: dict[str, int] = {}
        self._lookups: dict[str, dict[str, int]] = {}

    def __repr__(self) -> str:
        return f"CinodeAdapter({self.config.name!r}, company={self._company_id})"

    # ------------------------------------------------------------------ auth

    def _now(self) -> float:
        now = self.context.now
        return now().timestamp() if now is not None else time.time()

    async def _token(self) -> str:
        """A token valid for at least REFRESH_MARGIN more seconds (single-flight)."""
        if self._access_token is not None and self._now() < self._renew_at:
            return self._access_token
        async with self._token_lock:
            if self._access_token is None or self._now() >= self._renew_at:
                await self._obtain()
            assert self._access_token is not None
            return self._access_token

    async def _obtain(self) -> None:
        response = None
        if self._refresh_token is not None:
            response = await self._token_session.request(
                "POST", "/token/refresh", json={"refreshToken": self._refresh_token},
                idempotent=True, expected=(400, 401))
            if response.status_code != 200:
                response = None  # refresh token spent or revoked: authenticate afresh
        if response is None:
            basic = base64.b64encode(
                f"{self._access_id}:{self._access_secret}".encode()).decode()
            try:
                response = await self._token_session.request(
                    "GET", "/token", headers={"Authorization": f"Basic {basic}",
                                              "Accept": "application/json"})
            except FatalError as exc:
                if exc.status in (401, 403):
                    raise FatalError("cinode: the access id or secret was refused (401 from "
                                     "/token); check the API account", status=exc.status
                                     ) from None
                raise
        body = response.json()
        token, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise FatalError("cinode: /token answered without an access_token")
        self.context.redactor.add(token, refresh)
        claims = _jwt_claims(token)
        lifetime = 120.0
        if isinstance(claims.get("exp"), int | float) and isinstance(claims.get("iat"),
                                                                      int | float):
            lifetime = float(claims["exp"] - claims["iat"])
        self._access_token = token
        self._refresh_token = refresh if isinstance(refresh, str) else None
        self._renew_at = self._now() + max(lifetime - REFRESH_MARGIN, lifetime / 2)
        if self._company_id is None and claims.get("companySub") not in (None, ""):
            self._company_id = int(claims["companySub"])

    async def _authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        request.headers.setdefault("Accept", "application/json")

    async def _renew_after_401(self) -> None:
        async with self._token_lock:
            self._renew_at = 0.0
            await self._obtain()

    async def _path(self, tail: str) -> str:
        if self._company_id is None:
            await self._token()
        if self._company_id is None:
            raise FatalError("cinode: no company id; set options.company_id on the connection")
        return f"/v0.1/companies/{self._company_id}/{tail}"

    # ------------------------------------------------------------------ protocol

    def describe(self) -> Catalog:
        assert self._catalog is not None
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self.describe().objects.get(obj)
        if info is None:
            raise FatalError(f"cinode has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self.describe().objects))}")
        return info

    async def check(self) -> CheckResult:
        try:
            await self._token()
            response = await self.session.request(
                "POST", await self._path("users/search"), idempotent=True,
                json={"term": "", "pageAndSortBy": {"page": 1, "itemsPerPage": 1}})
        except FatalError as exc:
            return CheckResult(False, f"Cinode refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"Cinode is unreachable: {type(exc).__name__}: "
                                      f"{self.context.redactor.text(str(exc))}")
        total = response.json().get("totalItems")
        return CheckResult(True, f"Authenticated with Cinode as company {self._company_id}; "
                                 f"{total} active users visible.")

    def total(self, obj: str) -> int | None:
        """The vendor's `totalItems` from the last search of `obj`, once one has run."""
        return self._totals.get(obj)

    def max_batch(self, obj: str) -> int:
        return 1

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller, tokens simply expire."""

    # ------------------------------------------------------------------ reads

    def _record(self, obj: str, raw: Mapping[str, Any]) -> Record:
        """A vendor model (list or full) in catalog names and types."""
        info = self._object(obj)
        out: Record = {k: raw[k] for k in _DIRECT[obj] if k in raw}
        if obj == "users":
            if "companyUserEmail" in raw:
                out["email"] = raw["companyUserEmail"]
            address = raw.get("companyAddress")
            if "locationId" not in out and isinstance(address, Mapping):
                out["locationId"] = address.get("id")
            currency = raw.get("defaultCurrency")
            if "defaultCurrencyId" not in out and isinstance(currency, Mapping):
                out["defaultCurrencyId"] = currency.get("id")
            if "roles" in raw:
                out["roles"] = [r if isinstance(r, str) else
                                (r.get("title") or r.get("name")) for r in raw["roles"] or []]
        elif obj == "subcontractors":
            currency = raw.get("defaultCurrency")
            if "currencyId" not in out and isinstance(currency, Mapping):
                out["currencyId"] = currency.get("id")
        elif obj == "projects":
            currency = raw.get("currency")
            if isinstance(currency, Mapping):
                out["currencyCode"] = currency.get("currencyCode")
            customer = raw.get("customer")
            if isinstance(customer, Mapping):
                out["customer"] = {k: customer.get(k)
                                   for k in ("id", "name", "identification")}
            if "salesManagerIds" not in out and isinstance(raw.get("salesManagers"), list):
                out["salesManagerIds"] = [m.get("id") for m in raw["salesManagers"]]
        if "tags" in raw and "tags" in info.fields:
            out["tags"] = _tag_names(raw["tags"])
        return coerce_record(out, info.fields)

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if since is not None or cursor_field is not None:
            field = cursor_field or "updatedDateTime"
            if field not in info.cursor_fields or obj not in _SEARCH:
                raise FatalError(f"cinode {obj} cannot be read changed-since on {field!r}; "
                                 f"cursor fields: {', '.join(info.cursor_fields) or 'none'}")
            if since is not None:
                return self._read_changed(obj, since)
        if obj not in _SEARCH:
            return self._read_list(obj)
        return self._read_all(obj)

    async def _search_page(self, obj: str, body: Mapping[str, Any], page: int,
                           sort_by: int, order: int) -> tuple[list[dict[str, Any]], int]:
        """One page of a search and the vendor's count of all matches."""
        path, _, _ = _SEARCH[obj]
        size = self._page_size()
        request = {**body, "pageAndSortBy": {"sortBy": sort_by, "sortOrder": order,
                                             "page": page, "itemsPerPage": size}}
        response = await self.session.request("POST", await self._path(path), json=request,
                                              idempotent=True)
        data = response.json()
        items = data.get("result") or []
        total = int(data.get("totalItems") or 0)
        self._totals[obj] = total
        return items, total

    def _search_body(self, obj: str) -> dict[str, Any]:
        # Users: disconnected ones too, so a status change to 0 is seen as a change.
        return {"term": "", "includeDisconnected": True} if obj == "users" else {}

    async def _read_all(self, obj: str) -> AsyncIterator[Record]:
        _, created_sort, _ = _SEARCH[obj]
        body = self._search_body(obj)
        last_page: set[Any] = set()
        fetched = 0
        page = 1
        while True:
            items, total = await self._search_page(obj, body, page, created_sort, 0)
            fetched += len(items)
            for raw in items:
                if raw.get("id") in last_page:
                    continue  # a deletion mid-read shifts the next page back by one
                yield self._record(obj, raw)
            if not items or fetched >= total:
                return
            last_page = {raw.get("id") for raw in items}
            page += 1

    def _page_size(self) -> int:
        return int(self.config.options.get("page_size", DEFAULT_PAGE_SIZE))

    async def _read_changed(self, obj: str, since: datetime) -> AsyncIterator[Record]:
        _, _, updated_sort = _SEARCH[obj]
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        body = self._search_body(obj)
        changed: dict[Any, Record] = {}  # newest first, keyed by id (duplicates dropped)
        previous: datetime | None = None
        fetched = 0
        page = 1
        done = False
        while not done:
            items, total = await self._search_page(obj, body, page, updated_sort, 1)
            fetched += len(items)
            for raw in items:
                stamp = raw.get("updatedDateTime")
                moment = parse_datetime(stamp) if isinstance(stamp, str) and stamp else None
                if moment is None:
                    continue  # no cursor value: cannot be placed, not a change we can prove
                if previous is not None and moment > previous and raw.get("id") not in changed:
                    raise FatalError(
                        f"cinode {obj} search did not come back newest-first by "
                        f"updatedDateTime (sortBy {updated_sort}); refusing a delta read "
                        "that could miss changes")
                previous = moment if previous is None else min(previous, moment)
                if moment < since:
                    done = True
                    break
                changed.setdefault(raw.get("id"), self._record(obj, raw))
            if not items or fetched >= total:
                break
            page += 1
        ordered = sorted(changed.values(), key=lambda r: (r["updatedDateTime"], r.get("id")))
        for record in ordered:
            yield record

    async def _read_list(self, obj: str) -> AsyncIterator[Record]:
        # Subcontractors have no search endpoint; the plain list is small (a company has
        # tens or hundreds of them), so it is read whole.
        response = await self.session.request("GET", await self._path(obj))
        items = response.json()
        self._totals[obj] = len(items)
        for raw in items:
            yield self._record(obj, raw)

    async def get(self, obj: str, target_id: str) -> Record | None:
        self._object(obj)
        tail = f"users-full/{target_id}" if obj == "users" else f"{obj}/{target_id}"
        response = await self.session.request("GET", await self._path(tail),
                                              expected=(403, 404))
        if response.status_code == 403 and obj == "users":
            # The full model (salary, tax table) needs CompanyAdmin; fall back to the rest.
            response = await self.session.request("GET", await self._path(f"users/{target_id}"),
                                                  expected=(404,))
        if response.status_code == 403:
            raise FatalError(f"cinode: the API account may not read {obj} {target_id} (403)",
                             status=403)
        if response.status_code == 404:
            return None
        return self._record(obj, response.json())

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields:
            raise FatalError(f"cinode {obj} cannot be looked up by {field_name!r}; external "
                             f"id fields: {', '.join(info.external_id_fields) or 'none'}")
        wanted = {str(v) for v in values if v not in (None, "")}
        found: dict[str, Record] = {}
        if not wanted:
            return found
        if obj in ("customers", "projects"):
            # An exact search per value: cheap, and never pages the whole collection.
            key = "identification"
            extra = {"identificationOperator": 3} if obj == "customers" else {}
            for value in sorted(wanted):
                items, _ = await self._search_page(obj, {key: value, **extra}, 1, 0, 0)
                for raw in items:
                    record = self._record(obj, raw)
                    if str(record.get(field_name)) == value:
                        found[value] = record
                        break
            return found
        # Users and subcontractors: no search by identifier exists; the collections are
        # small, so scan them and stop as soon as every value is found.
        source = self._read_all(obj) if obj == "users" else self._read_list(obj)
        async for record in source:
            value = record.get(field_name)
            if value is not None and str(value) in wanted and str(value) not in found:
                found[str(value)] = record
                if len(found) == len(wanted):
                    break
        return found

    # ------------------------------------------------------------------ writes

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self._object(obj)
        writer = {"users": self._write_user, "customers": self._write_customer,
                  "projects": self._write_project,
                  "subcontractors": self._write_subcontractor}[obj]
        results: list[WriteResult] = []
        for op in ops:
            if op.kind == "delete" or (op.kind == "update" and not op.target_id):
                reason = ("the integration does not delete Cinode records"
                          if op.kind == "delete" else "an update needs the target id")
                results.append(WriteResult(op.key, op.target_id,
                                           error=RecordError("vendor.unsupported", reason)))
                continue
            try:
                target_id = await writer(op)
            except _Rejected as rejected:
                results.append(WriteResult(op.key, rejected.target_id or op.target_id,
                                           error=rejected.error,
                                           created=op.kind == "create" and
                                           rejected.target_id is not None))
            except AmbiguousWriteError:
                results.append(WriteResult(op.key, op.target_id, ambiguous=True))
            else:
                results.append(WriteResult(op.key, target_id, created=op.kind == "create"))
        return results

    async def _send(self, method: str, tail: str, *, json_body: Any = None,
                    patch: list[dict[str, Any]] | None = None,
                    target_id: str | None = None) -> Any:
        """One write call; a vendor 4xx becomes `_Rejected` carrying a RecordError."""
        path = await self._path(tail)
        if patch is not None:
            response = await self.session.request(
                method, path, content=json.dumps(patch).encode(), headers=_JSON_PATCH,
                expected=_REJECTED)
        else:
            response = await self.session.request(method, path, json=json_body,
                                                  expected=_REJECTED)
        if response.status_code in _REJECTED:
            raise _Rejected(self._rejection(response), target_id)
        return response.json() if response.content else None

    def _rejection(self, response: httpx.Response) -> RecordError:
        reason = vendor_reason(response, self.context.redactor)
        if not reason:
            reason = {403: "Cinode refused: the API account lacks access to this record",
                      404: "Cinode has no such record (deleted?)"}.get(
                response.status_code, f"Cinode answered {response.status_code}")
        field = None
        try:
            errors = response.json().get("errors")
        except (ValueError, AttributeError):
            errors = None
        if isinstance(errors, Mapping):
            for name in errors:
                if name and name != "$":
                    field = self._catalog_field(str(name))
                    break
        return RecordError("vendor.rejected", reason, field=field)

    def _catalog_field(self, vendor_name: str) -> str | None:
        lowered = vendor_name.split(".")[0].lower()
        if lowered in _ERROR_FIELDS:
            return _ERROR_FIELDS[lowered]
        for info in self.describe().objects.values():
            for path in info.fields:
                if path.lower() == lowered:
                    return path
        return vendor_name

    @staticmethod
    def _patch_ops(payload: Mapping[str, Any], fields: Sequence[str]) -> list[dict[str, Any]]:
        return [{"op": "replace", "path": f"/{_PATCH_PATH.get(name, name)}",
                 "value": _wire(payload[name])} for name in fields if name in payload]

    async def _replace_tags(self, kind: str, target_id: str, tags: Any) -> None:
        body = [{"name": name} for name in (tags or []) if name]
        await self._send("POST", f"{kind}/{target_id}/tags", json_body=body,
                         target_id=target_id)

    def _unsupported(self, obj: str, payload: Mapping[str, Any], names: Sequence[str]) -> None:
        ignored = [n for n in names if n in payload]
        if ignored:
            log.warning("cinode %s: %s cannot be written through the API and was left as is",
                        obj, ", ".join(ignored))

    # -- users

    async def _write_user(self, op: WriteOp) -> str:
        payload = op.payload
        self._unsupported("users", payload, ["roles"])
        if op.kind == "create":
            password = _generated_password()
            self.context.redactor.add(password)
            body = {name: _wire(payload[name]) for name in _USER_ADD if name in payload}
            body.update(password=password, confirmPassword=password)
            created = await self._send("POST", "users", json_body=body)
            target_id = str(created["id"])
            rest = [n for n in _USER_PATCH if n not in _USER_ADD
                    and payload.get(n) is not None]
        else:
            target_id = str(op.target_id)
            rest = list(_USER_PATCH)
            if "languageId" in payload:
                log.debug("cinode users: languageId is set at creation only")
        ops = self._patch_ops(payload, rest)
        if ops:
            await self._send("PATCH", f"users/{target_id}", patch=ops, target_id=target_id)
        if "tags" in payload:
            await self._replace_tags("users", target_id, payload["tags"])
        return target_id

    # -- customers

    async def _lookup(self, kind: str, code: Any, field: str) -> int:
        """countryCode -> countryId, currencyCode -> currency id (cached per adapter)."""
        if kind not in self._lookups:
            response = await self.session.request("GET", await self._path(kind))
            rows = response.json()
            if kind == "countries":
                table = {str(r.get("code", "")).upper(): r["countryId"] for r in rows}
            else:
                table = {str(r.get("currencyCode", "")).upper(): r["id"] for r in rows}
            self._lookups[kind] = table
        found = self._lookups[kind].get(str(code).strip().upper())
        if found is None:
            raise _Rejected(RecordError(
                "vendor.rejected", f"Cinode knows no {field} {code!r}", field=field), None)
        return found

    async def _write_customer(self, op: WriteOp) -> str:
        payload = op.payload
        if op.kind == "create":
            body = {name: _wire(payload[name]) for name in _CUSTOMER_EDIT if name in payload}
            if body.get("status") is not None:
                body["status"] = bool(body["status"])  # the add model's status is a bool
            if payload.get("countryCode"):
                body["countryId"] = await self._lookup("countries", payload["countryCode"],
                                                       "countryCode")
            if payload.get("currencyCode"):
                body["turnOverCurrencyId"] = await self._lookup(
                    "currencies", payload["currencyCode"], "currencyCode")
            created = await self._send("POST", "customers", json_body=body)
            target_id = str(created["id"])
            current: Mapping[str, Any] = created
        else:
            target_id = str(op.target_id)
            ops = self._patch_ops(payload, _CUSTOMER_EDIT)
            current = {}
            if ops:
                current = await self._send("PATCH", f"customers/{target_id}", patch=ops,
                                           target_id=target_id)
            elif any(n in payload for n in ("invoiceAddress", "responsibleUserId",
                                             "contactName")):
                current = await self._send("GET", f"customers/{target_id}",
                                           target_id=target_id)
            if payload.get("countryCode") or payload.get("currencyCode"):
                log.debug("cinode customers: country and currency are set at creation only")
        try:
            await self._customer_children(target_id, payload, current or {})
        except _Rejected as rejected:
            raise _Rejected(rejected.error, target_id) from None
        return target_id

    async def _customer_children(self, target_id: str, payload: Mapping[str, Any],
                                 current: Mapping[str, Any]) -> None:
        address = payload.get("invoiceAddress")
        if isinstance(address, Mapping) and any(v not in (None, "") for v in address.values()):
            body = {k: _wire(address.get(k)) for k in ("street1", "street2", "zipCode", "city",
                                                        "country", "email")}
            body["addressType"] = 2
            existing = next((a for a in current.get("addresses") or []
                             if a.get("addressType") == 2), None)
            if existing is None:
                await self._send("POST", f"customers/{target_id}/addresses", json_body=body,
                                 target_id=target_id)
            elif any(existing.get(k) != v for k, v in body.items()):
                await self._send("PUT", f"customers/{target_id}/addresses/{existing['id']}",
                                 json_body={**existing, **body}, target_id=target_id)
        manager = payload.get("responsibleUserId")
        if manager is not None:
            managers = {m.get("companyUserId", m.get("id"))
                        for m in current.get("managers") or []}
            if int(manager) not in managers:
                await self._send("POST", f"customers/{target_id}/managers",
                                 json_body={"companyUserIds": [int(manager)]},
                                 target_id=target_id)
        contact = payload.get("contactName")
        if isinstance(contact, str) and contact.strip():
            first, _, last = contact.strip().rpartition(" ")
            first, last = (first, last) if first else (last, "-")
            names = {f"{c.get('firstName')} {c.get('lastName')}".casefold()
                     for c in current.get("contacts") or []}
            if f"{first} {last}".casefold() not in names:
                await self._send("POST", f"customers/{target_id}/contacts",
                                 json_body={"firstName": first, "lastName": last},
                                 target_id=target_id)
        if "tags" in payload or "paymentTermsTag" in payload:
            # Cinode has one tag list per customer: the payment-terms tag (e.g. BV=30)
            # and the category tags are written together, in that order.
            term = payload.get("paymentTermsTag")
            tags = [term] if term else []
            tags += [t for t in _tag_names(payload.get("tags")) if t not in tags]
            await self._replace_tags("customers", target_id, tags)

    # -- projects

    @staticmethod
    def _project_edit(current: Mapping[str, Any]) -> dict[str, Any]:
        """The edit model of a project as it stands (PUT replaces every field)."""
        edit = {name: current.get(name) for name in _PROJECT_EDIT if name in current}
        intermediator = current.get("intermediator")
        edit["intermediatorId"] = intermediator.get("id") if isinstance(
            intermediator, Mapping) else None
        edit["pipelineStageId"] = current.get("currentStageId")
        edit["projectState"] = current.get("currentState")
        currency = current.get("currency")
        edit["currencyId"] = currency.get("id") if isinstance(currency, Mapping) else None
        return edit

    async def _write_project(self, op: WriteOp) -> str:
        payload = dict(op.payload)
        if "currentState" in payload:
            payload["projectState"] = payload.pop("currentState")
        given = {name: _wire(payload[name]) for name in _PROJECT_EDIT if name in payload}
        if op.kind == "create":
            created = await self._send("POST", "projects", json_body=given)
            target_id = str(created["id"])
        else:
            target_id = str(op.target_id)
            current = await self._send("GET", f"projects/{target_id}", target_id=target_id)
            await self._send("PUT", f"projects/{target_id}",
                             json_body={**self._project_edit(current), **given},
                             target_id=target_id)
        if "tags" in payload:
            try:
                await self._replace_tags("projects", target_id, payload["tags"])
            except _Rejected as rejected:
                raise _Rejected(rejected.error, target_id) from None
        return target_id

    # -- subcontractors

    async def _write_subcontractor(self, op: WriteOp) -> str:
        payload = op.payload
        # Read-only in the catalog; a payload built by hand may still carry them.
        self._unsupported("subcontractors", payload, ["tags", "status"])
        given = {name: _wire(payload[name]) for name in _SUBCONTRACTOR_EDIT if name in payload}
        if op.kind == "create":
            password = _generated_password()
            self.context.redactor.add(password)
            created = await self._send("POST", "subcontractors", json_body={
                **given, "password": password, "passwordConfirm": password})
            return str(created["id"])
        target_id = str(op.target_id)
        current = await self._send("GET", f"subcontractors/{target_id}", target_id=target_id)
        edit = {name: current.get(name) for name in _SUBCONTRACTOR_EDIT if name in current}
        currency = current.get("defaultCurrency")
        if "currencyId" not in edit and isinstance(currency, Mapping):
            edit["currencyId"] = currency.get("id")
        # [assumed newer API] PUT /subcontractors/{id}: the 2024 spec has no update.
        await self._send("PUT", f"subcontractors/{target_id}", json_body={**edit, **given},
                         target_id=target_id)
        return target_id


class _Rejected(Exception):
    """Internal: a vendor 4xx for one record (and the id, if the record was created)."""

    def __init__(self, error: RecordError, target_id: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.target_id = target_id
