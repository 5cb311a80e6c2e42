"""Kleer's writable objects: what a create or update body becomes in the store.

Each `Kind` names its collection path and its XSD elements: the readable one its GETs
answer, the ones its `PUT` (create) and `POST` (update) take. Bodies are checked and put
in one form by `schema.canonical` first (unknown elements 400, a missing required one
500 `Tekniskt fel`); `KleerRecords` then applies Kleer's own rules:

- a create answers `created` (`{"id": n}`); the body's `id` and other server-kept
  elements (`invoice-nr`, `revision-nr`, `certified`, ...) are ignored;
- an update answers `saved` (`{"id": n}`); elements left out keep their value, a
  nillable element sent as null is cleared (kleer-v1.xsd says so for
  `client-project-writeable.broker-client` and `dimension-entries`);
- `client-project-writeable`: `client`, `fixed-price` and `name` "can only be set when
  creating" (XSD): an update's values for them are ignored (assumed: Kleer's answer to
  a different value is unknown). Its readable `status` and `active` are not writable; a
  new project gets `KleerSettings.new_project_status` (assumed) and `closing-date` "will
  not set status of project to closed, doing so is another operation" (XSD);
- a client agreement is updated through `update-client-agreement`, the whole agreement
  in a wrapper, answered `update-client-agreement-result {revision-nr}`; each update
  raises the revision. A body whose `revision-nr` is not the current one is refused
  409 (assumed: optimistic locking is what the revision suggests, no client shows it);
- an invoice's amounts, VAT and row accounts are Kleer's: row `vat` and `account-nr`
  are "derived from account configuration / product reference" when writing (Orneholm
  Models/ClientInvoiceRow.cs), here the product's `vat-percentage` as a fraction
  (assumed) and `seed.SALES_ACCOUNT`;
- references to records that do not exist are 400s (a user reference of 0 is "not
  set").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.sandbox.kleer import seed
from engine.sandbox.kleer.render import Fail
from engine.sandbox.kleer.schema import BodyError, canonical, plural
from engine.sandbox.kleer.settings import KleerSettings
from engine.sandbox.platform import Clock, Collection

__all__ = ["KINDS", "Kind", "KleerRecords", "public"]

Record = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One writable Kleer object type."""

    name: str  # the store's and the control API's name, the id range in seed.ID_BASE
    label: str  # for messages: "Client"
    path: str  # the collection, under /v1/company/{companyId}
    readable: str  # the element GETs answer
    collection: str  # the element of the list answer
    create: str | None  # the element PUT takes
    update: str | None  # the element POST takes

    @property
    def list_key(self) -> str:
        """The JSON member of the list answer (`users`, `client-project-readables`)."""
        return plural(self.readable)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("user", "User", "/user", "user", "users", "user", "user"),
    Kind("supplier", "Supplier", "/supplier", "supplier", "suppliers", "supplier",
         "supplier"),
    Kind("subcontractor", "Subcontractor", "/subcontractor", "subcontractor-readable",
         "subcontractor-readables", "subcontractor-writeable", "subcontractor-writeable"),
    Kind("client", "Client", "/client", "client", "clients", "client", "client"),
    Kind("product", "Product", "/product", "product", "products", "product", "product"),
    Kind("invoice", "Client invoice", "/client/invoice", "client-invoice",
         "client-invoices", "client-invoice", None),
    Kind("agreement", "Client agreement", "/client/agreement", "client-agreement",
         "client-agreements", "client-agreement", "update-client-agreement"),
    Kind("client-project", "Client project", "/client-project", "client-project-readable",
         "client-project-readables", "client-project-writeable",
         "client-project-writeable"),
    Kind("payroll", "Payroll contract", "/payroll/user", "payroll-user-readable",
         "payroll-user-readables", None, "payroll-user-writable"),
)}

