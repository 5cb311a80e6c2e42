"""A faithful local Cinode: token auth, rate limits, the REST resources the seed
integrations use, JSON Patch, paged search, and company webhooks.

Shapes follow apis.md section 1 (the Feb-2024 OpenAPI spec and the vendor README):

- `GET /token` with `Basic accessId:accessSecret` -> `{access_token, refresh_token}`; the
  access token is an HS256 JWT (`sub` = owner's companyUserId, `companySub` = company id,
  `iat`, `exp = iat + 120` on the sandbox clock). `POST /token/refresh` takes
  `{"refreshToken"}` (refresh tokens rotate: each works once). `/token` is limited to 2
  requests per 2 s per AccessId; it does not count against the company plan.
- Every other call needs `Authorization: Bearer <jwt>`; a missing, forged or expired
  token is 401 with an empty body, another company's path is 403 with an empty body.
- The company plan allows 40 requests per 2 s and 10,000 per UTC day, answered with
  `x-ratelimit-limit/-remaining/-reset` and `x-daily-requests-left`; over the limit is 429
  with the README's JSON body (no Retry-After). Off when `config.rate_limits` is False.
- Errors: 400 `{"errors": {field: [messages]}}`; 401/403/404 without a body; 415 for a
  PATCH that is not `application/json-patch+json`; 5xx (the error fault) as `ErrorModel`
  `{correlationId, status, description, code, moreInfo}`.
- Plain GET lists are not paginated (streamed, so a million customers do not sit in
  memory as one string); `POST .../search` pages with `pageAndSortBy` (1-based `page`).

Assumptions beyond the spec, marked [assumed] in apis.md or chosen here:

- List and search items also carry `createdDateTime`/`updatedDateTime` (the spec's base
  models do not), so change detection by `updatedDateTime` is possible as apis.md 1.6
  describes. Search results: `hits` = items on this page, `totalItems` = all matches.
- `PUT /subcontractors/{id}` [assumed newer API]: the 2024 spec has no update for
  subcontractors; this one takes the add/edit model without the password fields.
- PUT replaces the edit model: optional fields missing from the body become null, except
  enum/lookup fields (user `status`/`gender`; project pipeline, stage, state, priority,
  currency), which keep their values. Fields outside a model are ignored, as ASP.NET
  binding does: `POST /users` cannot set `phone`, and only PATCH sets a user's
  `internalIdentifier` (it is in the patch document, not in `CompanyUserEditModel`).
  JSON Patch paths match case-insensitively (as ASP.NET's JsonPatch does); the
  documented names are `firstname`/`lastname`.
- Project search `sortBy` 5, 6 and 7 all sort by `updatedDateTime` (the vendor spec and
  its prose disagree on 5/6); `identification` matches the project `identifier` exactly.
- Countries, languages and locations are static look-ups at `/countries`, `/languages`,
  `/locations` under the company.
- Webhook deliveries: `{WebhookId, CompanyId, EntityType, ActionType, Timestamp,
  Payload}` with PascalCase payloads; each configured credential becomes a header, or
  `Authorization: Basic base64(headerName:headerValue)` when `isBasicAuthentication`.
  No signature. Targets registered through `POST /_sandbox/webhooks/register` receive
  every event (WebhookId all zeros).

Knobs (`SandboxConfig.options`): `cinode_requests_per_window` (40),
`cinode_daily_requests` (10000), `cinode_token_requests_per_window` (2),
`cinode_token_lifetime` (120 s), `cinode_max_items_per_page` (1000).

Control calls (as a user in Cinode's UI): `GET|PATCH|DELETE /_sandbox/records/{object}/{id}`
and `POST /_sandbox/records/{object}` for users, subcontractors, customers and projects;
a project PATCH takes `currentState` and `currentStageId`/`pipelineStageId` to move it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import itertools
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from engine.sandbox.cinode.credentials import CURL_EXAMPLE, CinodeCredentials
from engine.sandbox.cinode.seed import (
    COUNTRIES,
    CURRENCIES,
    LANGUAGES,
    LOCATIONS,
    PIPELINES,
    STATE_TITLES,
    TAGS,
    CinodeCounts,
    cinode_datetime,
    customer_id,
    customer_index,
    customer_record,
    project_id,
    project_index,
    project_indices_for_customer,
    project_record,
    subcontractor_index,
    subcontractor_record,
    user_id,
    user_index,
    user_record,
)
from engine.sandbox.platform import (
    Collection,
    RateDecision,
    RateLimiter,
    Sandbox,
    SandboxConfig,
    isoformat_z,
)

__all__ = ["ACTION_TYPES", "ENTITY_TYPES", "CinodeSandbox", "decode_token", "encode_token"]

ENTITY_TYPES = {1: "All", 2: "CompanyCandidate", 3: "CompanyEmployee",
                4: "CompanySubcontractor", 5: "CompanyCustomer", 6: "CompanyProject", 7: "Role",
                8: "PublicAnnouncement", 9: "Absence", 10: "CompanyCustomerContact"}
ACTION_TYPES = {1: "All", 2: "Created", 3: "Updated", 4: "Deleted"}

_RATE_LIMIT_BODY = {
    "description": "Request limit was exceeded, please try again after 2 seconds from now",
    "moreInfo": "https://github.com/Cinode-Labs/api#rate-limiting",
    "status": 429,
}
_ERROR_MORE_INFO = "https://github.com/Cinode-Labs/api/blob/master/ERROR.md"
_JSON = "application/json; charset=utf-8"
_NO_WEBHOOK = "00000000-0000-0000-0000-000000000000"

Record = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]


# --------------------------------------------------------------------------- tokens


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_token(claims: Mapping[str, Any], key: bytes) -> str:
    """An HS256 JWT over `claims`."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_token(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a JWT signed with `key`, or None when it is malformed or forged."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
            return None
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


# --------------------------------------------------------------------------- errors


class _Problem(Exception):
    """Raised by handlers; becomes the vendor's error answer."""

    def __init__(self, status: int, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.errors = dict(errors or {})

    def response(self) -> Response:
        if self.status == 400:
            return JSONResponse({"errors": self.errors}, status_code=400)
        return Response(status_code=self.status)


def _invalid(field: str, message: str) -> _Problem:
    return _Problem(400, {field: [message]})


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _stream_array(items: Iterable[Any]) -> StreamingResponse:
    """A JSON array written item by item (un-paginated lists can be very long)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        first = True
        buffer: list[bytes] = []
        for item in items:
            buffer.append(_dumps(item) if first else b"," + _dumps(item))
            first = False
            if len(buffer) >= 500:
                yield b"".join(buffer)
                buffer.clear()
        buffer.append(b"]")
        yield b"".join(buffer)

    return StreamingResponse(chunks(), media_type=_JSON)


# --------------------------------------------------------------------------- validation


class _Body:
    """Typed reads of a JSON object with ASP.NET-style field errors, collected together."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise _invalid("", "A non-empty request body is required.")
        self.data: dict[str, Any] = data
        self.errors: dict[str, list[str]] = {}

    def _fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self.data

    def text(self, field: str, *, required: bool = False, max_length: int = 500) -> str | None:
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self._fail(field, f"The {field[0].upper()}{field[1:]} field is required.")
            return None
        if not isinstance(value, str):
            self._fail(field, f"The JSON value could not be converted to System.String. "
                              f"Path: $.{field}")
            return None
        if len(value) > max_length:
            self._fail(field, f"The field {field} must be a string with a maximum length of "
                              f"{max_length}.")
        return value

    def integer(self, field: str, *, required: bool = False,
                allowed: Iterable[int] | None = None) -> int | None:
        value = self.data.get(field)
        if value is None:
            if required:
                self._fail(field, f"The {field[0].upper()}{field[1:]} field is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(field, f"The JSON value could not be converted to System.Int32. "
                              f"Path: $.{field}")
            return None
        if allowed is not None and value not in set(allowed):
            self._fail(field, f"The value '{value}' is not valid for {field}.")
            return None
        return value

    def number(self, field: str) -> float | int | None:
        value = self.data.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(field, f"The JSON value could not be converted to System.Decimal. "
                              f"Path: $.{field}")
            return None
        return value

    def boolean(self, field: str) -> bool | None:
        value = self.data.get(field)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._fail(field, f"The JSON value could not be converted to System.Boolean. "
                              f"Path: $.{field}")
            return None
        return value

    def moment(self, field: str) -> str | None:
        """A date or date-time; stored as Cinode prints dates (`2025-01-31T00:00:00`)."""
        value = self.data.get(field)
        if value is None or value == "":
            return None
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            if len(value) == 10:
                return f"{date.fromisoformat(value)}T00:00:00"
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self._fail(field, f"The JSON value could not be converted to System.DateTime. "
                              f"Path: $.{field}")
            return None
        return parsed.replace(tzinfo=None).isoformat()

    def int_list(self, field: str) -> list[int] | None:
        value = self.data.get(field)
        if value is None:
            return None
        if not isinstance(value, list) or any(
                isinstance(v, bool) or not isinstance(v, int) for v in value):
            self._fail(field, f"The JSON value could not be converted to "
                              f"System.Collections.Generic.List`1[System.Int32]. Path: $.{field}")
            return None
        return list(value)

    def check(self) -> None:
        if self.errors:
            raise _Problem(400, self.errors)


def _apply_patch(document: Record, operations: Any, fields: Iterable[str]) -> Record:
    """Apply a JSON Patch to the flat edit document; paths match case-insensitively."""
    if not isinstance(operations, list):
        raise _invalid("", "The JSON patch document was malformed and could not be parsed.")
    names = {name.lower(): name for name in fields}
    patched = dict(document)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise _invalid("", "The JSON patch document was malformed and could not be parsed.")
        kind = str(op.get("op", "")).lower()
        segment = op["path"].strip("/")
        name = names.get(segment.lower())
        if name is None or "/" in segment:
            raise _invalid("", f"The target location specified by path segment '{segment}' "
                               f"was not found.")
        if kind in ("replace", "add"):
            if "value" not in op:
                raise _invalid("", f"The 'value' of the '{kind}' operation is missing.")
            patched[name] = op["value"]
        elif kind == "remove":
            patched[name] = None
        elif kind == "test":
            if patched.get(name) != op.get("value"):
                raise _invalid("", f"The current value '{patched.get(name)}' at path "
                                   f"'{segment}' is not equal to the test value "
                                   f"'{op.get('value')}'.")
        else:
            raise _invalid("", f"Invalid JsonPatch operation '{kind}'.")
    return patched


# --------------------------------------------------------------------------- search


def _page_and_sort(body: Mapping[str, Any], default_sort: int, max_items: int
                   ) -> tuple[int, int, int, int]:
    """(sortBy, sortOrder, page, itemsPerPage) from `pageAndSortBy`, 1-based pages."""
    raw = body.get("pageAndSortBy") or {}
    if not isinstance(raw, dict):
        raise _invalid("pageAndSortBy", "The JSON value could not be converted.")
    values = {k.lower(): v for k, v in raw.items()}
    try:
        sort_by = int(values.get("sortby", default_sort))
        order = int(values.get("sortorder", 0))
        page = int(values.get("page", 1))
        per_page = int(values.get("itemsperpage", 15))
    except (TypeError, ValueError):
        raise _invalid("pageAndSortBy", "The JSON value could not be converted.") from None
    if order not in (0, 1):
        raise _invalid("pageAndSortBy.sortOrder", "The value must be 0 (asc) or 1 (desc).")
    if page < 0 or per_page < 0:
        raise _invalid("pageAndSortBy", "Page and itemsPerPage must not be negative.")
    return sort_by, order, max(page, 1), min(max(per_page, 1), max_items)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, str):
        return (0, value.casefold())
    return (0, value)


