"""Who may see the console and who may act in it.

Two roles: `viewer` reads every page, `operator` also acts (run, retry, pause, resume,
acknowledge). A person logs in with a name (kept in the audit log) and their role's
secret; scripts may send `Authorization: Bearer <secret>` instead (no cookie, so no
cross-site request can borrow it).

The session is a cookie signed with HMAC-SHA256 under a key derived from the configured
secrets (so several runners behind one address accept each other's sessions, and
changing a secret ends every session). It carries the name, the role, an expiry and the
session's CSRF token. Cookie settings: HttpOnly, SameSite=Strict, Path=/console, a
lifetime of `SESSION_SECONDS`, and Secure with the `__Host-` prefix whenever the console
is reached over https.

Every form a logged-in person posts carries the session's CSRF token, compared in
constant time; a request whose `Origin` (or `Sec-Fetch-Site`) shows another site is
refused before that. Failed logins are slowed per client address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from engine.console.settings import ConsoleSettings

__all__ = ["SESSION_SECONDS", "Authenticator", "LoginThrottle", "Principal", "Role",
           "same_origin"]

Role = Literal["viewer", "operator"]
SESSION_SECONDS = 8 * 3600
COOKIE = "specsync_console"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in person (with the session's CSRF token) or a token."""

    name: str
    role: Role
    csrf: str | None = None  # None for bearer tokens: no cookie, nothing to forge
    expires: float = 0.0

    @property
    def may_act(self) -> bool:
        return self.role == "operator"

    @property
    def who(self) -> str:
        """How the audit log names them."""
        return f"{self.name} ({self.role})"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """Checks secrets and signs and reads session cookies."""

    def __init__(self, settings: ConsoleSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.secrets: dict[Role, str] = {}
        if settings.operator_secret:
            self.secrets["operator"] = settings.operator_secret
        if settings.viewer_secret:
            self.secrets["viewer"] = settings.viewer_secret
        material = "\0".join(f"{role}={secret}" for role, secret in sorted(self.secrets.items()))
        self._key = hashlib.sha256(b"specsync-console-session\0" + material.encode()).digest()
        self.clock = clock

    def cookie_name(self, secure: bool) -> str:
        return f"__Host-{COOKIE}" if secure else COOKIE

    def role_for(self, secret: str) -> Role | None:
        """The role whose secret this is; every role is compared (constant time each)."""
        found: Role | None = None
        given = secret.encode()
        for role, expected in self.secrets.items():
            if hmac.compare_digest(given, expected.encode()):
                found = role
        return found

    def login(self, name: str, secret: str) -> Principal | None:
        role = self.role_for(secret)
        if role is None:
            return None
        return Principal(name, role, secrets.token_urlsafe(24),
                         self.clock() + SESSION_SECONDS)

    def bearer(self, header: str | None) -> Principal | None:
        if not header or not header.lower().startswith("bearer "):
            return None
        role = self.role_for(header[7:].strip())
        return Principal("token", role) if role else None

    def seal(self, principal: Principal) -> str:
        payload = _b64(json.dumps({"n": principal.name, "r": principal.role,
                                   "c": principal.csrf, "e": int(principal.expires)},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def open(self, cookie: str | None) -> Principal | None:
        """The session a cookie carries; None if absent, forged, or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            name, role, csrf, expires = data["n"], data["r"], data["c"], float(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if role not in self.secrets or expires <= self.clock() or not isinstance(name, str):
            return None
        return Principal(name, role, csrf, expires)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    @staticmethod
    def csrf_ok(principal: Principal, token: str | None) -> bool:
        if principal.csrf is None:  # a bearer token: no cookie was involved
            return True
        return token is not None and hmac.compare_digest(token.encode(),
                                                         principal.csrf.encode())


def same_origin(headers: Mapping[str, str], own: str) -> bool:
    """False when the browser says the request comes from another site.

    `own` is this console's origin (scheme://host[:port]) as the request reached it.
    Browsers send `Origin` on every POST and `Sec-Fetch-Site` on every request; a
    client that sends neither (curl with a bearer token) is not a browser being abused.
    """
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    return origin is None or origin == own  # "null" (a sandboxed frame) is not ours


class LoginThrottle:
    """At most `attempts` failed logins per client address in `window` seconds."""

    def __init__(self, attempts: int = 10, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> bool:
        failures = self._failures.get(client)
        if not failures:
            return False
        horizon = self.clock() - self.window
        while failures and failures[0] < horizon:
            failures.popleft()
        return len(failures) >= self.attempts

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # many addresses: forget the oldest entirely
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, deque()).append(self.clock())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
