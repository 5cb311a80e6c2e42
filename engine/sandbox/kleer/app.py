"""The Kleer (formerly PE Accounting) simulator.

Everything lives under `/v1/company/{companyId}` and needs the static token in
`X-Token` (header name case-insensitive); a missing or wrong token is 401, another
company's id 403, both with Kleer's error body `{"message": "..."}`.

Format: Kleer's canonical format is XML. The sandbox answers JSON when the request's
`Content-Type` is `application/json` and its `Accept` allows JSON (`application/json`,
`*/*` or absent); otherwise it answers a minimal XML rendering of the same elements
(the real API answered XML when only `Accept` was sent, and a real Python client that
sends only `Content-Type` gets JSON). XML request bodies are refused with 415: the
sandbox only parses JSON bodies.

Routes (the shapes of `apis.md` section 3; money in cents, dates `YYYY-MM-DD`):

- `GET /info`
- users: `GET /user`, `GET /user/me`, `GET /user/{id}`, `GET /user/foreign-id/{fid}`,
  `PUT /user` (create), `POST /user/{id}` (update)
- payroll: `GET /payroll/user`, `GET|POST /payroll/user/{userId}` (404 without a
  contract; POST creates one, needing `ssn` and `employment-start-date`),
  `GET /payroll/user/{userId}/schedule/{from}/to/{to}`, `GET /payroll/schedule`,
  `GET /payroll/schedule/{id}`
- suppliers: `GET|PUT /supplier`, `GET|POST /supplier/{id}`
- subcontractors: `GET|PUT /subcontractor`, `GET|POST /subcontractor/{id}`
- clients: `GET|PUT /client`, `GET|POST /client/{id}`
- dimensions (Kleer's "categories"): `GET /dimension`, `GET /dimension/{id}/entry`
- products: `GET|PUT /product`, `GET|POST /product/{id}`
- client invoices: `GET /client/invoice` (paged: `offset`, `limit`; filters `filter`,
  `query`, `invoiceDateLower`, `invoiceDateUpper`, `ignoreFiles`), `GET /client/invoice/{id}`,
  `PUT /client/invoice`
- client agreements: `GET|PUT /client/agreement`, `GET|POST /client/agreement/{id}`
  (every update increments `revision-nr`)
- client projects: `GET /client-project[?filter=active]`, `GET /client-project/{id}`
  (the readable's `id` is wrapped: `{"id": {"id": n}}`), `PUT /client-project`,
  `POST /client-project/{id}`

Behaviour: `PUT` on a collection creates and answers `{"created": {"id": n}}`; `POST`
on an item updates and answers `{"saved": {"id": n}}`, applying only the fields sent
(null means "leave unchanged"; lists sent replace lists). Unknown fields are 400
(`Unrecognized field "x"`), read-only ones (`id`, `invoice-nr`, `revision-nr`, ...)
are ignored. A create without `foreign-id` answers Kleer's observed generic 500
`{"message": "Tekniskt fel"}` (send `""` when there is nothing to store). Kleer has no
timestamps, no "modified since" filter and no webhooks: clients detect changes by a
full read and a hash per record.

Assumed where `apis.md` marks it [assumed]: the paths of supplier, subcontractor,
agreement, client create/update, client-project create/update and the schedule
lookup; JSON error bodies; 403 for another company; paging parameter names and the
`offset`/`limit`/`size` keys beside the `client-invoices` list (default limit 100, at
most 1000); invoice `filter` values `all|certified|uncertified|paid|unpaid|overdue`;
row `vat` as a fraction (0.25); `level-of-employment` as a percentage; 200 for creates;
client-project `status` writable (default `Open` when an `opening-date` is given,
else `Draft`); rate limit 5 requests per second per token, answered 429 with
`Retry-After` (option `kleer_rate_limit`; off when `config.rate_limits` is False).

Control calls beside the shared ones: `PATCH /_sandbox/records/{object}/{id}` changes a
record as a user in Kleer's UI would (read-only fields included, e.g. marking an
invoice paid), `DELETE /_sandbox/records/{object}/{id}` removes one; objects are
`user`, `payroll` (id = the user's), `supplier`, `subcontractor`, `client`, `product`,
`invoice`, `agreement`, `client-project`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from engine.sandbox.kleer import seed
from engine.sandbox.kleer.credentials import CURL_EXAMPLE, KleerCredentials
from engine.sandbox.platform import Collection, RateDecision, RateLimiter, Sandbox, SandboxConfig
from engine.sandbox.platform.seed import valid_personal_number

__all__ = ["KleerSandbox"]

Record = dict[str, Any]

# --------------------------------------------------------------------------- field types
# A tiny schema language for write bodies: each field name maps to a checker that
# returns the value to store or raises _Invalid with a message for the 400 body.


class _Invalid(Exception):
    pass


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f'Field "{name}": expected a string')
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f'Field "{name}": expected an integer')
    return value


def _money(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f'Field "{name}": expected an integer amount in cents')
    return value


def _number(name: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f'Field "{name}": expected a number')
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f'Field "{name}": expected true or false')
    return value


def _date(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f'Field "{name}": expected a date YYYY-MM-DD')
    if value:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise _Invalid(f'Field "{name}": "{value}" is not a date YYYY-MM-DD') from None
        if len(value) != 10:
            raise _Invalid(f'Field "{name}": "{value}" is not a date YYYY-MM-DD')
    return value


def _ref(name: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != {"id"} or isinstance(
            value["id"], bool) or not isinstance(value["id"], int):
        raise _Invalid(f'Field "{name}": expected a reference {{"id": <integer>}}')
    return {"id": value["id"]}


def _refs(name: str, value: Any) -> list[dict[str, int]]:
    if not isinstance(value, list):
        raise _Invalid(f'Field "{name}": expected a list of references')
    return [_ref(name, item) for item in value]


def _enum(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise _Invalid(f'Field "{name}": expected one of {", ".join(choices)}')
        return str(value)
    return check


def _interval(name: str, value: Any) -> int:
    if _int(name, value) not in (1, 3, 6, 12):
        raise _Invalid(f'Field "{name}": expected 1, 3, 6 or 12 (months)')
    return value


def _object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f'Field "{name}": expected an object')
    return value


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f'Field "{name}": expected a list')
    return value


_ADDRESS_FIELDS = {"address1": _str, "address2": _str, "zip-code": _str, "state": _str,
                   "country": _str}


def _address(name: str, value: Any) -> dict[str, str]:
    return _fields(value, _ADDRESS_FIELDS, frozenset(), prefix=f"{name}.")


_ROW_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "quantity": _number, "price": _money, "vat": _number, "product": _ref, "unit": _str,
    "description": _str, "account-nr": _str, "project": _ref, "dimensions": _object,
    "period": _str, "delivery-date": _date, "discount": _object, "fields": _list,
    "accruals": _list,
}


def _rows(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Invalid(f'Field "{name}": expected a list of rows')
    rows = []
    for n, row in enumerate(value):
        checked = _fields(row, _ROW_FIELDS, frozenset({"id"}), prefix=f"{name}[{n}].")
        if "quantity" not in checked or "price" not in checked:
            raise _Invalid(f'Field "{name}[{n}]": a row needs "quantity" and "price"')
        rows.append(checked)
    return rows


_SCHEDULE_FIELDS = {"schedule": _ref, "start-date": _date, "end-date": _date,
                    "comment": _str}


def _schedules(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Invalid(f'Field "{name}": expected a list of schedules')
    out = []
    for n, item in enumerate(value):
        checked = _fields(item, _SCHEDULE_FIELDS, frozenset(), prefix=f"{name}[{n}].")
        if "schedule" not in checked or not checked.get("start-date"):
            raise _Invalid(f'Field "{name}[{n}]": needs "schedule" and "start-date"')
        out.append({"schedule": checked["schedule"], "start-date": checked["start-date"],
                    "end-date": checked.get("end-date", ""),
                    "comment": checked.get("comment", "")})
    return out


def _end_date_wrapper(name: str, value: Any) -> Any:
    """`{employment-end-date, employment-end-type}`: set, or remove with an empty date."""
    if not isinstance(value, dict) or not set(value) <= {"employment-end-date",
                                                         "employment-end-type"}:
        raise _Invalid(f'Field "{name}": expected {{"employment-end-date": "YYYY-MM-DD", '
                       '"employment-end-type": "Disabled|NextMonth"}')
    if "employment-end-type" in value:
        _enum("Disabled", "NextMonth")(f"{name}.employment-end-type",
                                       value["employment-end-type"])
    return _date(f"{name}.employment-end-date", value.get("employment-end-date") or "")


def _fields(body: Any, schema: dict[str, Callable[[str, Any], Any]],
            read_only: frozenset[str], *, prefix: str = "") -> dict[str, Any]:
    """Check a JSON object against `schema`: unknown names fail, nulls and read-only go."""
    if not isinstance(body, dict):
        raise _Invalid(f'Field "{prefix.rstrip(".")}": expected an object' if prefix
                       else "Expected a JSON object")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in read_only or value is None:
            continue
        check = schema.get(key)
        if check is None:
            raise _Invalid(f'Unrecognized field "{prefix}{key}"')
        out[key] = check(prefix + key, value)
    return out


# --------------------------------------------------------------------------- object kinds

_S, _I, _B, _D, _M, _N, _R, _RL = _str, _int, _bool, _date, _money, _number, _ref, _refs


@dataclass(frozen=True)
class _Kind:
    """One writable Kleer object type: its store, element names and write schema."""

    name: str  # the control API's name and the id range in seed.ID_BASE
    label: str  # for messages: "Client"
    list_root: str
    item_root: str
    schema: dict[str, Callable[[str, Any], Any]]
    read_only: frozenset[str] = frozenset({"id"})
    required: tuple[str, ...] = ()
    foreign_id: bool = True  # creates without foreign-id hit the "Tekniskt fel" quirk
    defaults: dict[str, Any] = field(default_factory=dict)


_KINDS: dict[str, _Kind] = {k.name: k for k in (
    _Kind("user", "User", "users", "user",
          {"foreign-id": _S, "internal-id": _I, "name": _S, "email": _S, "active": _B,
           "phone": _S, "dimension-entries": _RL},
          required=("name", "email"), defaults={"active": True, "dimension-entries": []}),
    _Kind("payroll", "Payroll contract", "payroll-user-readables", "payroll-user-readable",
          {"user": _R, "ssn": _S, "address1": _S, "address2": _S, "zip-code": _S,
           "state": _S, "country-code": _S, "phone": _S, "tax-table": _I,
           "tax-table-column": _I, "tax-percentage": _N, "one-time-tax-percentage": _N,
           "clearing-nr": _S, "account-nr": _S, "employment-start-date": _D,
           "employment-end-date": _end_date_wrapper, "notes": _S,
           "travel-reimbursement-per-mile": _M, "expense-allowance": _M, "fuel-benefit": _M,
           "monthly-salary-type": _enum("Next", "Current"), "monthly-salary": _M,
           "monthly-salary-start-date": _D, "monthly-salary-yearly-pension": _M,
           "hourly-salary": _M, "hourly-salary-start-date": _D, "provision": _N,
           "manager-user": _R, "workplace-number": _S, "schedules": _schedules,
           "dimension-entries": _RL},
          read_only=frozenset({"user"}), required=("ssn", "employment-start-date"),
          foreign_id=False, defaults={"schedules": [], "dimension-entries": []}),
    _Kind("supplier", "Supplier", "suppliers", "supplier",
          {"foreign-id": _S, "name": _S, "address": _address, "email": _S, "plusgiro": _S,
           "bankgiro": _S, "orgno": _S, "swedish-bank-account": _S, "iban": _S,
           "user": _R, "our-reference": _S, "country-code": _S, "vat-nr": _S,
           "account-nr": _S, "bank-account": _R},
          required=("name",)),
    _Kind("subcontractor", "Subcontractor", "subcontractor-readables",
          "subcontractor-readable", {"supplier": _R, "users": _RL},
          read_only=frozenset({"id", "internal-id"}), required=("supplier",),
          foreign_id=False, defaults={"users": []}),
    _Kind("client", "Client", "clients", "client",
          {"foreign-id": _S, "name": _S, "contact": _S, "address": _address, "email": _S,
           "client-type": _enum("Organisation", "Person"), "country-code": _S,
           "currency-type": _S, "notes": _S, "accountnr": _I, "payment-days": _I,
           "orgno": _S, "phone": _S, "user": _R, "delivery-type": _S, "vat-nr": _S,
           "gln": _S, "edi-recipient": _S, "template": _R, "approver": _R,
           "dimension-entries": _RL, "client-broker": _list, "active": _B},
          required=("name",),
          defaults={"client-type": "Organisation", "country-code": "SE",
                    "currency-type": "SEK", "accountnr": 0, "payment-days": 30,
                    "active": True, "dimension-entries": []}),
    _Kind("product", "Product", "products", "product",
          {"foreign-id": _S, "name": _S, "type": _enum("Goods", "Services", "DigitalServices"),
           "unit": _S, "price": _M, "ean": _S, "dimension-entries": _RL, "account-nr": _S,
           "vat-percentage": _N, "accounts": _object},
          required=("name",), defaults={"price": 0, "unit": "st", "ean": "",
                                        "vat-percentage": 25.0, "dimension-entries": []}),
    _Kind("invoice", "Client invoice", "client-invoices", "client-invoice",
          {"foreign-id": _S, "po-nr": _S, "client-ref": _R, "end-client": _R,
           "client-invoice-template-ref": _R, "your-reference": _S, "our-reference": _R,
           "approver": _R, "invoice-address": _address, "invoice-email": _S,
           "delivery-name": _S, "delivery-address": _address, "delivery-email": _S,
           "invoice-date": _D, "due-date": _D, "delivery-date": _D, "period": _S,
           "amount": _M, "vat": _M, "currency": _S, "currency-rate": _N, "notes": _S,
           "delivery-type": _S, "vat-nr": _S, "country-code": _S, "disabled": _B,
           "fields": _list, "rows": _rows, "debit-invoice-nr": _I},
          read_only=frozenset({"id", "invoice-nr", "certified", "certified-date", "sent",
                               "remaining", "client-agreement-ref"}),
          required=("client-ref", "invoice-date", "po-nr", "delivery-date", "rows"),
          defaults={"disabled": False, "notes": ""}),
    _Kind("agreement", "Client agreement", "client-agreements", "client-agreement",
          {"foreign-id": _S, "client-ref": _R, "description": _S, "start-date": _D,
           "start-invoice-date": _D, "next-invoice-date": _D, "end-date": _D,
           "renewal-notification-date": _D, "your-reference": _S, "our-reference": _R,
           "approver": _R, "currency": _S, "payment-days": _I,
           "invoice-interval-months": _interval,
           "invoice-day": _S, "po-nr": _S, "agreement-nr": _S, "subscription-nr": _S,
           "accrual-configuration": _object, "notes": _S, "deleted": _B, "fields": _list,
           "first-invoice-rows": _rows, "recurring-rows": _rows},
          read_only=frozenset({"id", "revision-nr", "registration-user",
                               "registration-date"}),
          required=("client-ref", "start-date", "invoice-interval-months",
                    "recurring-rows"),
          defaults={"deleted": False, "notes": "", "po-nr": "", "end-date": "",
                    "invoice-day": "INVOICE_AT_START"}),
    _Kind("client-project", "Client project", "client-project-readables",
          "client-project-readable",
          {"foreign-id": _S, "client": _R, "broker-client": _R, "fixed-price": _B,
           "number": _S, "name": _S, "currency-type": _S, "active": _B,
           "your-reference": _S, "our-reference": _R, "delivery-type": _S, "comment": _S,
           "payment-days": _I, "po-nr": _S, "budget-hours": _N, "budget-amount": _M,
           "status": _enum("Draft", "Open", "Closed"), "opening-date": _D,
           "closing-date": _D, "dimension-entry": _R, "dimensions": _object,
           "default-notes": _S, "fields": _list},
          required=("name",),
          defaults={"fixed-price": False, "currency-type": "SEK", "active": True,
                    "comment": ""}),
)}

_USER_REFS = ("user", "our-reference", "manager-user", "approver")
_CLIENT_REFS = ("client-ref", "client", "end-client", "broker-client")
_ROW_LISTS = ("rows", "recurring-rows", "first-invoice-rows")
_ENTRY_IDS = frozenset(e["id"] for entries in seed.DIMENSION_ENTRIES.values()
                       for e in entries)
_SCHEDULE_IDS = {s["id"]: s for s in seed.SCHEDULES}
_INVOICE_FILTERS = ("all", "certified", "uncertified", "paid", "unpaid", "overdue")
_DEFAULT_PAGE_LIMIT = 100
_MAX_PAGE_LIMIT = 1000
_MAX_SCHEDULE_DAYS = 366

# --------------------------------------------------------------------------- replies


class _Fail(Exception):
    """Answer with Kleer's error body `{"message": ...}` and `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Reply:
    """What a handler answers: rendered as JSON or XML by `KleerSandbox._render`.

    `wrapped` bodies (lists, `created`/`saved`) sit under `root` in JSON too
    (`{"users": [...]}`); single records are the bare object in JSON.
    """

    root: str
    body: Any
    status: int = 200
    wrapped: bool = False
    attributes: dict[str, Any] | None = None


