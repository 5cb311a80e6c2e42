"""A faithful local Cinode, built from Cinode's own contract (tests/contracts/cinode).

It serves only operations of Cinode's OpenAPI document (plus the token endpoints Cinode's
README documents), with their real methods, and answers with exactly the properties of
their response models; it refuses what the real API refuses (see `validation`). Every
other path is 404, every other method on a known path 405. The sandbox is split by
concept:

- `auth`: `GET /token`, `POST /token/refresh`, bearer JWTs;
- `users`, `subcontractors`, `customers`, `projects`, `lookups`, `webhooks`: the routes;
- `views`: the response models; `validation`: request bodies; `search`: paging;
- `store`: the tenant's data; `seed`: generated records; `control`: `/_sandbox/records`;
- `settings`: the knobs (`CinodeSettings`); `credentials`: the public sandbox account.

Across routes: a missing, forged or expired token is 401 with an empty body and another
company's path is 403 with an empty body. The company plan allows
`settings.requests_per_window` (40) per 2 s and `settings.daily_requests` (10,000) per UTC
day, answered with `x-ratelimit-limit/-remaining/-reset` and `x-daily-requests-left`;
over it is 429 with the README's JSON body (no Retry-After). Rate limits are off when
`config.rate_limits` is False. Errors are described in `errors`.
"""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from engine.sandbox.cinode.auth import TokenService, limit_headers
from engine.sandbox.cinode.control import Control
from engine.sandbox.cinode.credentials import CURL_EXAMPLE, CinodeCredentials
from engine.sandbox.cinode.customers import Customers
from engine.sandbox.cinode.errors import ERROR_MORE_INFO, RATE_LIMIT_BODY, Problem
from engine.sandbox.cinode.lookups import Lookups
from engine.sandbox.cinode.projects import Projects
from engine.sandbox.cinode.resource import Handler, Resource
from engine.sandbox.cinode.seed import CinodeCounts
from engine.sandbox.cinode.settings import CinodeSettings
from engine.sandbox.cinode.store import CinodeStore
from engine.sandbox.cinode.subcontractors import Subcontractors
from engine.sandbox.cinode.users import Users
from engine.sandbox.cinode.views import Views
from engine.sandbox.cinode.webhooks import Deliveries, Webhooks
from engine.sandbox.platform import RateDecision, RateLimiter, Sandbox, SandboxConfig

__all__ = ["CinodeSandbox"]

_COMPANY = "/v0.1/companies/{companyId:int}"


class CinodeSandbox(Sandbox):
    """The Cinode REST API (v0.1) for one company, with generated data."""

    vendor = "cinode"

    credentials_type = CinodeCredentials
    curl_example = CURL_EXAMPLE
    credentials: CinodeCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: CinodeCredentials | None = None,
                 settings: CinodeSettings | None = None) -> None:
        super().__init__(config, credentials)
        self.settings = settings or CinodeSettings()
        self.company_id = self.credentials.company_id
        self.counts = CinodeCounts.for_records(self.config.records)
        self.store = CinodeStore(self.config.seed, self.company_id, self.counts, self.clock)
        self.views = Views(self.store)
        self.owner_id = self.store.owner_id
        self.tokens = TokenService(self.credentials, self.settings, self.clock,
                                   self.config.seed, self.owner_id, self.company_id,
                                   self.config.rate_limits)
        self.plan_limiter = RateLimiter(self.settings.requests_per_window,
                                        self.settings.window_seconds, self.clock)
        self._daily: dict[int, tuple[date, int]] = {}
        self._rng = random.Random(f"cinode:{self.config.seed}")
        self.deliveries = Deliveries(self)
        self.resources: dict[str, Resource] = {
            "users": Users(self), "subcontractors": Subcontractors(self),
            "customers": Customers(self), "projects": Projects(self),
            "lookups": Lookups(self), "webhooks": Webhooks(self)}
        self.control = Control(self)

    # Shortcuts to the store, for tests and the demo.
    @property
    def users(self) -> Any:
        return self.store.users

    @property
    def subcontractors(self) -> Any:
        return self.store.subcontractors

    @property
    def customers(self) -> Any:
        return self.store.customers

    @property
    def projects(self) -> Any:
        return self.store.projects

    @property
    def webhook_configs(self) -> dict[str, Any]:
        return self.store.webhooks

    # ------------------------------------------------------------------ base hooks

    def health(self) -> dict[str, Any]:
        return {"companyId": self.company_id, "users": len(self.store.users),
                "subcontractors": len(self.store.subcontractors),
                "customers": len(self.store.customers), "projects": len(self.store.projects),
                "webhooks": len(self.store.webhooks)}

    def error_response(self, status: int, message: str) -> Response:
        """`ErrorModel` (the error fault)."""
        correlation = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        return JSONResponse({"correlationId": str(correlation), "status": "Error",
                             "description": message, "code": status * 10,
                             "moreInfo": ERROR_MORE_INFO}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        return JSONResponse(RATE_LIMIT_BODY, status_code=429,
                            headers=limit_headers(decision, None))

    # ------------------------------------------------------------------ routing

    def routes(self) -> list[BaseRoute]:
        company: list[BaseRoute] = []
        outside: list[BaseRoute] = []
        for resource in self.resources.values():
            for path, handler, methods in resource.routes():
                if path.startswith("!"):
                    outside.append(Route(path[1:], self._guarded(handler, scoped=False),
                                         methods=methods))
                elif not path:  # the company itself, not below it
                    outside.append(Route(_COMPANY, self._guarded(handler), methods=methods))
                else:
                    company.append(Route(path, self._guarded(handler), methods=methods))
        return [
            Route("/token", self.tokens.token, methods=["GET"]),
            Route("/token/refresh", self.tokens.refresh, methods=["POST"]),
            *outside,
            Mount(_COMPANY, routes=company),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return self.control.routes()

    def _guarded(self, handler: Handler, *, scoped: bool = True) -> Handler:
        """Bearer auth, company check and the plan's rate limit around one handler."""

        async def endpoint(request: Request) -> Response:
            claims = self.tokens.claims(request)
            if claims is None:
                return Response(status_code=401,
                                headers={"www-authenticate": 'Bearer error="invalid_token"'})
            company = int(claims.get("companySub", 0))
            request.state.user_id = int(claims.get("sub", 0))
            headers: dict[str, str] = {}
            if self.config.rate_limits:
                decision, daily_left = self._count_request(company)
                headers = limit_headers(decision, daily_left)
                if not decision.allowed or daily_left < 0:
                    if daily_left < 0:
                        headers["x-daily-requests-left"] = "0"
                    return JSONResponse(RATE_LIMIT_BODY, status_code=429, headers=headers)
            if scoped and request.path_params.get("companyId") != company:
                response: Response = Response(status_code=403)
            else:
                try:
                    response = await handler(request)
                except Problem as problem:
                    response = problem.response()
            response.headers.update(headers)
            return response

        return endpoint

    def _count_request(self, company: int) -> tuple[RateDecision, int]:
        decision = self.plan_limiter.check(company)
        today = self.clock.now().date()
        day, used = self._daily.get(company, (today, 0))
        if day != today:
            used = 0
        if decision.allowed:
            used += 1
        self._daily[company] = (today, used)
        return decision, self.settings.daily_requests - used
