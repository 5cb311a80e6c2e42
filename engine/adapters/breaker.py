"""Circuit breakers per (system, endpoint) (reliability.md S15): leave a failing endpoint
alone instead of hammering it.

Every request of a connection passes its `BreakerTransport`, under the retries of
`HttpSession` (so each attempt counts). After `failures` consecutive 5xx answers or
transport failures (timeouts, dropped connections) on one endpoint, its breaker opens:
requests to it are refused at once with `CircuitOpenError` (nothing is sent), which ends
the run cleanly: what was committed stays, records not attempted stay pending for the
next run. After `cool_down` one request is let through as a probe (half-open): a
success closes the breaker, a failure opens it again for another cool-down. Any answer
below 500 (a 4xx included) shows the endpoint is up and resets the count.

An endpoint is the method and the URL path with ids left out (`GET /v0.1/companies/
{id}/customers`), so one broken record never opens a breaker for all and no record
data reaches a metric label. Breakers are generic: no vendor knowledge here; 429s and
other rate-limit answers are the rate budget's business, not failures.

The states live in memory (`CircuitBreakers`, one per runtime) and are saved in the
state store at the end of each run and read back at the start of the next, so a
breaker opened by one `specsync run` still holds in the next, `specsync status` and
the console show them, and `specsync breakers --reset` closes them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from engine.errors import RetriableError
from engine.spec.safeguards import BreakerSettings
from engine.state.base import BreakerRecord

__all__ = ["Breaker", "BreakerTransport", "CircuitBreakers", "CircuitOpenError",
           "endpoint_of"]

log = logging.getLogger("engine.breaker")

BreakerState = Literal["closed", "open", "half-open"]

# A path segment that names a record rather than a resource: digits, a UUID, an
# e-mail address or anything else carrying a digit run (`CUST-1001`); `v3`, `v0.1`
# and plain words stay.
_VERSION = re.compile(r"^v\d+(\.\d+)*$")
_ID_LIKE = re.compile(r"\d{2,}|@|^\d+$|^[0-9a-f]{8}-[0-9a-f]{4}-", re.IGNORECASE)


def endpoint_of(method: str, path: str) -> str:
    """`GET /crm/v3/objects/companies/123` -> `GET /crm/v3/objects/companies/{id}`."""
    parts = [p if not p or _VERSION.match(p) or not _ID_LIKE.search(p) else "{id}"
             for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)}"


class CircuitOpenError(RetriableError):
    """A request refused, unsent, because its endpoint's breaker is open."""


