"""The bodies Kleer's writes take: whole XSD records, never partial ones.

Kleer's writable types have required elements (kleer-v1.xsd; a missing one is Kleer's
generic 500 "Tekniskt fel", as a real client saw for `PUT /event` without its required
`foreign-id`, toki2 .docs/kleer.md:76). So:

- a create sends every required element: the mapped fields, then what the record's
  client or product says (an invoice's address, e-mail, due date and currency; a row's
  unit), then neutral values (`""`, 0, false, `{"id": 0}` for "not set"), as a real
  client does (Orneholm Models/ClientInvoiceCreate.cs and ClientInvoiceRowCreate.cs:
  `?? string.Empty`, `userreference { id = 0 } // 0 = not set according to docs`).
  A required element with no neutral value (a client's `country-code` and
  `payment-days`, a project's `number` and `name`, an invoice row's `product`) that the
  spec does not map fails the record (`field.required`) before anything is sent;
- an update is a read-modify-write of the whole record: the current record is read, cut
  to the writable type's elements, the mapped fields laid over it (objects such as
  `address` merged, lists replaced), and posted whole (ridem README.md:39-43 reads a
  client, changes it and posts it; Aboard KleerService.cs re-sends what it read).

`WRITABLE` lists each writable type's elements in JSON form (repeated elements under
their plural, kleer-v1.xsd); `create_body` and `update_body` never send anything else.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.errors import RecordError

__all__ = ["EMPTY_ADDRESS", "WRITABLE", "create_body", "missing_required", "ref_id",
           "update_body", "wire"]

EMPTY_ADDRESS = {"address1": "", "address2": "", "zip-code": "", "state": "", "country": ""}

# catalog object -> the JSON names of its writable XSD type's elements.
WRITABLE: dict[str, tuple[str, ...]] = {
    # `user` (the same type is read and written)
    "users": ("id", "foreign-id", "internal-id", "name", "email", "active", "dimension-entry",
              "dimensions", "dimension-user-percentage"),
    # `client`
    "clients": ("id", "foreign-id", "name", "contact", "address", "email", "client-type",
                "country-code", "currency-type", "notes", "accountnr", "payment-days",
                "orgno", "phone", "user", "delivery-type", "vat-nr", "gln", "edi-recipient",
                "fetch-edi-recipient", "template", "approver", "dimension-entries",
                "client-broker", "active"),
    # `client-project-writeable`
    "client_projects": ("client", "broker-client", "fixed-price", "number", "name",
                        "currency-type", "your-reference", "our-reference", "delivery-type",
                        "comment", "payment-days", "po-nr", "budget-hours", "budget-amount",
                        "incoming-invoiced-amount", "incoming-invoiced-vat-amount",
                        "all-activities", "activities", "all-users", "users", "leads",
                        "fixed-price-planned-invoices", "opening-date", "closing-date",
                        "default-notes", "dimension-entries", "fields"),
    # `product`
    "products": ("id", "foreign-id", "name", "type", "unit", "price", "ean",
                 "dimension-entries", "account-nr", "vat-percentage", "accounts"),
    # `client-invoice` (created only: Kleer invoices are certified in its UI)
    "invoices": ("id", "invoice-nr", "debit-invoice-nr", "foreign-id", "po-nr",
                 "agreement-nr", "subscription-nr", "client-ref", "end-client",
                 "client-invoice-template-ref", "your-reference", "our-reference",
                 "approver", "invoice-address", "invoice-email", "delivery-name",
                 "delivery-address", "delivery-email", "invoice-date", "due-date",
                 "delivery-date", "period", "currency", "currency-rate", "certified",
                 "sent", "notes", "delivery-type", "gln", "vat-nr", "country-code",
                 "remaining", "disabled", "automatic-actions-disabled",
                 "automatic-actions-message", "fields", "rows"),
    # `client-agreement` (read and written; updates wrap it in `update-client-agreement`)
    "agreements": ("id", "foreign-id", "revision-nr", "client-ref", "description",
                   "start-invoice-date", "next-invoice-date", "end-date",
                   "renewal-notification-date", "your-reference", "our-reference",
                   "approver", "currency", "payment-days", "invoice-interval-months",
                   "invoice-day", "po-nr", "agreement-nr", "subscription-nr",
                   "accrual-configuration", "notes", "deleted", "fields",
                   "first-invoice-rows", "recurring-rows"),
}

# Required elements (kleer-v1.xsd) and the neutral value a create sends for each; None:
# no neutral value exists, the spec must map it.
_REQUIRED: dict[str, dict[str, Any]] = {
    "clients": {"id": 0, "foreign-id": "", "name": None, "contact": "",
                "address": EMPTY_ADDRESS, "email": "", "country-code": None,
                "accountnr": 0,  # XSD: "deprecated, set to 0"
                "payment-days": None, "orgno": "", "phone": "", "user": {"id": 0}},
    "client_projects": {"fixed-price": False, "number": None, "name": None, "comment": "",
                        "budget-hours": 0, "budget-amount": 0,
                        "incoming-invoiced-amount": 0, "incoming-invoiced-vat-amount": 0,
                        # so people can report time on the new project at once
                        "all-activities": True, "all-users": True},
    "products": {"id": 0, "foreign-id": "", "name": None, "unit": "", "price": 0, "ean": 0},
    "invoices": {"id": 0, "invoice-nr": 0, "foreign-id": "", "po-nr": "",
                 "client-ref": None, "your-reference": "", "our-reference": {"id": 0},
                 "invoice-address": EMPTY_ADDRESS, "invoice-email": "", "delivery-name": "",
                 "delivery-address": EMPTY_ADDRESS, "delivery-email": "",
                 "invoice-date": None, "due-date": None, "delivery-date": None,
                 "currency": None, "certified": False, "sent": False, "remaining": 0,
                 "disabled": False, "rows": None},
    "agreements": {"id": 0, "foreign-id": "", "revision-nr": 0, "client-ref": None,
                   "description": "", "start-invoice-date": None, "next-invoice-date": None,
                   "end-date": None, "your-reference": "", "our-reference": None,
                   "approver": None, "currency": None, "payment-days": None,
                   "invoice-interval-months": None,
                   # Kleer's first strategy: invoice when the period starts (assumed default)
                   "invoice-day": "INVOICE_AT_START", "po-nr": "", "agreement-nr": "",
                   "subscription-nr": "", "deleted": False, "first-invoice-rows": [],
                   "recurring-rows": None},
}
# Nillable required elements: null is a value (kleer-v1.xsd `client-agreement`).
_NILLABLE = {"agreements": frozenset({"next-invoice-date", "end-date", "our-reference",
                                      "approver"})}
# An invoice row: `vat` and `account-nr` are "deprecated when writing, always derived
# from account configuration / product reference configuration" (Orneholm
# Models/ClientInvoiceRow.cs), sent as 0 as Orneholm's create model does.
_INVOICE_ROW = {"unit": "", "description": "", "vat": 0, "account-nr": 0}
_AGREEMENT_ROW = {"unit": "", "description": ""}
_ROW_KEYS = {"invoices": ("quantity", "price", "vat", "product", "unit", "description",
                          "account-nr", "project", "dimensions", "period", "delivery-date",
                          "discount", "fields", "accruals"),
             "agreements": ("quantity", "price", "product", "unit", "description",
                            "discount", "fields", "dimensions")}


def wire(value: Any) -> Any:
    """A typed payload value as Kleer's JSON wants it (dates `YYYY-MM-DD`; None dropped)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return value