# Elements the server keeps: what a write body says for them is ignored.
_SERVER_KEPT: dict[str, frozenset[str]] = {
    "user": frozenset({"id"}),
    "supplier": frozenset({"id"}),
    "client": frozenset({"id"}),
    "product": frozenset({"id"}),
    "invoice": frozenset({"id", "invoice-nr", "certified", "certified-date", "sent",
                          "remaining", "amount", "vat", "client-agreement-ref",
                          "last-payment-date", "approved", "invoice-deliveries"}),
    "agreement": frozenset({"id", "revision-nr", "registration-user",
                            "registration-date", "start-date"}),
    "client-project": frozenset({"id"}),
}
_CREATE_ONLY_PROJECT = ("client", "fixed-price", "name")
# Elements Kleer refuses blank (assumed: a user needs a name and an e-mail to log in).
_NOT_BLANK = {"user": ("name", "email"), "client": ("name",), "product": ("name",),
              "supplier": ("name",), "client-project": ("name", "number"),
              "payroll": ("ssn",)}
_USER_REFS = ("user", "our-reference", "manager-user", "approver")
_CLIENT_REFS = ("client-ref", "client", "end-client", "broker-client")
_ROW_LISTS = ("rows", "recurring-rows", "first-invoice-rows")
_ENTRY_IDS = frozenset(e["id"] for entries in seed.DIMENSION_ENTRIES.values()
                       for e in entries)
SCHEDULE_IDS: dict[int, Record] = {s["id"]: s for s in seed.SCHEDULES}


def public(record: Record) -> Record:
    """The record as Kleer prints it: private keys gone, client-project ids wrapped.

    Only payroll contracts and client projects carry `_id`: a contract names its user
    (`user: {id}`) instead of having an id of its own, a project wraps it.
    """
    if "_id" not in record:
        return record
    out: Record = {}
    if "user" not in record:
        out["id"] = {"id": record["_id"]}
    out.update((k, v) for k, v in record.items() if not k.startswith("_"))
    return out


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