def _search(records: Iterable[Record], keep: Callable[[Record], bool],
            sort_field: str, order: int, page: int, per_page: int
            ) -> tuple[list[Record], int]:
    """One page of the matches, sorted, plus the number of matches.

    A heap keeps only the first `page * per_page` matches, so paging the newest changes of
    a million records is one pass rather than a full sort.
    """
    matches = 0

    def matching() -> Iterable[tuple[tuple[int, Any], int, Record]]:
        nonlocal matches
        for record in records:
            if keep(record):
                matches += 1
                yield _sort_key(record.get(sort_field)), record["id"], record

    wanted = page * per_page
    if order == 1:
        top = heapq.nlargest(wanted, matching(), key=lambda t: (t[0], t[1]))
    else:
        top = heapq.nsmallest(wanted, matching(), key=lambda t: (t[0], t[1]))
    return [record for _, _, record in top[wanted - per_page:]], matches


def _matches(value: Any, wanted: str | None, operator: int) -> bool:
    if wanted is None or wanted == "":
        return True
    if value is None:
        return False
    text, needle = str(value).casefold(), wanted.casefold()
    if operator == 1:
        return text.startswith(needle)
    if operator == 2:
        return text.endswith(needle)
    if operator == 3:
        return text == needle
    return needle in text


# --------------------------------------------------------------------------- the sandbox


