"""`specsync check` for Kleer: which routes the contract only assumes work on this tenant.

The contract (tests/contracts/kleer/routes.py) confirms most routes from real client
code; the ones below it only assumes. `probe_routes` tries each assumed route the adapter
reads, by reading only (one record where a route needs an id), and says which the tenant
confirmed. Routes that write are never probed: a check must not change the books.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.adapters.http import HttpSession
from engine.errors import AdapterError
from engine.redact import Redactor

__all__ = ["ASSUMED_WRITES", "ProbeResult", "probe_routes"]

#: Assumed routes the adapter writes through; `check` cannot confirm them.
ASSUMED_WRITES = ("PUT /client-project", "POST /client-project/{id}",
                  "PUT /client/agreement", "POST /client/agreement/{id}")
_NOT_THERE = (404, 405)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool  # False when an assumed route the adapter reads is not there
    message: str


async def probe_routes(session: HttpSession, base: str, redactor: Redactor) -> ProbeResult:
    confirmed: list[str] = []
    missing: list[str] = []
    unknown: list[str] = []

    async def get(route: str, tail: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            response = await session.request("GET", f"{base}/{tail}", params=params,
                                             expected=_NOT_THERE)
        except AdapterError as exc:
            unknown.append(f"{route} ({redactor.text(str(exc))[:120]})")
            return None
        if response.status_code in _NOT_THERE:
            missing.append(f"{route} ({response.status_code})")
            return None
        confirmed.append(route)
        try:
            return response.json()
        except ValueError:
            return None

    async def first_id(tail: str, key: str) -> Any:
        try:
            response = await session.request("GET", f"{base}/{tail}")
            items = response.json().get(key) or []
        except (AdapterError, ValueError, AttributeError):
            return None
        return items[0].get("id") if items and isinstance(items[0], Mapping) else None

    client = await first_id("client", "clients")
    if client is not None:
        await get("GET /client/{id}", f"client/{client}")
    agreements = await get("GET /client/agreement", "client/agreement")
    items = (agreements or {}).get("client-agreements") if isinstance(agreements, Mapping) \
        else None
    if items:
        await get("GET /client/agreement/{id}", f"client/agreement/{items[0]['id']}")
    page = await get("GET /client/invoice?offset&limit", "client/invoice",
                     {"offset": 0, "limit": 1, "ignoreFiles": "true"})
    if isinstance(page, Mapping):
        invoices = page.get("client-invoices") or []
        if len(invoices) > 1 or "size" not in page:
            confirmed.pop()
            missing.append("GET /client/invoice?offset&limit (limit ignored or no size)")
        if invoices:
            await get("GET /client/invoice/{id}", f"client/invoice/{invoices[0]['id']}")
    await get("GET /payroll/schedule", "payroll/schedule")
    await get("GET /subcontractor", "subcontractor")

    parts = [f"Assumed routes this tenant confirmed: {', '.join(confirmed) or 'none'}."]
    if missing:
        parts.append(f"Not there: {', '.join(missing)}: the objects that use them fail.")
    if unknown:
        parts.append(f"Could not tell: {', '.join(unknown)}.")
    parts.append(f"Not probed, because they write: {', '.join(ASSUMED_WRITES)}.")
    parts.append("Kleer closes or reopens a client project by a separate operation that "
                 "no public client shows: specsync cannot do it, a status change fails the "
                 "record until it is done in Kleer.")
    return ProbeResult(not missing, " ".join(parts))
