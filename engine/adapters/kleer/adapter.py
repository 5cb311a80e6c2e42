"""Kleer (REST v1, JSON): users, subcontractors, clients, projects, products, invoices.

Facts this adapter relies on, each with its source: the contract is
tests/contracts/kleer/ (kleer-v1.xsd, Kleer's published XML Schema, and routes.py, the
routes with the real client lines that send them); "unconfirmed" where neither shows it.

Connection and format
- One static token in `X-Token`; every resource under `/v1/company/{companyId}`
  (`options["company_id"]`): Orneholm PeaApiDefaults.cs:7-8,
  PeaApiCompanyHttpClient.cs:53; toki2 kleer/src/client.rs:264,272.
- JSON needs both `Accept` and `Content-Type: application/json`, on GETs too (Kleer
  answers XML otherwise): toki2 client.rs:265-267, .docs/kleer.md:31.
- JSON is the XSD's elements: no root element; repeated elements are arrays under the
  plural (`{"users": [...]}`, `activities`): toki2 kleer/src/types.rs:104-107,150-161;
  najlen restclient.py:37,49. A wrapper holding only a repeated element
  (`recurring-rows`, `dimension-entries`) is written as a bare array: unconfirmed
  (apis.md 3.4); reads accept the object form too.
- 5 requests per second per token: unconfirmed (Kleer publishes none);
  `config.rate_limit` overrides.

Reads
- Lists are unpaged except client invoices, whose `client-invoices` extends
  `paged-result` (offset/limit/size attributes, kleer-v1.xsd); the query parameter names
  `offset`/`limit` are unconfirmed (no client sends them). `ignoreFiles=true`: Orneholm
  Filters/ClientInvoiceFilter.cs:37.
- No change timestamps and no "modified since" on any v1 route (the contract has no such
  parameter; `updatedAfter` belongs to Kleer's newer API): `since` is refused, the
  engine reads in full and compares hashes.
- Money is integer cents (XSD comments "In cent"; Orneholm ClientInvoiceRowCreate.cs:11-14).
- Users are joined with their payroll contract (`GET /payroll/user`, najlen
  restclient.py:49; `payroll-user-readable`) under `payroll`; a user's phone exists only
  there (`user` has none, kleer-v1.xsd). `level-of-employment` is the current
  schedule's (`GET /payroll/schedule`: path unconfirmed; `payroll-schedules-readable`,
  `fixed-schedules`/`rolling-schedules`; a percentage: unconfirmed).
- Categories are the names of a record's dimension entries (`GET /dimension`,
  `/dimension/{id}/entry`: Orneholm PeaApi.cs:198,206); a user's are its
  `dimension-entry` and `dimensions` (kleer-v1.xsd `user`).
- Subcontractors: `GET /subcontractor` (unconfirmed; `subcontractor-readable`), one
  record per (subcontractor, user), the supplier (`GET /supplier`, Orneholm PeaApi.cs:58
  @30bf108) joined under `supplier`.
- Client-project readables wrap their id, `{"id": {"id": n}}` (XSD
  `client-project-reference`; toki2 types.rs:142). `GET /client-project`: Orneholm
  PeaApi.cs:81; `/{id}`: PeaApi.cs:87.
- `GET /client/{id}`, `/client/invoice/{id}`, `/client/agreement` and
  `/client/agreement/{id}`: unconfirmed (`check()` probes them).
- Invoice and agreement rows are their own objects, ids `"<parent id>-<row number>"`.

Writes (see `bodies` for the bodies)
- Create is `PUT` on the collection (Orneholm PeaApi.cs:172-173; ridem client.rb:53-54;
  toki2 client.rs:158), answered `created`, `{"id": n}` (toki2 client.rs:154-159,
  types.rs:300-303): never re-sent blindly (not idempotent). Update is `POST` on the item
  (ridem README.md:39-43; Aboard KleerService.cs; toki2 client.rs:166), answered
  `saved`. Both send the whole record, every XSD-required element (a missing one is
  Kleer's "Tekniskt fel" 500, toki2 .docs/kleer.md:76); an update reads the record first.
- Client projects (`PUT /client-project`, `POST /client-project/{id}`: unconfirmed
  routes; `client-project-writeable`) have no `foreign-id`: the key a sync or workflow
  action keeps in Kleer goes in the required `number`, and `find_external` matches it
  by scanning the list (more than one match fails the record). `client`, `fixed-price`
  and `name` "can only be set when creating" (XSD). `status` is readable only; closing or
  reopening "is another operation" (XSD `closing-date`) that no public client shows, so
  a write that changes it fails the record (`vendor.unsupported`) after the other
  fields are written, until someone changes it in Kleer.
- Client agreements: `PUT /client/agreement` (unconfirmed); an update posts
  `update-client-agreement`, the whole agreement in a wrapper, to
  `POST /client/agreement/{id}` (path unconfirmed; body and answer
  `update-client-agreement-result {revision-nr}` from kleer-v1.xsd). It carries the
  revision it read; a 409 (a revision changed meanwhile, unconfirmed) re-reads and
  tries once more. `start-date` is deprecated and ignored (XSD): `start-invoice-date`.
- Invoices are created only (Kleer certifies them in its UI; no update route in the
  contract). Every row needs a product (`client-invoice-row.product`). An invoice or
  agreement takes its client's address, e-mail, currency and terms (`GET /client/{id}`)
  and, when the client names no currency, the company's `accounting-currency`
  (`GET /info`, `company-information`).
- Users are updated whole (`POST /user/{id}`: Aboard KleerService.cs, UpdateProfileAsync);
  products through `PUT /product` and `POST /product/{id}` (unconfirmed).
- No batch endpoints: one call per op.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx

from engine.adapters.base import (
    AdapterContext,
    CheckResult,
    ConnectionConfig,
    Record,
    WriteOp,
    WriteResult,
)
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession, vendor_reason
from engine.adapters.kleer import bodies, shapes
from engine.adapters.kleer.probe import probe_routes
from engine.adapters.kleer.shapes import array, items, unwrap_id
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RecordError

__all__ = ["KleerAdapter"]

DEFAULT_RATE_LIMIT = (5, 1.0)
INVOICE_PAGE_SIZE = 500

Sleep = Callable[[float], Awaitable[object]]

# catalog object -> (collection path, list element: its items are under its plural)
_PATHS: dict[str, tuple[str, str]] = {
    "users": ("user", "user"),
    "suppliers": ("supplier", "supplier"),
    "subcontractors": ("subcontractor", "subcontractor-readable"),
    "clients": ("client", "client"),
    "client_projects": ("client-project", "client-project-readable"),
    "products": ("product", "product"),
    "invoices": ("client/invoice", "client-invoice"),
    "agreements": ("client/agreement", "client-agreement"),
}
# Row objects: row object -> (parent object, parent's row list, parent reference key).
_ROWS: dict[str, tuple[str, str, str]] = {
    "invoice_rows": ("invoices", "rows", "invoice"),
    "agreement_rows": ("agreements", "recurring-rows", "agreement"),
}
# Statuses that reject one record rather than the run.
_REJECTED = (400, 404, 409, 422)
_FIELD_IN_MESSAGE = re.compile(r'[Ff]ield "([^"]+)"')
_CLOSE_MESSAGE = (
    "Kleer changes a client project's status (closing or reopening it) by a separate "
    "operation that its public API clients do not show, so specsync cannot change "
    "project {id} from {old} to {new}: change it in Kleer; the other fields were written")


class _Lookups:
    """What one read joins onto records: dimension entry names, schedules."""

    def __init__(self) -> None:
        self.entry_names: dict[int, str] | None = None
        self.schedules: dict[int, float] | None = None


def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.kleer import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class KleerAdapter:
    """The Kleer system; see the module docstring. One instance per connection."""

    name = "kleer"

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient,
                 context: AdapterContext, *, retry: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.context = context
        token = config.auth.get("token")
        if not token:
            raise FatalError(f"kleer connection {config.name!r}: auth needs a token")
        company = config.options.get("company_id")
        if company in (None, ""):
            raise FatalError(f"kleer connection {config.name!r}: options need company_id")
        self._token = token
        self._base = f"/v1/company/{company}"
        context.redactor.add(token)
        catalog = _catalog()
        assert catalog is not None
        self._catalog = catalog
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        self.session = HttpSession(
            client, name="kleer",
            budget=context.budgets.for_credential(f"kleer:{token}", limit, per),
            retry=retry or RetryPolicy(), redactor=context.redactor, auth=self._authorize,
            sleep=sleep)
        self._totals: dict[str, int] = {}
        self._accounting_currency: str | None = None

    def __repr__(self) -> str:
        return f"KleerAdapter({self.config.name!r}, base={self._base!r})"

    async def _authorize(self, request: httpx.Request) -> None:
        request.headers["X-Token"] = self._token
        request.headers["Accept"] = "application/json"
        request.headers["Content-Type"] = "application/json"

    def _today(self) -> date:
        now = self.context.now
        return (now() if now is not None else datetime.now(UTC)).date()

    # ------------------------------------------------------------------ protocol

    def describe(self) -> Catalog:
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self._catalog.objects.get(obj)
        if info is None:
            raise FatalError(f"kleer has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self._catalog.objects))}")
        return info

    async def check(self) -> CheckResult:
        """Authenticate (`GET /info`), then probe, by reading only, the routes the
        contract only assumes; say which this tenant confirmed and what cannot be done."""
        try:
            response = await self.session.request("GET", f"{self._base}/info")
            info = response.json()
        except FatalError as exc:
            if exc.status == 401:
                return CheckResult(False, "Kleer refused the token (401): check the X-Token "
                                          "issued by Kleer support.")
            if exc.status == 403:
                return CheckResult(False, "Kleer accepted the token but not for this "
                                          "company (403): check options.company_id.")
            return CheckResult(False, f"Kleer refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"Kleer is unreachable: {type(exc).__name__}: "
                                      f"{self.context.redactor.text(str(exc))}")
        name = info.get("name") if isinstance(info, Mapping) else None
        company = name or self._base.rsplit("/", 1)[-1]
        found = await probe_routes(self.session, self._base, self.context.redactor)
        return CheckResult(found.ok, f"Authenticated with Kleer for company {company}. "
                                     f"{found.message}")

    def total(self, obj: str) -> int | None:
        """Invoices: Kleer's `size`; other objects: the count of the last full read."""
        return self._totals.get(obj)

    def max_batch(self, obj: str) -> int:
        return 1

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    # ------------------------------------------------------------------ raw access

    async def _get_json(self, tail: str, *, params: Mapping[str, Any] | None = None,
                        missing_ok: bool = False) -> Any:
        response = await self.session.request("GET", f"{self._base}/{tail}", params=params,
                                              expected=(404,) if missing_ok else ())
        if response.status_code == 404:
            return None
        return response.json()

    async def _list(self, obj: str) -> list[dict[str, Any]]:
        path, element = _PATHS[obj]
        return items(await self._get_json(path), element)

    async def _raw(self, obj: str) -> AsyncIterator[dict[str, Any]]:
        """Every vendor record of `obj`; invoices page, the rest come in one answer."""
        if obj != "invoices":
            found = await self._list(obj)
            self._totals[obj] = len(found)
            for item in found:
                yield item
            return
        path, element = _PATHS[obj]
        offset = 0
        while True:
            body = await self._get_json(path, params={"offset": offset,
                                                      "limit": self._page_size(),
                                                      "ignoreFiles": "true"})
            page = items(body, element)
            size = int(body.get("size") or 0) if isinstance(body, Mapping) else 0
            self._totals[obj] = size
            for item in page:
                yield item
            offset += len(page)
            if not page or offset >= size:
                return

    def _page_size(self) -> int:
        return int(self.config.options.get("page_size", INVOICE_PAGE_SIZE))

    async def _entry_names(self, lookups: _Lookups) -> dict[int, str]:
        if lookups.entry_names is None:
            names: dict[int, str] = {}
            for dimension in items(await self._get_json("dimension"), "dimension"):
                entries = await self._get_json(f"dimension/{dimension['id']}/entry",
                                               missing_ok=True)
                for entry in items(entries, "dimension-entry"):
                    names[int(entry["id"])] = str(entry.get("name", ""))
            lookups.entry_names = names
        return lookups.entry_names

    async def _schedule_levels(self, lookups: _Lookups) -> dict[int, float]:
        if lookups.schedules is None:
            body = await self._get_json("payroll/schedule", missing_ok=True)
            levels: dict[int, float] = {}
            for element in ("fixed-schedule", "rolling-schedule"):
                for schedule in items(body, element):
                    if schedule.get("level-of-employment") is not None:
                        levels[int(schedule["id"])] = float(schedule["level-of-employment"])
            lookups.schedules = levels
        return lookups.schedules

    async def _suppliers(self) -> dict[int, dict[str, Any]]:
        return {int(s["id"]): s for s in await self._list("suppliers")}

    async def _contracts(self) -> dict[int, dict[str, Any]]:
        body = await self._get_json("payroll/user")
        out: dict[int, dict[str, Any]] = {}
        for contract in items(body, "payroll-user-readable"):
            user = unwrap_id(contract.get("user"))
            if user is not None:
                out[int(user)] = contract
        return out

    # ------------------------------------------------------------------ conversion

    # ------------------------------------------------------------------ reads

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if since is not None or cursor_field is not None:
            raise FatalError(f"kleer {obj} cannot be read changed-since: Kleer has no "
                             "change timestamps; read in full and compare hashes instead")
        return self._read(obj, info)

    @staticmethod
    def _rows_of(obj: str, info: ObjectInfo, parent: Mapping[str, Any]) -> Iterable[Record]:
        _, rows_key, parent_key = _ROWS[obj]
        return shapes.rows_of(info, parent, rows_key, parent_key)

    async def _read(self, obj: str, info: ObjectInfo) -> AsyncIterator[Record]:
        lookups = _Lookups()
        if obj == "users":
            contracts = await self._contracts()
            levels = await self._schedule_levels(lookups)
            names = await self._entry_names(lookups)
            async for raw in self._raw("users"):
                yield shapes.user(info, raw, contracts.pop(int(raw["id"]), None), levels,
                              names, self._today().isoformat())
        elif obj == "subcontractors":
            async for record in self._read_subcontractors(info):
                yield record
        elif obj in _ROWS:
            parent = _ROWS[obj][0]
            count = 0
            async for raw in self._raw(parent):
                for record in self._rows_of(obj, info, raw):
                    count += 1
                    yield record
            self._totals[obj] = count
        else:
            names = await self._entry_names(lookups) if "categories" in info.fields else {}
            async for raw in self._raw(obj):
                yield shapes.plain(info, raw, names)

    async def _read_subcontractors(self, info: ObjectInfo,
                                   only_user: int | None = None) -> AsyncIterator[Record]:
        subs = await self._list("subcontractors")
        wanted = {int(unwrap_id(u)) for s in subs for u in array(s.get("users"), "user")}
        if only_user is not None:
            wanted &= {only_user}
        if not wanted:
            self._totals["subcontractors"] = 0
            return
        suppliers = await self._suppliers()
        users = {int(u["id"]): u for u in await self._list("users") if int(u["id"]) in wanted}
        contracts = {k: v for k, v in (await self._contracts()).items() if k in wanted}
        count = 0
        for sub in subs:
            supplier = suppliers.get(int(unwrap_id(sub.get("supplier"))))
            for ref in array(sub.get("users"), "user"):
                user_id = int(unwrap_id(ref))
                if user_id not in wanted or user_id not in users:
                    continue
                count += 1
                yield shapes.subcontractor(info, sub, users[user_id],
                                           contracts.get(user_id), supplier)
        if only_user is None:
            self._totals["subcontractors"] = count

    async def get(self, obj: str, target_id: str) -> Record | None:
        info = self._object(obj)
        if obj in _ROWS:
            parent_obj = _ROWS[obj][0]
            parent_id, _, number = str(target_id).rpartition("-")
            if not parent_id or not number.isdigit():
                return None
            parent = await self._get_json(f"{_PATHS[parent_obj][0]}/{parent_id}",
                                          missing_ok=True)
            rows = list(self._rows_of(obj, info, parent)) if parent else []
            index = int(number) - 1
            return rows[index] if 0 <= index < len(rows) else None
        if obj == "subcontractors":
            async for record in self._read_subcontractors(info, int(target_id)):
                return record
            return None
        raw = await self._get_json(f"{_PATHS[obj][0]}/{target_id}", missing_ok=True)
        if raw is None:
            return None
        return await self._one(obj, info, raw)

    async def _one(self, obj: str, info: ObjectInfo, raw: Mapping[str, Any]) -> Record:
        """One vendor record in catalog shape, with its joins fetched just for it."""
        lookups = _Lookups()
        names = await self._entry_names(lookups) if "categories" in info.fields else {}
        if obj == "users":
            contract = await self._get_json(f"payroll/user/{raw['id']}", missing_ok=True)
            levels = await self._schedule_levels(lookups) if contract else {}
            return shapes.user(info, raw, contract, levels, names, self._today().isoformat())
        return shapes.plain(info, raw, names)

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record | RecordError]:
        info = self._object(obj)
        if field_name not in info.external_id_fields and field_name != info.id_field:
            raise FatalError(f"kleer {obj} cannot be looked up by {field_name!r}; external "
                             f"id fields: {', '.join(info.external_id_fields) or 'none'}")
        wanted = {str(v) for v in values if v not in (None, "")}
        found: dict[str, Record | RecordError] = {}
        if not wanted:
            return found
        if obj == "users" and field_name == "foreign-id":
            # Kleer's one exact lookup; one call per value beats reading every user.
            for value in sorted(wanted):
                raw = await self._get_json(f"user/foreign-id/{value}", missing_ok=True)
                if raw is not None and str(raw.get("foreign-id")) == value:
                    found[value] = await self._one(obj, info, raw)
            return found
        if obj in ("subcontractors", *_ROWS):
            async for record in self.read(obj):
                value = str(record.get(field_name))
                if value in wanted and value not in found:
                    found[value] = record
            return found
        # No search exists: scan the raw list (one call) and convert only the matches.
        # Neither foreign-id nor a project number is documented as unique: a value more
        # than one record holds fails that record instead of picking one.
        matches: dict[str, list[Mapping[str, Any]]] = {}
        async for raw in self._raw(obj):
            held = raw.get(field_name)
            if field_name == "id":
                held = unwrap_id(held)
            if held is not None and str(held) in wanted:
                matches.setdefault(str(held), []).append(raw)
        for value, raws in matches.items():
            if len(raws) > 1:
                ids = ", ".join(str(unwrap_id(r.get("id"))) for r in raws)
                found[value] = RecordError(
                    "vendor.ambiguous", f"{len(raws)} Kleer {obj} hold {field_name} "
                    f"{value!r} ({ids}): make it unique in Kleer", field=field_name)
            else:
                found[value] = await self._one(obj, info, raws[0])
        return found

    # ------------------------------------------------------------------ writes

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        info = self._object(obj)
        results: list[WriteResult] = []
        for op in ops:
            if op.kind not in info.operations or obj not in bodies.WRITABLE:
                results.append(WriteResult(op.key, op.target_id, error=RecordError(
                    "vendor.unsupported", f"Kleer {obj} cannot be {op.kind}d through the "
                    "API")))
                continue
            if op.kind == "update" and not op.target_id:
                results.append(WriteResult(op.key, None, error=RecordError(
                    "vendor.unsupported", "an update needs the target id")))
                continue
            try:
                if op.kind == "create":
                    results.append(await self._create(obj, info, op))
                else:
                    results.append(await self._update(obj, info, op))
            except RecordError as exc:
                results.append(WriteResult(op.key, op.target_id, error=exc))
        return results

    async def _related(self, obj: str, payload: Mapping[str, Any]
                       ) -> tuple[Mapping[str, Any] | None, dict[int, Mapping[str, Any]]]:
        """The client and the products an invoice or agreement names (for their defaults)."""
        if obj not in ("invoices", "agreements"):
            return None, {}
        client = None
        client_id = bodies.ref_id(payload.get("client-ref"))
        if client_id is not None:
            client = await self._get_json(f"client/{client_id}", missing_ok=True)
        rows = payload.get("rows" if obj == "invoices" else "recurring-rows") or []
        products: dict[int, Mapping[str, Any]] = {}
        for row in rows if isinstance(rows, list) else []:
            product_id = bodies.ref_id(row.get("product")) if isinstance(row, Mapping) \
                else None
            if product_id is not None and product_id not in products:
                product = await self._get_json(f"product/{product_id}", missing_ok=True)
                if product is not None:
                    products[product_id] = product
        return client, products

    async def _currency(self) -> str | None:
        """The company's accounting currency (`company-information`), read once."""
        if self._accounting_currency is None:
            info = await self._get_json("info")
            value = info.get("accounting-currency") if isinstance(info, Mapping) else None
            self._accounting_currency = str(value) if value else ""
        return self._accounting_currency or None

    async def _create(self, obj: str, info: ObjectInfo, op: WriteOp) -> WriteResult:
        if obj == "client_projects" and op.payload.get("status") is not None:
            raise RecordError("vendor.unsupported", "Kleer sets a new client project's "
                              "status itself (client-project-writeable has none): leave "
                              "status out of creates", field="status")
        client, products = await self._related(obj, op.payload)
        currency = await self._currency() if obj in ("invoices", "agreements") else None
        body = bodies.create_body(obj, op.payload, client=client, products=products,
                                  currency=currency)
        missing = bodies.missing_required(obj, body)
        if missing is not None:
            raise missing
        try:
            response = await self.session.request(
                "PUT", f"{self._base}/{_PATHS[obj][0]}", json=body, idempotent=False,
                expected=_REJECTED)
        except AmbiguousWriteError:
            return WriteResult(op.key, None, ambiguous=True)
        if response.status_code in _REJECTED:
            raise self._rejection(info, response)
        created = unwrap_id(self._answer(response).get("id"))
        if created is None:  # 2xx without the `created` id: look it up before anything
            return WriteResult(op.key, None, ambiguous=True)
        return WriteResult(op.key, str(created), created=True)

    async def _update(self, obj: str, info: ObjectInfo, op: WriteOp) -> WriteResult:
        assert op.target_id is not None
        path = f"{_PATHS[obj][0]}/{op.target_id}"
        for attempt in (1, 2):
            current = await self._get_json(path, missing_ok=True)
            if current is None:
                raise RecordError("vendor.not-found", f"Kleer has no {obj} {op.target_id} "
                                  "(deleted in Kleer?)")
            _, products = await self._related(obj, op.payload)
            body = bodies.update_body(obj, current, op.payload, products=products)
            unchanged = body == bodies.update_body(obj, current, {})
            if not unchanged:
                sent = {"client-agreement": body} if obj == "agreements" else body
                response = await self.session.request(
                    "POST", f"{self._base}/{path}", json=sent, expected=_REJECTED)
                if response.status_code == 409 and obj == "agreements" and attempt == 1:
                    continue  # the revision moved on since it was read: read it again
                if response.status_code in _REJECTED:
                    raise self._rejection(info, response)
            break
        wanted = op.payload.get("status")
        if obj == "client_projects" and wanted is not None and wanted != current.get("status"):
            raise RecordError("vendor.unsupported", _CLOSE_MESSAGE.format(
                id=op.target_id, old=current.get("status"), new=wanted), field="status")
        return WriteResult(op.key, op.target_id)

    @staticmethod
    def _answer(response: httpx.Response) -> Mapping[str, Any]:
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            return {}
        return answer if isinstance(answer, Mapping) else {}

    def _rejection(self, info: ObjectInfo, response: httpx.Response) -> RecordError:
        reason = vendor_reason(response, self.context.redactor) or \
            f"Kleer answered {response.status_code}"
        field = None
        match = _FIELD_IN_MESSAGE.search(reason)
        if match:
            path = re.sub(r"\[\d+\]", "", match.group(1)).removeprefix("client-agreement.")
            while path and path not in info.fields:
                path = path.rpartition(".")[0]
            field = path or match.group(1)
        return RecordError("vendor.rejected", reason, field=field)