def _merge(base: Any, changes: Any) -> Any:
    """`changes` laid over `base`: objects merged key by key, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(changes, Mapping):
        out = dict(base)
        for key, value in changes.items():
            out[key] = _merge(base.get(key), value)
        return out
    return copy.deepcopy(changes)


def _mapped(obj: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    allowed = WRITABLE[obj]
    return {k: wire(v) for k, v in payload.items() if k in allowed and v is not None}


def create_body(obj: str, payload: Mapping[str, Any], *,
                client: Mapping[str, Any] | None = None,
                products: Mapping[int, Mapping[str, Any]] | None = None,
                currency: str | None = None) -> dict[str, Any]:
    """The whole record a create sends: mapped fields, then the client's, then neutral.

    `client` is the record's client (invoices and agreements), `products` the products
    its rows name (their units), `currency` the company's accounting currency (for a
    client that names none).
    """
    body = _mapped(obj, payload)
    if obj == "invoices":
        _from_client_invoice(body, client or {})
    elif obj == "agreements":
        body.setdefault("currency", (client or {}).get("currency-type"))
        body.setdefault("payment-days", (client or {}).get("payment-days"))
    if obj in ("invoices", "agreements") and body.get("currency") in (None, ""):
        body["currency"] = currency
    for name, neutral in _REQUIRED.get(obj, {}).items():
        if name not in body and neutral is not None:
            body[name] = copy.deepcopy(neutral)
        elif isinstance(neutral, Mapping) and isinstance(body.get(name), Mapping):
            body[name] = _merge(neutral, body[name])  # every part of an address
    for name in _NILLABLE.get(obj, ()):
        body.setdefault(name, None)
    if obj in _ROW_KEYS:
        rows = "rows" if obj == "invoices" else "recurring-rows"
        if isinstance(body.get(rows), list):
            body[rows] = [_row(obj, row, products or {}) for row in body[rows]]
    return {k: v for k, v in body.items() if v is not None or k in _NILLABLE.get(obj, ())}


def _from_client_invoice(body: dict[str, Any], client: Mapping[str, Any]) -> None:
    """An invoice's address, e-mail, currency and dates, as its client has them."""
    if isinstance(client.get("address"), Mapping):
        body.setdefault("invoice-address", _merge(EMPTY_ADDRESS, client["address"]))
    if client.get("email"):
        body.setdefault("invoice-email", client["email"])
    if client.get("currency-type"):
        body.setdefault("currency", client["currency-type"])
    invoice_date = body.get("invoice-date")
    if isinstance(invoice_date, str):
        # "the invoice date" for delivery when none is said; Orneholm's model would send
        # 0001-01-01 instead.
        body.setdefault("delivery-date", invoice_date)
        days = client.get("payment-days")
        if isinstance(days, int) and not isinstance(days, bool):
            due = date.fromisoformat(invoice_date) + timedelta(days=days)
            body.setdefault("due-date", due.isoformat())


