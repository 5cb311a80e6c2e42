"""Generated Kleer data: users, payroll contracts, suppliers, clients, invoices, ...

Records come out in Kleer's JSON shape, complete for their readable XSD type (every
required element present, nothing the type does not declare; kebab-case element names,
money in cents, `YYYY-MM-DD` dates, references as `{"id": n}`, repeated elements as
arrays under their plural, wrappers as bare arrays). Kleer has no timestamps on any of
these objects, so none are generated. Two records carry a private `_id` key that
the simulator strips before answering: payroll contracts (keyed by their user's id)
and client projects (whose public `id` is wrapped, `{"id": {"id": n}}`).

Who is who:

- users are the consultancy's own staff (`konsultbolaget.se`, namespace `kleer-user`).
  Users come in blocks of 20: positions 6 and 16 are subcontractors (linked to a
  supplier, no payroll contract), position 11 is an employee whose contract has not
  been entered yet (`GET /payroll/user/{id}` is 404), the other 17 have a contract.
  The layout is arithmetic so user, contract and subcontractor indices map both ways
  without scanning.
- client `i` is `common.company_for(seed, i)`: the same company (name, org. number)
  as Cinode customer `i` and HubSpot company `i`.
- supplier `j` is `company_for(seed, 900_000 + j)`, the same companies Cinode's
  subcontractors work through; every fifth supplier has no organisation number.
- invoices, agreements and client projects belong to client `index % clients`.

Ids: each object type has its own range (`ID_BASE`), so a user id never resolves as a
client id; records created through the API continue the type's range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from engine.sandbox.platform.seed import (
    CATEGORIES,
    REFERENCE_TIME,
    company_for,
    date_between,
    fast_rng,
    given_names,
    person_for,
    surname,
)

__all__ = [
    "BLOCK",
    "COMPANY_INFO",
    "CONTRACT_POSITIONS",
    "DIMENSIONS",
    "DIMENSION_ENTRIES",
    "EMPTY_ADDRESS",
    "ID_BASE",
    "NO_CONTRACT_POSITIONS",
    "PAYROLL_DEFAULTS",
    "SALES_ACCOUNT",
    "SCHEDULES",
    "SUBCONTRACTOR_POSITIONS",
    "USER_DOMAIN",
    "KleerCounts",
    "agreement_record",
    "base_id",
    "base_index",
    "client_project_record",
    "client_record",
    "contract_index_for_user",
    "invoice_record",
    "invoice_summary",
    "payroll_record",
    "product_record",
    "subcontractor_record",
    "supplier_record",
    "user_index_for_contract",
    "user_index_for_subcontractor",
    "user_record",
]

USER_DOMAIN = "konsultbolaget.se"

#: First id of each object type; generated record `i` has id `ID_BASE[kind] + i`.
ID_BASE: dict[str, int] = {
    "user": 10_000_001,
    "supplier": 20_000_001,
    "subcontractor": 30_000_001,
    "client": 40_000_001,
    "product": 50_000_001,
    "invoice": 60_000_001,
    "agreement": 70_000_001,
    "client-project": 80_000_001,
}
_RANGE = 10_000_000


def base_id(kind: str, index: int) -> int:
    """Id of generated record `index` of `kind`."""
    return ID_BASE[kind] + index


def base_index(kind: str, record_id: Any) -> int | None:
    """Inverse of `base_id` (None for ids outside the type's range)."""
    if isinstance(record_id, bool) or not isinstance(record_id, int):
        return None
    index = record_id - ID_BASE[kind]
    return index if 0 <= index < _RANGE else None


#: `company-information` (GET /info): all that element holds.
COMPANY_INFO: dict[str, Any] = {
    "name": "Konsultbolaget i Sverige AB", "orgno": "556900-1236",
    "accounting-currency": "SEK", "bankgiro": 56781234,
    "supplier-invoice-email": "leverantorsfakturor@konsultbolaget.se",
}

# --------------------------------------------------------------------------- lookups

#: Kleer's "categories" are dimension entries (Kostnadsställe, kundkategori, kompetens).
DIMENSIONS: list[dict[str, Any]] = [
    {"id": 1, "name": "Kostnadsställe", "description": "Avdelning", "active": True},
    {"id": 2, "name": "Kundkategori", "description": "Bransch för kunder", "active": True},
    {"id": 3, "name": "Kompetensområde", "description": "Konsultens inriktning",
     "active": True},
]
_ENTRY_NAMES: dict[int, tuple[str, ...]] = {
    1: ("Stockholm", "Göteborg", "Malmö", "Ledning"),
    2: CATEGORIES,
    3: ("Backend", "Frontend", "Projektledning", "Arkitektur", "Test", "Data & AI",
        "Molnplattform"),
}


def _entries() -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for dim, names in _ENTRY_NAMES.items():
        out[dim] = [{"id": dim * 100 + k + 1, "foreign-id": "", "name": name,
                     "description": "", "active": True} for k, name in enumerate(names)]
    return out


#: dimension id -> its entries.
DIMENSION_ENTRIES: dict[int, list[dict[str, Any]]] = _entries()

#: `payroll-fixed-schedule-readable`s: employment rate is `level-of-employment` (percent,
#: assumed: the XSD says only xs:decimal).
SCHEDULES: list[dict[str, Any]] = [
    {"id": sid, "name": name, "description": "", "hours-per-week": hours,
     "days-per-week": days, "level-of-employment": level, "usage-count": 0,
     "editable": False, "intervals": []}
    for sid, name, hours, days, level in (
        (11, "Heltid 40 h", 40.0, 5, 100.0), (12, "Deltid 80 %", 32.0, 4, 80.0),
        (13, "Deltid 75 %", 30.0, 5, 75.0), (14, "Deltid 50 %", 20.0, 5, 50.0))
]

_PRODUCTS = (
    ("Konsulttimme", "Services", "tim", (95_000, 165_000)),
    ("Seniorkonsult timme", "Services", "tim", (125_000, 185_000)),
    ("Projektledning timme", "Services", "tim", (110_000, 160_000)),
    ("Förvaltningsavtal", "Services", "mån", (1_500_000, 6_000_000)),
    ("Licens Standard", "DigitalServices", "st", (49_900, 299_900)),
    ("Utbildningsdag", "Services", "dag", (850_000, 1_500_000)),
    ("Hårdvara", "Goods", "st", (200_000, 2_500_000)),
    ("Resekostnad", "Services", "st", (10_000, 500_000)),
)

# --------------------------------------------------------------------------- layout

BLOCK = 20
SUBCONTRACTOR_POSITIONS = (6, 16)
NO_CONTRACT_POSITIONS = (11,)
CONTRACT_POSITIONS = tuple(p for p in range(BLOCK)
                           if p not in SUBCONTRACTOR_POSITIONS + NO_CONTRACT_POSITIONS)


def _count_positions(users: int, positions: tuple[int, ...]) -> int:
    full, rest = divmod(users, BLOCK)
    return full * len(positions) + sum(1 for p in positions if p < rest)


def user_index_for_contract(j: int) -> int:
    """User index of payroll contract `j`."""
    block, pos = divmod(j, len(CONTRACT_POSITIONS))
    return block * BLOCK + CONTRACT_POSITIONS[pos]


def contract_index_for_user(i: int) -> int | None:
    """Payroll contract index of user `i` (None: a subcontractor or no contract)."""
    block, pos = divmod(i, BLOCK)
    if pos not in CONTRACT_POSITIONS:
        return None
    return block * len(CONTRACT_POSITIONS) + CONTRACT_POSITIONS.index(pos)


def user_index_for_subcontractor(k: int) -> int:
    block, pos = divmod(k, len(SUBCONTRACTOR_POSITIONS))
    return block * BLOCK + SUBCONTRACTOR_POSITIONS[pos]


@dataclass(frozen=True)
class KleerCounts:
    """How many generated records of each kind `records` gives."""

    users: int
    contracts: int
    subcontractors: int
    suppliers: int
    clients: int
    products: int
    invoices: int
    agreements: int
    client_projects: int

    @classmethod
    def for_records(cls, records: int) -> KleerCounts:
        n = max(1, records)
        return cls(
            users=n,
            contracts=_count_positions(n, CONTRACT_POSITIONS),
            subcontractors=_count_positions(n, SUBCONTRACTOR_POSITIONS),
            suppliers=max(3, n // 10),
            clients=n,
            products=len(_PRODUCTS) + n // 20,
            invoices=2 * n,
            agreements=max(1, n // 2),
            client_projects=n,
        )


# --------------------------------------------------------------------------- helpers

_REFERENCE_DATE = REFERENCE_TIME.date()


def _d(value: date) -> str:
    return value.isoformat()


def _ref(value: int) -> dict[str, int]:
    return {"id": value}


def _our_reference_user(rng: Any, counts: KleerCounts) -> int:
    """A user that can be "our reference": an employee, never a subcontractor."""
    index = rng.randrange(counts.users)
    if index % BLOCK in SUBCONTRACTOR_POSITIONS:
        index -= 1
    return base_id("user", max(0, index))


def _entry_id(dimension: int, name: str) -> int:
    for entry in DIMENSION_ENTRIES[dimension]:
        if entry["name"] == name:
            return int(entry["id"])
    raise KeyError(name)


# --------------------------------------------------------------------------- records


def _employment(seed: int, j: int) -> tuple[date, date | None]:
    """Start and (for about one in eight) end date of payroll contract `j`."""
    rng = fast_rng(seed, "kleer-employment", j)
    start = date_between(rng, date(2012, 1, 1), date(2024, 10, 1))
    end: date | None = None
    if rng.random() < 0.12:
        end = date_between(rng, start + timedelta(days=60), date(2025, 6, 30))
    return start, end


def user_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """User `index`: an employee or subcontractor; staff who have left are inactive.

    A `user` has no phone (the payroll contract has one) and one `dimension-entry` (the
    cost centre) plus a `dimensions` distribution (competences).
    """
    person = person_for(seed, index, domain=USER_DOMAIN, namespace="kleer-user")
    rng = fast_rng(seed, "kleer-user-extra", index)
    active = rng.random() >= 0.05
    contract = contract_index_for_user(index)
    if contract is not None:
        end = _employment(seed, contract)[1]
        if end is not None and end < _REFERENCE_DATE:
            active = False
    cost_centre = _ref(rng.choice(DIMENSION_ENTRIES[1])["id"])
    competences: list[dict[str, int]] = []
    for _ in range(rng.randint(0, 2)):
        entry = _ref(rng.choice(DIMENSION_ENTRIES[3])["id"])
        if entry not in competences:
            competences.append(entry)
    return {
        "id": base_id("user", index), "foreign-id": "", "internal-id": 100 + index,
        "name": person.full_name, "email": person.email, "active": active,
        "dimension-entry": cost_centre, "dimensions": competences,
    }


def payroll_record(seed: int, j: int, counts: KleerCounts) -> dict[str, Any]:
    """Payroll contract `j` (`payroll-user-readable`) of user `user_index_for_contract(j)`."""
    user = user_index_for_contract(j)
    person = person_for(seed, user, domain=USER_DOMAIN, namespace="kleer-user")
    rng = fast_rng(seed, "kleer-payroll", j)
    # Some staff are old enough for the '+' form, as real registers have.
    pnr = person.personal_number
    ssn = pnr.short() if rng.random() < 0.3 else pnr.long()
    start, end = _employment(seed, j)
    schedule = SCHEDULES[0] if rng.random() < 0.75 else rng.choice(SCHEDULES[1:])
    schedules: list[dict[str, Any]] = [{"schedule": _ref(schedule["id"]),
                                        "start-date": _d(start), "comment": ""}]
    if rng.random() < 0.15:  # the employment rate changed once
        change = date_between(rng, start, _REFERENCE_DATE)
        first = rng.choice(SCHEDULES)
        schedules = [{"schedule": _ref(first["id"]), "start-date": _d(start),
                      "end-date": _d(change - timedelta(days=1)), "comment": ""},
                     {"schedule": _ref(schedule["id"]), "start-date": _d(change),
                      "comment": "Ändrad omfattning"}]
    record: dict[str, Any] = {
        "_id": base_id("user", user),
        "user": _ref(base_id("user", user)),
        "ssn": ssn,
        "address1": person.address.street, "address2": "",
        "zip-code": person.address.zip, "state": person.address.city, "country-code": "SE",
        "phone": person.phone,
        "tax-table": rng.choice((29, 30, 31, 32, 33, 34)), "tax-table-column": 1,
        "clearing-nr": f"{rng.randint(3000, 9999)}",
        "account-nr": f"{rng.randrange(10**9):09d}",
        "tax-percentage": 0, "one-time-tax-percentage": 30,
        "employment-start-date": _d(start),
        "travel-reimbursement-per-mile": 2500, "expense-allowance": False,
        "fuel-benefit": False,
        "monthly-salary-type": "Current",
        "monthly-salary": rng.randrange(64, 170) * 50_000,
        "monthly-salary-yearly-pension": 0,
        "hourly-salary": 0,
        **PAYROLL_DEFAULTS,
        "manager-user": _ref(base_id("user", 0)),
        "schedules": schedules,
        "vacation-entitlements": [{"start-date": _d(start), "entitlement": 25}],
    }
    record["full-history-monthly-salaries"] = [
        {"monthly-salary": record["monthly-salary"], "monthly-salary-start-date": _d(start)}]
    if end is not None:
        record["employment-end-date"] = _d(end)
    return record


#: What a payroll contract holds when nobody entered it (readable elements the XSD
#: requires; the sandbox also fills them in on a contract created through the API).
PAYROLL_DEFAULTS: dict[str, Any] = {
    "variable-salary-type": "Disabled", "variable-salary-payout-type": "Current",
    "variable-salary-input-type": "Self", "variable-salary-description": "",
    "variable-salery-tax-type": "Normal",
    "variable-salery-provision-vacation-percentage": 0, "provision": False,
    "month-report-strategy": "DontCreate", "workplace-number": "",
    "dimension-entries": [], "children": [],
}


def supplier_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """Supplier `index`; every fifth has no organisation number (a sole trader abroad)."""
    company = company_for(seed, 900_000 + index)
    rng = fast_rng(seed, "kleer-supplier", index)
    record: dict[str, Any] = {
        "id": base_id("supplier", index), "foreign-id": "", "name": company.name,
        "address": {"address1": company.address.street, "address2": "",
                    "zip-code": company.address.zip, "state": company.address.city,
                    "country": "Sverige"},
        "email": company.email, "plusgiro": 0,
        "bankgiro": rng.randint(100, 9999) * 10_000 + rng.randrange(10000),
        "swedish-bank-account": "", "iban": "", "country-code": "SE",
    }
    if index % 5 != 4:
        record["orgno"] = company.orgno
        record["vat-nr"] = company.vat
    return record


def subcontractor_record(seed: int, k: int, counts: KleerCounts) -> dict[str, Any]:
    """Subcontractor `k`: user `user_index_for_subcontractor(k)` through a supplier."""
    user = user_index_for_subcontractor(k)
    return {"id": base_id("subcontractor", k), "internal-id": 500 + k,
            "supplier": _ref(base_id("supplier", k % counts.suppliers)),
            "users": [_ref(base_id("user", user))]}


def client_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """Client `index`: the same company as Cinode customer / HubSpot company `index`."""
    company = company_for(seed, index)
    rng = fast_rng(seed, "kleer-client", index)
    entries = [_ref(_entry_id(2, company.category))]
    record: dict[str, Any] = {
        "id": base_id("client", index), "foreign-id": "", "name": company.name,
        "contact": _contact_name(seed, index) if rng.random() < 0.85 else "",
        "address": {"address1": company.address.street,
                    "address2": "Box " + str(rng.randint(100, 9999))
                    if rng.random() < 0.2 else "",
                    "zip-code": company.address.zip, "state": company.address.city,
                    "country": "Sverige"},
        "email": company.email, "client-type": "Organisation", "country-code": "SE",
        "currency-type": company.currency,
        "notes": rng.choice(("", "", "", "Nyckelkund", "Kräver PO-nummer på faktura",
                             "Ramavtal t.o.m. 2025")),
        "accountnr": 0, "payment-days": company.payment_days, "orgno": company.orgno,
        "phone": company.phone,
        "delivery-type": rng.choice(("Email", "Email", "Email", "Mail", "EInvoice")),
        "vat-nr": company.vat, "dimension-entries": entries,
        "active": rng.random() >= 0.08,
    }
    # Our reference: a user, or {"id": 0} for none (0 is "not set": Orneholm
    # Models/ClientInvoiceCreate.cs, the client's required `user` element).
    record["user"] = _ref(_our_reference_user(rng, counts) if rng.random() < 0.9 else 0)
    return record


def product_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    name, kind, unit, (low, high) = _PRODUCTS[index % len(_PRODUCTS)]
    rng = fast_rng(seed, "kleer-product", index)
    if index >= len(_PRODUCTS):
        name = f"{name} {index // len(_PRODUCTS) + 1}"
    # `ean` is a required xs:long: goods carry one, services 0.
    ean = 7_350_000_000_000 + index if kind == "Goods" else 0
    return {"id": base_id("product", index), "foreign-id": "", "name": name, "type": kind,
            "unit": unit, "price": rng.randrange(low // 100, high // 100) * 100, "ean": ean,
            "vat-percentage": 25.0, "dimension-entries": []}


@lru_cache(maxsize=4096)
def _product_basics(seed: int, index: int, counts: KleerCounts) -> tuple[int, str, str, int]:
    product = product_record(seed, index, counts)
    return product["id"], product["name"], product["unit"], product["price"]


@lru_cache(maxsize=4096)
def _contact_name(seed: int, client_index: int) -> str:
    """`company_for(seed, i).contact.full_name` without generating the whole person.

    Draws what `person_for` draws first (sex, given names, surname) and stops there: a
    full-list read of 100,000 clients then costs a fifth less. A test pins the equality.
    """
    rng = fast_rng(seed, "company-contact", client_index)
    male = rng.random() < 0.5
    names = given_names(rng, male=male)
    return f"{' '.join(names)} {surname(rng)}"


def _row(rng: Any, seed: int, counts: KleerCounts, when: date | None) -> dict[str, Any]:
    product_id, name, unit, price = _product_basics(seed, rng.randrange(counts.products),
                                                    counts)
    product = {"id": product_id, "name": name, "unit": unit, "price": price}
    quantity = float(rng.randint(1, 160)) if product["unit"] == "tim" else float(
        rng.randint(1, 3))
    row: dict[str, Any] = {"quantity": quantity, "price": product["price"], "vat": 0.25,
                           "product": _ref(product_id), "unit": product["unit"],
                           "description": product["name"], "account-nr": SALES_ACCOUNT}
    if when is not None:
        row["delivery-date"] = _d(when)
    return row


#: The account Kleer derives an invoice row's `account-nr` from when its product names
#: none (Swedish BAS "sales of services, 25 % VAT").
SALES_ACCOUNT = 3041

#: An address with nothing in it (every part of `address` is required).
EMPTY_ADDRESS: dict[str, str] = {"address1": "", "address2": "", "zip-code": "",
                                 "state": "", "country": ""}


def _invoice_head(seed: int, index: int) -> tuple[date, bool, bool]:
    """Invoice date, certified, paid: drawn apart from the rows so filters stay cheap."""
    rng = fast_rng(seed, "kleer-invoice", index)
    invoice_date = date_between(rng, date(2023, 1, 1), date(2024, 12, 31))
    certified = rng.random() < 0.85
    paid = certified and (invoice_date < date(2024, 11, 1) or rng.random() < 0.3)
    return invoice_date, certified, paid


def invoice_summary(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """The few fields invoice status/date filters read, without rows or company lookups.

    `paid` stands in for `remaining == 0`; the simulator re-reads matches in full.
    """
    invoice_date, certified, paid = _invoice_head(seed, index)
    return {"id": base_id("invoice", index), "invoice-date": _d(invoice_date),
            "certified": certified, "paid": paid,
            "client-ref": _ref(base_id("client", index % counts.clients))}


def invoice_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """Client invoice `index` of client `index % clients` (cents; most certified)."""
    client_index = index % counts.clients
    company = company_for(seed, client_index)
    invoice_date, certified, paid = _invoice_head(seed, index)
    rng = fast_rng(seed, "kleer-invoice-rows", index)
    rows = [_row(rng, seed, counts, None) for _ in range(rng.randint(1, 4))]
    amount = sum(round(r["quantity"] * r["price"]) for r in rows)
    vat = round(amount * 0.25)
    for n, row in enumerate(rows, start=1):
        row["id"] = base_id("invoice", index) * 10 + n
    return {
        "id": base_id("invoice", index),
        "invoice-nr": 10_001 + index if certified else 0,
        "foreign-id": "", "po-nr": f"PO{rng.randint(1000, 9999)}" if rng.random() < 0.3 else "",
        "client-ref": _ref(base_id("client", client_index)),
        "your-reference": _contact_name(seed, client_index),
        "our-reference": _ref(_our_reference_user(rng, counts)),
        "invoice-address": {"address1": company.address.street, "address2": "",
                            "zip-code": company.address.zip, "state": company.address.city,
                            "country": "Sverige"},
        "invoice-email": company.email,
        "delivery-name": "", "delivery-address": dict(EMPTY_ADDRESS), "delivery-email": "",
        "delivery-date": _d(invoice_date),
        "invoice-date": _d(invoice_date),
        "due-date": _d(invoice_date + timedelta(days=company.payment_days)),
        "amount": amount, "vat": vat, "currency": company.currency,
        "certified": certified, "sent": certified,
        "remaining": 0 if paid else amount + vat,
        "disabled": False, "notes": "",
        "rows": rows,
    }


def agreement_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """Client agreement (recurring invoicing) `index` of client `index % clients`."""
    client_index = index % counts.clients
    company = company_for(seed, client_index)
    rng = fast_rng(seed, "kleer-agreement", index)
    start = date_between(rng, date(2021, 1, 1), date(2024, 12, 1))
    interval = rng.choice((1, 1, 3, 6, 12))
    next_invoice = start
    while next_invoice <= _REFERENCE_DATE:
        month = next_invoice.month - 1 + interval
        next_invoice = next_invoice.replace(year=next_invoice.year + month // 12,
                                            month=month % 12 + 1, day=1)
    ends = rng.random() < 0.3
    return {
        "id": base_id("agreement", index), "foreign-id": "",
        "revision-nr": rng.randint(1, 3),
        "client-ref": _ref(base_id("client", client_index)),
        "description": rng.choice(("Förvaltningsavtal", "Supportavtal", "Licensavtal",
                                   "Konsultavtal löpande")),
        "start-date": _d(start), "start-invoice-date": _d(start),
        "next-invoice-date": _d(next_invoice),
        "end-date": _d(start + timedelta(days=365 * rng.randint(1, 3))) if ends else None,
        "your-reference": _contact_name(seed, client_index),
        "our-reference": _ref(_our_reference_user(rng, counts)), "approver": None,
        "currency": company.currency, "payment-days": company.payment_days,
        "invoice-interval-months": interval,
        "invoice-day": rng.choice(("INVOICE_AT_START", "PAY_AT_START", "INVOICE_AT_END")),
        "po-nr": "", "agreement-nr": f"A{1000 + index}", "subscription-nr": "",
        "notes": "", "deleted": False, "first-invoice-rows": [],
        "recurring-rows": [{k: v for k, v in _row(rng, seed, counts, None).items()
                            if k not in ("vat", "account-nr")}
                           for _ in range(rng.randint(1, 2))],
    }


def client_project_record(seed: int, index: int, counts: KleerCounts) -> dict[str, Any]:
    """Client project `index` of client `index % clients` (`client-project-readable`)."""
    client_index = index % counts.clients
    company = company_for(seed, client_index)
    rng = fast_rng(seed, "kleer-client-project", index)
    opening = date_between(rng, date(2020, 1, 1), date(2024, 12, 1))
    roll = rng.random()
    status = "Draft" if roll < 0.1 else "Closed" if roll < 0.3 else "Open"
    record: dict[str, Any] = {
        "_id": base_id("client-project", index),
        "client": _ref(base_id("client", client_index)),
        "fixed-price": rng.random() < 0.2,
        "number": f"{1001 + index}",
        "name": rng.choice(("Systemutveckling", "Förvaltning", "Molnmigrering",
                            "Testledning", "Arkitektur", "Dataplattform")) + f" {company.name}",
        "currency-type": company.currency, "active": status != "Closed",
        "your-reference": _contact_name(seed, client_index),
        "our-reference": _ref(_our_reference_user(rng, counts)),
        "comment": "", "budget-hours": 0, "budget-amount": 0,
        "incoming-invoiced-amount": 0, "incoming-invoiced-vat-amount": 0,
        "all-activities": True, "all-users": True, "status": status,
    }
    if status != "Draft":
        record["opening-date"] = _d(opening)
    if status == "Closed":
        record["closing-date"] = _d(date_between(rng, opening, _REFERENCE_DATE))
    return record