class CinodeSandbox(Sandbox):
    """The Cinode REST API (v0.1) for one company, with generated data."""

    vendor = "cinode"

    credentials_type = CinodeCredentials
    curl_example = CURL_EXAMPLE
    credentials: CinodeCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: CinodeCredentials | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        opts = cfg.options
        self.company_id = self.credentials.company_id
        self.counts = CinodeCounts.for_records(cfg.records)
        self.owner_id = user_id(0)
        self.token_lifetime = int(opts.get("cinode_token_lifetime", 120))
        self.daily_limit = int(opts.get("cinode_daily_requests", 10_000))
        self.max_items_per_page = int(opts.get("cinode_max_items_per_page", 1000))
        self.plan_limiter = RateLimiter(int(opts.get("cinode_requests_per_window", 40)), 2.0,
                                        self.clock)
        self.token_limiter = RateLimiter(
            int(opts.get("cinode_token_requests_per_window", 2)), 2.0, self.clock)
        self._key = hashlib.sha256(
            f"cinode-sandbox:{cfg.seed}:{self.credentials.access_secret}".encode()).digest()
        self._rng = random.Random(f"cinode:{cfg.seed}")
        self._ticks = itertools.count(1)
        self._last_moment: datetime | None = None
        self._daily: dict[int, tuple[date, int]] = {}
        self._refresh_tokens: dict[str, str] = {}
        seed, company, counts = cfg.seed, self.company_id, self.counts
        self.users = self._collection("users", counts.users,
                                      lambda i: user_record(seed, i, company), user_index)
        self.subcontractors = self._collection(
            "subcontractors", counts.subcontractors,
            lambda i: subcontractor_record(seed, i, company), subcontractor_index)
        self.customers = self._collection(
            "customers", counts.customers,
            lambda i: customer_record(seed, i, company, counts), customer_index)
        self.projects = self._collection(
            "projects", counts.projects,
            lambda i: project_record(seed, i, company, counts), project_index)
        self.tags: dict[int, Record] = {t["id"]: dict(t) for t in TAGS}
        self.webhook_configs: dict[str, Record] = {}
        self._user_emails = {u["companyUserEmail"].casefold(): u["id"] for u in self.users}
        # Projects moved to (or created for) a customer outside the generated pattern.
        self._projects_of_customer: dict[int, set[int]] = {}
        self._ids = {
            "user": itertools.count(user_id(counts.users)),
            "customer": itertools.count(customer_id(counts.customers)),
            "project": itertools.count(project_id(counts.projects)),
            "child": itertools.count(1_000_000_001),
        }
        self._tag_ids = itertools.count(max(self.tags) + 1)

    def _collection(self, name: str, size: int, factory: Callable[[int], Record],
                    index_of: Callable[[Any], int | None]) -> Collection:
        return Collection(name, key="id", size=size, factory=factory, clock=self.clock,
                          index_of=index_of, stamp=self._stamp)

    def _stamp(self, record: Record, now: datetime, previous: Record | None) -> None:
        stamp = self._now_text(now)
        record["updatedDateTime"] = stamp
        if previous is None and not record.get("createdDateTime"):
            record["createdDateTime"] = stamp

    # ------------------------------------------------------------------ base hooks

    def health(self) -> dict[str, Any]:
        return {"companyId": self.company_id, "users": len(self.users),
                "subcontractors": len(self.subcontractors), "customers": len(self.customers),
                "projects": len(self.projects), "webhooks": len(self.webhook_configs)}

    def error_response(self, status: int, message: str) -> Response:
        correlation = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        return JSONResponse({"correlationId": str(correlation), "status": "Error",
                             "description": message, "code": status * 10,
                             "moreInfo": _ERROR_MORE_INFO}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        return JSONResponse(_RATE_LIMIT_BODY, status_code=429,
                            headers=self._limit_headers(decision, None))

    @staticmethod
    def _limit_headers(decision: RateDecision, daily_left: int | None) -> dict[str, str]:
        headers = {"x-ratelimit-limit": str(decision.limit),
                   "x-ratelimit-remaining": str(decision.remaining),
                   "x-ratelimit-reset": str(max(1, int(decision.reset_seconds + 0.999)))}
        if daily_left is not None:
            headers["x-daily-requests-left"] = str(daily_left)
        return headers

    # ------------------------------------------------------------------ routing

    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        company = [
            Route("/users", g(self._list_users), methods=["GET"]),
            Route("/users", g(self._create_user), methods=["POST"]),
            Route("/users/extended", g(self._list_users), methods=["GET"]),
            Route("/users/search", g(self._search_users), methods=["POST"]),
            Route("/users/{id:int}", g(self._get_user), methods=["GET"]),
            Route("/users/{id:int}", g(self._put_user), methods=["PUT"]),
            Route("/users/{id:int}", g(self._patch_user), methods=["PATCH"]),
            Route("/users/{id:int}", g(self._delete_user), methods=["DELETE"]),
            Route("/users/{id:int}/tags", g(self._tag_user), methods=["POST"]),
            Route("/users-full/{id:int}", g(self._get_user_full), methods=["GET"]),
            Route("/subcontractors", g(self._list_subcontractors), methods=["GET"]),
            Route("/subcontractors", g(self._create_subcontractor), methods=["POST"]),
            Route("/subcontractors/{id:int}", g(self._get_subcontractor), methods=["GET"]),
            Route("/subcontractors/{id:int}", g(self._put_subcontractor), methods=["PUT"]),
            Route("/subcontractors/{id:int}", g(self._delete_subcontractor),
                  methods=["DELETE"]),
            Route("/customers", g(self._list_customers), methods=["GET"]),
            Route("/customers", g(self._create_customer), methods=["POST"]),
            Route("/customers/extended", g(self._list_customers_extended), methods=["GET"]),
            Route("/customers/search", g(self._search_customers), methods=["POST"]),
            Route("/customers/{id:int}", g(self._get_customer), methods=["GET"]),
            Route("/customers/{id:int}", g(self._put_customer), methods=["PUT"]),
            Route("/customers/{id:int}", g(self._patch_customer), methods=["PATCH"]),
            Route("/customers/{id:int}", g(self._delete_customer), methods=["DELETE"]),
            Route("/customers/{id:int}/addresses", g(self._add_address), methods=["POST"]),
            Route("/customers/{id:int}/addresses/{child:int}", g(self._address),
                  methods=["GET", "PUT", "DELETE"]),
            Route("/customers/{id:int}/contacts", g(self._contacts), methods=["GET", "POST"]),
            Route("/customers/{id:int}/contacts/{child:int}", g(self._contact),
                  methods=["GET", "PUT", "DELETE"]),
            Route("/customers/{id:int}/tags", g(self._tag_customer), methods=["POST"]),
            Route("/customers/{id:int}/managers", g(self._managers), methods=["GET", "POST"]),
            Route("/customers/{id:int}/managers/{child:int}", g(self._remove_manager),
                  methods=["DELETE"]),
            Route("/projects", g(self._list_projects), methods=["GET"]),
            Route("/projects", g(self._create_project), methods=["POST"]),
            Route("/projects/pipelines", g(self._pipelines), methods=["GET"]),
            Route("/projects/search", g(self._search_projects), methods=["POST"]),
            Route("/projects/{id:int}", g(self._get_project), methods=["GET"]),
            Route("/projects/{id:int}", g(self._put_project), methods=["PUT"]),
            Route("/projects/{id:int}", g(self._delete_project), methods=["DELETE"]),
            Route("/projects/{id:int}/tags", g(self._tag_project), methods=["POST"]),
            Route("/tags", g(self._list_tags), methods=["GET"]),
            Route("/tags/{id:int}", g(self._get_tag), methods=["GET"]),
            Route("/currencies", g(self._static(CURRENCIES)), methods=["GET"]),
            Route("/countries", g(self._static(COUNTRIES)), methods=["GET"]),
            Route("/languages", g(self._static(LANGUAGES)), methods=["GET"]),
            Route("/locations", g(self._static(LOCATIONS)), methods=["GET"]),
            Route("/webhooks", g(self._list_webhooks), methods=["GET"]),
            Route("/webhooks", g(self._add_webhook), methods=["POST"]),
            Route("/webhooks/manifest", g(self._add_webhook_manifest), methods=["POST"]),
            Route("/webhooks/{hook}", g(self._delete_webhook), methods=["DELETE"]),
        ]
        return [
            Route("/token", self._token, methods=["GET"]),
            Route("/token/refresh", self._refresh, methods=["POST"]),
            Route("/_whoami", g(self._whoami, company_scoped=False), methods=["GET"]),
            Mount("/v0.1/companies/{companyId:int}", routes=company),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}", self._control_create, methods=["POST"]),
            Route("/records/{object}/{id:int}", self._control_record,
                  methods=["GET", "PATCH", "DELETE"]),
        ]

    def _guarded(self, handler: Handler, *, company_scoped: bool = True) -> Handler:
        """Bearer auth, company check and the plan's rate limit around one handler."""

        async def endpoint(request: Request) -> Response:
            claims = self._claims(request)
            if claims is None:
                return Response(status_code=401,
                                headers={"www-authenticate": 'Bearer error="invalid_token"'})
            company = int(claims.get("companySub", 0))
            headers: dict[str, str] = {}
            if self.config.rate_limits:
                decision, daily_left = self._count_request(company)
                headers = self._limit_headers(decision, daily_left)
                if not decision.allowed or daily_left < 0:
                    if daily_left < 0:
                        headers["x-daily-requests-left"] = "0"
                    return JSONResponse(_RATE_LIMIT_BODY, status_code=429, headers=headers)
            if company_scoped and request.path_params.get("companyId") != company:
                response: Response = Response(status_code=403)
            else:
                try:
                    response = await handler(request)
                except _Problem as problem:
                    response = problem.response()
            response.headers.update(headers)
            return response

        return endpoint

    def _claims(self, request: Request) -> dict[str, Any] | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        claims = decode_token(token.strip(), self._key)
        if claims is None or not isinstance(claims.get("exp"), int | float):
            return None
        if self.clock.now().timestamp() >= claims["exp"]:
            return None
        return claims

    def _count_request(self, company: int) -> tuple[RateDecision, int]:
        decision = self.plan_limiter.check(company)
        today = self.clock.now().date()
        day, used = self._daily.get(company, (today, 0))
        if day != today:
            used = 0
        if decision.allowed:
            used += 1
        self._daily[company] = (today, used)
        return decision, self.daily_limit - used

    @staticmethod
    async def _json(request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise _invalid("$", "The JSON value could not be parsed.") from None

    async def _body(self, request: Request) -> _Body:
        return _Body(await self._json(request))

    # ------------------------------------------------------------------ auth

    async def _token(self, request: Request) -> Response:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        access_id = secret = ""
        if scheme.lower() == "basic":
            try:
                access_id, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
            except (ValueError, binascii.Error):
                access_id = secret = ""
        limited = self._token_limited(access_id)
        if limited is not None:
            return limited
        if not (hmac.compare_digest(access_id, self.credentials.access_id)
                and hmac.compare_digest(secret, self.credentials.access_secret)):
            return Response(status_code=401)
        return self._issue(access_id)

    async def _refresh(self, request: Request) -> Response:
        try:
            body = await self._json(request)
        except _Problem as problem:
            return problem.response()
        token = body.get("refreshToken") if isinstance(body, dict) else None
        access_id = self._refresh_tokens.get(token) if isinstance(token, str) else None
        limited = self._token_limited(access_id or "")
        if limited is not None:
            return limited
        if access_id is None:
            return Response(status_code=401)
        del self._refresh_tokens[token]  # rotate: a refresh token works once
        return self._issue(access_id)

    def _token_limited(self, access_id: str) -> Response | None:
        if not self.config.rate_limits:
            return None
        decision = self.token_limiter.check(("token", access_id))
        if decision.allowed:
            return None
        return JSONResponse(_RATE_LIMIT_BODY, status_code=429,
                            headers=self._limit_headers(decision, None))

    def _issue(self, access_id: str) -> Response:
        now = int(self.clock.now().timestamp())
        claims = {"sub": str(self.owner_id), "companySub": str(self.company_id),
                  "iat": now, "nbf": now, "exp": now + self.token_lifetime,
                  "jti": f"{self._rng.getrandbits(64):016x}"}
        refresh = _b64url(self._rng.getrandbits(256).to_bytes(32, "big"))
        self._refresh_tokens[refresh] = access_id
        return JSONResponse({"access_token": encode_token(claims, self._key),
                             "refresh_token": refresh})

    async def _whoami(self, request: Request) -> Response:
        owner = self.users.get(self.owner_id) or {}
        return JSONResponse({"companyId": self.company_id, "companyUserId": self.owner_id,
                             "firstName": owner.get("firstName"),
                             "lastName": owner.get("lastName")})

    # ------------------------------------------------------------------ views

    def _links(self, kind: str, record_id: int, methods: list[str]) -> list[Record]:
        href = f"/v0.1/companies/{self.company_id}/{kind}/{record_id}"
        return [{"href": href, "rel": "self", "methods": methods}]

    def _tag_models(self, tags: Iterable[Record]) -> list[Record]:
        return [{"id": t["id"], "companyId": self.company_id, "name": t["name"],
                 "seoId": f"{t['id']}-{t['name'].lower()}"} for t in tags]

    def _user_base(self, record: Record) -> Record:
        return {"companyUserId": record["id"], "companyId": self.company_id,
                "seoId": record.get("seoId"), "firstName": record.get("firstName"),
                "lastName": record.get("lastName"),
                "companyUserType": record.get("companyUserType", 0), "id": record["id"],
                "links": self._links("users", record["id"], ["GET"])}

    def _user_extended(self, record: Record) -> Record:
        view = {key: record.get(key) for key in (
            "status", "title", "companyUserEmail", "createdDateTime", "updatedDateTime",
            "employmentNumber", "desiredAssignment", "internalIdentifier", "twitter",
            "linkedIn", "homepage", "blog", "gitHub")}
        location = next((loc for loc in LOCATIONS if loc["id"] == record.get("locationId")),
                        None)
        view["companyAddress"] = ({"id": location["id"], "city": location["city"],
                                   "street1": location["street1"]} if location else None)
        view["homeAddress"] = None
        view["image"] = None
        return {**view, **self._user_base(record),
                "links": self._links("users", record["id"], ["GET", "PUT", "PATCH", "DELETE"])}

    def _user_model(self, record: Record) -> Record:
        currency = self._currency(record.get("defaultCurrencyId"))
        location = next((loc for loc in LOCATIONS if loc["id"] == record.get("locationId")),
                        None)
        return {
            **self._user_extended(record),
            **{key: record.get(key) for key in (
                "employmentStartDate", "employmentEndDate", "availabilityPercent",
                "availableFromDate", "mobility", "phone", "dateOfBirth")},
            "locationName": location["name"] if location else None,
            "resumes": [], "roles": [], "teamManagers": [], "teamMembers": [],
            "customerManagers": [], "periods": [], "defaultCurrency": currency,
            "tags": self._tag_models(record.get("tags", [])),
        }

    def _user_full(self, record: Record) -> Record:
        return {**self._user_model(record),
                **{key: record.get(key) for key in (
                    "invoicingGoal", "taxTable", "baseSalary", "provision",
                    "hourlyTargetRate", "selfCost")}}

    def _subcontractor_base(self, record: Record) -> Record:
        return {**self._user_base(record), "companyUserType": 20,
                "companyName": record.get("companyName"),
                "companyIdentifier": record.get("companyIdentifier"),
                "internalIdentifier": record.get("internalIdentifier"),
                "email": record.get("email"), "status": record.get("status"),
                "createdDateTime": record.get("createdDateTime"),
                "updatedDateTime": record.get("updatedDateTime"),
                "links": self._links("subcontractors", record["id"],
                                     ["GET", "PUT", "DELETE"])}

    def _subcontractor_model(self, record: Record) -> Record:
        return {**self._subcontractor_base(record),
                **{key: record.get(key) for key in (
                    "title", "phone", "tariff", "linkedIn", "rating", "languageId",
                    "profileLanguageId", "companyAddressId")},
                "defaultCurrency": self._currency(record.get("currencyId")),
                "groups": [], "attachments": [],
                "tags": self._tag_models(record.get("tags", []))}

    def _customer_base(self, record: Record) -> Record:
        return {"id": record["id"], "companyId": self.company_id, "name": record.get("name"),
                "description": record.get("description"),
                "identification": record.get("identification"), "seoId": record.get("seoId"),
                "status": record.get("status", 1),
                "createdDateTime": record.get("createdDateTime"),
                "updatedDateTime": record.get("updatedDateTime"),
                "links": self._links("customers", record["id"],
                                     ["GET", "PUT", "PATCH", "DELETE"])}

    def _manager_models(self, record: Record) -> list[Record]:
        managers = []
        for uid in record.get("managers", []):
            user = self.users.get(uid)
            if user is not None:
                managers.append({**self._user_base(user), "companyCustomerManagerId": uid,
                                 "customerId": record["id"]})
        return managers

    def _customer_extended(self, record: Record) -> Record:
        return {**self._customer_base(record), "email": record.get("email"),
                "tags": self._tag_models(record.get("tags", [])),
                "managers": self._manager_models(record)}

    def _customer_model(self, record: Record) -> Record:
        country = next((c for c in COUNTRIES if c["countryId"] == record.get("countryId")),
                       None)
        return {
            **self._customer_extended(record),
            **{key: record.get(key) for key in (
                "phone", "fax", "homepage", "corporateIdentityNumber", "vatNumber",
                "intermediator", "size", "countryId", "turnOver", "turnOverCurrencyId")},
            "contacts": [self._contact_model(record, c) for c in record.get("contacts", [])],
            "addresses": [dict(a) for a in record.get("addresses", [])],
            "projects": [self._project_base(p) for p in self._customer_projects(record["id"])],
            "attachments": [],
            "country": dict(country) if country else None,
            "turnOverCurrency": self._currency(record.get("turnOverCurrencyId")),
        }

    def _contact_model(self, customer: Record, contact: Record) -> Record:
        return {**contact, "companyId": self.company_id, "customerId": customer["id"]}

    def _project_base(self, record: Record) -> Record:
        return {"companyId": self.company_id, "customerId": record.get("customerId"),
                "id": record["id"], "title": record.get("title"),
                "description": record.get("description"),
                "identifier": record.get("identifier"),
                "customerIdentifier": record.get("customerIdentifier"),
                "links": self._links("projects", record["id"], ["GET", "PUT", "DELETE"])}

    def _project_listed(self, record: Record) -> Record:
        """The base model plus the fields change detection needs [assumed]."""
        return {**self._project_base(record), "pipelineId": record.get("pipelineId"),
                "currentStageId": record.get("currentStageId"),
                "currentState": record.get("currentState"),
                "createdDateTime": record.get("createdDateTime"),
                "updatedDateTime": record.get("updatedDateTime")}

    def _project_model(self, record: Record) -> Record:
        def users(ids: Iterable[int]) -> list[Record]:
            found = (self.users.get(uid) for uid in ids)
            return [self._user_base(u) for u in found if u is not None]

        sales = users(record.get("salesManagerIds") or [])
        customer = self.customers.get(record.get("customerId"))
        intermediator = self.customers.get(record.get("intermediatorId"))
        created_by = users([record["createdById"]] if record.get("createdById") else [])
        updated_by = users([record["updatedById"]] if record.get("updatedById") else [])
        return {
            **self._project_base(record),
            "company": {"id": self.company_id, "name": "Konsultbolaget AB"},
            "customer": self._customer_base(customer) if customer else None,
            "seoId": record.get("seoId"), "locationId": None, "googleId": None,
            **{key: record.get(key) for key in (
                "probability", "estimatedValue", "contractValue", "estimatedCloseDate",
                "pipelineId", "currentStageId", "currentState", "teamId", "stateReasonId",
                "priority", "createdDateTime", "updatedDateTime")},
            "salesManagerIds": list(record.get("salesManagerIds") or []),
            "projectManagerIds": list(record.get("projectManagerIds") or []),
            "managers": users(record.get("projectManagerIds") or []),
            "salesManager": sales[0] if sales else None, "salesManagers": sales,
            "intermediator": self._customer_base(intermediator) if intermediator else None,
            "events": [], "customerContacts": [], "intermediatorContacts": [],
            "assignments": [], "attachments": [], "projectReferences": [],
            "tags": self._tag_models(record.get("tags", [])),
            "currency": self._currency(record.get("currencyId")),
            "stateHistory": [dict(h) for h in record.get("stateHistory", [])],
            "createdBy": created_by[0] if created_by else None,
            "updatedBy": updated_by[0] if updated_by else None,
        }

    @staticmethod
    def _currency(currency_id: Any) -> Record | None:
        found = next((c for c in CURRENCIES if c["id"] == currency_id), None)
        return dict(found) if found else None

    def _customer_projects(self, customer: int) -> list[Record]:
        ids: set[int] = set(self._projects_of_customer.get(customer, ()))
        index = customer_index(customer)
        if index is not None and 0 <= index < self.counts.customers:
            ids.update(project_id(i) for i in project_indices_for_customer(index, self.counts))
        found = (self.projects.get(pid) for pid in sorted(ids))
        return [p for p in found if p is not None and p.get("customerId") == customer]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _id(request: Request, name: str = "id") -> int:
        return int(request.path_params[name])

    @staticmethod
    def _found(record: Record | None) -> Record:
        if record is None:
            raise _Problem(404)
        return record

    def _now_text(self, now: datetime | None = None) -> str:
        """A timestamp later than every earlier one, so `updatedDateTime` orders changes
        even when a manual clock stands still (the seventh digit is cosmetic)."""
        moment = (now or self.clock.now()).astimezone(UTC)
        if self._last_moment is not None and moment <= self._last_moment:
            moment = self._last_moment + timedelta(microseconds=1)
        self._last_moment = moment
        return cinode_datetime(moment, next(self._ticks))

    def _created(self, view: Record, kind: str) -> Response:
        return JSONResponse(view, status_code=201, headers={
            "location": f"/v0.1/companies/{self.company_id}/{kind}/{view['id']}"})

    def _static(self, rows: list[Record]) -> Handler:
        async def handler(request: Request) -> Response:
            return JSONResponse([dict(r) for r in rows])

        return handler

    def _resolve_tags(self, data: Any) -> list[Record]:
        """`[{id?, name}]` -> tags, creating the ones named without an id."""
        if not isinstance(data, list):
            raise _invalid("", "A list of tags is required.")
        by_name = {t["name"].casefold(): t for t in self.tags.values()}
        result: list[Record] = []
        for item in data:
            if not isinstance(item, dict):
                raise _invalid("", "Each tag must be an object with a name.")
            tag_id, name = item.get("id"), item.get("name")
            if isinstance(tag_id, int) and tag_id in self.tags:
                tag = self.tags[tag_id]
            elif tag_id is not None and not isinstance(tag_id, int):
                raise _invalid("id", "The JSON value could not be converted to System.Int32.")
            elif tag_id is not None:
                raise _invalid("id", f"Tag {tag_id} was not found.")
            elif isinstance(name, str) and name.strip():
                tag = by_name.get(name.strip().casefold())
                if tag is None:
                    tag = {"id": next(self._tag_ids), "name": name.strip()}
                    self.tags[tag["id"]] = tag
                    by_name[tag["name"].casefold()] = tag
            else:
                raise _invalid("name", "The Name field is required.")
            if all(t["id"] != tag["id"] for t in result):
                result.append({"id": tag["id"], "name": tag["name"]})
        return result

    # ------------------------------------------------------------------ users

    _USER_EDIT_FIELDS = (
        "status", "employmentStartDate", "employmentEndDate", "employmentNumber",
        "invoicingGoal", "mobility", "availabilityPercent", "availableFromDate", "title",
        "email", "taxTable", "baseSalary", "provision", "hourlyTargetRate", "selfCost",
        "locationId", "defaultCurrencyId", "displayCurrencyId", "firstName", "lastName",
        "dateOfBirth", "gender", "companyCalendarId", "timezoneId", "phone")
    _USER_PATCH_EXTRA = ("desiredAssignment", "internalIdentifier", "twitter", "linkedIn",
                         "homepage", "blog", "gitHub")

    _USER_ADD_FIELDS = (
        "email", "firstName", "lastName", "gender", "status", "teamId", "title", "languageId",
        "employmentNumber", "employmentStartDate", "locationId", "defaultCurrencyId",
        "displayCurrencyId")

    def _user_fields(self, body: _Body, *, mode: str) -> Record:
        """Validated user fields (stored names) of the add model, the PUT edit model or the
        PATCH document. Fields outside the model are ignored, as ASP.NET binding does: a
        PUT cannot set `internalIdentifier` or `phone` on create, only PUT/PATCH can."""
        creating = mode == "add"
        values: Record = {
            "firstName": body.text("firstName", required=True, max_length=100),
            "lastName": body.text("lastName", required=True, max_length=100),
            "companyUserEmail": body.text("email", required=True, max_length=250),
            "title": body.text("title"),
            "employmentNumber": body.text("employmentNumber", max_length=50),
            "employmentStartDate": body.moment("employmentStartDate"),
            "employmentEndDate": body.moment("employmentEndDate"),
            "dateOfBirth": body.moment("dateOfBirth"),
            "availableFromDate": body.moment("availableFromDate"),
            "phone": body.text("phone", max_length=50),
            "taxTable": body.text("taxTable", max_length=10),
            "baseSalary": body.integer("baseSalary"),
            "availabilityPercent": body.integer("availabilityPercent"),
            "invoicingGoal": body.number("invoicingGoal"),
            "provision": body.number("provision"),
            "hourlyTargetRate": body.number("hourlyTargetRate"),
            "selfCost": body.number("selfCost"),
            "mobility": body.integer("mobility"),
            "teamId": body.integer("teamId"),
            "companyCalendarId": body.integer("companyCalendarId"),
            "timezoneId": body.text("timezoneId"),
            "internalIdentifier": body.text("internalIdentifier", max_length=100),
            "desiredAssignment": body.text("desiredAssignment"),
        }
        for field, rows, key in (("locationId", LOCATIONS, "id"),
                                 ("defaultCurrencyId", CURRENCIES, "id"),
                                 ("displayCurrencyId", CURRENCIES, "id"),
                                 ("languageId", LANGUAGES, "id")):
            values[field] = body.integer(field, allowed=[r[key] for r in rows])
        status = body.integer("status", allowed=(0, 2, 3))
        gender = body.integer("gender", required=creating, allowed=(0, 1, 2))
        if status is not None or creating:
            values["status"] = 3 if status is None else status
        if gender is not None:
            values["gender"] = gender
        percent = values["availabilityPercent"]
        if percent is not None and not 0 <= percent <= 100:
            body._fail("availabilityPercent", "The field AvailabilityPercent must be between "
                                              "0 and 100.")
        if creating:
            password = body.text("password", required=True)
            confirm = body.text("confirmPassword", required=True)
            if password and confirm and password != confirm:
                body._fail("confirmPassword", "The password and confirmation password do not "
                                              "match.")
        model = {"add": self._USER_ADD_FIELDS, "edit": self._USER_EDIT_FIELDS,
                 "patch": (*self._USER_EDIT_FIELDS, *self._USER_PATCH_EXTRA)}[mode]
        stored = {"companyUserEmail" if name == "email" else name for name in model}
        return {key: value for key, value in values.items() if key in stored}

    def _check_email(self, body: _Body, email: str | None, own_id: int | None) -> None:
        if email is None:
            return
        owner = self._user_emails.get(email.casefold())
        if owner is not None and owner != own_id and self.users.get(owner) is not None:
            body._fail("email", f"The email '{email}' is already in use.")

    def _store_user(self, record: Record, previous: Record | None) -> Record:
        if previous is not None and previous.get("companyUserEmail"):
            self._user_emails.pop(previous["companyUserEmail"].casefold(), None)
        stored = self.users.put(record)
        if stored.get("companyUserEmail"):
            self._user_emails[stored["companyUserEmail"].casefold()] = stored["id"]
        return stored

    async def _list_users(self, request: Request) -> Response:
        return _stream_array(self._user_extended(u) for u in self.users.iter())

    async def _get_user(self, request: Request) -> Response:
        return JSONResponse(self._user_model(self._found(self.users.get(self._id(request)))))

    async def _get_user_full(self, request: Request) -> Response:
        return JSONResponse(self._user_full(self._found(self.users.get(self._id(request)))))

    async def _create_user(self, request: Request) -> Response:
        body = await self._body(request)
        values = self._user_fields(body, mode="add")
        self._check_email(body, values["companyUserEmail"], None)
        body.check()
        uid = next(self._ids["user"])
        record = {
            "id": uid, "companyUserId": uid, "companyId": self.company_id,
            "seoId": f"{uid}-{values['firstName'].lower()}", "companyUserType": 0,
            "twitter": None, "linkedIn": None, "homepage": None, "blog": None,
            "gitHub": None, "tags": [], **values,
            "languageId": values.get("languageId") or 1,
            "defaultCurrencyId": values.get("defaultCurrencyId") or 1,
        }
        stored = self._store_user(record, None)
        self._notify(3, 2, stored)
        return self._created(self._user_full(stored), "users")

    async def _put_user(self, request: Request) -> Response:
        current = self._found(self.users.get(self._id(request)))
        body = await self._body(request)
        values = self._user_fields(body, mode="edit")
        self._check_email(body, values["companyUserEmail"], current["id"])
        body.check()
        stored = self._store_user({**current, **values}, current)
        self._notify(3, 3, stored)
        return JSONResponse(self._user_model(stored))

    async def _patch_user(self, request: Request) -> Response:
        current = self._found(self.users.get(self._id(request)))
        self._require_patch_type(request)
        # The patch document is the edit model; Cinode spells firstname/lastname in lower case.
        document = {("firstname" if k == "firstName" else "lastname" if k == "lastName"
                     else k): current.get("companyUserEmail" if k == "email" else k)
                    for k in (*self._USER_EDIT_FIELDS, *self._USER_PATCH_EXTRA)}
        patched = _apply_patch(document, await self._json(request), document.keys())
        edit = {("firstName" if k == "firstname" else "lastName" if k == "lastname" else k): v
                for k, v in patched.items()}
        body = _Body(edit)
        values = self._user_fields(body, mode="patch")
        self._check_email(body, values["companyUserEmail"], current["id"])
        body.check()
        stored = self._store_user({**current, **values}, current)
        self._notify(3, 3, stored)
        return JSONResponse(self._user_model(stored))

    @staticmethod
    def _require_patch_type(request: Request) -> None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json-patch+json":
            raise _Problem(415)

    async def _delete_user(self, request: Request) -> Response:
        current = self._found(self.users.get(self._id(request)))
        if current.get("status") != 0:
            raise _invalid("status", "The user must be disconnected (status 0) before it can "
                                     "be deleted.")
        first = request.query_params.get("firstName")
        last = request.query_params.get("lastName")
        if first != current.get("firstName") or last != current.get("lastName"):
            raise _invalid("firstName", "The first and last name must match the user's name.")
        self.users.delete(current["id"])
        self._user_emails.pop(str(current.get("companyUserEmail", "")).casefold(), None)
        self._notify(3, 4, current)
        return Response(status_code=204)

    async def _tag_user(self, request: Request) -> Response:
        current = self._found(self.users.get(self._id(request)))
        tags = self._resolve_tags(await self._json(request))
        stored = self.users.put({**current, "tags": tags})
        self._notify(3, 3, stored)
        return JSONResponse(self._tag_models(tags))

    async def _search_users(self, request: Request) -> Response:
        data = await self._json(request) or {}
        if not isinstance(data, dict):
            raise _invalid("", "A search model is required.")
        sort_by, order, page, per_page = _page_and_sort(data, 0, self.max_items_per_page)
        fields = {0: "createdDateTime", 1: "firstName", 2: "lastName", 3: "companyUserEmail",
                  4: "updatedDateTime"}
        if sort_by not in fields:
            raise _invalid("pageAndSortBy.sortBy", f"The value '{sort_by}' is not valid.")
        term = data.get("term")
        disconnected = bool(data.get("includeDisconnected"))

        def keep(user: Record) -> bool:
            if user.get("status") == 0 and not disconnected:
                return False
            if not term:
                return True
            name = f"{user.get('firstName')} {user.get('lastName')} " \
                   f"{user.get('companyUserEmail')}"
            return str(term).casefold() in name.casefold()

        result, total = _search(self.users.iter(), keep, fields[sort_by], order, page,
                                per_page)
        return self._search_result([self._user_extended(u) for u in result], total,
                                   sort_by, order, page, per_page)

    @staticmethod
    def _search_result(items: list[Record], total: int, sort_by: int, order: int, page: int,
                       per_page: int) -> Response:
        return JSONResponse({
            "pagedAndSortedBy": {"sortBy": sort_by, "sortOrder": order, "page": page,
                                 "itemsPerPage": per_page},
            "result": items, "hits": len(items), "totalItems": total,
        })

    # ------------------------------------------------------------------ subcontractors

    def _subcontractor_fields(self, body: _Body, *, creating: bool) -> Record:
        values: Record = {
            "firstName": body.text("firstName", required=True, max_length=100),
            "lastName": body.text("lastName", required=True, max_length=100),
            "email": body.text("email", required=True, max_length=250),
            "gender": body.integer("gender", required=True, allowed=(0, 1, 2)),
            "languageId": body.integer("languageId", required=True,
                                       allowed=[lang["id"] for lang in LANGUAGES]),
            "title": body.text("title"), "phone": body.text("phone", max_length=50),
            "profileLanguageId": body.integer("profileLanguageId"),
            "tariff": body.number("tariff"),
            "currencyId": body.integer("currencyId", allowed=[c["id"] for c in CURRENCIES]),
            "companyCalendarId": body.integer("companyCalendarId"),
            "companyAddressId": body.integer("companyAddressId",
                                             allowed=[loc["id"] for loc in LOCATIONS]),
            "companyName": body.text("companyName", max_length=250),
            "companyIdentifier": body.text("companyIdentifier", max_length=50),
            "internalIdentifier": body.text("internalIdentifier", max_length=100),
            "linkedIn": body.text("linkedIn"), "rating": body.integer("rating"),
        }
        if creating:
            password = body.text("password", required=True)
            confirm = body.text("passwordConfirm", required=True)
            if password and confirm and password != confirm:
                body._fail("passwordConfirm", "The password and confirmation password do not "
                                              "match.")
        body.check()
        return values

    async def _list_subcontractors(self, request: Request) -> Response:
        return _stream_array(self._subcontractor_base(s) for s in self.subcontractors.iter())

    async def _get_subcontractor(self, request: Request) -> Response:
        record = self._found(self.subcontractors.get(self._id(request)))
        return JSONResponse(self._subcontractor_model(record))

    async def _create_subcontractor(self, request: Request) -> Response:
        values = self._subcontractor_fields(await self._body(request), creating=True)
        sid = next(self._ids["user"])
        record = {"id": sid, "companyUserId": sid, "companyId": self.company_id,
                  "seoId": f"{sid}-{values['firstName'].lower()}", "companyUserType": 20,
                  "status": 1, "tags": [], **values}
        stored = self.subcontractors.put(record)
        self._notify(4, 2, stored)
        return self._created(self._subcontractor_model(stored), "subcontractors")

    async def _put_subcontractor(self, request: Request) -> Response:
        # [assumed newer API]: the Feb-2024 spec has no update for subcontractors.
        current = self._found(self.subcontractors.get(self._id(request)))
        values = self._subcontractor_fields(await self._body(request), creating=False)
        stored = self.subcontractors.put({**current, **values})
        self._notify(4, 3, stored)
        return JSONResponse(self._subcontractor_model(stored))

    async def _delete_subcontractor(self, request: Request) -> Response:
        current = self._found(self.subcontractors.get(self._id(request)))
        self.subcontractors.delete(current["id"])
        self._notify(4, 4, current)
        return Response(status_code=204)

    # ------------------------------------------------------------------ customers

    def _customer_fields(self, body: _Body, *, creating: bool) -> Record:
        values: Record = {
            "name": body.text("name", required=True, max_length=250),
            "description": body.text("description", max_length=4000),
            "corporateIdentityNumber": body.text("corporateIdentityNumber", max_length=50),
            "vatNumber": body.text("vatNumber", max_length=50),
            "identification": body.text("identification", max_length=100),
            "email": body.text("email", max_length=250),
            "homepage": body.text("homepage"), "phone": body.text("phone", max_length=50),
            "fax": body.text("fax", max_length=50),
            "intermediator": bool(body.boolean("intermediator")),
            "size": body.integer("size", allowed=range(9)),
        }
        status = body.data.get("status")
        if isinstance(status, bool):
            values["status"] = int(status)
        elif status in (0, 1):
            values["status"] = status
        elif status is None:
            values["status"] = 1
        else:
            body._fail("status", "The JSON value could not be converted to System.Boolean.")
        if creating:
            values["countryId"] = body.integer(
                "countryId", allowed=[c["countryId"] for c in COUNTRIES])
            values["turnOver"] = body.number("turnOver")
            values["turnOverCurrencyId"] = body.integer(
                "turnOverCurrencyId", allowed=[c["id"] for c in CURRENCIES])
        body.check()
        return values

    async def _list_customers(self, request: Request) -> Response:
        return _stream_array(self._customer_base(c) for c in self.customers.iter())

    async def _list_customers_extended(self, request: Request) -> Response:
        return _stream_array(self._customer_extended(c) for c in self.customers.iter())

    async def _get_customer(self, request: Request) -> Response:
        return JSONResponse(self._customer_model(
            self._found(self.customers.get(self._id(request)))))

    async def _create_customer(self, request: Request) -> Response:
        values = self._customer_fields(await self._body(request), creating=True)
        cid = next(self._ids["customer"])
        slug = "".join(ch if ch.isalnum() else "-" for ch in values["name"].lower())
        record = {"id": cid, "companyId": self.company_id, "seoId": f"{cid}-{slug}",
                  "addresses": [], "contacts": [], "tags": [], "managers": [], **values}
        stored = self.customers.put(record)
        self._notify(5, 2, stored)
        return self._created(self._customer_model(stored), "customers")

    async def _put_customer(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        values = self._customer_fields(await self._body(request), creating=False)
        stored = self.customers.put({**current, **values})
        self._notify(5, 3, stored)
        return JSONResponse(self._customer_model(stored))

    _CUSTOMER_EDIT_FIELDS = ("name", "description", "corporateIdentityNumber", "vatNumber",
                             "identification", "email", "homepage", "phone", "fax",
                             "intermediator", "size", "status")

    async def _patch_customer(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        self._require_patch_type(request)
        document = {k: current.get(k) for k in self._CUSTOMER_EDIT_FIELDS}
        patched = _apply_patch(document, await self._json(request), document.keys())
        values = self._customer_fields(_Body(patched), creating=False)
        stored = self.customers.put({**current, **values})
        self._notify(5, 3, stored)
        return JSONResponse(self._customer_model(stored))

    async def _delete_customer(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        data = await self._json(request)
        name = data.get("customerVerificationName") if isinstance(data, dict) else None
        if name != current.get("name"):
            raise _invalid("customerVerificationName",
                           "The verification name does not match the customer's name.")
        self.customers.delete(current["id"])
        self._notify(5, 4, current)
        return Response(status_code=204)

    async def _search_customers(self, request: Request) -> Response:
        data = await self._json(request) or {}
        if not isinstance(data, dict):
            raise _invalid("", "A search model is required.")
        sort_by, order, page, per_page = _page_and_sort(data, 1, self.max_items_per_page)
        fields = {0: "createdDateTime", 1: "name", 2: "description", 3: "identification",
                  4: "seoId", 5: "status", 6: "phone", 7: "email", 8: "fax", 9: "homepage",
                  10: "corporateIdentityNumber", 11: "vatNumber", 12: "intermediator",
                  13: "updatedDateTime", 14: "updatedDateTime"}
        if sort_by not in fields:
            raise _invalid("pageAndSortBy.sortBy", f"The value '{sort_by}' is not valid.")
        filters = []
        for field in ("name", "identification", "corporateIdentityNumber"):
            wanted = data.get(field)
            operator = data.get(f"{field}Operator") or 0
            if operator not in (0, 1, 2, 3):
                raise _invalid(f"{field}Operator", f"The value '{operator}' is not valid.")
            if wanted not in (None, ""):
                filters.append((field, str(wanted), operator))

        def keep(customer: Record) -> bool:
            return all(_matches(customer.get(f), w, op) for f, w, op in filters)

        result, total = _search(self.customers.iter(), keep, fields[sort_by], order, page,
                                per_page)
        return self._search_result([self._customer_base(c) for c in result], total, sort_by,
                                   order, page, per_page)

    # -- customer children: addresses, contacts, tags, managers

    _ADDRESS_FIELDS = ("street1", "street2", "zipCode", "city", "country", "email",
                       "comments")

    def _address_fields(self, body: _Body) -> Record:
        values: Record = {f: body.text(f) for f in self._ADDRESS_FIELDS}
        values["addressType"] = body.integer("addressType", allowed=(0, 1, 2, 3)) or 0
        body.check()
        return values

    async def _add_address(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        address = {"id": next(self._ids["child"]),
                   **self._address_fields(await self._body(request))}
        stored = self.customers.put({**current,
                                     "addresses": [*current.get("addresses", []), address]})
        self._notify(5, 3, stored)
        return JSONResponse(address, status_code=201)

    async def _address(self, request: Request) -> Response:
        return await self._child(request, "addresses", self._address_fields, 5)

    async def _contacts(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        if request.method == "GET":
            return JSONResponse([self._contact_model(current, c)
                                 for c in current.get("contacts", [])])
        contact = {"id": next(self._ids["child"]),
                   **self._contact_fields(await self._body(request))}
        stored = self.customers.put({**current,
                                     "contacts": [*current.get("contacts", []), contact]})
        self._notify(10, 2, self._contact_model(stored, contact))
        return JSONResponse(self._contact_model(stored, contact), status_code=201)

    @staticmethod
    def _contact_fields(body: _Body) -> Record:
        values = {"firstName": body.text("firstName", required=True),
                  "lastName": body.text("lastName", required=True),
                  **{f: body.text(f) for f in ("email", "phone1", "phone2", "title",
                                                "comments")}}
        body.check()
        return values

    async def _contact(self, request: Request) -> Response:
        return await self._child(request, "contacts", self._contact_fields, 10)

    async def _child(self, request: Request, kind: str, parse: Callable[[_Body], Record],
                     entity: int) -> Response:
        """GET/PUT/DELETE of one address or contact kept inside its customer."""
        current = self._found(self.customers.get(self._id(request)))
        child_id = self._id(request, "child")
        children = list(current.get(kind, []))
        position = next((i for i, c in enumerate(children) if c["id"] == child_id), None)
        if position is None:
            raise _Problem(404)
        view = (self._contact_model if kind == "contacts"
                else lambda customer, child: dict(child))
        if request.method == "GET":
            return JSONResponse(view(current, children[position]))
        if request.method == "PUT":
            children[position] = {"id": child_id, **parse(await self._body(request))}
            stored = self.customers.put({**current, kind: children})
            updated = children[position]
            self._notify(entity, 3, view(stored, updated) if kind == "contacts" else stored)
            return JSONResponse(view(stored, updated))
        removed = children.pop(position)
        stored = self.customers.put({**current, kind: children})
        self._notify(entity, 4 if kind == "contacts" else 3,
                     view(stored, removed) if kind == "contacts" else stored)
        return Response(status_code=204)

    async def _tag_customer(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        tags = self._resolve_tags(await self._json(request))
        stored = self.customers.put({**current, "tags": tags})
        self._notify(5, 3, stored)
        return JSONResponse(self._tag_models(tags))

    async def _managers(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        if request.method == "GET":
            return JSONResponse(self._manager_models(current))
        body = await self._body(request)
        ids = body.int_list("companyUserIds") or []
        missing = [uid for uid in ids if self.users.get(uid) is None]
        if missing:
            body._fail("companyUserIds", f"Company user(s) {missing} were not found.")
        body.check()
        managers = list(current.get("managers", []))
        managers.extend(uid for uid in ids if uid not in managers)
        stored = self.customers.put({**current, "managers": managers})
        self._notify(5, 3, stored)
        return JSONResponse(self._manager_models(stored))

    async def _remove_manager(self, request: Request) -> Response:
        current = self._found(self.customers.get(self._id(request)))
        manager = self._id(request, "child")
        if manager not in current.get("managers", []):
            raise _Problem(404)
        stored = self.customers.put({**current, "managers": [
            m for m in current["managers"] if m != manager]})
        self._notify(5, 3, stored)
        return Response(status_code=204)

    # ------------------------------------------------------------------ projects

    def _project_fields(self, body: _Body, current: Record | None) -> Record:
        """Validated `ProjectAddEditModel` in stored names (`pipelineStageId` -> stage)."""
        values: Record = {
            "title": body.text("title", required=True, max_length=250),
            "customerId": body.integer("customerId", required=True),
            "description": body.text("description", max_length=4000),
            "identifier": body.text("identifier", max_length=100),
            "customerIdentifier": body.text("customerIdentifier", max_length=100),
            "intermediatorId": body.integer("intermediatorId"),
            "estimatedCloseDate": body.moment("estimatedCloseDate"),
            "estimatedValue": body.number("estimatedValue"),
            "contractValue": body.number("contractValue"),
            "probability": body.integer("probability"),
            "location": body.text("location"), "teamId": body.integer("teamId"),
            "stateReasonId": body.integer("stateReasonId"),
            "salesManagerIds": body.int_list("salesManagerIds") or [],
            "projectManagerIds": body.int_list("projectManagerIds") or [],
        }
        pipeline_id = body.integer("pipelineId", allowed=[p["id"] for p in PIPELINES])
        stage_id = body.integer("pipelineStageId")
        state = body.integer("projectState", allowed=STATE_TITLES)
        priority = body.integer("priority", allowed=(3, 5, 8))
        currency = body.integer("currencyId", allowed=[c["id"] for c in CURRENCIES])
        previous = current or {}
        customer = values["customerId"]
        if customer is not None and self.customers.get(customer) is None:
            body._fail("customerId", f"Customer {customer} was not found.")
        if values["intermediatorId"] is not None and \
                self.customers.get(values["intermediatorId"]) is None:
            body._fail("intermediatorId", f"Customer {values['intermediatorId']} was not found.")
        for field in ("salesManagerIds", "projectManagerIds"):
            missing = [uid for uid in values[field] if self.users.get(uid) is None]
            if missing:
                body._fail(field, f"Company user(s) {missing} were not found.")
        if pipeline_id is None and stage_id is not None:
            pipeline_id = next((p["id"] for p in PIPELINES
                                if any(s["id"] == stage_id for s in p["stages"])), None)
        pipeline_id = pipeline_id or previous.get("pipelineId") or PIPELINES[0]["id"]
        pipeline = next((p for p in PIPELINES if p["id"] == pipeline_id), PIPELINES[0])
        stages = {s["id"]: s for s in pipeline["stages"]}
        if stage_id is None:
            stage_id = previous.get("currentStageId")
            if stage_id not in stages:
                stage_id = pipeline["stages"][0]["id"]
        elif stage_id not in stages:
            body._fail("pipelineStageId",
                       f"Stage {stage_id} does not belong to pipeline {pipeline_id}.")
        body.check()
        values["pipelineId"] = pipeline_id
        values["currentStageId"] = stage_id
        if values["probability"] is None and current is None:
            values["probability"] = stages[stage_id]["probability"]
        values["priority"] = priority or previous.get("priority") or 5
        values["currencyId"] = currency or previous.get("currencyId") or 1
        values["currentState"] = state if state is not None else previous.get("currentState",
                                                                               0)
        return values

    def _with_state(self, record: Record, previous: Record | None) -> Record:
        """Append to `stateHistory` when the state changed (or the project is new)."""
        before = previous.get("currentState") if previous else None
        history = list(record.get("stateHistory") or [])
        if previous is None or before != record.get("currentState"):
            history.append({"state": record.get("currentState", 0),
                            "updated": self._now_text(), "reason": None})
        record["stateHistory"] = history
        return record

    def _store_project(self, record: Record, previous: Record | None) -> Record:
        stored = self.projects.put(self._with_state(record, previous))
        self._projects_of_customer.setdefault(stored["customerId"], set()).add(stored["id"])
        return stored

    async def _list_projects(self, request: Request) -> Response:
        # The vendor's GET /projects returns only projects in state Won; search for others.
        return _stream_array(self._project_listed(p) for p in self.projects.iter()
                             if p.get("currentState") == 30)

    async def _get_project(self, request: Request) -> Response:
        return JSONResponse(self._project_model(
            self._found(self.projects.get(self._id(request)))))

    async def _create_project(self, request: Request) -> Response:
        values = self._project_fields(await self._body(request), None)
        pid = next(self._ids["project"])
        record = {"id": pid, "companyId": self.company_id, "seoId": str(pid), "tags": [],
                  "stateHistory": [], "createdById": self.owner_id,
                  "updatedById": self.owner_id, **values}
        stored = self._store_project(record, None)
        self._notify(6, 2, stored)
        return self._created(self._project_model(stored), "projects")

    async def _put_project(self, request: Request) -> Response:
        current = self._found(self.projects.get(self._id(request)))
        values = self._project_fields(await self._body(request), current)
        stored = self._store_project({**current, **values, "updatedById": self.owner_id},
                                     current)
        self._notify(6, 3, stored)
        return JSONResponse(self._project_model(stored))

    async def _delete_project(self, request: Request) -> Response:
        current = self._found(self.projects.get(self._id(request)))
        self.projects.delete(current["id"])
        self._notify(6, 4, current)
        return Response(status_code=204)

    async def _tag_project(self, request: Request) -> Response:
        current = self._found(self.projects.get(self._id(request)))
        tags = self._resolve_tags(await self._json(request))
        stored = self.projects.put({**current, "tags": tags})
        self._notify(6, 3, stored)
        return JSONResponse(self._tag_models(tags))

    async def _pipelines(self, request: Request) -> Response:
        return JSONResponse([{**p, "stages": [dict(s) for s in p["stages"]]}
                             for p in PIPELINES])

    async def _search_projects(self, request: Request) -> Response:
        data = await self._json(request) or {}
        if not isinstance(data, dict):
            raise _invalid("", "A search model is required.")
        sort_by, order, page, per_page = _page_and_sort(data, 0, self.max_items_per_page)
        fields = {0: "createdDateTime", 1: "title", 2: "identifier", 3: "customerIdentifier",
                  4: "estimatedValue", 5: "updatedDateTime", 6: "updatedDateTime",
                  7: "updatedDateTime"}
        if sort_by not in fields:
            raise _invalid("pageAndSortBy.sortBy", f"The value '{sort_by}' is not valid.")
        body = _Body(data)
        sets = {name: set(body.int_list(name) or []) for name in (
            "pipelines", "projectStates", "customers", "salesManagers", "intermediators")}
        customer = body.integer("customerId")
        body.check()
        title = data.get("title")
        exact = {"identifier": data.get("identification"),
                 "customerIdentifier": data.get("customerIdentifier")}
        orgno = data.get("corporateIdentityNumber")

        def keep(project: Record) -> bool:
            if sets["pipelines"] and project.get("pipelineId") not in sets["pipelines"]:
                return False
            if sets["projectStates"] and project.get("currentState") not in \
                    sets["projectStates"]:
                return False
            if sets["customers"] and project.get("customerId") not in sets["customers"]:
                return False
            if sets["intermediators"] and project.get("intermediatorId") not in \
                    sets["intermediators"]:
                return False
            if sets["salesManagers"] and not sets["salesManagers"] & set(
                    project.get("salesManagerIds") or []):
                return False
            if customer is not None and project.get("customerId") != customer:
                return False
            if title and not _matches(project.get("title"), str(title), 0):
                return False
            if not all(_matches(project.get(f), v, 3) for f, v in exact.items() if v):
                return False
            if orgno:
                owner = self.customers.get(project.get("customerId"))
                return owner is not None and owner.get("corporateIdentityNumber") == orgno
            return True

        result, total = _search(self.projects.iter(), keep, fields[sort_by], order, page,
                                per_page)
        return self._search_result([self._project_listed(p) for p in result], total, sort_by,
                                   order, page, per_page)

    # ------------------------------------------------------------------ tags

    async def _list_tags(self, request: Request) -> Response:
        return JSONResponse(self._tag_models(self.tags.values()))

    async def _get_tag(self, request: Request) -> Response:
        tag = self._found(self.tags.get(self._id(request)))
        return JSONResponse(self._tag_models([tag])[0])

    # ------------------------------------------------------------------ webhooks

    def _webhook_model(self, hook: Record) -> Record:
        return {"id": hook["id"], "companyId": self.company_id, "isActive": hook["isActive"],
                "endpointUrl": hook["endpointUrl"],
                "configurations": [dict(c) for c in hook["configurations"]],
                # Header values are secrets: only their names are echoed.
                "credentials": [{"id": c["id"], "isBasicAuthentication":
                                 c["isBasicAuthentication"], "headerName": c["headerName"]}
                                for c in hook["credentials"]],
                "createdDateTime": hook["createdDateTime"]}

    def _webhook_from(self, data: Any) -> Record:
        body = _Body(data)
        url = body.text("endpointUrl", required=True, max_length=2000)
        if url and not url.startswith(("http://", "https://")):
            body._fail("endpointUrl", "The EndpointUrl field is not a valid fully-qualified "
                                      "http or https URL.")
        configurations = data.get("configurations")
        if not isinstance(configurations, list) or not configurations:
            body._fail("configurations", "At least one configuration is required.")
            configurations = []
        configs = []
        for item in configurations:
            entity = item.get("entityType") if isinstance(item, dict) else None
            action = item.get("actionType") if isinstance(item, dict) else None
            if entity not in ENTITY_TYPES or action not in ACTION_TYPES:
                body._fail("configurations", "Each configuration needs an entityType (1-10) "
                                             "and an actionType (1-4).")
                continue
            configs.append({"id": next(self._ids["child"]), "entityType": entity,
                            "actionType": action})
        credentials = []
        for item in data.get("credentials") or []:
            if not isinstance(item, dict) or not isinstance(item.get("headerName"), str) \
                    or not isinstance(item.get("headerValue"), str):
                body._fail("credentials", "Each credential needs a headerName and a "
                                          "headerValue.")
                continue
            credentials.append({"id": next(self._ids["child"]),
                                "isBasicAuthentication": bool(item.get("isBasicAuthentication")),
                                "headerName": item["headerName"],
                                "headerValue": item["headerValue"]})
        active = body.boolean("isActive")
        body.check()
        return {"id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "isActive": True if active is None else active, "endpointUrl": url,
                "configurations": configs, "credentials": credentials,
                "createdDateTime": self._now_text()}

    async def _list_webhooks(self, request: Request) -> Response:
        return JSONResponse([self._webhook_model(h) for h in self.webhook_configs.values()])

    async def _add_webhook(self, request: Request) -> Response:
        hook = self._webhook_from(await self._json(request))
        self.webhook_configs[hook["id"]] = hook
        return JSONResponse(self._webhook_model(hook), status_code=201)

    async def _add_webhook_manifest(self, request: Request) -> Response:
        data = await self._json(request)
        if not isinstance(data, list):
            raise _invalid("", "A list of webhooks is required.")
        hooks = [self._webhook_from(item) for item in data]
        for hook in hooks:
            self.webhook_configs[hook["id"]] = hook
        return JSONResponse([self._webhook_model(h) for h in hooks], status_code=201)

    async def _delete_webhook(self, request: Request) -> Response:
        if self.webhook_configs.pop(request.path_params["hook"], None) is None:
            raise _Problem(404)
        return Response(status_code=204)

    def _notify(self, entity: int, action: int, record: Record) -> None:
        """Queue a delivery to every active webhook configured for this event."""
        payload = self._payload(entity, record)
        timestamp = isoformat_z(self.clock.now())

        def body_for(hook_id: str) -> bytes:
            return _dumps({"WebhookId": hook_id, "CompanyId": self.company_id,
                           "EntityType": ENTITY_TYPES[entity],
                           "ActionType": ACTION_TYPES[action], "Timestamp": timestamp,
                           "Payload": payload})

        for hook in self.webhook_configs.values():
            if hook["isActive"] and any(
                    c["entityType"] in (1, entity) and c["actionType"] in (1, action)
                    for c in hook["configurations"]):
                self.webhooks.enqueue(hook["endpointUrl"], body_for(hook["id"]),
                                      self._credential_headers(hook))
        for url in self.webhooks.targets:
            self.webhooks.enqueue(url, body_for(_NO_WEBHOOK))

    @staticmethod
    def _credential_headers(hook: Record) -> dict[str, str]:
        headers: dict[str, str] = {}
        for credential in hook["credentials"]:
            if credential["isBasicAuthentication"]:
                pair = f"{credential['headerName']}:{credential['headerValue']}"
                headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            else:
                headers[credential["headerName"]] = credential["headerValue"]
        return headers

    def _payload(self, entity: int, record: Record) -> Record:
        """The PascalCase `Payload` of a delivery (apis.md 1.7; beyond projects [assumed])."""
        if entity == 6:
            customer = self.customers.get(record.get("customerId"))
            stage = next((s for p in PIPELINES for s in p["stages"]
                          if s["id"] == record.get("currentStageId")), None)
            currency = self._currency(record.get("currencyId")) or {}
            managers = [self.users.get(uid) for uid in record.get("salesManagerIds") or []]
            state = record.get("currentState", 0)
            return {
                "Id": record["id"], "CompanyId": self.company_id, "Title": record.get("title"),
                "Description": record.get("description"),
                "Identifier": record.get("identifier"),
                "CustomerIdentifier": record.get("customerIdentifier"),
                "Customer": ({"Id": customer["id"], "Name": customer.get("name")}
                             if customer else None),
                "PipelineId": record.get("pipelineId"),
                "CurrentStage": ({"Id": stage["id"], "Title": stage["title"]}
                                 if stage else None),
                "CurrentState": {"State": state, "StateTitle": STATE_TITLES.get(state)},
                "EstimatedValue": record.get("estimatedValue"),
                "Currency": {"CurrencyCode": currency.get("currencyCode")},
                "SalesManagers": [{"Id": u["id"],
                                   "Fullname": f"{u.get('firstName')} {u.get('lastName')}"}
                                  for u in managers if u is not None],
                "UpdatedDateTime": record.get("updatedDateTime"),
            }
        if entity == 5:
            keys = ("id", "name", "description", "identification", "corporateIdentityNumber",
                    "vatNumber", "status", "updatedDateTime")
        elif entity == 10:
            keys = ("id", "customerId", "firstName", "lastName", "email", "phone1", "title")
        elif entity == 4:
            keys = ("id", "firstName", "lastName", "email", "status", "companyName",
                    "companyIdentifier", "internalIdentifier", "updatedDateTime")
        else:
            keys = ("id", "firstName", "lastName", "companyUserEmail", "status",
                    "employmentNumber", "internalIdentifier", "updatedDateTime")
        return {key[0].upper() + key[1:]: record.get(key) for key in keys}

    # ------------------------------------------------------------------ control API

    _OBJECTS: ClassVar[dict[str, int]] = {"users": 3, "subcontractors": 4, "customers": 5,
                                          "projects": 6}

    def _objects(self, name: str) -> Collection:
        if name not in self._OBJECTS:
            raise _invalid("object", f"Unknown object {name!r}; expected one of "
                                     f"{', '.join(self._OBJECTS)}.")
        return {"users": self.users, "subcontractors": self.subcontractors,
                "customers": self.customers, "projects": self.projects}[name]

    async def _control_record(self, request: Request) -> Response:
        """Inspect, change or delete a record as a Cinode user would in the UI."""
        name = request.path_params["object"]
        try:
            collection = self._objects(name)
            current = self._found(collection.get(self._id(request)))
            entity = self._OBJECTS[name]
            if request.method == "GET":
                return JSONResponse(current)
            if request.method == "DELETE":
                collection.delete(current["id"])
                self._notify(entity, 4, current)
                return Response(status_code=204)
            changes = await self._json(request)
            if not isinstance(changes, dict):
                raise _invalid("", "Expected a JSON object of changes.")
            if name == "projects":
                stored = self._move_project(current, dict(changes))
            else:
                stored = collection.put({**current, **changes, "id": current["id"]})
            self._notify(entity, 3, stored)
            return JSONResponse(stored)
        except _Problem as problem:
            return problem.response()

    def _move_project(self, current: Record, changes: Record) -> Record:
        stage_id = changes.pop("pipelineStageId", changes.pop("currentStageId", None))
        if stage_id is not None:
            pipeline = next((p for p in PIPELINES
                             if any(s["id"] == stage_id for s in p["stages"])), None)
            if pipeline is None:
                raise _invalid("currentStageId", f"Stage {stage_id} does not exist.")
            changes["pipelineId"] = pipeline["id"]
            changes["currentStageId"] = stage_id
        if "currentState" in changes and changes["currentState"] not in STATE_TITLES:
            raise _invalid("currentState", f"State {changes['currentState']} does not exist.")
        return self._store_project({**current, **changes, "id": current["id"]}, current)

    async def _control_create(self, request: Request) -> Response:
        """Create a record as a UI user would; the body is the vendor's add model."""
        name = request.path_params["object"]
        handlers = {"users": self._create_user, "subcontractors": self._create_subcontractor,
                    "customers": self._create_customer, "projects": self._create_project}
        if name not in handlers:
            return _invalid("object", f"Unknown object {name!r}.").response()
        try:
            return await handlers[name](request)
        except _Problem as problem:
            return problem.response()