def _row(obj: str, row: Any, products: Mapping[int, Mapping[str, Any]]) -> Any:
    if not isinstance(row, Mapping):
        return row
    out = {k: v for k, v in row.items() if k in _ROW_KEYS[obj]}
    product = products.get(ref_id(out.get("product")) or -1) or {}
    if product.get("unit"):
        out.setdefault("unit", product["unit"])
    for name, neutral in (_INVOICE_ROW if obj == "invoices" else _AGREEMENT_ROW).items():
        out.setdefault(name, neutral)
    return out


def ref_id(value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def missing_required(obj: str, body: Mapping[str, Any]) -> RecordError | None:
    """The first required element a create body still lacks, as the record's error."""
    for name, neutral in _REQUIRED.get(obj, {}).items():
        if neutral is None and name not in _NILLABLE.get(obj, ()) and \
                body.get(name) in (None, ""):
            return RecordError("field.required", f"Kleer needs `{name}` to create "
                               f"{_LABELS.get(obj, obj)}, and the spec maps none",
                               field=name)
    if obj == "invoices":
        for n, row in enumerate(body.get("rows") or []):
            if not isinstance(row, Mapping) or ref_id(row.get("product")) is None:
                return RecordError("field.required", f"Kleer needs a product on every "
                                   f"invoice row (client-invoice-row.product); row {n + 1} "
                                   "names none", field="rows")
    return None


_LABELS = {"clients": "a client", "client_projects": "a client project",
           "products": "a product", "invoices": "an invoice", "agreements": "an agreement"}


def update_body(obj: str, current: Mapping[str, Any], payload: Mapping[str, Any], *,
                products: Mapping[int, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The whole record an update posts: `current` (as read) with `payload` laid over.

    `current` is the readable record; it is cut to the writable type first (for a client
    project: `client` is create-only, `dimensions` is written as `dimension-entries`).
    """
    base = dict(current)
    if obj == "client_projects":
        base.pop("client", None)
        if "dimensions" in base:
            base["dimension-entries"] = base.pop("dimensions")
    allowed = WRITABLE[obj]
    body = {k: copy.deepcopy(v) for k, v in base.items() if k in allowed}
    for name, value in _mapped(obj, payload).items():
        body[name] = _merge(body.get(name), value)
    if obj == "client_projects":
        body.pop("client", None)
    if obj in _ROW_KEYS:
        rows = "rows" if obj == "invoices" else "recurring-rows"
        if isinstance(body.get(rows), list):
            body[rows] = [_row(obj, row, products or {}) for row in body[rows]]
    return body