@dataclass
class Breaker:
    system: str
    endpoint: str
    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float | None = None  # epoch seconds
    retry_at: float | None = None
    reason: str | None = None
    probing: bool = False  # a half-open probe is in flight
    dirty: bool = False  # changed since last saved


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class CircuitBreakers:
    """Every breaker of one runtime (one integration), by (system, endpoint)."""

    def __init__(self, integration: str = "", *,
                 clock: Callable[[], float] = time.time) -> None:
        self.integration = integration
        self.clock = clock
        self.settings: dict[str, BreakerSettings] = {}
        self._breakers: dict[tuple[str, str], Breaker] = {}

    def configure(self, system: str, settings: BreakerSettings) -> None:
        self.settings[system] = settings

    def __iter__(self) -> Iterator[Breaker]:
        return iter(list(self._breakers.values()))

    def get(self, system: str, endpoint: str) -> Breaker:
        slot = (system, endpoint)
        if slot not in self._breakers:
            self._breakers[slot] = Breaker(system, endpoint)
        return self._breakers[slot]

    def admit(self, system: str, endpoint: str) -> Breaker:
        """The endpoint's breaker, if a request may go out now; else CircuitOpenError."""
        breaker = self.get(system, endpoint)
        if breaker.state == "closed":
            return breaker
        now = self.clock()
        if breaker.state == "open" and breaker.retry_at is not None and now >= breaker.retry_at:
            breaker.state, breaker.dirty = "half-open", True
            log.info("circuit breaker %s %s half-open: one probe request",
                     system, endpoint, extra={"system": system, "endpoint": endpoint})
        if breaker.state == "half-open" and not breaker.probing:
            breaker.probing = True
            return breaker
        wait = max(0.0, (breaker.retry_at or now) - now)
        raise CircuitOpenError(
            f"{system}: {endpoint} is not called: its circuit breaker opened after "
            f"{breaker.failures} consecutive failures ({breaker.reason or 'server errors'}); "
            f"a probe goes out in {wait:.0f}s. The run stopped cleanly: what it wrote is "
            "committed and the rest is read again next run (`specsync breakers --reset` "
            "closes it now).", retry_after=wait)

    def succeeded(self, breaker: Breaker) -> None:
        if breaker.state != "closed" or breaker.failures:
            if breaker.state != "closed":
                log.info("circuit breaker %s %s closed", breaker.system, breaker.endpoint,
                         extra={"system": breaker.system, "endpoint": breaker.endpoint})
            breaker.state, breaker.failures, breaker.reason = "closed", 0, None
            breaker.opened_at = breaker.retry_at = None
            breaker.dirty = True
        breaker.probing = False

    def failed(self, breaker: Breaker, reason: str) -> None:
        settings = self.settings.get(breaker.system, BreakerSettings())
        breaker.failures += 1
        breaker.reason, breaker.dirty = reason, True
        if breaker.state == "half-open" or breaker.failures >= settings.failures:
            now = self.clock()
            if breaker.state != "open":
                log.warning("circuit breaker %s %s open after %d consecutive failures (%s)",
                            breaker.system, breaker.endpoint, breaker.failures, reason,
                            extra={"system": breaker.system, "endpoint": breaker.endpoint})
            breaker.state, breaker.opened_at = "open", now
            breaker.retry_at = now + settings.cool_down.total_seconds()
        breaker.probing = False

    # -- saved in the state store ---------------------------------------------------------
    def changed(self) -> list[BreakerRecord]:
        """The breakers changed since last saved, as records to save (marked saved)."""
        found = []
        for b in self._breakers.values():
            if b.dirty:
                b.dirty = False
                found.append(BreakerRecord(self.integration, b.system, b.endpoint, b.state,
                                           b.failures, _moment(b.opened_at),
                                           _moment(b.retry_at), b.reason))
        return found

    def load(self, records: Iterable[BreakerRecord]) -> None:
        """Take the saved states of this integration; a breaker not saved any more (reset
        by an operator) closes. Breakers changed here and not saved yet are kept."""
        saved = {(r.system, r.endpoint): r for r in records
                 if r.integration == self.integration}
        for slot, b in list(self._breakers.items()):
            if not b.dirty and slot not in saved:
                del self._breakers[slot]
        for slot, r in saved.items():
            b = self.get(*slot)
            if b.dirty:
                continue
            b.state, b.failures, b.reason = r.state, r.failures, r.reason
            b.opened_at = r.opened_at.timestamp() if r.opened_at else None
            b.retry_at = r.retry_at.timestamp() if r.retry_at else None
            if b.state == "half-open":  # a probe that never reported: probe again
                b.state = "open"


class BreakerTransport(httpx.AsyncBaseTransport):
    """A connection's transport, under its system's breakers (see the module docstring)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, breakers: CircuitBreakers,
                 system: str) -> None:
        self.inner = inner
        self.breakers = breakers
        self.system = system

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        breaker = self.breakers.admit(self.system,
                                      endpoint_of(request.method, request.url.path))
        try:
            response = await self.inner.handle_async_request(request)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            self.breakers.failed(breaker, type(exc).__name__)
            raise
        except BaseException:
            breaker.probing = False
            raise
        if response.status_code >= 500:
            self.breakers.failed(breaker, f"HTTP {response.status_code}")
        else:
            self.breakers.succeeded(breaker)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
