"""Who may call: private-app tokens, OAuth access tokens, the developer `hapikey`.

- CRM and automation-callback routes take `Authorization: Bearer <token>`: the private
  app's token (never expires) or an access token from `POST /oauth/v1/token` (refresh
  grant, `expires_in` = `settings.token_lifetime_seconds` by the sandbox clock). Anything
  else is 401 `INVALID_AUTHENTICATION` / `EXPIRED_AUTHENTICATION`.
- Developer routes (webhooks settings and subscriptions, workflow-action definitions)
  take only the app's developer API key as `?hapikey=` (the SDK's `developer_hapikey`
  auth setting; those operations list no `oauth2`).
- The OAuth routes themselves (`TokensApi.create`, `AccessTokensApi.get`) take no auth.
"""

from __future__ import annotations

import hmac
import random
import uuid
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.hubspot.errors import HubSpotError
from engine.sandbox.hubspot.settings import HubSpotSettings
from engine.sandbox.platform import Clock

__all__ = ["Auth"]

_NO_CREDENTIALS = ("Authentication credentials not found. This API supports OAuth 2.0 "
                   "authentication and you can find more details at "
                   "https://developers.hubspot.com/docs/methods/auth/oauth-overview")


class Auth:
    """Tokens and keys of one portal and its app, and the OAuth routes."""

    def __init__(self, credentials: HubSpotCredentials, settings: HubSpotSettings,
                 clock: Clock, rng: random.Random) -> None:
        self.credentials = credentials
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.access_tokens: dict[str, datetime] = {}

    def correlation_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def authenticate(self, request: Request, *, developer: bool = False) -> None:
        """Raise HubSpotError 401 unless the request carries what the route takes."""
        if developer:
            key = request.query_params.get("hapikey")
            if key is not None and hmac.compare_digest(key, self.settings.developer_api_key):
                return
            raise HubSpotError(401, "This API requires the app's developer API key "
                               "(hapikey).", "INVALID_AUTHENTICATION")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HubSpotError(401, _NO_CREDENTIALS, "INVALID_AUTHENTICATION")
        if hmac.compare_digest(token, self.credentials.token):
            return
        expires = self.access_tokens.get(token)
        if expires is None:
            raise HubSpotError(401, "The OAuth token used to make this call is invalid or "
                               "unknown.", "INVALID_AUTHENTICATION")
        now = self.clock.now()
        if now >= expires:
            minutes = int((now - expires).total_seconds() // 60)
            raise HubSpotError(401, f"The OAuth token used to make this call expired "
                               f"{minutes} minute(s) ago.", "EXPIRED_AUTHENTICATION")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/v1/token", self.token, methods=["POST"]),
            Route("/oauth/v1/access-tokens/{token}", self.introspect, methods=["GET"]),
        ]

    async def token(self, request: Request) -> Response:
        """`TokensApi.create`: a form with the refresh grant -> `TokenResponseIF`."""
        # x-www-form-urlencoded, parsed here: starlette's form() needs python-multipart.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}

        def refuse(status: str, message: str) -> Response:
            return JSONResponse({"status": status, "message": message,
                                 "correlationId": self.correlation_id()}, status_code=400)
        if form.get("grant_type") != "refresh_token":
            return refuse("BAD_GRANT_TYPE", "grant_type must be refresh_token in the sandbox")
        if form.get("client_id") != self.settings.client_id:
            return refuse("BAD_CLIENT_ID", "missing or invalid client_id")
        secret = str(form.get("client_secret") or "")
        if not hmac.compare_digest(secret, self.credentials.client_secret):
            return refuse("BAD_CLIENT_SECRET", "missing or invalid client_secret")
        if form.get("refresh_token") != self.settings.refresh_token:
            return refuse("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        lifetime = self.settings.token_lifetime_seconds
        token = f"sandbox-access-{self.rng.getrandbits(96):024x}"
        self.access_tokens[token] = self.clock.now() + timedelta(seconds=lifetime)
        return JSONResponse({"access_token": token, "refresh_token": self.settings.refresh_token,
                             "expires_in": lifetime, "token_type": "bearer"})

    async def introspect(self, request: Request) -> Response:
        """`AccessTokensApi.get` -> `AccessTokenInfoResponse`."""
        token = request.path_params["token"]
        expires = self.access_tokens.get(token)
        now = self.clock.now()
        if expires is None or now >= expires:
            return JSONResponse({"status": "error", "message": "The OAuth token is invalid or "
                                 "expired", "correlationId": self.correlation_id(),
                                 "category": "EXPIRED_AUTHENTICATION"}, status_code=404)
        return JSONResponse({
            "token": token, "hub_id": self.credentials.portal_id,
            "app_id": self.credentials.app_id, "user_id": 1, "user": "sandbox@example.com",
            "hub_domain": "sandbox.hubspot.test",
            "scopes": ["crm.objects.companies.read", "crm.objects.companies.write",
                       "crm.objects.deals.read", "crm.objects.deals.write"],
            "token_type": "access", "expires_in": int((expires - now).total_seconds())})
