"""Who may call the Maconomy simulator: Basic credentials and reconnect tokens.

As real clients show it (tests/contracts/maconomy/facts.json):

- Basic credentials with `Maconomy-Authentication: X-Reconnect`, on the login
  `GET {api}/auth/{shortname}` (F-AUTH-LOGIN) or on any container request
  (F-AUTH-BASIC-FIRST), answer a token in `Maconomy-Reconnect`. Basic alone is accepted
  per call and hands out no token.
- Later calls send `Authorization: X-Reconnect <token>` (F-AUTH-RECONNECT). A
  `Maconomy-Reconnect` header on any answer replaces the token (F-AUTH-ROTATION): every
  `rotate_every`-th call of a token answers a fresh one, and the old one keeps working
  for `rotation_grace` seconds [assumed numbers].
- `Maconomy-Authentication: X-Log-Out` on a request made with a token ends the session
  after that request (F-AUTH-LOGOUT).
- Tokens expire after `token_ttl` seconds without use [assumed]; unknown or expired
  tokens get 401 in the error envelope.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from engine.sandbox.maconomy.answers import error
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.maconomy.settings import MaconomySettings
from engine.sandbox.platform import Clock

__all__ = ["Tokens"]


@dataclass
class _Token:
    expires_at: float  # clock timestamp; sliding on use
    uses: int = 0
    retired: bool = False  # rotated away: valid only until expires_at (the grace)


class Tokens:
    """The reconnect tokens handed out, and the check every vendor route runs."""

    def __init__(self, credentials: MaconomyCredentials, settings: MaconomySettings,
                 clock: Clock) -> None:
        self.credentials = credentials
        self.settings = settings
        self.clock = clock
        self.live: dict[str, _Token] = {}

    def __contains__(self, token: object) -> bool:
        return token in self.live

    def __iter__(self) -> Iterator[str]:  # the tokens, for tests that look for leaks
        return iter(list(self.live))

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self.live[token] = _Token(self.clock.now().timestamp() + self.settings.token_ttl)
        return token

    def authenticate(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """(an error answer or None, headers to add to the answer)."""
        header = request.headers.get("authorization", "")
        mode = request.headers.get("maconomy-authentication", "").lower()
        scheme, _, credential = header.partition(" ")
        now = self.clock.now().timestamp()
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, _, password = base64.b64decode(credential).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if (secrets.compare_digest(user, self.credentials.user)
                    and secrets.compare_digest(password, self.credentials.password)):
                extra = {"Maconomy-Reconnect": self.issue()} if "x-reconnect" in mode else {}
                return None, extra
            return _denied("Access denied: invalid username or password."), {}
        if scheme == "x-reconnect":
            key = credential.strip()
            token = self.live.get(key)
            if token is None or token.expires_at <= now:
                self.live.pop(key, None)
                return _denied("Access denied: the reconnect token is unknown or has "
                               "expired; log in again."), {}
            if "x-log-out" in mode:
                del self.live[key]  # this request is served; the session ends with it
                return None, {}
            token.uses += 1
            if token.retired:
                return None, {}
            token.expires_at = now + self.settings.token_ttl
            every = self.settings.rotate_every
            if every and token.uses % every == 0:
                token.retired = True
                token.expires_at = now + self.settings.rotation_grace
                return None, {"Maconomy-Reconnect": self.issue()}
            return None, {}
        return _denied("Access denied: authentication required (Basic or X-Reconnect)."), {}


def _denied(message: str) -> Response:
    return error(401, message, "authentication")
