"""Record what adapters send, through the transport seam, and check it against contracts.

Every adapter reaches its vendor through an httpx transport that is injected (in tests an
`httpx.ASGITransport` over a sandbox). `ContractTransport` wraps that transport: it
forwards each request unchanged and keeps the exchange (request and answer) in the
current `Ledger`. Nothing is patched: a test that wants its traffic checked builds its
adapter or runtime over `contract_transport(sandbox)` instead of a bare ASGI transport.

At the end of each test the autouse fixture in tests/conftest.py hands the ledger to each
vendor's checker (`tests/contracts/<vendor>/checker.py`, see `Checker`) and fails the
test with one line per violation. A test that sends an off-contract request on purpose
carries `@pytest.mark.off_contract("why")` and has `invalid` in its name.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

__all__ = [
    "Checker",
    "ContractTransport",
    "Exchange",
    "Ledger",
    "checker_for",
    "contract_transport",
    "current_ledger",
]


@dataclass(frozen=True)
class Exchange:
    """One request an adapter sent and the answer it got, as bytes (read once, kept)."""

    vendor: str
    method: str
    url: str
    path: str  # the URL path, percent-decoded, without query
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    status: int
    response_headers: Mapping[str, str]
    response_body: bytes

    def json(self) -> Any:
        """The request body as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None

    def __repr__(self) -> str:
        return f"<Exchange {self.vendor} {self.method} {self.path} -> {self.status}>"


@dataclass
class Ledger:
    """The exchanges of one test, in the order they were sent."""

    exchanges: list[Exchange] = field(default_factory=list)

    def of(self, vendor: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.vendor == vendor]

    def vendors(self) -> list[str]:
        return sorted({e.vendor for e in self.exchanges})

    def clear(self) -> None:
        self.exchanges.clear()


_LEDGERS: list[Ledger] = [Ledger()]


def current_ledger() -> Ledger:
    """The ledger of the running test (the autouse fixture starts a fresh one per test)."""
    return _LEDGERS[-1]


def _push_ledger() -> Ledger:
    ledger = Ledger()
    _LEDGERS.append(ledger)
    return ledger


def _pop_ledger(ledger: Ledger) -> None:
    if ledger in _LEDGERS and len(_LEDGERS) > 1:
        _LEDGERS.remove(ledger)


class ContractTransport(httpx.AsyncBaseTransport):
    """Forwards to `inner` and records each exchange for `vendor` in the current ledger."""

    def __init__(self, inner: httpx.AsyncBaseTransport, vendor: str,
                 ledger: Ledger | None = None) -> None:
        self.inner = inner
        self.vendor = vendor
        self._ledger = ledger

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        ledger = self._ledger or current_ledger()
        ledger.exchanges.append(Exchange(
            vendor=self.vendor, method=request.method, url=str(request.url),
            path=request.url.path, query=tuple(request.url.params.multi_items()),
            headers=_headers(request.headers), body=body, status=response.status_code,
            response_headers=_headers(response.headers), response_body=content))
        # The body was read here; hand the adapter a response it can read again.
        return httpx.Response(response.status_code, headers=response.headers,
                              content=content, request=request,
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _headers(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def contract_transport(sandbox: Any, vendor: str | None = None) -> ContractTransport:
    """An ASGI transport over `sandbox.app` whose traffic is checked against the contract.

    `vendor` defaults to the sandbox's `vendor` attribute (e.g. "cinode").
    """
    name = vendor or getattr(sandbox, "vendor", None)
    if not name:
        raise ValueError(f"{type(sandbox).__name__} names no vendor; pass vendor=")
    app = getattr(sandbox, "app", sandbox)
    return ContractTransport(httpx.ASGITransport(app=app), name)


class Checker(Protocol):
    """What `tests/contracts/<vendor>/checker.py` offers (module-level functions).

    Each returns plain sentences, one per violation, naming the contract element
    (e.g. "POST /v0.1/companies/{companyId}/projects: body.estimatedValue: 3450000.0 is
    not an int32 JSON integer (ProjectAddModel.estimatedValue)").
    """

    def check_request(self, exchange: Exchange) -> list[str]: ...

    def check_response(self, exchange: Exchange) -> list[str]: ...

    def route_of(self, method: str, path: str) -> str | None: ...


def checker_for(vendor: str) -> Checker | None:
    """The vendor's checker module, or None while it has none."""
    try:
        return importlib.import_module(f"tests.contracts.{vendor}.checker")  # type: ignore[return-value]
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"tests.contracts.{vendor}"):
            return None
        raise


def violations(ledger: Ledger) -> Iterator[tuple[Exchange, str]]:
    """Every violation in the ledger, request side then answer side, per exchange."""
    for exchange in ledger.exchanges:
        checker = checker_for(exchange.vendor)
        if checker is None:
            continue
        for problem in checker.check_request(exchange):
            yield exchange, f"request {exchange.method} {exchange.path}: {problem}"
        for problem in checker.check_response(exchange):
            yield exchange, (f"answer {exchange.status} to {exchange.method} {exchange.path}: "
                             f"{problem}")
