"""The Kleer (formerly PE Accounting) simulator: Kleer's API v1 as its contract has it.

Every route is one of the contract's (tests/contracts/kleer/routes.py, with its
provenance there), with the contract's verb, request element and answer element
(`ROUTES` below; a test holds the two tables together). Bodies are read and answers
shaped by Kleer's XSD (`schema`, over xsd.json derived from it); the write rules are in
`records`, payroll in `payroll`, the paged invoice list in `invoices`, the formats in
`render`.

Everything lives under `/v1/company/{companyId}` and needs the static token in
`X-Token` (header name case-insensitive); a missing or wrong token is 401, another
company's id 403 (assumed), both with Kleer's error body `{"message": "..."}`. XML
request bodies are refused with 415: the sandbox only parses JSON bodies.

Answers: a create (`PUT` on a collection) answers `created`, `{"id": n}` (toki2
kleer/src/types.rs:300-303); an update (`POST` on an item) answers `saved`,
`{"id": n}`, except the agreement's `update-client-agreement-result`,
`{"revision-nr": n}`. Lists are `{"<plural>": [...]}`; only client invoices page. Client
project readables wrap their own id, `{"id": {"id": n}}` (XSD `client-project-reference`).
Kleer has no timestamps, no "modified since" filter and no webhooks: clients detect
changes by a full read and a hash per record.

Knobs: `KleerSettings` (rate limit, new project status), beside the credentials. The
rate limit answers 429 with `Retry-After` (off when `config.rate_limits` is False).

Control calls beside the shared ones: `PATCH /_sandbox/records/{object}/{id}` changes a
record as a user in Kleer's UI would (readable elements, server-kept ones included, e.g.
marking an invoice paid or closing a project), `GET` reads one as stored, `DELETE`
removes one; objects are `user`, `payroll` (id = the user's), `supplier`,
`subcontractor`, `client`, `product`, `invoice`, `agreement`, `client-project`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from engine.sandbox.kleer import invoices, payroll, seed
from engine.sandbox.kleer.credentials import CURL_EXAMPLE, KleerCredentials
from engine.sandbox.kleer.records import KINDS, Kind, KleerRecords, public
from engine.sandbox.kleer.render import Fail, Reply, error, render, wants_json
from engine.sandbox.kleer.schema import BodyError, canonical
from engine.sandbox.kleer.settings import KleerSettings
from engine.sandbox.platform import Collection, RateDecision, RateLimiter, Sandbox, SandboxConfig

__all__ = ["ROUTES", "KleerSandbox"]

Record = dict[str, Any]
Handler = Callable[[Request, Any], Reply]

#: (method, path template as the contract writes it, request element, answer element).
ROUTES: tuple[tuple[str, str, str | None, str], ...] = (
    ("GET", "/info", None, "company-information"),
    ("GET", "/user/me", None, "user"),
    ("GET", "/user/foreign-id/{foreignId}", None, "user"),
    ("GET", "/payroll/user", None, "payroll-user-readables"),
    ("GET", "/payroll/user/{id}", None, "payroll-user-readable"),
    ("POST", "/payroll/user/{id}", "payroll-user-writable", "saved"),
    ("GET", "/payroll/user/{id}/schedule/{from}/to/{to}", None,
     "payroll-user-schedule-metadatas"),
    ("GET", "/payroll/schedule", None, "payroll-schedules-readable"),
    ("GET", "/payroll/schedule/{id}", None, "payroll-schedule-readable"),
    ("GET", "/dimension", None, "dimensions"),
    ("GET", "/dimension/{id}/entry", None, "dimension-entries"),
    *((method, path, request, answer)
      for kind in KINDS.values() if kind.name != "payroll"
      for method, path, request, answer in (
          ("GET", kind.path, None, kind.collection),
          ("PUT", kind.path, kind.create, "created"),
          ("GET", f"{kind.path}/{{id}}", None, kind.readable),
          ("POST", f"{kind.path}/{{id}}", kind.update,
           "update-client-agreement-result" if kind.name == "agreement" else "saved"))
      if method != "POST" or kind.update is not None),
)
_STARLETTE = {"{id}": "{record_id:int}", "{foreignId}": "{foreign_id:path}",
              "{from}": "{start}", "{to}": "{end}"}


def _starlette_path(template: str) -> str:
    for ours, theirs in _STARLETTE.items():
        template = template.replace(ours, theirs)
    return template


class KleerSandbox(Sandbox):
    """Kleer's REST API over generated data; see the module docstring for the routes."""

    vendor = "kleer"

    credentials_type = KleerCredentials
    curl_example = CURL_EXAMPLE
    credentials: KleerCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: KleerCredentials | None = None,
                 settings: KleerSettings | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        self.settings = settings or KleerSettings()
        self.counts = seed.KleerCounts.for_records(cfg.records)
        self.company_id = self.credentials.company_id
        counts, seed_value = self.counts, cfg.seed
        sizes = {"user": counts.users, "supplier": counts.suppliers,
                 "subcontractor": counts.subcontractors, "client": counts.clients,
                 "product": counts.products, "invoice": counts.invoices,
                 "agreement": counts.agreements, "client-project": counts.client_projects}
        factories = {"user": seed.user_record, "supplier": seed.supplier_record,
                     "subcontractor": seed.subcontractor_record,
                     "client": seed.client_record, "product": seed.product_record,
                     "invoice": seed.invoice_record, "agreement": seed.agreement_record,
                     "client-project": seed.client_project_record}
        self.store: dict[str, Collection] = {
            name: self._collection(name, sizes[name], factories[name]) for name in sizes}
        self.store["payroll"] = Collection(
            "payroll", key="_id", size=counts.contracts,
            factory=lambda j: seed.payroll_record(seed_value, j, counts),
            clock=self.clock, index_of=self._contract_index)
        self.records = KleerRecords(self.store, dict(sizes), self.clock, self.settings)
        self.rate_limiter = RateLimiter(self.settings.rate_limit, 1.0, self.clock)

    def _collection(self, name: str, size: int,
                    factory: Callable[[int, int, seed.KleerCounts], Record]) -> Collection:
        counts, seed_value = self.counts, self.config.seed
        return Collection(
            name, key="_id" if name == "client-project" else "id", size=size,
            factory=lambda i: factory(seed_value, i, counts), clock=self.clock,
            index_of=lambda record_id: seed.base_index(name, record_id))

    def _contract_index(self, user_id: Any) -> int | None:
        index = seed.base_index("user", user_id)
        if index is None or index >= self.counts.users:
            return None
        return seed.contract_index_for_user(index)

    # -- Sandbox hooks

    def routes(self) -> list[BaseRoute]:
        handlers = self._handlers()
        table: dict[str, dict[str, Handler]] = {}
        for method, path, _, _ in ROUTES:
            table.setdefault(_starlette_path(path), {})[method] = handlers[(method, path)]
        # One route per path, so a wrong method is a 405 whose Allow lists them all.
        routes: list[BaseRoute] = [
            Route(path, self._endpoint(by_method), methods=list(by_method))
            for path, by_method in table.items()]
        vendor = Starlette(routes=routes,
                           exception_handlers={HTTPException: self._http_exception})
        return [Mount("/v1/company/{company_id:int}", app=vendor)]

    def control_routes(self) -> list[BaseRoute]:
        return [Route("/records/{object}/{record_id:int}", self._control_record,
                      methods=["PATCH", "DELETE", "GET"])]

    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"message": message}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        return JSONResponse({"message": "Too many requests, slow down"}, status_code=429,
                            headers={"Retry-After": str(retry_after)})

    def health(self) -> dict[str, Any]:
        return {"records": {name: len(store) for name, store in self.store.items()}}

    # -- the handlers of ROUTES

    def _handlers(self) -> dict[tuple[str, str], Handler]:
        records = self.records
        out: dict[tuple[str, str], Handler] = {
            ("GET", "/info"): lambda r, b: Reply("company-information", seed.COMPANY_INFO),
            ("GET", "/user/me"): lambda r, b: Reply(
                "user", records.require(KINDS["user"], seed.base_id("user", 0))),
            ("GET", "/user/foreign-id/{foreignId}"): self._user_by_foreign_id,
            ("GET", "/payroll/user"): lambda r, b: self._list(KINDS["payroll"]),
            ("GET", "/payroll/user/{id}"): lambda r, b: Reply(
                "payroll-user-readable", public(self._contract(r.path_params["record_id"]))),
            ("POST", "/payroll/user/{id}"): lambda r, b: Reply(
                "saved", records.save_payroll(r.path_params["record_id"], b)),
            ("GET", "/payroll/user/{id}/schedule/{from}/to/{to}"): lambda r, b:
                payroll.schedule_days(self._contract(r.path_params["record_id"]),
                                      r.path_params["start"], r.path_params["end"]),
            ("GET", "/payroll/schedule"): lambda r, b: payroll.schedules(),
            ("GET", "/payroll/schedule/{id}"): lambda r, b: payroll.schedule(
                r.path_params["record_id"]),
            ("GET", "/dimension"): lambda r, b: Reply("dimensions",
                                                      {"dimensions": seed.DIMENSIONS}),
            ("GET", "/dimension/{id}/entry"): self._dimension_entries,
            ("GET", "/client/invoice"): lambda r, b: invoices.invoice_page(
                r, self.store["invoice"],
                invoices.generated_summary(self.config.seed, self.counts),
                self._client_name),
        }
        for kind in KINDS.values():
            if kind.name == "payroll":
                continue
            out.setdefault(("GET", kind.path), self._lister(kind))
            out[("PUT", kind.path)] = self._creator(kind)
            out[("GET", f"{kind.path}/{{id}}")] = self._getter(kind)
            if kind.update is not None:
                out[("POST", f"{kind.path}/{{id}}")] = self._updater(kind)
        return out

    def _list(self, kind: Kind, filter_active: bool = False) -> Reply:
        items = (public(r) for r in self.store[kind.name].iter())
        if filter_active:
            items = (r for r in items if r.get("active"))
        return Reply(kind.collection, {kind.list_key: list(items)})

    def _lister(self, kind: Kind) -> Handler:
        def handler(request: Request, body: Any) -> Reply:
            if kind.name != "client-project":
                return self._list(kind)
            # filter=all|active|inactive: Orneholm Filters/ClientProjectFilter.cs:14.
            wanted = request.query_params.get("filter") or "all"
            if wanted not in ("all", "active", "inactive"):
                raise Fail(400, 'Parameter "filter": expected all, active or inactive')
            reply = self._list(kind)
            if wanted != "all":
                items = reply.body[kind.list_key]
                reply = Reply(kind.collection, {kind.list_key: [
                    r for r in items if r["active"] == (wanted == "active")]})
            return reply
        return handler

    def _getter(self, kind: Kind) -> Handler:
        def handler(request: Request, body: Any) -> Reply:
            record = self.records.require(kind, request.path_params["record_id"])
            return Reply(kind.readable, public(record))
        return handler

    def _creator(self, kind: Kind) -> Handler:
        def handler(request: Request, body: Any) -> Reply:
            return Reply("created", self.records.create(kind, body))
        return handler

    def _updater(self, kind: Kind) -> Handler:
        def handler(request: Request, body: Any) -> Reply:
            answer = self.records.update(kind, request.path_params["record_id"], body)
            root = "update-client-agreement-result" if kind.name == "agreement" else "saved"
            return Reply(root, answer)
        return handler

    def _user_by_foreign_id(self, request: Request, body: Any) -> Reply:
        foreign_id = request.path_params["foreign_id"]
        record = self.records.by_foreign_id("user", foreign_id)
        if record is None:
            raise Fail(404, f'No user with foreign-id "{foreign_id}"')
        return Reply("user", record)

    def _contract(self, user_id: int) -> Record:
        self.records.require(KINDS["user"], user_id)
        contract = self.store["payroll"].get(user_id)
        if contract is None:
            raise Fail(404, f"User {user_id} has no payroll information")
        return contract

    def _dimension_entries(self, request: Request, body: Any) -> Reply:
        dimension_id = request.path_params["record_id"]
        entries = seed.DIMENSION_ENTRIES.get(dimension_id)
        if entries is None:
            raise Fail(404, f"Dimension {dimension_id} not found")
        return Reply("dimension-entries", {"dimension-entries": entries})

    def _client_name(self, client_id: int) -> str:
        client = self.store["client"].get(client_id)
        return str(client.get("name", "")) if client else ""

    # -- plumbing

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code,
                                                                   str(exc.detail))
        response = render(error(exc.status_code, message), wants_json(request))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    def _endpoint(self, handlers: dict[str, Handler]
                  ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            handler = handlers["GET" if request.method == "HEAD" else request.method]
            as_json = wants_json(request)
            try:
                token = self._authorize(request)
                if self.config.rate_limits:
                    decision = self.rate_limiter.check(token)
                    if not decision.allowed:
                        return self.too_many_requests_response(decision)
                body = await self._body(request)
                reply = handler(request, body)
            except Fail as fail:
                reply = error(fail.status, fail.message)
            return render(reply, as_json)
        return endpoint

    def _authorize(self, request: Request) -> str:
        token = request.headers.get("x-token", "")
        if not token or not hmac.compare_digest(token.encode(),
                                                self.credentials.token.encode()):
            raise Fail(401, "Unauthorized: missing or invalid X-Token")
        if request.path_params.get("company_id") != self.company_id:
            raise Fail(403, "Access denied: the token does not grant this company")
        return token

    async def _body(self, request: Request) -> Any:
        if request.method not in ("PUT", "POST"):
            return None
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            if not raw.strip():
                return None
            raise Fail(415, "The sandbox only accepts JSON bodies: send Content-Type "
                            "and Accept application/json")
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            raise Fail(400, f"Malformed JSON: {exc}") from None

    # -- control

    async def _control_record(self, request: Request) -> Response:
        name = request.path_params["object"]
        record_id = request.path_params["record_id"]
        kind = KINDS.get(name)
        if kind is None:
            return JSONResponse({"error": f"unknown object {name!r}; known: "
                                 f"{', '.join(sorted(KINDS))}"}, status_code=404)
        store = self.store[name]
        current = store.get(record_id)
        if current is None:
            return JSONResponse({"error": f"{name} {record_id} not found"}, status_code=404)
        if request.method == "GET":
            return JSONResponse(public(current))
        if request.method == "DELETE":
            store.delete(record_id)
            if current.get("foreign-id"):
                self.records.foreign[name].pop(current["foreign-id"], None)
            return Response(status_code=204)
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise BodyError(400, "expected a JSON object of field changes")
            changes = {k: v for k, v in changes.items() if k != "id"}
            checked = canonical(kind.readable, changes, partial=True)
            record = {**current, **checked}
            if name == "agreement" and "revision-nr" not in changes:
                record["revision-nr"] = current["revision-nr"] + 1
            self.records.check(kind, record)
        except (ValueError, BodyError, Fail) as exc:
            return JSONResponse({"error": getattr(exc, "message", str(exc))},
                                status_code=400)
        stored = self.records.save(kind, record, current)
        return JSONResponse(public(stored))
