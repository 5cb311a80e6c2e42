"""What every vendor route passes through: auth, HubSpot's rate limits, the error
envelope, and the delivery of the webhooks the request fired.

Rate limits per portal: `settings.burst_limit` (190) per rolling 10 s and
`settings.daily_limit` (650,000) per day, plus `settings.search_per_second` (5) CRM
searches per second. Answers carry `X-HubSpot-RateLimit-*` headers; over a limit is 429
with category `RATE_LIMITS`, `policyName` (TEN_SECONDLY_ROLLING, SECONDLY, DAILY) and
Retry-After. Off when `config.rate_limits` is False.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.hubspot.auth import Auth
from engine.sandbox.hubspot.errors import HubSpotError
from engine.sandbox.hubspot.settings import HubSpotSettings
from engine.sandbox.platform import Clock, RateDecision, RateLimiter

__all__ = ["Gate", "Handler"]

Handler = Callable[[Request], Awaitable[Response]]


class Gate:
    """Wraps handlers: `api` (bearer), `developer` (hapikey), `control` (no auth)."""

    def __init__(self, auth: Auth, settings: HubSpotSettings, clock: Clock, *,
                 rate_limits: bool, app_id: int, after: Callable[[], None]) -> None:
        self.auth = auth
        self.rate_limits = rate_limits
        self.app_id = app_id
        self._after = after  # delivers the request's webhooks
        self._burst = RateLimiter(settings.burst_limit, 10, clock)
        self._daily = RateLimiter(settings.daily_limit, 86_400, clock)
        self._secondly = RateLimiter(settings.search_per_second, 1, clock)

    def error(self, error: HubSpotError) -> Response:
        return JSONResponse(error.body(self.auth.correlation_id()), status_code=error.status,
                            headers=error.headers)

    def server_error(self, status: int, message: str) -> Response:
        category = {502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
                    504: "GATEWAY_TIMEOUT"}.get(status, "INTERNAL_ERROR")
        return self.error(HubSpotError(status, message, category))

    def too_many(self, decision: RateDecision, policy: str = "TEN_SECONDLY_ROLLING"
                 ) -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        label = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly",
                 "DAILY": "daily"}.get(policy, policy.lower())
        response = self.error(HubSpotError(
            429, f"You have reached your {label} limit.", "RATE_LIMITS",
            extra={"errorType": "RATE_LIMIT", "policyName": policy,
                   "groupName": f"privateapp:{self.app_id}"},
            headers={"Retry-After": str(retry_after)}))
        if policy == "SECONDLY":
            response.headers["X-HubSpot-RateLimit-Secondly"] = str(decision.limit)
            response.headers["X-HubSpot-RateLimit-Secondly-Remaining"] = "0"
        else:
            response.headers["X-HubSpot-RateLimit-Max"] = str(decision.limit)
            response.headers["X-HubSpot-RateLimit-Remaining"] = "0"
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        return response

    def _limit(self, search: bool) -> tuple[Response | None, dict[str, str]]:
        if not self.rate_limits:
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
            return self.too_many(daily, "DAILY"), headers
        if not burst.allowed:
            return self.too_many(burst), headers
        if search:
            second = self._secondly.check("portal")
            headers["X-HubSpot-RateLimit-Secondly"] = str(second.limit)
            headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(second.remaining)
            if not second.allowed:
                return self.too_many(second, "SECONDLY"), headers
        return None, headers

    def api(self, handler: Handler, *, search: bool = False, developer: bool = False
            ) -> Handler:
        """A vendor route: auth, rate limit, error envelope, webhook flush."""

        async def endpoint(request: Request) -> Response:
            headers: dict[str, str] = {}
            try:
                self.auth.authenticate(request, developer=developer)
                refused, headers = self._limit(search)
                if refused is not None:
                    return refused
                response = await handler(request)
            except HubSpotError as error:
                response = self.error(error)
            finally:
                self._after()
            for name, value in headers.items():
                response.headers[name] = value
            return response

        return endpoint

    def developer(self, handler: Handler) -> Handler:
        """A developer route (`hapikey`): webhooks settings, subscriptions, definitions."""
        return self.api(handler, developer=True)

    def search(self, handler: Handler) -> Handler:
        """A CRM search: also counted against the per-second search limit."""
        return self.api(handler, search=True)

    def control(self, handler: Handler) -> Handler:
        """A `/_sandbox` control call: no auth, no limits, the same error envelope."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except HubSpotError as error:
                return self.error(error)
            finally:
                self._after()

        return endpoint
