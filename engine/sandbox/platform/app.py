"""The `Sandbox` base class and its control API under `/_sandbox` (health, faults, clock,
request log, webhook registration and delivery log)."""

from __future__ import annotations

import contextlib
import random
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar, Protocol

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from engine.sandbox.platform.clock import Clock, ManualClock, isoformat_z
from engine.sandbox.platform.config import SandboxConfig
from engine.sandbox.platform.faults import Faults, FaultsError
from engine.sandbox.platform.middleware import FaultMiddleware, RequestLogEntry
from engine.sandbox.platform.ratelimit import RateDecision
from engine.sandbox.platform.webhooks import WebhookDispatcher


class Credentials(Protocol):
    """A vendor sandbox's credentials (public defaults, never real secrets)."""

    def environment(self, url: str) -> list[tuple[str, str]]:
        """`[("CINODE_URL", url), ("CINODE_ACCESS_ID", ...), ...]`."""
        ...


class Sandbox:
    """Base of the four simulators: subclass, set `vendor`, implement `routes()`.

    Subclasses may override `control_routes()` (extra `/_sandbox/...` calls, such as
    `PATCH /_sandbox/records/{object}/{id}`), `error_response()` (the vendor's 5xx
    envelope, used by the error fault) and `too_many_requests_response()` (the vendor's
    429, used by `burst_429` and by their own rate limiters). `.app` is built lazily on
    first access, after the subclass's `__init__` has set up its state.
    """

    vendor: ClassVar[str] = "sandbox"
    request_log_size: ClassVar[int] = 1000
    #: The vendor's credentials type: a frozen dataclass with public defaults and an
    #: `environment(url)` method giving the `export` lines a spec's `${X}` references use.
    credentials_type: ClassVar[type[Credentials]]
    #: One working curl command against this sandbox, using the exported variables.
    curl_example: ClassVar[str] = ""

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: Credentials | None = None) -> None:
        self.config = config or SandboxConfig()
        self.credentials = credentials or self.credentials_type()
        self.clock: Clock = self.config.clock
        self.faults: Faults = self.config.faults
        self.requests: deque[RequestLogEntry] = deque(maxlen=self.request_log_size)
        self.webhooks = WebhookDispatcher(self.clock, client=self.config.webhook_client,
                                          faults=lambda: self.faults)
        self._fault_rng = random.Random(self.faults.seed)
        self._burst_left = self.faults.burst_429
        self._app: Starlette | None = None

    # -- hooks for vendors

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The variables (URL and credentials) a spec reaches this sandbox with."""
        return self.credentials.environment(url)

    def routes(self) -> list[BaseRoute]:
        """The vendor API's routes."""
        raise NotImplementedError

    def control_routes(self) -> list[BaseRoute]:
        """Extra control calls, mounted under `/_sandbox` beside the shared ones."""
        return []

    def error_response(self, status: int, message: str) -> Response:
        """The vendor's error envelope for `status`; override per vendor."""
        return JSONResponse({"error": message, "status": status}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        """The vendor's 429 answer; override to add its headers and body."""
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        return JSONResponse({"error": "Too many requests"}, status_code=429,
                            headers={"Retry-After": str(retry_after)})

    def health(self) -> dict[str, Any]:
        """Extra fields for `GET /_sandbox/health` (record counts and the like)."""
        return {}

    # -- shared behaviour

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults and restart their seeded randomness and burst counter."""
        self.faults = faults
        self._fault_rng = random.Random(faults.seed)
        self._burst_left = faults.burst_429
        self.webhooks.reset_faults(faults)

    def _draw_fault(self) -> str | None:
        faults = self.faults
        if self._burst_left > 0:
            self._burst_left -= 1
            return "burst_429"
        # Always draw three numbers so one knob does not shift another's sequence.
        rng = self._fault_rng
        error, timeout, drop = rng.random(), rng.random(), rng.random()
        if error < faults.error_rate:
            return "error"
        if timeout < faults.timeout_rate:
            return "timeout"
        if drop < faults.drop_rate:
            return "drop"
        return None

    def _draw_5xx(self) -> int:
        return self._fault_rng.choice((500, 502, 503))

    def _log_request(self, scope: Scope, status: int | None, fault: str | None) -> None:
        self.requests.append(RequestLogEntry(scope["method"], scope["path"], status, fault,
                                             self.clock.now()))

    def _build_app(self) -> Starlette:
        control = [
            Route("/health", self._control_health, methods=["GET"]),
            Route("/faults", self._control_faults, methods=["GET", "PUT"]),
            Route("/clock", self._control_clock, methods=["GET", "POST"]),
            Route("/requests", self._control_requests, methods=["GET", "DELETE"]),
            Route("/webhooks/register", self._control_register, methods=["POST"]),
            Route("/webhooks", self._control_webhooks, methods=["GET"]),
            Route("/webhooks/drain", self._control_drain, methods=["POST"]),
            *self.control_routes(),
        ]
        return Starlette(
            routes=[Mount("/_sandbox", routes=control), *self.routes()],
            middleware=[Middleware(FaultMiddleware, sandbox=self)],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.webhooks.start()
        try:
            yield
        finally:
            await self.webhooks.stop()

    # -- control endpoints

    async def _control_health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "vendor": self.vendor,
                             "now": isoformat_z(self.clock.now()), **self.health()})

    async def _control_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await request.json()
                if isinstance(body, dict) and set(body) == {"spec"}:
                    faults = Faults.parse(str(body["spec"]))
                elif isinstance(body, dict):
                    faults = Faults.from_dict(body)
                else:
                    raise FaultsError("expected a JSON object of fault settings")
            except (FaultsError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.set_faults(faults)
        return JSONResponse(self.faults.to_dict())

    async def _control_clock(self, request: Request) -> Response:
        if request.method == "POST":
            if not isinstance(self.clock, ManualClock):
                return JSONResponse({"error": "the clock is the system clock; start the "
                                     "sandbox with a ManualClock to move time"},
                                    status_code=409)
            try:
                body = await request.json()
                if "advance" in body:
                    self.clock.advance(float(body["advance"]))
                elif "set" in body:
                    self.clock.set(datetime.fromisoformat(str(body["set"]).replace("Z",
                                                                                 "+00:00")))
                else:
                    raise ValueError("expected {\"advance\": seconds} or {\"set\": iso time}")
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"now": isoformat_z(self.clock.now())})

    async def _control_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
            return Response(status_code=204)
        limit = int(request.query_params.get("limit", self.request_log_size))
        entries = list(self.requests)[-limit:] if limit else []
        return JSONResponse({"requests": [e.to_dict() for e in entries]})

    async def _control_register(self, request: Request) -> Response:
        try:
            body = await request.json()
            url = body["url"]
            httpx.URL(url)
        except (ValueError, KeyError, TypeError, httpx.InvalidURL):
            return JSONResponse({"error": "expected {\"url\": \"http://...\"}"}, status_code=400)
        self.webhooks.register(url)
        return JSONResponse({"targets": self.webhooks.targets}, status_code=201)

    async def _control_webhooks(self, request: Request) -> Response:
        return JSONResponse({
            "targets": self.webhooks.targets,
            "deliveries": [
                {"url": d.url, "attempt": d.attempt, "status": d.status, "error": d.error,
                 "duplicate": d.duplicate, "at": isoformat_z(d.at),
                 "body": d.body.decode("utf-8", "replace")}
                for d in self.webhooks.log
            ],
        })

    async def _control_drain(self, request: Request) -> Response:
        await self.webhooks.drain()
        return JSONResponse({"delivered": len(self.webhooks.delivered)})
