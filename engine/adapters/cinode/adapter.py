"""Cinode (REST v0.1): users, subcontractors, customers and projects.

This module is long because it holds one vendor API's reads, writes and quirks in one
class. Every fact it relies on, and where it comes from: "contract" is Cinode's OpenAPI
3.0.1 document as kept in tests/contracts/cinode/contract.json (element named), "README"
is github.com/Cinode-Labs/api/README.md; "unconfirmed" means neither says so.

Auth and limits

- `GET /token` with Basic `access_id:access_secret` -> `{access_token, refresh_token}`, a
  JWT valid 120 s (README "Retrieve access_token"; contract `paths["/token"].get`,
  `TokenModel`). `POST /token/refresh {"refreshToken"}` renews it (README "Refresh
  token"; `TokenRefreshModel`). Every other call carries `Bearer` (README "Authenticate
  against the API"). The token is renewed ~30 s before it expires, refresh token first;
  a 401 mid-run renews it once (single-flight, through `HttpSession`).
- 40 requests per 2 s and 10,000 per day per company; 2 per 2 s on `/token`, per AccessId,
  outside the plan (README "Rate limiting", contract `x-rateLimitResponse`,
  `RateLimitErrorModel`). One budget per credential (`config.rate_limit` overrides).
- The company id: `options.company_id`, else the JWT's `companySub` claim (unconfirmed:
  not in the contract; set the option).

Reads

- Plain lists are not paged (`GET users`, `customers`, `subcontractors` declare no query
  parameters), so reads use `POST .../search` with `pageAndSortBy` (1-based `page`,
  `itemsPerPage`; `*PageAndSortByModel`). Subcontractors have no search (no
  `subcontractors/search` in `x-vendorPaths`): their list is read whole.
- Full reads page in CreatedDateTime order (sortBy 0 of `CompanyUserQuerySort`,
  `CompanyCustomerQuerySort`, `ProjectQuerySort`), which updates during a read do not
  disturb.
- Users changed-since: sortBy 4 (`CompanyUserQuerySort` UpdatedDateTime), descending
  (`SortOrder` 1), stopping at the first user older than `since`; the results
  (`CompanyUserExtendedModel`) carry `updatedDateTime`. Disconnected users are included
  (`SearchCompanyUserQueryModel.includeDisconnected`), so a status change is seen.
- Projects: search results are `ProjectBaseModel` (id, title, customer, identifiers) with
  no state, stage or timestamp, so every project a read yields is fetched with
  `GET projects/{id}` (`ProjectModel`: `currentState`, `currentStageId`, `pipelineId`,
  `updatedDateTime`, ...). Changed-since: search with sortBy 5 (`ProjectQuerySort`
  UpdatedDateTime) descending, GET each in that order, stop at the first project older
  than `since`; cost: one GET per changed project plus one, and a search page per 500.
  The document disagrees with itself (the enum says 5, the SearchProject prose says 6):
  the order is checked on the GETs' timestamps, and a read that is not newest-first is
  refused (`specsync check` probes it). A project updated during the read may come out
  of order; it is kept, as it is newer than the read's start.
- Customers cannot be read changed-since: no customer model has a timestamp
  (`CompanyCustomerBaseModel`, `...ExtendedModel`, `...Model`); sort 13 exists but its
  value is never returned. Runs detect changes to customers they write by the hash of the
  last write, never by a Cinode field.
- Look-ups: customers by `identification` with `identificationOperator` 3 Equals
  (`SearchCompanyCustomerQueryModel`, `StringComparisonOperator`); projects by
  `SearchProjectQueryModel.identification` (that it matches `identifier` exactly is
  unconfirmed: the match is checked here); users by scanning the search (no search by
  identifier), subcontractors by scanning the list.
- `GET users-full/{id}` (`CompanyUserFullModel`: salary and tax table) needs CompanyAdmin
  (its description); on 403 the adapter falls back to `GET users/{id}`
  (`CompanyUserModel`). Neither user model returns `gender` or `languageId`, nor do the
  subcontractor models return `gender`, `languageId` or `title`: the catalog marks them
  write-only.

Writes (one call per record: no batch operation in `x-vendorPaths`)

- Users: `POST users` with `CompanyUserAddModel` (required email, firstName, lastName,
  gender, password, confirmPassword; a generated password that is never logged), then
  `PATCH users/{id}` (`x-patchModel ICompanyUserEmployeePatchDocument`, which spells
  `firstname`/`lastname` in lower case) for what the add model lacks. `languageId` is in
  the add model only (not in `CompanyUserEditModel` or the patch document): create-only.
  Roles are access levels: `PUT users/{companyUserId}/permissions` with
  `CompanyUserPermissionsEditModel {permissions: AccessLevel[]}` (requires CompanyAdmin),
  read back from `CompanyUserModel.roles[].level` (`RoleModel`). `GET users/{id}/roles`
  is project roles (`CompanyUserProjectAssignmentModel`), not used.
- Customers: `POST customers` with `CompanyCustomerAddModel` (`countryId`,
  `turnOverCurrencyId`); its `status` is readOnly, so a customer that must be inactive is
  created and then patched. Changes go through `PATCH customers/{id}`
  (`CompanyCustomerPatchModel`, derived from the operation's example): `status` is a JSON
  boolean there, and `/countryid` and `/turnovercurrencyid` can be changed.
  `countryCode` -> `countryId`: Cinode has no country list (no country path in
  `x-vendorPaths`; `CountryModel` appears only as `CompanyCustomerModel.country`), so the
  ids come from `options.country_ids` ("SE=1, NO=2") and from the `country` of every
  customer the adapter reads. `currencyCode` -> `turnOverCurrencyId` via
  `GET currencies` (`CurrencyModel`).
  `invoiceAddress` -> the address with `addressType` 2 (`AddressType` InvoiceAddress):
  POST `customers/{id}/addresses`, or PUT the existing one with
  `CompanyCustomerAddressAddEditModel` built from its own properties, so what the spec
  does not map (`comments`, `email`, ...) is kept. `responsibleUserId` -> POST
  `customers/{id}/managers` (`CompanyCustomerManagersAddEditModel.companyUserIds`).
  `contactName` -> POST `customers/{id}/contacts` (`CompanyCustomerContactAddEditModel`).
- Tags: `POST .../{users|customers|projects}/{id}/tags` with `CompanyTagModel[]`;
  "Posted tags will replace any existing tags" (the operations' description). A
  customer's payment-terms tag goes first in that one list.
- Projects have no PATCH (`paths[.../projects/{id}]`: get, put, delete): PUT replaces
  `ProjectAddEditModel`, so the adapter GETs the project and sends it back with the
  changes, `location` included as `{"locationId": ...}` (`ProjectModel` exposes only
  `locationId`; that Cinode keeps a location given by id alone is unconfirmed, and
  `specsync check` says so when it matters). `projectState` and `priority` are not
  nullable: left out when unknown. `estimatedValue` and `contractValue` are int32.
- Subcontractors cannot be updated: `/subcontractors/{id}` has GET and DELETE only, and
  `CompanyUserSubcontractorAddEditModel` is POST-only. Every field is set at creation
  (`POST subcontractors`, with `password`/`passwordConfirm`); the catalog lists no
  `update` operation, so specs and plans say so, and an update reaching the adapter fails
  the record (`vendor.unsupported`) rather than deleting and re-creating the person.
- Required properties are checked before a call (customer name, project title and
  customerId, the user and subcontractor add models' required fields): such a record
  fails with `field.required` and sends nothing.
- Errors: 400 is `ValidationModel` (`errors`: field -> messages), whose first field names
  the record's failing field; 500 is `ErrorModel`. 403 fails one record (declared on the
  tag endpoints; elsewhere unconfirmed).
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
from datetime import UTC, datetime, timedelta
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
from engine.adapters.cinode.wire import (
    access_levels,
    level_names,
    parse_country_ids,
    whole_number,
    wire_moment,
)
from engine.adapters.concurrency import DEFAULT_CONCURRENCY, in_order
from engine.adapters.http import HttpSession, vendor_reason
from engine.adapters.listing import Listing, ListingLookups
from engine.adapters.ratelimit import RateBudget
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RecordError
from engine.values import coerce_record, parse_datetime

__all__ = ["CinodeAdapter"]

log = logging.getLogger("engine.adapters.cinode")

DEFAULT_RATE_LIMIT = (40, 2.0)
TOKEN_RATE_LIMIT = (2, 2.0)
REFRESH_MARGIN = 30.0  # seconds before expiry a token is renewed
DEFAULT_PAGE_SIZE = 500
# Requests a company may send a day (Cinode's API terms, the sandbox's default); the
# `x-daily-requests-left` header says how many are left. `options.daily_requests` overrides.
DAILY_REQUESTS = 10_000
# A project GET may show a time later than its place in the search order only when it
# changed during the read: such a record is newer than the read's start (less this).
_CLOCK_SLACK = timedelta(minutes=5)

# Vendor statuses that reject one record, not the run (403 is data-dependent in Cinode).
_REJECTED = (400, 403, 404, 409, 422)
_JSON_PATCH = {"Content-Type": "application/json-patch+json"}

# Search endpoints: (path, sortBy CreatedDateTime, sortBy UpdatedDateTime or None).
_SEARCH = {
    "users": ("users/search", 0, 4),
    "customers": ("customers/search", 0, None),
    "projects": ("projects/search", 0, 5),
}

# Read-model keys copied as they are, per object; other catalog fields are derived.
_DIRECT = {
    "users": ("id", "companyUserId", "firstName", "lastName", "dateOfBirth", "phone",
              "title", "status", "employmentNumber", "internalIdentifier",
              "employmentStartDate", "employmentEndDate", "availabilityPercent",
              "baseSalary", "taxTable", "companyUserType", "createdDateTime",
              "updatedDateTime"),
    "subcontractors": ("id", "firstName", "lastName", "email", "phone", "companyName",
                       "companyIdentifier", "internalIdentifier", "status",
                       "createdDateTime"),
    "customers": ("id", "name", "description", "corporateIdentityNumber", "vatNumber",
                  "identification", "email", "homepage", "phone", "status"),
    "projects": ("id", "title", "customerId", "description", "identifier",
                 "customerIdentifier", "pipelineId", "currentStageId", "currentState",
                 "estimatedValue", "contractValue", "estimatedCloseDate", "probability",
                 "priority", "salesManagerIds", "locationId", "createdDateTime",
                 "updatedDateTime"),
}

# Users: `CompanyUserAddModel`; the rest of a new user goes in a JSON Patch.
_USER_ADD = ("email", "firstName", "lastName", "gender", "status", "title", "languageId",
             "employmentNumber", "employmentStartDate", "locationId", "defaultCurrencyId")
_USER_REQUIRED = ("email", "firstName", "lastName", "gender")
# `ICompanyUserEmployeePatchDocument` properties the catalog maps.
_USER_PATCH = ("email", "firstName", "lastName", "gender", "dateOfBirth", "phone", "title",
               "status", "employmentNumber", "internalIdentifier", "employmentStartDate",
               "employmentEndDate", "availabilityPercent", "locationId", "defaultCurrencyId",
               "baseSalary", "taxTable")
_PATCH_PATH = {"firstName": "firstname", "lastName": "lastname"}  # Cinode's spelling

# Customers: `CompanyCustomerAddModel` (status aside: readOnly there) and the properties of
# `CompanyCustomerPatchModel` the catalog maps directly.
_CUSTOMER_ADD = ("name", "description", "corporateIdentityNumber", "vatNumber",
                 "identification", "email", "homepage", "phone")
_CUSTOMER_PATCH = (*_CUSTOMER_ADD, "status")
# `CompanyCustomerAddressAddEditModel`: the whole of an address PUT.
_ADDRESS_EDIT = ("street1", "street2", "zipCode", "city", "email", "comments", "country",
                 "addressType")

# `ProjectAddEditModel` properties, with the date-time one apart.
_PROJECT_EDIT = ("title", "customerId", "description", "identifier", "customerIdentifier",
                 "intermediatorId", "estimatedCloseDate", "estimatedValue", "contractValue",
                 "probability", "pipelineId", "pipelineStageId", "currencyId",
                 "projectState", "teamId", "stateReasonId", "priority", "salesManagerIds",
                 "projectManagerIds")
_PROJECT_NOT_NULL = ("projectState", "priority")  # enums, not nullable in the edit model

# `CompanyUserSubcontractorAddEditModel` (required: email, firstName, lastName, gender,
# languageId, password, passwordConfirm).
_SUBCONTRACTOR_ADD = ("firstName", "lastName", "email", "gender", "languageId", "title",
                      "phone", "profileLanguageId", "tariff", "currencyId",
                      "companyCalendarId", "companyAddressId", "companyName",
                      "companyIdentifier", "internalIdentifier", "linkedIn", "rating")
_SUBCONTRACTOR_REQUIRED = ("firstName", "lastName", "email", "gender", "languageId")

# Vendor error keys that name a catalog field under another name.
_ERROR_FIELDS = {"companyuseremail": "email", "countryid": "countryCode",
                 "turnovercurrencyid": "currencyCode", "projectstate": "currentState",
                 "permissions": "roles", "confirmpassword": None, "password": None,
                 "passwordconfirm": None}

Sleep = Callable[[float], Awaitable[object]]


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the adapter only reads its own token's expiry."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _tag_names(tags: Any) -> list[str]:
    return [t["name"] if isinstance(t, Mapping) else str(t) for t in tags or []
            if not isinstance(t, Mapping) or t.get("name")]


def _generated_password() -> str:
    # Upper, lower, digit and symbol, whatever the tenant's password policy asks for.
    return secrets.token_urlsafe(24) + "aZ9!"


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else None


def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.cinode import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class CinodeAdapter:
    """The Cinode system; see the module docstring. One instance per connection.

    Connection options: `company_id`, `page_size` (search page, default 500) and
    `country_ids` ("SE=1, NO=2": Cinode's ids of the countries customers are written with).
    """

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
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        retry = retry or RetryPolicy()
        self.session = HttpSession(
            client, name="cinode",
            budget=context.budgets.for_credential(f"cinode:{self._access_id}", limit, per),
            retry=retry, redactor=context.redactor, auth=self._authorize,
            on_unauthorized=self._renew_after_401, sleep=sleep)
        budget = self.session.budget
        if isinstance(budget, RateBudget) and budget.daily_limit is None:
            budget.daily_limit = int(config.options.get("daily_requests", DAILY_REQUESTS))
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
        self._owner_id: int | None = None
        company = config.options.get("company_id")
        try:
            self._company_id: int | None = \
                int(company) if company is not None and company != "" else None
        except (TypeError, ValueError):
            raise FatalError(f"cinode connection {config.name!r}: options.company_id must be "
                             f"a whole number, got {company!r}") from None
        try:
            self._countries = parse_country_ids(config.options.get("country_ids"))
        except ValueError as exc:
            raise FatalError(f"cinode connection {config.name!r}: {exc}") from None
        self._currencies: dict[str, int] | None = None
        self._totals: dict[str, int] = {}
        self._lookups = ListingLookups()
        self._concurrency = int(config.options.get("concurrency", DEFAULT_CONCURRENCY))
        self._listed_totals: dict[str, int] = {}

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
        if self._company_id is None and str(claims.get("companySub", "")).isdigit():
            self._company_id = int(claims["companySub"])
        if str(claims.get("sub", "")).isdigit():
            self._owner_id = int(claims["sub"])  # [unconfirmed] the API account's user

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
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self.describe().objects.get(obj)
        if info is None:
            raise FatalError(f"cinode has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self.describe().objects))}")
        return info

    async def check(self) -> CheckResult:
        """Authenticate, count users, and probe what the contract leaves open."""
        try:
            await self._token()
            response = await self.session.request(
                "POST", await self._path("users/search"), idempotent=True,
                json={"term": "", "pageAndSortBy": {"page": 1, "itemsPerPage": 1}})
            total = response.json().get("totalItems")
            notes = [await self._probe_project_order(), await self._probe_admin(),
                     self._country_note()]
        except FatalError as exc:
            return CheckResult(False, f"Cinode refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"Cinode is unreachable: {type(exc).__name__}: "
                                      f"{self.context.redactor.text(str(exc))}")
        return CheckResult(True, f"Authenticated with Cinode as company {self._company_id}; "
                                 f"{total} active users visible. " + " ".join(notes))

    async def _probe_project_order(self) -> str:
        """Whether sortBy 5 really is newest-first by updatedDateTime (GET the first 3)."""
        items, _ = await self._search_page("projects", {}, 1, 5, 1, size=3)
        stamps = []
        located = False
        for raw in items:
            project = await self._get_raw("projects", str(raw.get("id")))
            if project is None:
                continue
            located |= project.get("locationId") is not None
            stamp = project.get("updatedDateTime")
            if isinstance(stamp, str) and stamp:
                stamps.append(parse_datetime(stamp))
        if stamps != sorted(stamps, reverse=True):
            order = ("Project search sortBy 5 is NOT newest-first by updatedDateTime here: "
                     "changed-since reads of projects will stop with an error.")
        else:
            order = "Project search sortBy 5 is newest-first by updatedDateTime."
        if located:
            order += (" Unconfirmed: that a project PUT keeps a location given by its id "
                      "alone; check a project with a location before updating projects.")
        return order

    async def _probe_admin(self) -> str:
        """Whether the API account may set access levels (PUT permissions needs
        CompanyAdmin)."""
        if self._owner_id is None:
            return "Roles: the API account's user is unknown; setting roles is unconfirmed."
        user = await self._get_raw("users", str(self._owner_id), full=False)
        levels = [r.get("level") for r in (user or {}).get("roles") or []
                  if isinstance(r, Mapping)]
        if 400 in levels or 500 in levels:
            return "Roles can be set (the API account is CompanyAdmin)."
        return ("Roles cannot be set: PUT users/{id}/permissions needs CompanyAdmin, and "
                "the API account is not.")

    def _country_note(self) -> str:
        if not self._countries:
            return ("No options.country_ids: Cinode has no country list, so a customer's "
                    "countryCode fails until its id is known (from a customer of that "
                    "country the adapter reads, or the option).")
        return ("Country ids known for: " + ", ".join(sorted(self._countries)) +
                " (Cinode has no country list; others fail the record).")

    def total(self, obj: str) -> int | None:
        """The vendor's `totalItems` from the last search of `obj`, once one has run."""
        return self._totals.get(obj)

    def max_batch(self, obj: str) -> int:
        return 1

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller, tokens simply expire."""

    # ------------------------------------------------------------------ reads

    def _record(self, obj: str, raw: Mapping[str, Any]) -> Record:
        """A vendor model (list, search or full) in catalog names and types."""
        info = self._object(obj)
        out: Record = {k: raw[k] for k in _DIRECT[obj] if k in raw}
        if obj == "users":
            if "companyUserEmail" in raw:
                out["email"] = raw["companyUserEmail"]
            if isinstance(raw.get("companyAddress"), Mapping):
                out["locationId"] = raw["companyAddress"].get("id")
            if isinstance(raw.get("defaultCurrency"), Mapping):
                out["defaultCurrencyId"] = raw["defaultCurrency"].get("id")
            if "roles" in raw:
                out["roles"] = level_names(raw["roles"] or [])
        elif obj == "subcontractors":
            if isinstance(raw.get("defaultCurrency"), Mapping):
                out["currencyId"] = raw["defaultCurrency"].get("id")
            if isinstance(raw.get("companyAddress"), Mapping):
                out["companyAddressId"] = raw["companyAddress"].get("id")
        elif obj == "customers":
            country = raw.get("country")
            if isinstance(country, Mapping) and country.get("code"):
                out["countryCode"] = country["code"]
                self._learn_country(country)
            currency = raw.get("turnOverCurrency")
            if isinstance(currency, Mapping) and currency.get("currencyCode"):
                out["currencyCode"] = currency["currencyCode"]
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

    def _learn_country(self, country: Mapping[str, Any]) -> None:
        code, country_id = country.get("code"), country.get("countryId")
        if isinstance(code, str) and code and isinstance(country_id, int):
            self._countries.setdefault(code.upper(), country_id)

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if since is not None or cursor_field is not None:
            field = cursor_field or "updatedDateTime"
            if field not in info.cursor_fields or obj not in _SEARCH:
                raise FatalError(f"cinode {obj} cannot be read changed-since on {field!r}; "
                                 f"cursor fields: {', '.join(info.cursor_fields) or 'none'}")
            if since is not None:
                since = since if since.tzinfo else since.replace(tzinfo=UTC)
                if obj == "projects":
                    return self._read_projects_changed(since)
                return self._read_changed(obj, since)
        if obj not in _SEARCH:
            return self._read_list(obj)
        if obj == "projects":
            return self._read_projects()
        return self._read_all(obj)

    async def _search_page(self, obj: str, body: Mapping[str, Any], page: int,
                           sort_by: int, order: int, *, size: int | None = None
                           ) -> tuple[list[dict[str, Any]], int]:
        """One page of a search and the vendor's count of all matches."""
        path = _SEARCH[obj][0]
        request = {**body, "pageAndSortBy": {"sortBy": sort_by, "sortOrder": order,
                                             "page": page,
                                             "itemsPerPage": size or self._page_size()}}
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

    async def _search_all(self, obj: str, sort_by: int, order: int
                          ) -> AsyncIterator[dict[str, Any]]:
        """Every search result, page by page, without repeats."""
        body = self._search_body(obj)
        last_page: set[Any] = set()
        fetched = 0
        page = 1
        while True:
            items, total = await self._search_page(obj, body, page, sort_by, order)
            fetched += len(items)
            for raw in items:
                if raw.get("id") in last_page:
                    continue  # a deletion mid-read shifts the next page back by one
                yield raw
            if not items or fetched >= total:
                return
            last_page = {raw.get("id") for raw in items}
            page += 1

    async def _read_all(self, obj: str) -> AsyncIterator[Record]:
        async for raw in self._search_all(obj, _SEARCH[obj][1], 0):
            yield self._record(obj, raw)

    def _page_size(self) -> int:
        return int(self.config.options.get("page_size", DEFAULT_PAGE_SIZE))

    async def _read_changed(self, obj: str, since: datetime) -> AsyncIterator[Record]:
        """Users changed since `since`: newest first by updatedDateTime, held, then
        yielded oldest first (memory grows with the changes, not the collection)."""
        updated_sort = _SEARCH[obj][2]
        assert updated_sort is not None
        changed: dict[Any, Record] = {}
        previous: datetime | None = None
        async for raw in self._search_all(obj, updated_sort, 1):
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
                break
            changed.setdefault(raw.get("id"), self._record(obj, raw))
        for record in sorted(changed.values(),
                             key=lambda r: (r["updatedDateTime"], r.get("id"))):
            yield record

    async def _read_projects(self) -> AsyncIterator[Record]:
        """Every project: the search gives ids in created order, a GET each the model."""
        async for raw in self._search_all("projects", 0, 0):
            project = await self._get_raw("projects", str(raw.get("id")))
            if project is not None:  # deleted since the search
                yield self._record("projects", project)

    async def _read_projects_changed(self, since: datetime) -> AsyncIterator[Record]:
        """Projects changed since `since`: the search sorted by UpdatedDateTime
        (ProjectQuerySort 5) newest first gives the order, a GET each the timestamp; the
        first project older than `since` ends the read."""
        started = datetime.fromtimestamp(self._now(), UTC) - _CLOCK_SLACK
        changed: dict[Any, Record] = {}
        previous: datetime | None = None
        async for raw in self._search_all("projects", 5, 1):
            project = await self._get_raw("projects", str(raw.get("id")))
            if project is None:
                continue
            stamp = project.get("updatedDateTime")
            moment = parse_datetime(stamp) if isinstance(stamp, str) and stamp else None
            if moment is None:
                continue
            if previous is not None and moment > previous and moment < started:
                raise FatalError(
                    "cinode projects search (sortBy 5, UpdatedDateTime) did not come back "
                    "newest-first by the projects' updatedDateTime; refusing a delta read "
                    "that could miss changes (`specsync check` probes the order)")
            if moment < since:
                break
            previous = moment if previous is None else min(previous, moment)
            changed.setdefault(project.get("id"), self._record("projects", project))
        for record in sorted(changed.values(),
                             key=lambda r: (r["updatedDateTime"], r.get("id"))):
            yield record

    async def _read_list(self, obj: str) -> AsyncIterator[Record]:
        # Subcontractors have no search endpoint; the plain list is small (a company has
        # tens or hundreds of them), so it is read whole.
        response = await self.session.request("GET", await self._path(obj))
        items = response.json()
        self._totals[obj] = len(items)
        for raw in items:
            yield self._record(obj, raw)

    async def _get_raw(self, obj: str, target_id: str, *, full: bool = True
                       ) -> dict[str, Any] | None:
        """One record's vendor model, or None when it does not exist."""
        tail = f"users-full/{target_id}" if obj == "users" and full else f"{obj}/{target_id}"
        response = await self.session.request("GET", await self._path(tail),
                                              expected=(403, 404))
        if response.status_code == 403 and obj == "users" and full:
            # The full model (salary, tax table) needs CompanyAdmin; fall back to the rest.
            response = await self.session.request("GET", await self._path(f"users/{target_id}"),
                                                  expected=(403, 404))
        if response.status_code == 403:
            raise FatalError(f"cinode: the API account may not read {obj} {target_id} (403)",
                             status=403)
        if response.status_code == 404:
            return None
        data = response.json()
        return data if isinstance(data, dict) else None

    async def get(self, obj: str, target_id: str) -> Record | None:
        self._object(obj)
        raw = await self._get_raw(obj, target_id)
        return None if raw is None else self._record(obj, raw)

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
            listing = await self._listing(obj, field_name, len(wanted))
            if listing is not None:
                # Answered from one paged listing (listing.py); a GET per record found.
                for value in sorted(wanted - listing.unsure):
                    target_id = listing.ids.get(value)
                    full = await self._get_raw(obj, target_id) if target_id else None
                    if full is not None and str(full.get(field_name)) == value:
                        found[value] = self._record(obj, full)
                wanted &= listing.unsure
            # An exact search per value: cheap while few keys are unlinked.
            extra = {"identificationOperator": 3} if obj == "customers" else {}
            self._lookups.spend(obj, field_name, len(wanted))
            for value in sorted(wanted):
                items, _ = await self._search_page(obj, {"identification": value, **extra},
                                                   1, 0, 0)
                for raw in items:
                    if str(raw.get(field_name)) != value:
                        continue
                    full = await self._get_raw(obj, str(raw.get("id")))
                    found[value] = self._record(obj, full if full is not None else raw)
                    break
            return found
        # Users and subcontractors: no search by identifier exists; the collections are
        # small, so scan them and stop as soon as every value is found.
        source = self._read_all(obj) if obj == "users" else self._read_list(obj)
        async for record in source:
            held = record.get(field_name)
            if held is not None and str(held) in wanted and str(held) not in found:
                found[str(held)] = record
                if len(found) == len(wanted):
                    break
        return found

    async def _listing(self, obj: str, field_name: str, values: int) -> Listing | None:
        """The target's ids by `field_name` from one paged search, once a listing costs
        no more than the per-value searches spent on this object (listing.py)."""
        listing = self._lookups.fresh(obj, field_name)
        if listing is not None:
            return listing
        total = self._listed_totals.get(obj)
        if total is None:
            _, total = await self._search_page(obj, {}, 1, 0, 0, size=1)
            self._listed_totals[obj] = total
        if not self._lookups.worth_listing(obj, field_name, values, total, self._page_size()):
            return None
        ids: dict[str, str] = {}
        async for raw in self._search_all(obj, _SEARCH[obj][1], 0):
            value = raw.get(field_name)
            if value not in (None, ""):
                ids.setdefault(str(value), str(raw.get("id")))
        self._listed_totals[obj] = self._totals.get(obj, total)
        return self._lookups.keep(obj, field_name, ids)

    def _note_pending(self, obj: str, ops: Sequence[WriteOp]) -> None:
        """Creates about to be sent: unsure until their answers say otherwise."""
        for op in ops:
            field_name = op.external_field
            value = op.payload.get(field_name) if field_name and op.kind == "create" else None
            if field_name is not None and value not in (None, ""):
                self._lookups.unsure(obj, field_name, str(value))

    def _note_creates(self, obj: str, ops: Sequence[WriteOp],
                      results: Sequence[WriteResult]) -> None:
        """Keep a listing current with this process's own creates (listing.py)."""
        for op, result in zip(ops, results, strict=True):
            field_name = op.external_field
            value = op.payload.get(field_name) if field_name and op.kind == "create" else None
            if field_name is None or value in (None, ""):
                continue
            if result.ok and result.target_id:
                self._lookups.created(obj, field_name, str(value), result.target_id)
            else:
                self._lookups.unsure(obj, field_name, str(value))

    # ------------------------------------------------------------------ writes

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self._object(obj)
        writer = {"users": self._write_user, "customers": self._write_customer,
                  "projects": self._write_project,
                  "subcontractors": self._write_subcontractor}[obj]

        async def one(op: WriteOp) -> WriteResult:
            if op.kind == "delete" or (op.kind == "update" and not op.target_id):
                reason = ("the integration does not delete Cinode records"
                          if op.kind == "delete" else "an update needs the target id")
                return WriteResult(op.key, op.target_id,
                                   error=RecordError("vendor.unsupported", reason))
            try:
                target_id = await writer(op)
            except _Rejected as rejected:
                return WriteResult(op.key, rejected.target_id or op.target_id,
                                   error=rejected.error,
                                   created=op.kind == "create" and
                                   rejected.target_id is not None)
            except RecordError as error:  # refused before anything was sent
                return WriteResult(op.key, op.target_id, error=error)
            except AmbiguousWriteError:
                return WriteResult(op.key, op.target_id, ambiguous=True)
            return WriteResult(op.key, target_id, created=op.kind == "create")

        # No batch operation: a few records in flight at once, paced by the budget. Until
        # its answer is in, a create's outcome is unknown to a listing: were the batch cut
        # short (an error in a sibling, a stop, a cancelled run), the next lookup of its
        # value must ask Cinode, not a listing taken before it (listing.py).
        self._note_pending(obj, ops)
        results = await in_order(ops, one, self._concurrency)
        self._note_creates(obj, ops, results)
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
        lowered = vendor_name.removeprefix("$.").split(".")[0].lower()
        if lowered in _ERROR_FIELDS:
            return _ERROR_FIELDS[lowered]
        for info in self.describe().objects.values():
            for path in info.fields:
                if path.lower() == lowered:
                    return path
        return vendor_name

    def _value(self, obj: str, name: str, value: Any) -> Any:
        """A payload value as the vendor model wants it: int32 as JSON integers,
        dates as RFC 3339 UTC."""
        info = self._object(obj).field(name)
        kind = info.type if info is not None else None
        if kind in ("date", "datetime"):
            return wire_moment(value)
        if kind == "integer":
            return whole_number(value, name)
        if kind == "list" and info is not None and info.items == "integer":
            return [whole_number(v, name) for v in value or []]
        return value

    def _body(self, obj: str, names: Sequence[str], payload: Mapping[str, Any]
              ) -> dict[str, Any]:
        return {name: self._value(obj, name, payload[name]) for name in names
                if name in payload}

    @staticmethod
    def _require(payload: Mapping[str, Any], names: Sequence[str], model: str) -> None:
        """Fail the record before any call when the model's required fields are empty."""
        for name in names:
            if payload.get(name) in (None, ""):
                raise RecordError("field.required", f"Cinode requires {name} "
                                  f"({model}); the record has none", field=name)

    def _patch_ops(self, obj: str, payload: Mapping[str, Any], fields: Sequence[str]
                   ) -> list[dict[str, Any]]:
        return [{"op": "replace", "path": f"/{_PATCH_PATH.get(name, name)}",
                 "value": self._value(obj, name, payload[name])}
                for name in fields if name in payload]

    async def _replace_tags(self, kind: str, target_id: str, tags: Any) -> None:
        body = [{"name": name} for name in (tags or []) if name]
        await self._send("POST", f"{kind}/{target_id}/tags", json_body=body,
                         target_id=target_id)

    # -- users

    async def _write_user(self, op: WriteOp) -> str:
        payload = op.payload
        levels = access_levels(payload["roles"]) if "roles" in payload else None
        if op.kind == "create":
            self._require(payload, _USER_REQUIRED, "CompanyUserAddModel")
            password = _generated_password()
            self.context.redactor.add(password)
            body = self._body("users", _USER_ADD, payload)
            body.update(password=password, confirmPassword=password)
            created = await self._send("POST", "users", json_body=body)
            target_id = str(created["id"])
            rest = [n for n in _USER_PATCH if n not in _USER_ADD
                    and payload.get(n) is not None]
        else:
            target_id = str(op.target_id)
            rest = list(_USER_PATCH)
        try:
            ops = self._patch_ops("users", payload, rest)
            if ops:
                await self._send("PATCH", f"users/{target_id}", patch=ops,
                                 target_id=target_id)
            if "tags" in payload:
                await self._replace_tags("users", target_id, payload["tags"])
            if levels is not None:
                await self._send("PUT", f"users/{target_id}/permissions",
                                 json_body={"permissions": levels}, target_id=target_id)
        except RecordError as error:  # a value refused after the user was created
            raise _Rejected(error, target_id) from None
        return target_id

    # -- customers

    def _country_id(self, code: Any) -> int:
        """countryCode -> Cinode's countryId, from what the adapter knows (no list)."""
        found = self._countries.get(str(code).strip().upper())
        if found is None:
            raise RecordError(
                "vendor.unknown-country",
                f"Cinode has no country list, and the id of country {code!r} is not known: "
                "add it to the connection's options.country_ids (e.g. \"SE=1\"; the id "
                "shows on any Cinode customer of that country)", field="countryCode")
        return found

    async def _currency_id(self, code: Any) -> int:
        """currencyCode -> the currency id (`GET currencies`, read once)."""
        if self._currencies is None:
            response = await self.session.request("GET", await self._path("currencies"))
            self._currencies = {str(r.get("currencyCode", "")).upper(): r["id"]
                                for r in response.json()}
        found = self._currencies.get(str(code).strip().upper())
        if found is None:
            raise RecordError("vendor.rejected", f"Cinode knows no currency {code!r}",
                              field="currencyCode")
        return found

    def write_requests(self, obj: str, kind: str, payload: Mapping[str, Any]) -> int:
        """How many calls one write takes (for `plan`'s estimate): the record, plus the
        invoice address, the manager and the status patch each customer create forces."""
        calls = 1
        if obj == "customers":
            address = payload.get("invoiceAddress")
            if isinstance(address, Mapping) and any(v not in (None, "")
                                                    for v in address.values()):
                calls += 1
            if payload.get("responsibleUserId") is not None:
                calls += 1
            if kind == "create" and payload.get("status") is not None \
                    and not payload["status"]:
                calls += 1
        return calls

    async def _write_customer(self, op: WriteOp) -> str:
        payload = op.payload
        if op.kind == "create":
            self._require(payload, ("name",), "CompanyCustomerAddModel")
            body = self._body("customers", _CUSTOMER_ADD, payload)
            if payload.get("countryCode"):
                body["countryId"] = self._country_id(payload["countryCode"])
            if payload.get("currencyCode"):
                body["turnOverCurrencyId"] = await self._currency_id(payload["currencyCode"])
            created = await self._send("POST", "customers", json_body=body)
            target_id = str(created["id"])
            current: Mapping[str, Any] = created
            # `status` is readOnly in the add model: an inactive customer is patched.
            ops = ([{"op": "replace", "path": "/status", "value": False}]
                   if payload.get("status") is not None and not payload["status"] else [])
        else:
            target_id = str(op.target_id)
            ops = self._patch_ops("customers", payload,
                                  [n for n in _CUSTOMER_PATCH if n != "status"])
            if "name" in payload:
                self._require(payload, ("name",), "CompanyCustomerPatchModel")
            if payload.get("status") is not None:
                ops.append({"op": "replace", "path": "/status",
                            "value": bool(payload["status"])})
            if payload.get("countryCode"):
                ops.append({"op": "replace", "path": "/countryId",
                            "value": self._country_id(payload["countryCode"])})
            if payload.get("currencyCode"):
                ops.append({"op": "replace", "path": "/turnOverCurrencyId",
                            "value": await self._currency_id(payload["currencyCode"])})
            current = {}
        try:
            if ops:
                current = await self._send("PATCH", f"customers/{target_id}", patch=ops,
                                           target_id=target_id)
            elif op.kind == "update" and any(n in payload for n in (
                    "invoiceAddress", "responsibleUserId", "contactName")):
                current = await self._send("GET", f"customers/{target_id}",
                                           target_id=target_id)
            if isinstance(current.get("country"), Mapping):
                self._learn_country(current["country"])
            await self._customer_children(target_id, payload, current or {})
        except (_Rejected, RecordError) as failed:
            error = failed.error if isinstance(failed, _Rejected) else failed
            raise _Rejected(error, target_id) from None
        return target_id

    async def _customer_children(self, target_id: str, payload: Mapping[str, Any],
                                 current: Mapping[str, Any]) -> None:
        address = payload.get("invoiceAddress")
        if isinstance(address, Mapping) and any(v not in (None, "") for v in address.values()):
            await self._invoice_address(target_id, address, current)
        manager = payload.get("responsibleUserId")
        if manager is not None:
            manager = whole_number(manager, "responsibleUserId")
            managers = {m.get("companyUserId", m.get("id"))
                        for m in current.get("managers") or []}
            if manager not in managers:
                await self._send("POST", f"customers/{target_id}/managers",
                                 json_body={"companyUserIds": [manager]},
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

    async def _invoice_address(self, target_id: str, address: Mapping[str, Any],
                               current: Mapping[str, Any]) -> None:
        """The invoice address (addressType 2): added, or replaced keeping what the spec
        does not map."""
        mapped = {k: v for k, v in address.items() if k in _ADDRESS_EDIT}
        existing = next((a for a in current.get("addresses") or []
                         if a.get("addressType") == 2), None)
        if existing is None:
            await self._send("POST", f"customers/{target_id}/addresses",
                             json_body={**mapped, "addressType": 2}, target_id=target_id)
            return
        body = {k: existing.get(k) for k in _ADDRESS_EDIT} | mapped | {"addressType": 2}
        if any(existing.get(k) != v for k, v in body.items()):
            await self._send("PUT", f"customers/{target_id}/addresses/{existing['id']}",
                             json_body=body, target_id=target_id)

    # -- projects

    @staticmethod
    def _project_edit(current: Mapping[str, Any]) -> dict[str, Any]:
        """The edit model of a project as it stands (PUT replaces every field)."""
        edit = {name: current.get(name) for name in _PROJECT_EDIT if name in current}
        edit["intermediatorId"] = _id_of(current.get("intermediator"))
        edit["pipelineStageId"] = current.get("currentStageId")
        edit["projectState"] = current.get("currentState")
        edit["currencyId"] = _id_of(current.get("currency"))
        edit["estimatedCloseDate"] = wire_moment(current.get("estimatedCloseDate"))
        if current.get("locationId") is not None:
            edit["location"] = {"locationId": current["locationId"]}
        return edit

    async def _write_project(self, op: WriteOp) -> str:
        payload = dict(op.payload)
        if "currentState" in payload:
            payload["projectState"] = payload.pop("currentState")
        given = self._body("projects", [n for n in _PROJECT_EDIT if n != "projectState"],
                           payload)
        if "projectState" in payload:
            given["projectState"] = payload["projectState"]
        if op.kind == "create":
            self._require(given, ("title", "customerId"), "ProjectAddEditModel")
            body = {k: v for k, v in given.items()
                    if v is not None or k not in _PROJECT_NOT_NULL}
            created = await self._send("POST", "projects", json_body=body)
            target_id = str(created["id"])
        else:
            target_id = str(op.target_id)
            current = await self._send("GET", f"projects/{target_id}", target_id=target_id)
            body = {**self._project_edit(current), **given}
            self._require(body, ("title", "customerId"), "ProjectAddEditModel")
            body = {k: v for k, v in body.items()
                    if v is not None or k not in _PROJECT_NOT_NULL}
            await self._send("PUT", f"projects/{target_id}", json_body=body,
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
        if op.kind == "update":
            if not payload:
                return str(op.target_id)  # nothing to change: nothing Cinode must do
            raise RecordError(
                "vendor.unsupported",
                "Cinode cannot update a subcontractor (its API has GET and DELETE only for "
                f"/subcontractors/{{id}}): {', '.join(sorted(payload))} can only be set "
                "when the subcontractor is created", field=sorted(payload)[0])
        self._require(payload, _SUBCONTRACTOR_REQUIRED, "CompanyUserSubcontractorAddEditModel")
        password = _generated_password()
        self.context.redactor.add(password)
        created = await self._send("POST", "subcontractors", json_body={
            **self._body("subcontractors", _SUBCONTRACTOR_ADD, payload),
            "password": password, "passwordConfirm": password})
        return str(created["id"])


class _Rejected(Exception):
    """Internal: a vendor 4xx for one record (and the id, if the record was created)."""

    def __init__(self, error: RecordError, target_id: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.target_id = target_id
