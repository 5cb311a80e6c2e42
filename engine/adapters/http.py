"""The one HTTP layer every adapter talks through: budget, retries, auth, logs, errors.

`HttpSession.request()` turns the many ways a vendor call can end into the engine's error
tree (`engine.errors`), so no adapter decides retry policy on its own:

    2xx or an `expected` status      -> the response
    429, 5xx gateway/overload,
    HubSpot 477/521-523,
    timeouts, dropped connections    -> retried (idempotent requests only), then
                                        RetriableError when attempts run out
    connection never established     -> retried for every method: nothing was sent
    sent, then no answer (POST)      -> AmbiguousWriteError: never re-sent blindly;
                                        the caller looks the record up by external id
    401                              -> `on_unauthorized()` once (single-flight across
                                        concurrent requests), then retried
    other 4xx, 1xx/3xx               -> FatalError with the vendor's reason

GET, HEAD, OPTIONS, PUT, DELETE and PATCH are idempotent by default; a POST only when the
caller says so (`idempotent=True`: a search, or a HubSpot upsert keyed on a unique
property). A 429 is retried even for a create, because a rate-limited request was
refused before it was processed; a 5xx on a create is ambiguous for the same reason a
timeout is.

Every attempt is logged at DEBUG on the `engine.http` logger with method, redacted URL,
status, duration and attempt number, and counted in `HttpSession.stats`.

Usage::

    session = HttpSession(client, name="cinode", budget=budgets.for_credential(token, 40, 2),
                          retry=RetryPolicy(), redactor=redactor, auth=add_bearer_token,
                          on_unauthorized=refresh_token)
    response = await session.request("GET", "/v0.1/companies/1/projects")
"""

from __future__ import annotations

import asyncio
import html
import json as jsonlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from engine.adapters.ratelimit import Budget
from engine.adapters.retry import RetryPolicy, server_delay
from engine.errors import AmbiguousWriteError, FatalError, RetriableError
from engine.redact import Redactor

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRIABLE_STATUSES",
    "HttpSession",
    "HttpStats",
    "vendor_reason",
]

log = logging.getLogger("engine.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
# 477: HubSpot "migration in progress" (with Retry-After); 521-523: HubSpot/Cloudflare
# origin down/unreachable.
RETRIABLE_STATUSES = frozenset({429, 477, 500, 502, 503, 504, 521, 522, 523})
# Statuses that mean "refused before processing": safe to retry even a create.
_REFUSED_STATUSES = frozenset({429, 477})
# Transport failures where nothing reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
# Transport failures that are our own bug or configuration, not the network's.
_NOT_TRANSIENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)

_REASON_LIMIT = 300

AuthHook = Callable[[httpx.Request], Awaitable[None]]
ResponseHook = Callable[[httpx.Response], Awaitable[None]]
Sleep = Callable[[float], Awaitable[object]]


@dataclass
class HttpStats:
    """Counters for metrics: requests sent, retries, waits between attempts, outcomes."""

    requests: int = 0
    retries: int = 0
    waits: int = 0
    waited_seconds: float = 0.0
    refreshes: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0


def _flatten_errors(errors: Any) -> list[str]:
    """Cinode's `{"field": ["msg"]}`, HubSpot's `[{"message": ...}]`, or plain strings."""
    out: list[str] = []
    if isinstance(errors, Mapping):
        for name, messages in errors.items():
            items = messages if isinstance(messages, list) else [messages]
            out.extend(f"{name}: {m}" for m in items if m not in (None, ""))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, Mapping):
                text = item.get("message") or item.get("errorMessage") or item.get("description")
                if text:
                    out.append(str(text))
            elif item not in (None, ""):
                out.append(str(item))
    elif errors:
        out.append(str(errors))
    return out


