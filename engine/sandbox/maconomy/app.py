"""Deltek Maconomy simulator: the routes real clients use, over generated customers and jobs.

Maconomy publishes no contract; tests/contracts/maconomy/facts.json lists what public
clients confirm, and this simulator serves exactly that (each route's fact in brackets):

- `GET /maconomy-api/auth/{shortname}` with Basic credentials and
  `Maconomy-Authentication: X-Reconnect` -> 204 with `Maconomy-Reconnect: <token>`
  [F-AUTH-LOGIN]; tokens, rotation and logout are in `auth.py`.
- The v1 API under `/containers/v1/{shortname}` [F-PATH-V1], which clients walk by links
  [F-V1-LINKS]: `GET .../{container}` is the container resource `{containerName, links}`;
  its `specification` link answers the container's specification (fields keyed by name)
  [F-SPEC-VIA-LINK, F-RESP-SPEC]; its `data:filter` link is read with
  `GET ?restriction&limit&offset&fields&orderby` (orderby `+field`/`-field`)
  [F-V1-FILTER-QUERY], answering `panes.filter` with rowOffset the offset asked for and
  rowCount the rows returned [F-V1-PAGING]. Containers: `customercard` and `jobs`.
- Only when `MaconomySettings` says this tenant has them (both unconfirmed, off by
  default): `POST /maconomy-api/containers/{shortname}/{container}/filter` with
  `{restriction, fields, limit, offset}` (`filter_endpoint`, F-FILTER-V2) and the
  specification at `GET /maconomy-api/containers/{shortname}/{container}`
  (`specification_path`, F-SPEC-PATH). The current API answers in
  `application/vnd.deltek.maconomy.containers+json` with the version asked for when the
  tenant has it (5.0 and 6.1 by default), else 406 [F-ACCEPT-V2]; the v1 API answers
  `application/json` [F-CT-V1].

Answers are shaped in `answers.py`, restrictions parsed in `restriction.py` (the tenant's
`Dialect`), records selected and paged in `store.py`, user changes made through the
control API in `control.py`. Limits: a filter read without `limit` gets
`default_limit` rows (25, inferred from the Java client, F-DEFAULT-LIMIT); a limit over
`max_limit` is a 400, never a silent clamp. Errors use Maconomy's envelope [F-RESP-ERROR].
An optional rate limit answers 429 with `Retry-After` [assumed; Maconomy publishes none].
No webhooks: Maconomy has none.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from itertools import count
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.maconomy import seed
from engine.sandbox.maconomy.answers import (
    CONTAINERS_TYPE,
    JSON_TYPE,
    container_resource,
    containers_type,
    error,
    filter_answer,
    specification,
)
from engine.sandbox.maconomy.auth import Tokens
from engine.sandbox.maconomy.control import Control, stamper
from engine.sandbox.maconomy.credentials import CURL_EXAMPLE, MaconomyCredentials
from engine.sandbox.maconomy.restriction import RestrictionError
from engine.sandbox.maconomy.settings import MaconomySettings
from engine.sandbox.maconomy.store import Container, parse_orderby
from engine.sandbox.platform import (
    Collection,
    RateDecision,
    RateLimiter,
    Sandbox,
    SandboxConfig,
)

__all__ = ["API", "V1", "MaconomySandbox"]

API = "/maconomy-api"
V1 = "/containers/v1"


class MaconomySandbox(Sandbox):
    """Maconomy's containers API over generated customers and jobs. See the module doc."""

    vendor = "maconomy"

    credentials_type = MaconomyCredentials
    curl_example = CURL_EXAMPLE
    credentials: MaconomyCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: MaconomyCredentials | None = None,
                 settings: MaconomySettings | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        self.settings = settings = settings or MaconomySettings()
        self.shortname = self.credentials.shortname
        self.tokens = Tokens(self.credentials, settings, self.clock)
        self.limiter = (RateLimiter(settings.rate_limit, settings.rate_window, self.clock)
                        if settings.rate_limit and cfg.rate_limits else None)
        self._request_ids = count(1)
        # Serialised filter answers by query, valid for one store version [sandbox only].
        self._pages: OrderedDict[tuple[Any, ...], tuple[int, bytes]] = OrderedDict()
        self._page_bytes = 0
        self._page_budget = int(settings.page_cache_mb * 2**20)
        customers = cfg.records
        jobs = cfg.records if settings.jobs is None else settings.jobs
        s, defects = cfg.seed, cfg.defect_rate
        dialect = settings.dialect()
        touched_customers: set[Any] = set()
        touched_jobs: set[Any] = set()
        self.customers = Collection(
            "customercard", key="customernumber", size=customers,
            factory=partial(seed.customer, s, defect_rate=defects), clock=self.clock,
            index_of=seed.customer_index, stamp=stamper("customernumber", touched_customers))
        self.jobs = Collection(
            "jobs", key="jobnumber", size=jobs,
            factory=partial(seed.job, s, customers=customers, defect_rate=defects),
            clock=self.clock, index_of=seed.job_index,
            stamp=stamper("jobnumber", touched_jobs))
        self.containers: dict[str, Container] = {
            "customercard": Container(
                "customercard", self.customers, seed.CUSTOMER_FIELDS,
                frozenset(seed.CUSTOMER_LIGHT_FIELDS),
                partial(seed.customer_light, s, defect_rate=defects),
                ("customernumber", "name1"), self._customer_defaults, dialect,
                touched=touched_customers),
            "jobs": Container(
                "jobs", self.jobs, seed.JOB_FIELDS, frozenset(seed.JOB_LIGHT_FIELDS),
                partial(seed.job_light, s, customers=customers, defect_rate=defects),
                ("jobnumber", "jobname", "customernumber"), self._job_defaults, dialect,
                touched=touched_jobs),
        }
        self.control = Control(self.containers)

    # -- Sandbox hooks

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(f"{API}/auth/{{shortname}}", self._login, methods=["GET"]),
            Route(f"{V1}/{{shortname}}/{{container}}", self._container_resource,
                  methods=["GET"]),
            Route(f"{V1}/{{shortname}}/{{container}}/specification", self._specification_v1,
                  methods=["GET"]),
            Route(f"{V1}/{{shortname}}/{{container}}/filter", self._filter_v1,
                  methods=["GET"]),
        ]
        if self.settings.filter_endpoint:
            routes.append(Route(f"{API}/containers/{{shortname}}/{{container}}/filter",
                                self._filter_current, methods=["POST"]))
        if self.settings.specification_path:
            routes.append(Route(f"{API}/containers/{{shortname}}/{{container}}",
                                self._specification_current, methods=["GET"]))
        # Anything else gets Maconomy's error envelope, not the framework's plain text.
        routes.append(Route("/{path:path}", self._unknown, methods=[
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
        return routes

    def control_routes(self) -> list[BaseRoute]:
        return self.control.routes()

    def error_response(self, status: int, message: str) -> Response:
        family = {401: "authentication", 404: "notFound", 429: "rateLimit"}.get(
            status, "internal" if status >= 500 else "request")
        return error(status, message, family)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        response = error(429, "Too many requests; retry later.", "rateLimit")
        response.headers["Retry-After"] = str(retry_after)
        return response

    def health(self) -> dict[str, Any]:
        return {"customers": len(self.customers), "jobs": len(self.jobs),
                "shortname": self.shortname}

    # -- shared checks

    def _gate(self, request: Request, media_type: str = JSON_TYPE
              ) -> tuple[Response | None, dict[str, str]]:
        """Shortname, rate limit and auth checks shared by every vendor route."""
        if request.path_params.get("shortname") != self.shortname:
            return error(404, f"Unknown system {request.path_params.get('shortname')!r}.",
                         "notFound", media_type=media_type), {}
        if self.limiter is not None:
            key = request.headers.get("authorization", "")[-12:]
            decision = self.limiter.check(key)
            if not decision.allowed:
                return self.too_many_requests_response(decision), {}
        return self.tokens.authenticate(request)

    def _container(self, request: Request, media_type: str = JSON_TYPE
                   ) -> Container | Response:
        name = request.path_params["container"].lower()
        container = self.containers.get(name)
        if container is None:
            return error(404, f"Unknown container {name!r}; known: "
                         f"{', '.join(sorted(self.containers))}.", "notFound",
                         media_type=media_type)
        return container

    def _version(self, request: Request) -> str | Response:
        """The containers version an Accept header asks for (5.0 when it names none)."""
        for part in request.headers.get("accept", "").split(","):
            pieces = [p.strip() for p in part.split(";")]
            if pieces[0].lower() != CONTAINERS_TYPE:
                continue
            params = dict(p.partition("=")[::2] for p in pieces[1:])
            version = params.get("version", "5.0").strip('"')
            if version not in self.settings.containers_versions:
                return error(406, f"Version {version} of {CONTAINERS_TYPE} is not "
                             f"supported; supported: "
                             f"{', '.join(self.settings.containers_versions)}.", "request",
                             media_type=containers_type("5.0"))
            return version
        return "5.0"

    def _json(self, payload: Any, headers: dict[str, str], media_type: str) -> Response:
        return self._raw(orjson.dumps(payload), headers, media_type)

    def _raw(self, body: bytes, headers: dict[str, str], media_type: str) -> Response:
        headers = {**headers, "Maconomy-RequestId": f"sandbox-{next(self._request_ids)}"}
        return Response(body, media_type=media_type, headers=headers)

    async def _unknown(self, request: Request) -> Response:
        """A path or method this server does not serve: 404 or 405 in the envelope, after
        the credentials are checked as on every call."""
        failure, headers = self.tokens.authenticate(request)
        if failure is not None:
            return failure
        path = request.url.path
        for route in self.routes()[:-1]:
            if isinstance(route, Route) and route.path_regex.match(path):
                response = error(405, f"{request.method} is not allowed on {path}.",
                                 "request")
                break
        else:
            response = error(404, f"No resource at {path}.", "notFound")
        response.headers.update(headers)
        return response

    # -- auth

    async def _login(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        if request.headers.get("authorization", "").lower().startswith("basic") \
                and "Maconomy-Reconnect" not in headers:
            headers["Maconomy-Reconnect"] = self.tokens.issue()
        return Response(status_code=204, headers=headers)

    # -- the v1 API

    async def _container_resource(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        container = self._container(request)
        if isinstance(container, Response):
            return container
        base = (f"{str(request.base_url).rstrip('/')}{V1}/{self.shortname}/"
                f"{container.name}")
        return self._json(container_resource(container.name, base), headers, JSON_TYPE)

    async def _specification_v1(self, request: Request) -> Response:
        return await self._specification(request, JSON_TYPE)

    async def _filter_v1(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        container = self._container(request)
        if isinstance(container, Response):
            return container
        query = request.query_params
        unknown = sorted(set(query) - {"restriction", "limit", "offset", "fields", "orderby"})
        if unknown:
            return error(400, f"Unknown filter parameter {unknown[0]!r}.", "request")
        read: dict[str, Any] = {"restriction": query.get("restriction", ""),
                                "orderby": query.get("orderby")}
        if "fields" in query:
            read["fields"] = [f.strip() for f in query["fields"].split(",") if f.strip()]
        for name in ("limit", "offset"):
            if name in query:
                if not query[name].isdigit():
                    return error(400, f"'{name}' must be a whole number >= 0.", "request")
                read[name] = int(query[name])
        return self._run_filter(container, read, headers, JSON_TYPE)

    # -- the current API (unconfirmed routes, served only when the tenant has them)

    async def _specification_current(self, request: Request) -> Response:
        version = self._version(request)
        if isinstance(version, Response):
            return version
        return await self._specification(request, containers_type(version))

    async def _filter_current(self, request: Request) -> Response:
        version = self._version(request)
        if isinstance(version, Response):
            return version
        media_type = containers_type(version)
        failure, headers = self._gate(request, media_type)
        if failure is not None:
            return failure
        container = self._container(request, media_type)
        if isinstance(container, Response):
            return container
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            return error(400, f"Request body is not valid JSON: {exc}", "request",
                         media_type=media_type)
        if not isinstance(body, dict):
            return error(400, "Request body must be a JSON object.", "request",
                         media_type=media_type)
        if isinstance(body.get("fields"), str):
            body["fields"] = [f.strip() for f in body["fields"].split(",") if f.strip()]
        return self._run_filter(container, body, headers, media_type)

    # -- shared answers

    async def _specification(self, request: Request, media_type: str) -> Response:
        failure, headers = self._gate(request, media_type)
        if failure is not None:
            return failure
        container = self._container(request, media_type)
        if isinstance(container, Response):
            return container
        answer = specification(container.name, container.fields, key=container.key,
                               required=container.required,
                               unfilterable=self.settings.unfilterable)
        return self._json(answer, headers, media_type)

    def _run_filter(self, container: Container, read: dict[str, Any],
                    headers: dict[str, str], media_type: str) -> Response:
        restriction_text = read.get("restriction") or ""
        limit = read.get("limit", self.settings.default_limit)
        offset = read.get("offset", 0)
        if not isinstance(restriction_text, str):
            return error(400, "'restriction' must be a string.", "request",
                         media_type=media_type)
        for name, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return error(400, f"'{name}' must be a whole number >= 0.", "request",
                             media_type=media_type)
        if limit > self.settings.max_limit:
            return error(400, f"'limit' may not exceed {self.settings.max_limit}.",
                         "request", media_type=media_type)
        fields = read.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                return error(400, "'fields' must be a list of field names.", "request",
                             media_type=media_type)
            fields = [f.lower() for f in fields]
            unknown = [f for f in fields if f not in container.fields]
            if unknown:
                return error(400, f"Unknown field {unknown[0]!r} in container "
                             f"{container.name!r}.", "request", media_type=media_type,
                             focus={"paneName": "filter", "fieldName": unknown[0]})
        try:
            order = parse_orderby(read.get("orderby"), container.fields)
            if self.settings.ignore_orderby:
                order = ()
            restriction = container.restriction(restriction_text)
        except RestrictionError as exc:
            focus = {"paneName": "filter"}
            if exc.field_name:
                focus["fieldName"] = exc.field_name
            return error(400, f"Invalid restriction: {exc}", "restriction",
                         media_type=media_type, focus=focus)
        store = container.collection
        # The answer is a pure function of the query and the store's contents, so it is
        # served from the cache until the next write bumps the store's version.
        cache_key = (container.name, restriction.text, order,
                     None if fields is None else tuple(fields), offset, limit)
        cached = self._pages.get(cache_key)
        if cached is not None and cached[0] == store.version:
            self._pages.move_to_end(cache_key)
            return self._raw(cached[1], headers, media_type)
        version = store.version
        records = container.select(restriction, order, offset, limit)
        if fields is not None:
            records = [{f: r[f] for f in fields if f in r} for r in records]
        body = filter_answer(container.name, records, offset)
        if store.version == version:  # nothing was written while the page was built
            self._remember_page(cache_key, version, body)
        return self._raw(body, headers, media_type)

    def _remember_page(self, key: tuple[Any, ...], version: int, body: bytes) -> None:
        """Keep a serialised answer, dropping the least recently used over the budget."""
        if len(body) > self._page_budget:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self._page_bytes -= len(old[1])
        self._pages[key] = (version, body)
        self._page_bytes += len(body)
        while self._page_bytes > self._page_budget:
            _, (_, dropped) = self._pages.popitem(last=False)
            self._page_bytes -= len(dropped)

    # -- records a user creates in Maconomy

    def _customer_defaults(self, number: str) -> dict[str, Any]:
        base: dict[str, Any] = dict.fromkeys(seed.CUSTOMER_FIELDS, "")
        base.update({"customernumber": number, "country": "sweden", "currency": "SEK",
                     "paymentterms": "N30", "blocked": False, "region": "central"})
        return base

    def _job_defaults(self, number: str) -> dict[str, Any]:
        base: dict[str, Any] = dict.fromkeys(seed.JOB_FIELDS, "")
        now = self.clock.now()
        base.update({"jobnumber": number, "closed": False, "active": True, "jobtype": "T&M",
                     "region": "central", "theyear": now.year, "budgetamount": 0.0})
        return base