class KleerRecords:
    """The writes of one sandbox over its collections."""

    def __init__(self, store: dict[str, Collection], next_index: dict[str, int],
                 clock: Clock, settings: KleerSettings) -> None:
        self.store = store
        self.next_index = next_index
        self.clock = clock
        self.settings = settings
        self.foreign: dict[str, dict[str, Any]] = {name: {} for name in store}

    # ------------------------------------------------------------------ reading

    def require(self, kind: Kind, record_id: Any) -> Record:
        record = self.store[kind.name].get(record_id)
        if record is None:
            raise Fail(404, f"{kind.label} {record_id} not found")
        return record

    def by_foreign_id(self, name: str, foreign_id: str) -> Record | None:
        record_id = self.foreign[name].get(foreign_id)
        record = self.store[name].get(record_id) if record_id is not None else None
        return record if record is not None and record.get("foreign-id") == foreign_id \
            else None

    # ------------------------------------------------------------------ writes

    def create(self, kind: Kind, body: Any) -> Record:
        """`PUT <collection>`: the new record's `created` answer."""
        assert kind.create is not None
        values = self._parse(kind.create, body)
        for name in _SERVER_KEPT.get(kind.name, ()):
            values.pop(name, None)
        store = self.store[kind.name]
        index = self.next_index[kind.name]
        record_id = seed.base_id(kind.name, index)
        record = {store.key: record_id, **values}
        self._derive_new(kind, record, index)
        self.check(kind, record)
        self.next_index[kind.name] = index + 1
        self.save(kind, record, None)
        return {"id": record_id}

    def update(self, kind: Kind, record_id: int, body: Any) -> Record:
        """`POST <collection>/{id}`: the `saved` (or agreement result) answer."""
        assert kind.update is not None
        current = self.require(kind, record_id)
        values = self._parse(kind.update, body)
        if kind.name == "agreement":
            return self._update_agreement(kind, current, values["client-agreement"])
        for name in _SERVER_KEPT.get(kind.name, ()):
            values.pop(name, None)
        if kind.name == "client-project":
            for name in _CREATE_ONLY_PROJECT:
                values.pop(name, None)
            if "dimension-entries" in values:
                values["dimensions"] = values.pop("dimension-entries")
        record = {**_copy(current), **values}
        self.check(kind, record)
        self.save(kind, record, current)
        return {"id": record_id}

    def save_payroll(self, user_id: int, body: Any) -> Record:
        """`POST /payroll/user/{id}`: create the contract or change the elements sent."""
        kind = KINDS["payroll"]
        self.require(KINDS["user"], user_id)
        current = self.store["payroll"].get(user_id)
        values = self._parse("payroll-user-writable", body)
        if current is None:
            missing = [n for n in ("ssn", "employment-start-date") if n not in values]
            if missing:
                raise Fail(400, f'Field "{missing[0]}" is required to create a payroll '
                                "contract")
        if "ssn" in values:
            from engine.sandbox.platform.seed import valid_personal_number

            if not valid_personal_number(values["ssn"]):
                # Never echo the number itself: it is personal data.
                raise Fail(400, 'Field "ssn": not a valid personal identity number')
        record: Record = _copy(current) if current is not None else {
            "_id": user_id, "user": {"id": user_id}, **_new_contract()}
        end = values.pop("employment-end-date", None)
        entitlement = values.pop("vacation-entitlement", None)
        record.update(values)
        if end is not None:
            if end.get("employment-end-date"):
                record["employment-end-date"] = end["employment-end-date"]
            else:
                record.pop("employment-end-date", None)
        if entitlement is not None:
            record["vacation-entitlements"] = [entitlement]
        self.check(kind, record)
        self.save(kind, record, current)
        return {"id": user_id}

    def save(self, kind: Kind, record: Record, previous: Record | None) -> Record:
        store = self.store[kind.name]
        stored = store.put(record)
        foreign = self.foreign[kind.name]
        if previous is not None and previous.get("foreign-id"):
            foreign.pop(previous["foreign-id"], None)
        if stored.get("foreign-id"):
            foreign[stored["foreign-id"]] = stored[store.key]
        return stored

    # ------------------------------------------------------------------ rules

    @staticmethod
    def _parse(element: str, body: Any) -> Record:
        try:
            return canonical(element, body)
        except BodyError as exc:
            raise Fail(exc.status, exc.message) from None

    def _update_agreement(self, kind: Kind, current: Record, whole: Record) -> Record:
        if whole.get("id") != current["id"]:
            raise Fail(400, f'Field "client-agreement.id": {whole.get("id")} is not '
                            f"agreement {current['id']}")
        if whole.get("revision-nr") != current["revision-nr"]:
            raise Fail(409, f"Client agreement {current['id']} has changed since it was "
                            f"read (revision {current['revision-nr']}); read it again")
        values = {k: v for k, v in whole.items() if k not in _SERVER_KEPT["agreement"]}
        record = {**_copy(current), **values, "revision-nr": current["revision-nr"] + 1}
        record["start-date"] = record["start-invoice-date"]
        if record.get("next-invoice-date") is None:
            record["next-invoice-date"] = record["start-invoice-date"]
        self.check(kind, record)
        self.save(kind, record, current)
        return {"revision-nr": record["revision-nr"]}

    def _derive_new(self, kind: Kind, record: Record, index: int) -> None:
        """Server-side elements of a new record: numbers, sums, revisions, status."""
        if kind.name == "user":
            record.setdefault("internal-id", 100 + index)
        elif kind.name == "subcontractor":
            record["internal-id"] = 500 + index
        elif kind.name == "invoice":
            self._derive_invoice(record)
        elif kind.name == "agreement":
            record["revision-nr"] = 1
            record["start-date"] = record["start-invoice-date"]
            if record.get("next-invoice-date") is None:
                record["next-invoice-date"] = record["start-invoice-date"]
        elif kind.name == "client-project":
            client = self.store["client"].get((record.get("client") or {}).get("id")) or {}
            record.setdefault("currency-type", client.get("currency-type", "SEK"))
            record["active"] = True
            record["status"] = self.settings.new_project_status
            if "dimension-entries" in record:
                record["dimensions"] = record.pop("dimension-entries")

    def _derive_invoice(self, record: Record) -> None:
        amount = vat = 0
        for n, row in enumerate(record["rows"], start=1):
            product = self.store["product"].get(row["product"]["id"]) or {}
            row_amount = round(row["quantity"] * row["price"])
            discount = row.get("discount") or {}
            if isinstance(discount.get("absolute"), int):
                row_amount -= discount["absolute"]
            elif isinstance(discount.get("percentage"), int | float):
                row_amount = round(row_amount * (1 - discount["percentage"] / 100))
            row["vat"] = float(product.get("vat-percentage", 25.0)) / 100
            row["account-nr"] = int(product.get("account-nr") or seed.SALES_ACCOUNT)
            row["id"] = record["id"] * 10 + n
            amount += row_amount
            vat += round(row_amount * row["vat"])
        record.update({"amount": amount, "vat": vat, "invoice-nr": 0, "certified": False,
                       "sent": False, "remaining": amount + vat})

    def check(self, kind: Kind, record: Record) -> None:
        """Blank names and references to records that do not exist are 400s."""
        for name in _NOT_BLANK.get(kind.name, ()):
            if isinstance(record.get(name), str) and not record[name].strip():
                raise Fail(400, f'Field "{name}" must not be empty')
        exists: list[tuple[tuple[str, ...], str, Callable[[int], bool]]] = [
            (_USER_REFS, "User", lambda i: i == 0 or i in self.store["user"]),
            (_CLIENT_REFS, "Client", lambda i: i in self.store["client"]),
            (("supplier",), "Supplier", lambda i: i in self.store["supplier"]),
            (("dimension-entry",), "Dimension entry", lambda i: i in _ENTRY_IDS),
        ]
        for names, label, ok in exists:
            for name in names:
                ref = record.get(name)
                if isinstance(ref, dict) and not ok(ref["id"]):
                    raise Fail(400, f'Field "{name}": {label} {ref["id"]} does not exist')
        for name in ("users",):
            for ref in record.get(name) or []:
                if kind.name == "subcontractor" and ref["id"] not in self.store["user"]:
                    raise Fail(400, f'Field "users": User {ref["id"]} does not exist')
        for name in ("dimension-entries", "dimensions"):
            for ref in record.get(name) or []:
                if ref["id"] not in _ENTRY_IDS:
                    raise Fail(400, f'Field "{name}": Dimension entry {ref["id"]} '
                                    "does not exist")
        for rows in _ROW_LISTS:
            for n, row in enumerate(record.get(rows) or []):
                product = row.get("product")
                if product and product["id"] not in self.store["product"]:
                    raise Fail(400, f'Field "{rows}[{n}].product": Product {product["id"]} '
                                    "does not exist")
        for n, item in enumerate(record.get("schedules") or []):
            if item["schedule"]["id"] not in SCHEDULE_IDS:
                raise Fail(400, f'Field "schedules[{n}].schedule": Schedule '
                                f'{item["schedule"]["id"]} does not exist')


def _new_contract() -> Record:
    """A payroll contract nobody has filled in yet: what the readable type requires."""
    return {"address1": "", "address2": "", "zip-code": "", "state": "", "country-code": "SE",
            "phone": "", "tax-table": 0, "tax-table-column": 1, "tax-percentage": 0,
            "one-time-tax-percentage": 0, "clearing-nr": "", "account-nr": "",
            "travel-reimbursement-per-mile": 0, "expense-allowance": False,
            "fuel-benefit": False, "monthly-salary-type": "Current", "monthly-salary": 0,
            "monthly-salary-yearly-pension": 0, "hourly-salary": 0,
            **_copy(seed.PAYROLL_DEFAULTS), "manager-user": {"id": 0}, "schedules": [],
            "vacation-entitlements": [], "full-history-monthly-salaries": []}

