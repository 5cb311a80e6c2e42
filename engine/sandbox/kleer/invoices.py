"""`GET /client/invoice`: the one paged Kleer list, with its filters.

`client-invoices` extends `paged-result` (kleer-v1.xsd): `offset`, `limit` and `size`
are attributes, JSON members beside the list. The query parameter names `offset` and
`limit` are assumed (no real client sends them); the default limit 100 and the cap of
1000 too. Filters as Orneholm's client sends them (Filters/ClientInvoiceFilter.cs):
`filter` (all | certified | certifiable | sendable), `query` (free text over invoice
number, references and client name), `invoiceDateLower`, `invoiceDateUpper` and
`ignoreFiles` (files are never stored here, so it changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.requests import Request

from engine.sandbox.kleer import seed
from engine.sandbox.kleer.records import KINDS
from engine.sandbox.kleer.render import Fail, Reply
from engine.sandbox.platform import Collection

__all__ = ["invoice_page", "parse_date"]

FILTERS = ("all", "certified", "certifiable", "sendable")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Record = dict[str, Any]


def parse_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Fail(400, f'Parameter "{name}": "{text}" is not a date YYYY-MM-DD') from None


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise Fail(400, f'Parameter "{name}": expected a non-negative integer')
    return int(raw)


def invoice_page(request: Request, store: Collection, summary: Callable[[int], Record],
                 client_name: Callable[[int], str]) -> Reply:
    """One page of client invoices and the count of all that match."""
    params = request.query_params
    offset = _int_param(request, "offset", 0)
    limit = _int_param(request, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise Fail(400, f'Parameter "limit": expected 1..{MAX_LIMIT}')
    status = params.get("filter") or "all"
    if status not in FILTERS:
        raise Fail(400, f'Parameter "filter": expected one of {", ".join(FILTERS)}')
    if params.get("ignoreFiles") not in (None, "true", "false"):
        raise Fail(400, 'Parameter "ignoreFiles": expected true or false')
    lower = params.get("invoiceDateLower")
    upper = params.get("invoiceDateUpper")
    lower_date = parse_date("invoiceDateLower", lower) if lower else None
    upper_date = parse_date("invoiceDateUpper", upper) if upper else None
    query = (params.get("query") or "").strip().lower()
    if status == "all" and not (lower_date or upper_date or query):
        page, size = store.page(offset, limit), len(store)
    else:
        # Status and date filters scan cheap summaries; the page is then read in full.
        scan = None if query else summary
        page, size = [], 0
        for record in store.iter(scan):
            if not _matches(record, status, lower_date, upper_date, query, client_name):
                continue
            if offset <= size < offset + limit:
                page.append(record if "paid" not in record else store.get(record["id"]) or record)
            size += 1
    kind = KINDS["invoice"]
    return Reply(kind.collection, {kind.list_key: page},
                 attributes={"offset": offset, "limit": limit, "size": size})


def _matches(record: Record, status: str, lower: date | None, upper: date | None,
             query: str, client_name: Callable[[int], str]) -> bool:
    certified = record.get("certified")
    # certifiable: a draft that can be certified; sendable: certified, not yet sent (the
    # sandbox sends every certified invoice at once, so it matches none it generated).
    if status == "certified" and not certified:
        return False
    if status == "certifiable" and certified:
        return False
    if status == "sendable" and not (certified and not record.get("sent", certified)):
        return False
    invoice_date = record.get("invoice-date", "")
    if lower and invoice_date < lower.isoformat():
        return False
    if upper and invoice_date > upper.isoformat():
        return False
    if query:
        haystack = " ".join((str(record.get("invoice-nr", "")),
                             str(record.get("your-reference", "")),
                             str(record.get("po-nr", "")),
                             client_name(record["client-ref"]["id"]))).lower()
        if query not in haystack:
            return False
    return True


def generated_summary(seed_value: int, counts: seed.KleerCounts) -> Callable[[int], Record]:
    return lambda i: seed.invoice_summary(seed_value, i, counts)
