"""Cinode's token endpoints and bearer tokens (README of github.com/Cinode-Labs/api).

- `GET /token` with `Basic accessId:accessSecret` -> `TokenModel {access_token,
  refresh_token}`; the access token is an HS256 JWT (`sub` = the API account owner's
  companyUserId, `companySub` = the company id, `iat`, `nbf`, `exp = iat + 120` on the
  sandbox clock). A wrong pair is 401 with no body.
- `POST /token/refresh` with `TokenRefreshModel {refreshToken}` -> a new pair; refresh
  tokens rotate (each works once) [assumed].
- `/token` allows 2 requests per 2 s per AccessId and does not count against the company
  plan; over it is the README's 429 body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.cinode.errors import RATE_LIMIT_BODY, Problem, read_json
from engine.sandbox.cinode.settings import CinodeSettings
from engine.sandbox.platform import Clock, RateDecision, RateLimiter

__all__ = ["TokenService", "decode_token", "encode_token", "limit_headers"]


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


def limit_headers(decision: RateDecision, daily_left: int | None) -> dict[str, str]:
    """The README's `x-ratelimit-*` headers (and `x-daily-requests-left`)."""
    headers = {"x-ratelimit-limit": str(decision.limit),
               "x-ratelimit-remaining": str(decision.remaining),
               "x-ratelimit-reset": str(max(1, int(decision.reset_seconds + 0.999)))}
    if daily_left is not None:
        headers["x-daily-requests-left"] = str(daily_left)
    return headers


class TokenService:
    """Issues, refreshes and checks the tokens of one tenant's API account."""

    def __init__(self, credentials: CinodeCredentials, settings: CinodeSettings, clock: Clock,
                 seed: int, owner_id: int, company_id: int, rate_limits: bool) -> None:
        self.credentials = credentials
        self.settings = settings
        self.clock = clock
        self.owner_id = owner_id
        self.company_id = company_id
        self.rate_limits = rate_limits
        self.key = hashlib.sha256(
            f"cinode-sandbox:{seed}:{credentials.access_secret}".encode()).digest()
        self._rng = random.Random(f"cinode-tokens:{seed}")
        self._refresh_tokens: dict[str, str] = {}
        self.limiter = RateLimiter(settings.token_requests_per_window,
                                   settings.window_seconds, clock)

    def claims(self, request: Request) -> dict[str, Any] | None:
        """The claims of the request's valid, unexpired bearer token, else None."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        claims = decode_token(token.strip(), self.key)
        if claims is None or not isinstance(claims.get("exp"), int | float):
            return None
        if self.clock.now().timestamp() >= claims["exp"]:
            return None
        return claims

    async def token(self, request: Request) -> Response:
        """`GET /token` with Basic credentials."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        access_id = secret = ""
        if scheme.lower() == "basic":
            try:
                access_id, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
            except (ValueError, binascii.Error):
                access_id = secret = ""
        limited = self._limited(access_id)
        if limited is not None:
            return limited
        if not (hmac.compare_digest(access_id, self.credentials.access_id)
                and hmac.compare_digest(secret, self.credentials.access_secret)):
            return Response(status_code=401)
        return self._issue(access_id)

    async def refresh(self, request: Request) -> Response:
        """`POST /token/refresh` with `{"refreshToken": ...}`."""
        try:
            body = await read_json(request)
        except Problem as problem:
            return problem.response()
        token = body.get("refreshToken") if isinstance(body, dict) else None
        access_id = self._refresh_tokens.get(token) if isinstance(token, str) else None
        limited = self._limited(access_id or "")
        if limited is not None:
            return limited
        if access_id is None:
            return Response(status_code=401)
        self._refresh_tokens.pop(str(token), None)  # rotate: a refresh token works once
        return self._issue(access_id)

    def _limited(self, access_id: str) -> Response | None:
        if not self.rate_limits:
            return None
        decision = self.limiter.check(("token", access_id))
        if decision.allowed:
            return None
        return JSONResponse(RATE_LIMIT_BODY, status_code=429,
                            headers=limit_headers(decision, None))

    def _issue(self, access_id: str) -> Response:
        now = int(self.clock.now().timestamp())
        claims = {"sub": str(self.owner_id), "companySub": str(self.company_id),
                  "iat": now, "nbf": now, "exp": now + self.settings.token_lifetime,
                  "jti": f"{self._rng.getrandbits(64):016x}"}
        refresh = _b64url(self._rng.getrandbits(256).to_bytes(32, "big"))
        self._refresh_tokens[refresh] = access_id
        return JSONResponse({"access_token": encode_token(claims, self.key),
                             "refresh_token": refresh})