def _reason_from_json(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    parts: list[str] = []
    for key in ("message", "errorMessage", "description", "title", "error_description"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
            break
    for detail in _flatten_errors(body.get("errors")):
        if detail not in parts:
            parts.append(detail)
    if not parts and isinstance(body.get("error"), str | Mapping):
        nested = body["error"]
        parts.append(_reason_from_json(nested) if isinstance(nested, Mapping) else nested)
    return "; ".join(p for p in parts if p)


_XML_MESSAGE = re.compile(r"<message>(.*?)</message>", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def _is_html(response: httpx.Response) -> bool:
    """True for an HTML page (what no JSON or XML API of ours answers with data)."""
    return response.headers.get("content-type", "").lower().startswith("text/html")


def vendor_reason(response: httpx.Response, redactor: Redactor | None = None) -> str:
    """The vendor's own explanation of an error, trimmed and redacted.

    HubSpot `message` (+ `errors[].message`), Cinode `errors` / `description`, Maconomy
    `errorMessage`, Kleer JSON `message` or XML `<message>`; else the start of the body.
    """
    text = response.text if response.content else ""
    reason = ""
    if text.lstrip().startswith(("{", "[")):
        try:
            reason = _reason_from_json(jsonlib.loads(text))
        except ValueError:
            reason = ""
    if not reason and "<message>" in text.lower():
        reason = "; ".join(html.unescape(m.strip()) for m in _XML_MESSAGE.findall(text))
    if not reason:
        reason = _TAGS.sub(" ", text) if text.lstrip().startswith("<") else text
    reason = " ".join(reason.split())
    if len(reason) > _REASON_LIMIT:
        reason = reason[: _REASON_LIMIT - 1] + "…"
    return redactor.text(reason) if redactor else reason


class HttpSession:
    """Sends one logical request with budget, retries, auth hooks, logging and errors.

    `client` carries base_url, transport and connection pool; the session adds policy.
    Injectable `sleep`, `clock` (monotonic, for durations) and `wall_clock` (epoch, for
    HTTP-date Retry-After) keep tests free of real waiting.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        name: str,
        budget: Budget | None,
        retry: RetryPolicy,
        redactor: Redactor,
        timeout: httpx.Timeout | float = 30.0,
        auth: AuthHook | None = None,
        on_unauthorized: Callable[[], Awaitable[None]] | None = None,
        on_response: ResponseHook | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.name = name
        self.budget = budget
        self.retry = retry
        self.redactor = redactor
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.auth = auth
        self.on_unauthorized = on_unauthorized
        self.on_response = on_response
        self.stats = HttpStats()
        # Single-flight refresh: a burst of 401s (Cinode tokens expire every 120 s) must
        # produce one token request, not one per in-flight call (the token endpoint
        # allows 2 per 2 s). The generation tells a caller whether someone else already
        # refreshed after its request went out.
        self._auth_generation = 0
        self._refresh_lock = asyncio.Lock()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"HttpSession({self.name!r}, base_url={self.redactor.url(self.client.base_url)!r})"

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Container[int] = (),
    ) -> httpx.Response:
        """Send `method url` until it succeeds or fails for good; see the module docstring.

        `expected` lists non-2xx statuses the caller handles itself (e.g. 404 on a
        lookup); they are returned, not raised.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            request = self.client.build_request(
                method,
                url,
                params=params,
                json=json,
                content=content,
                headers=headers,
                timeout=self.timeout,
            )
            generation = self._auth_generation
            if self.auth is not None:
                await self.auth(request)
            if self.budget is not None:
                # After auth: fetching a token between acquiring and sending would make
                # the request arrive later than the budget counted it.
                await self.budget.acquire(max_wait=self.retry.max_wait)
            shown = self.redactor.url(request.url)
            started = self._clock()
            self.stats.requests += 1
            try:
                response = await self.client.send(request)
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                elapsed = self._clock() - started
                self._log_failure(method, shown, exc, elapsed, attempt)
                self._raise_unless_retriable(exc, method, shown, idempotent, attempt)
                await self._wait(attempt, None, method, shown, type(exc).__name__)
                continue

            elapsed = self._clock() - started
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            log.debug(
                "%s %s -> %s in %.0fms (attempt %d)",
                method,
                shown,
                status,
                elapsed * 1000,
                attempt,
                extra={
                    "system": self.name,
                    "method": method,
                    "url": shown,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "attempt": attempt,
                },
            )
            if self.budget is not None:
                await self.budget.observe(status, response.headers)
            if self.on_response is not None:
                await self.on_response(response)

            if 200 <= status < 300 and method == "GET" and _is_html(response):
                # A proxy's or a load balancer's error page answered 200: never read as
                # data (a page of zero records), retried like a 5xx within the budget.
                reason = "an HTML page instead of the API's data"
                if not self.retry.should_retry(attempt):
                    raise RetriableError(
                        self._describe(method, shown, status, reason)
                        + f" (gave up after {attempt} attempts)", status=status,
                        vendor_reason=reason)
                await self._wait(attempt, None, method, shown, "html", status=status,
                                 reason=reason)
                continue
            if 200 <= status < 300 or status in expected:
                return response
            if status == 401 and self.on_unauthorized is not None and not refreshed:
                # Tokens expire mid-run (Cinode: 120 s); refresh once, and do not count
                # the refused attempt against the retry budget.
                refreshed = True
                attempt -= 1
                await self._refresh_auth(generation)
                continue
            reason = vendor_reason(response, self.redactor)
            if status not in RETRIABLE_STATUSES:
                raise FatalError(
                    self._describe(method, shown, status, reason),
                    status=status,
                    vendor_reason=reason,
                )
            hint = server_delay(status, response.headers, now=self._wall_clock())
            if not idempotent and status not in _REFUSED_STATUSES:
                raise AmbiguousWriteError(
                    self._describe(method, shown, status, reason)
                    + "; the write may have happened, look the record up before retrying",
                    status=status,
                    vendor_reason=reason,
                )
            if not self.retry.should_retry(attempt):
                raise RetriableError(
                    self._describe(method, shown, status, reason)
                    + f" (gave up after {attempt} attempts)",
                    status=status,
                    retry_after=hint,
                    vendor_reason=reason,
                )
            await self._wait(
                attempt, hint, method, shown, str(status), status=status, reason=reason
            )

    async def _refresh_auth(self, generation: int) -> None:
        assert self.on_unauthorized is not None
        async with self._refresh_lock:
            if self._auth_generation != generation:
                return  # refreshed by another request since ours was sent
            await self.on_unauthorized()
            self._auth_generation += 1
            self.stats.refreshes += 1

    def _raise_unless_retriable(
        self, exc: httpx.TransportError, method: str, shown: str, idempotent: bool, attempt: int
    ) -> None:
        """Raise the final error for a transport failure; return if it may be retried."""
        what = f"{self.name}: {method} {shown} failed: {type(exc).__name__}"
        if isinstance(exc, _NOT_TRANSIENT):
            raise FatalError(f"{what}: {self.redactor.text(str(exc))}") from exc
        if not isinstance(exc, _NOT_SENT) and not idempotent:
            raise AmbiguousWriteError(
                f"{what} after the request was sent; the write may have happened, "
                "look the record up before retrying"
            ) from exc
        if not self.retry.should_retry(attempt):
            raise RetriableError(f"{what} (gave up after {attempt} attempts)") from exc

    async def _wait(
        self,
        attempt: int,
        hint: float | None,
        method: str,
        shown: str,
        cause: str,
        *,
        status: int | None = None,
        reason: str = "",
    ) -> None:
        try:
            delay = self.retry.delay(attempt, hint)
        except RetriableError as exc:
            raise RetriableError(
                f"{self._describe(method, shown, status, reason)}: {exc}",
                status=status,
                retry_after=exc.retry_after,
                vendor_reason=reason,
            ) from None
        self.stats.retries += 1
        log.info(
            "%s %s: %s, retrying in %.2fs (attempt %d of %d)",
            method,
            shown,
            cause,
            delay,
            attempt + 1,
            self.retry.max_attempts,
            extra={"system": self.name, "method": method, "url": shown, "attempt": attempt},
        )
        if delay > 0:
            self.stats.waits += 1
            self.stats.waited_seconds += delay
            await self._sleep(delay)

    def _log_failure(
        self, method: str, shown: str, exc: Exception, elapsed: float, attempt: int
    ) -> None:
        log.debug(
            "%s %s -> %s in %.0fms (attempt %d)",
            method,
            shown,
            type(exc).__name__,
            elapsed * 1000,
            attempt,
            extra={
                "system": self.name,
                "method": method,
                "url": shown,
                "error": type(exc).__name__,
                "duration_ms": round(elapsed * 1000, 1),
                "attempt": attempt,
            },
        )

    def _describe(self, method: str, shown: str, status: int | None, reason: str) -> str:
        text = f"{self.name}: {method} {shown}"
        if status is not None:
            text += f" -> {status}"
        if reason:
            text += f": {reason}"
        return text