def _error(status: int, message: str) -> _Reply:
    return _Reply("error", {"message": message}, status)


_SINGULAR = {
    "users": "user", "payroll-user-readables": "payroll-user-readable",
    "suppliers": "supplier", "subcontractor-readables": "subcontractor-readable",
    "clients": "client", "dimensions": "dimension", "dimension-entries": "dimension-entry",
    "products": "product", "client-invoices": "client-invoice",
    "client-agreements": "client-agreement",
    "client-project-readables": "client-project-readable", "rows": "row",
    "recurring-rows": "row", "first-invoice-rows": "row", "schedules": "schedule",
    "payroll-fixed-schedule-readables": "payroll-fixed-schedule-readable",
    "payroll-user-schedule-metadatas": "payroll-user-schedule-metadata",
}


def _xml(name: str, value: Any, out: list[str], attributes: str = "") -> None:
    if value is None:
        return
    if isinstance(value, dict):
        out.append(f"<{name}{attributes}>")
        for key, item in value.items():
            _xml(key, item, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        out.append(f"<{name}{attributes}>")
        child = _SINGULAR.get(name, name[:-1] if name.endswith("s") else name)
        for item in value:
            _xml(child, item, out)
        out.append(f"</{name}>")
    elif isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def _render_xml(reply: _Reply) -> bytes:
    attributes = "".join(f" {k}={quoteattr(str(v))}"
                         for k, v in (reply.attributes or {}).items())
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    _xml(reply.root, reply.body, out, attributes)
    return "".join(out).encode()


def _wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return False
    accept = request.headers.get("accept", "").lower()
    return not accept.strip() or "application/json" in accept or "*/*" in accept


def _public(record: Record) -> Record:
    """The record as Kleer prints it: private keys gone, client-project ids wrapped.

    Only payroll contracts and client projects carry `_id`; a contract names its user
    (`user: {id}`) instead of having an id of its own, a project wraps it.
    """
    if "_id" not in record:
        return record
    out: Record = {}
    if "user" not in record:
        out["id"] = {"id": record["_id"]}
    out.update((k, v) for k, v in record.items() if not k.startswith("_"))
    return out


def _parse_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Fail(400, f'Parameter "{name}": "{text}" is not a date YYYY-MM-DD') from None


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise _Fail(400, f'Parameter "{name}": expected a non-negative integer')
    return int(raw)


Handler = Callable[[Request, Any], _Reply]


# --------------------------------------------------------------------------- the sandbox


class KleerSandbox(Sandbox):
    """Kleer's REST API over generated data; see the module docstring for the routes.

    Options (`SandboxConfig.options`): `kleer_rate_limit` (requests per second per
    token, default 5).
    """

    vendor = "kleer"

    credentials_type = KleerCredentials
    curl_example = CURL_EXAMPLE
    credentials: KleerCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: KleerCredentials | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        self.counts = seed.KleerCounts.for_records(cfg.records)
        self.company_id = self.credentials.company_id
        sizes = {"user": self.counts.users, "supplier": self.counts.suppliers,
                 "subcontractor": self.counts.subcontractors, "client": self.counts.clients,
                 "product": self.counts.products, "invoice": self.counts.invoices,
                 "agreement": self.counts.agreements,
                 "client-project": self.counts.client_projects}
        factories = {"user": seed.user_record, "supplier": seed.supplier_record,
                     "subcontractor": seed.subcontractor_record,
                     "client": seed.client_record, "product": seed.product_record,
                     "invoice": seed.invoice_record, "agreement": seed.agreement_record,
                     "client-project": seed.client_project_record}
        self.store: dict[str, Collection] = {
            name: self._collection(name, sizes[name], factories[name])
            for name in sizes
        }
        counts, seed_value = self.counts, cfg.seed
        self.store["payroll"] = Collection(
            "payroll", key="_id", size=counts.contracts,
            factory=lambda j: seed.payroll_record(seed_value, j, counts),
            clock=self.clock, index_of=self._contract_index)
        self._next_index = dict(sizes)
        self._foreign: dict[str, dict[str, Any]] = {name: {} for name in self.store}
        limit = int(cfg.options.get("kleer_rate_limit", 5))
        self.rate_limiter = RateLimiter(limit, 1.0, self.clock)

    def _collection(self, name: str, size: int,
                    factory: Callable[[int, int, seed.KleerCounts], Record]) -> Collection:
        counts, seed_value = self.counts, self.config.seed
        return Collection(
            name, key="_id" if name == "client-project" else "id", size=size,
            factory=lambda i: factory(seed_value, i, counts), clock=self.clock,
            index_of=lambda record_id: seed.base_index(name, record_id))

    def _contract_index(self, user_id: Any) -> int | None:
        index = seed.base_index("user", user_id)
        if index is None or index >= self.counts.users:
            return None
        return seed.contract_index_for_user(index)

    # -- Sandbox hooks

    def routes(self) -> list[BaseRoute]:
        table: dict[str, dict[str, Handler]] = {
            "/info": {"GET": self._info},
            "/user/me": {"GET": self._user_me},
            "/user/foreign-id/{foreign_id:path}": {"GET": self._user_by_foreign_id},
            "/payroll/user": {"GET": self._payroll_list},
            "/payroll/user/{user_id:int}": {"GET": self._payroll_get,
                                            "POST": self._payroll_save},
            "/payroll/user/{user_id:int}/schedule/{start}/to/{end}":
                {"GET": self._payroll_schedule},
            "/payroll/schedule": {"GET": self._schedules},
            "/payroll/schedule/{schedule_id:int}": {"GET": self._schedule},
            "/dimension": {"GET": self._dimensions},
            "/dimension/{dimension_id:int}/entry": {"GET": self._dimension_entries},
            "/client/invoice": {"GET": self._invoice_list},
        }
        paths = {"user": "/user", "supplier": "/supplier", "subcontractor": "/subcontractor",
                 "client": "/client", "product": "/product", "invoice": "/client/invoice",
                 "agreement": "/client/agreement", "client-project": "/client-project"}
        for name, path in paths.items():
            kind = _KINDS[name]
            collection = table.setdefault(path, {})
            collection.setdefault("GET", self._lister(kind))
            collection["PUT"] = self._creator(kind)
            item = table.setdefault(path + "/{record_id:int}", {})
            item["GET"] = self._getter(kind)
            if name != "invoice":  # invoices are created, then certified in Kleer's UI
                item["POST"] = self._updater(kind)
        # One route per path, so a wrong method is a 405 whose Allow lists them all.
        routes: list[BaseRoute] = [
            Route(path, self._endpoint(handlers), methods=list(handlers))
            for path, handlers in table.items()
        ]
        vendor = Starlette(routes=routes,
                           exception_handlers={HTTPException: self._http_exception})
        return [Mount("/v1/company/{company_id:int}", app=vendor)]

    def control_routes(self) -> list[BaseRoute]:
        return [Route("/records/{object}/{record_id:int}", self._control_record,
                      methods=["PATCH", "DELETE", "GET"])]

    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"message": message}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        return JSONResponse({"message": "Too many requests, slow down"}, status_code=429,
                            headers={"Retry-After": str(retry_after)})

    def health(self) -> dict[str, Any]:
        return {"records": {name: len(store) for name, store in self.store.items()}}

    # -- plumbing

    def _render(self, reply: _Reply, as_json: bool) -> Response:
        if not as_json:
            return Response(_render_xml(reply), status_code=reply.status,
                            media_type="application/xml")
        body = {reply.root: reply.body, **(reply.attributes or {})} if reply.wrapped \
            else reply.body
        return JSONResponse(body, status_code=reply.status)

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code,
                                                                   str(exc.detail))
        response = self._render(_error(exc.status_code, message), _wants_json(request))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    def _endpoint(self, handlers: dict[str, Handler]
                  ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            handler = handlers["GET" if request.method == "HEAD" else request.method]
            as_json = _wants_json(request)
            try:
                token = self._authorize(request)
                if self.config.rate_limits:
                    decision = self.rate_limiter.check(token)
                    if not decision.allowed:
                        return self.too_many_requests_response(decision)
                body = await self._body(request)
                reply = handler(request, body)
            except _Fail as fail:
                reply = _error(fail.status, fail.message)
            except _Invalid as invalid:
                reply = _error(400, str(invalid))
            return self._render(reply, as_json)
        return endpoint

    def _authorize(self, request: Request) -> str:
        token = request.headers.get("x-token", "")
        if not token or not hmac.compare_digest(token.encode(),
                                                self.credentials.token.encode()):
            raise _Fail(401, "Unauthorized: missing or invalid X-Token")
        if request.path_params.get("company_id") != self.company_id:
            raise _Fail(403, "Access denied: the token does not grant this company")
        return token

    async def _body(self, request: Request) -> Any:
        if request.method not in ("PUT", "POST"):
            return None
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            if not raw.strip():
                return None
            raise _Fail(415, "The sandbox only accepts JSON bodies: send Content-Type "
                             "and Accept application/json")
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            raise _Fail(400, f"Malformed JSON: {exc}") from None

    # -- generic CRUD

    def _lister(self, kind: _Kind) -> Handler:
        store = self.store[kind.name]

        def handler(request: Request, body: Any) -> _Reply:
            records: Iterable[Record] = store.iter()
            if kind.name == "client-project":
                wanted = request.query_params.get("filter")
                if wanted not in (None, "", "active"):
                    raise _Fail(400, f'Unknown filter "{wanted}"; the only filter is "active"')
                if wanted == "active":
                    records = (r for r in records if r.get("active"))
            return _Reply(kind.list_root, [_public(r) for r in records], wrapped=True)
        return handler

    def _getter(self, kind: _Kind) -> Handler:
        def handler(request: Request, body: Any) -> _Reply:
            record = self._require(kind, request.path_params["record_id"])
            return _Reply(kind.item_root, _public(record))
        return handler

    def _creator(self, kind: _Kind) -> Handler:
        def handler(request: Request, body: Any) -> _Reply:
            if not isinstance(body, dict):
                raise _Invalid("Expected a JSON object")
            if kind.foreign_id and body.get("foreign-id") is None:
                # Kleer's observed answer to a create without foreign-id.
                raise _Fail(500, "Tekniskt fel")
            values = _fields(body, kind.schema, kind.read_only)
            missing = [name for name in kind.required if name not in values]
            if missing:
                raise _Invalid(f'Field "{missing[0]}" is required')
            record = {**json.loads(json.dumps(kind.defaults)), **values}
            self._check(kind, record)
            store = self.store[kind.name]
            index = self._next_index[kind.name]
            record_id = seed.base_id(kind.name, index)
            self._next_index[kind.name] = index + 1
            record = {store.key: record_id, **record}
            self._derive(kind, record, None, index)
            self._save(kind, record, None)
            return _Reply("created", {"id": record_id}, wrapped=True)
        return handler

    def _updater(self, kind: _Kind) -> Handler:
        def handler(request: Request, body: Any) -> _Reply:
            record_id = request.path_params["record_id"]
            current = self._require(kind, record_id)
            values = _fields(body, kind.schema, kind.read_only)
            record = {**current, **values}
            self._check(kind, record)
            self._derive(kind, record, current, None)
            self._save(kind, record, current)
            return _Reply("saved", {"id": record_id}, wrapped=True)
        return handler

    def _require(self, kind: _Kind, record_id: Any) -> Record:
        record = self.store[kind.name].get(record_id)
        if record is None:
            raise _Fail(404, f"{kind.label} {record_id} not found")
        return record

    def _save(self, kind: _Kind, record: Record, previous: Record | None) -> Record:
        store = self.store[kind.name]
        stored = store.put(record)
        foreign = self._foreign[kind.name]
        if previous is not None and previous.get("foreign-id"):
            foreign.pop(previous["foreign-id"], None)
        if stored.get("foreign-id"):
            foreign[stored["foreign-id"]] = stored[store.key]
        return stored

    def _check(self, kind: _Kind, record: Record) -> None:
        """Blank names and references to records that do not exist are 400s."""
        for name in ("name", "email", "ssn"):
            if name in record and name in kind.required and not str(record[name]).strip():
                raise _Invalid(f'Field "{name}" must not be empty')
        for name in _USER_REFS:
            ref = record.get(name)
            if ref and ref["id"] != 0 and ref["id"] not in self.store["user"]:
                raise _Invalid(f'Field "{name}": User {ref["id"]} does not exist')
        for name in _CLIENT_REFS:
            ref = record.get(name)
            if ref and ref["id"] not in self.store["client"]:
                raise _Invalid(f'Field "{name}": Client {ref["id"]} does not exist')
        if kind.name == "subcontractor":
            if record["supplier"]["id"] not in self.store["supplier"]:
                raise _Invalid(f'Field "supplier": Supplier {record["supplier"]["id"]} '
                               "does not exist")
            for ref in record.get("users", []):
                if ref["id"] not in self.store["user"]:
                    raise _Invalid(f'Field "users": User {ref["id"]} does not exist')
        for ref in record.get("dimension-entries", []):
            if ref["id"] not in _ENTRY_IDS:
                raise _Invalid(f'Field "dimension-entries": Dimension entry {ref["id"]} '
                               "does not exist")
        for rows in _ROW_LISTS:
            for n, row in enumerate(record.get(rows, [])):
                product = row.get("product")
                if product and product["id"] not in self.store["product"]:
                    raise _Invalid(f'Field "{rows}[{n}].product": Product {product["id"]} '
                                   "does not exist")
        for n, item in enumerate(record.get("schedules", [])):
            if item["schedule"]["id"] not in _SCHEDULE_IDS:
                raise _Invalid(f'Field "schedules[{n}].schedule": Schedule '
                               f'{item["schedule"]["id"]} does not exist')

    def _derive(self, kind: _Kind, record: Record, previous: Record | None,
                index: int | None) -> None:
        """Server-side fields: numbers, sums, revisions, defaults taken from the client."""
        if kind.name == "user" and previous is None:
            record.setdefault("internal-id", 100 + (index or 0))
        elif kind.name == "subcontractor" and previous is None:
            record["internal-id"] = 500 + (index or 0)
        elif kind.name == "invoice":
            self._derive_invoice(record)
        elif kind.name == "agreement":
            client = self.store["client"].get(record["client-ref"]["id"]) or {}
            record["revision-nr"] = 1 if previous is None else previous["revision-nr"] + 1
            record.setdefault("start-invoice-date", record["start-date"])
            record.setdefault("next-invoice-date", record["start-invoice-date"])
            record.setdefault("currency", client.get("currency-type", "SEK"))
            record.setdefault("payment-days", client.get("payment-days", 30))
        elif kind.name == "client-project" and previous is None:
            record.setdefault("number", str(1001 + (index or 0)))
            if "status" not in record:
                closing = record.get("closing-date")
                today = self.clock.now().date().isoformat()
                record["status"] = ("Closed" if closing and closing <= today
                                    else "Open" if record.get("opening-date") else "Draft")

    def _derive_invoice(self, record: Record) -> None:
        client = self.store["client"].get(record["client-ref"]["id"]) or {}
        amount = vat = 0
        for n, row in enumerate(record["rows"], start=1):
            row_amount = round(row["quantity"] * row["price"])
            discount = row.get("discount") or {}
            if isinstance(discount.get("absolute"), int):
                row_amount -= discount["absolute"]
            elif isinstance(discount.get("percentage"), int | float):
                row_amount = round(row_amount * (1 - discount["percentage"] / 100))
            row.setdefault("vat", 0.25)
            row["id"] = record["id"] * 10 + n
            amount += row_amount
            vat += round(row_amount * row["vat"])
        record["amount"], record["vat"] = amount, vat
        invoice_date = date.fromisoformat(record["invoice-date"])
        record.setdefault("due-date", (invoice_date + timedelta(
            days=int(client.get("payment-days", 30)))).isoformat())
        record.setdefault("currency", client.get("currency-type", "SEK"))
        record.setdefault("your-reference", client.get("contact", ""))
        record.setdefault("our-reference", {"id": 0})
        if "address" in client:
            record.setdefault("invoice-address", client["address"])
        record.setdefault("invoice-email", client.get("email", ""))
        record.update({"invoice-nr": 0, "certified": False, "sent": False,
                       "remaining": amount + vat})

    # -- company, users

    def _info(self, request: Request, body: Any) -> _Reply:
        return _Reply("company", {"id": self.company_id, **seed.COMPANY_INFO})

    def _user_me(self, request: Request, body: Any) -> _Reply:
        return _Reply("user", self._require(_KINDS["user"], seed.base_id("user", 0)))

    def _user_by_foreign_id(self, request: Request, body: Any) -> _Reply:
        foreign_id = request.path_params["foreign_id"]
        record_id = self._foreign["user"].get(foreign_id)
        record = self.store["user"].get(record_id) if record_id is not None else None
        if record is None or record.get("foreign-id") != foreign_id:
            raise _Fail(404, f'No user with foreign-id "{foreign_id}"')
        return _Reply("user", record)

    # -- payroll

    def _payroll_list(self, request: Request, body: Any) -> _Reply:
        return _Reply("payroll-user-readables",
                      [_public(r) for r in self.store["payroll"].iter()], wrapped=True)

    def _contract(self, user_id: int) -> Record:
        self._require(_KINDS["user"], user_id)
        contract = self.store["payroll"].get(user_id)
        if contract is None:
            raise _Fail(404, f"User {user_id} has no payroll information")
        return contract

    def _payroll_get(self, request: Request, body: Any) -> _Reply:
        return _Reply("payroll-user-readable",
                      _public(self._contract(request.path_params["user_id"])))

    def _payroll_save(self, request: Request, body: Any) -> _Reply:
        user_id = request.path_params["user_id"]
        kind = _KINDS["payroll"]
        self._require(_KINDS["user"], user_id)
        current = self.store["payroll"].get(user_id)
        values = _fields(body, kind.schema, kind.read_only)
        if current is None:
            missing = [name for name in kind.required if name not in values]
            if missing:
                raise _Invalid(f'Field "{missing[0]}" is required to create a payroll '
                               "contract")
        if "ssn" in values and not valid_personal_number(values["ssn"]):
            # Never echo the number itself: it is personal data.
            raise _Invalid('Field "ssn": not a valid personal identity number')
        record: Record = {"_id": user_id, "user": {"id": user_id}}
        record.update(current or json.loads(json.dumps(kind.defaults)))
        end = values.pop("employment-end-date", None)
        record.update(values)
        if end == "":
            record.pop("employment-end-date", None)
        elif end is not None:
            record["employment-end-date"] = end
        self._check(kind, record)
        self._save(kind, record, current)
        return _Reply("saved", {"id": user_id}, wrapped=True)

    def _schedules(self, request: Request, body: Any) -> _Reply:
        return _Reply("payroll-fixed-schedule-readables", seed.SCHEDULES, wrapped=True)

    def _schedule(self, request: Request, body: Any) -> _Reply:
        found = _SCHEDULE_IDS.get(request.path_params["schedule_id"])
        if found is None:
            raise _Fail(404, f"Schedule {request.path_params['schedule_id']} not found")
        return _Reply("payroll-fixed-schedule-readable", found)

    def _payroll_schedule(self, request: Request, body: Any) -> _Reply:
        """Per-day `payroll-user-schedule-metadata`: the employment rate on each date."""
        contract = self._contract(request.path_params["user_id"])
        start = _parse_date("from", request.path_params["start"])
        end = _parse_date("to", request.path_params["end"])
        if end < start or (end - start).days >= _MAX_SCHEDULE_DAYS:
            raise _Fail(400, f"The period must run forwards and span at most "
                             f"{_MAX_SCHEDULE_DAYS} days")
        return _Reply("payroll-user-schedule-metadatas",
                      list(_schedule_days(contract, start, end)), wrapped=True)

    # -- dimensions

    def _dimensions(self, request: Request, body: Any) -> _Reply:
        return _Reply("dimensions", seed.DIMENSIONS, wrapped=True)

    def _dimension_entries(self, request: Request, body: Any) -> _Reply:
        dimension_id = request.path_params["dimension_id"]
        entries = seed.DIMENSION_ENTRIES.get(dimension_id)
        if entries is None:
            raise _Fail(404, f"Dimension {dimension_id} not found")
        return _Reply("dimension-entries", entries, wrapped=True)

    # -- invoices

    def _invoice_list(self, request: Request, body: Any) -> _Reply:
        params = request.query_params
        offset = _int_param(request, "offset", 0)
        limit = _int_param(request, "limit", _DEFAULT_PAGE_LIMIT)
        if not 1 <= limit <= _MAX_PAGE_LIMIT:
            raise _Fail(400, f'Parameter "limit": expected 1..{_MAX_PAGE_LIMIT}')
        status = params.get("filter") or "all"
        if status not in _INVOICE_FILTERS:
            raise _Fail(400, f'Parameter "filter": expected one of '
                             f'{", ".join(_INVOICE_FILTERS)}')
        lower = params.get("invoiceDateLower")
        upper = params.get("invoiceDateUpper")
        lower_date = _parse_date("invoiceDateLower", lower) if lower else None
        upper_date = _parse_date("invoiceDateUpper", upper) if upper else None
        query = (params.get("query") or "").strip().lower()
        store = self.store["invoice"]
        if status == "all" and not (lower_date or upper_date or query):
            page, size = store.page(offset, limit), len(store)
        else:
            today = self.clock.now().date().isoformat()
            # Status and date filters scan cheap summaries; the page is then read in full.
            counts, seed_value = self.counts, self.config.seed
            scan = None if query or status == "overdue" else (
                lambda i: seed.invoice_summary(seed_value, i, counts))
            matches = (r for r in store.iter(scan)
                       if _invoice_matches(r, status, lower_date, upper_date, query, today,
                                           self._client_name))
            page, size = [], 0
            for record in matches:
                if offset <= size < offset + limit:
                    page.append(record if "paid" not in record else store.get(record["id"]))
                size += 1
        return _Reply("client-invoices", page, wrapped=True,
                      attributes={"offset": offset, "limit": limit, "size": size})

    def _client_name(self, client_id: int) -> str:
        client = self.store["client"].get(client_id)
        return str(client.get("name", "")) if client else ""

    # -- control

    async def _control_record(self, request: Request) -> Response:
        name = request.path_params["object"]
        record_id = request.path_params["record_id"]
        kind = _KINDS.get(name)
        if kind is None:
            return JSONResponse({"error": f"unknown object {name!r}; known: "
                                 f"{', '.join(sorted(_KINDS))}"}, status_code=404)
        store = self.store[name]
        current = store.get(record_id)
        if current is None:
            return JSONResponse({"error": f"{name} {record_id} not found"}, status_code=404)
        if request.method == "GET":
            return JSONResponse(_public(current))
        if request.method == "DELETE":
            store.delete(record_id)
            if current.get("foreign-id"):
                self._foreign[name].pop(current["foreign-id"], None)
            return Response(status_code=204)
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise _Invalid("expected a JSON object of field changes")
            unknown = sorted(set(changes) - set(kind.schema) - kind.read_only - {"id"})
            if unknown:
                raise _Invalid(f"unknown field(s) for {name}: {', '.join(unknown)}")
            checked = {k: kind.schema[k](k, v) for k, v in changes.items()
                       if k in kind.schema and v is not None
                       and k != "employment-end-date"}
            raw = {k: v for k, v in changes.items() if k not in checked and k != "id"}
            record = {**current, **raw, **checked}
            if name == "agreement" and "revision-nr" not in changes:
                record["revision-nr"] = current["revision-nr"] + 1
            self._check(kind, record)
        except (ValueError, _Invalid) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        stored = self._save(kind, record, current)
        return JSONResponse(_public(stored))


def _invoice_matches(record: Record, status: str, lower: date | None, upper: date | None,
                     query: str, today: str, client_name: Callable[[int], str]) -> bool:
    certified = record.get("certified")
    # A generated summary (see seed.invoice_summary) carries `paid` instead of amounts.
    paid = record["paid"] if "paid" in record else record.get("remaining", 0) == 0
    if status == "certified" and not certified:
        return False
    if status == "uncertified" and certified:
        return False
    if status == "paid" and not (certified and paid):
        return False
    if status == "unpaid" and not (certified and not paid):
        return False
    if status == "overdue" and not (certified and not paid
                                    and record.get("due-date", "") < today):
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


def _schedule_days(contract: Record, start: date, end: date) -> Iterator[Record]:
    employed_from = contract.get("employment-start-date", "")
    employed_to = contract.get("employment-end-date") or "9999-12-31"
    day = start
    while day <= end:
        text = day.isoformat()
        level, hours = 0.0, 0.0
        if employed_from <= text <= employed_to:
            for item in contract.get("schedules", []):
                if item["start-date"] <= text and (not item.get("end-date")
                                                   or text <= item["end-date"]):
                    schedule = _SCHEDULE_IDS.get(item["schedule"]["id"])
                    if schedule is not None:
                        level = schedule["level-of-employment"]
                        if day.weekday() < schedule["days-per-week"]:
                            hours = schedule["hours-per-week"] / schedule["days-per-week"]
        yield {"date": text, "level-of-employment": level, "gross-hours": hours,
               "net-hours": hours, "actual-hours": hours}
        day += timedelta(days=1)
