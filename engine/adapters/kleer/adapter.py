"""Kleer (REST v1, JSON): users, subcontractors, clients, projects, products, invoices.

Facts this adapter is built on (apis.md section 3):

- Auth is one static token in `X-Token`; every resource sits under
  `/v1/company/{companyId}` (`options["company_id"]`). JSON needs both `Accept` and
  `Content-Type: application/json`, on GETs too (Kleer answers XML otherwise).
- Lists come wrapped (`{"users": [...]}`) and unpaged, except client invoices, which
  page with `offset`/`limit` and say `size` beside the list. Kleer has no timestamps
  and no "modified since": every read is a full read and the engine compares hashes,
  so `since` is refused with a FatalError.
- Money is integer cents and stays so (the catalog says cents).
- Users are joined with their payroll contract (`GET /payroll/user`, once per read,
  keyed by user id) under `payroll`; `level-of-employment` comes from the contract's
  current schedule (`GET /payroll/schedule`, once per read). A user without a
  contract has `payroll: None`.
- Subcontractors are one record per (subcontractor, user): the user's own fields,
  `subcontractor-id`, and the supplier joined under `supplier` (suppliers are few and
  read once per read into a dict).
- `categories` are the names of a record's dimension entries (`GET /dimension` and
  each dimension's entries, once per read).
- Invoice and agreement rows are flattened into their own objects with ids
  `"<parent id>-<row number>"` (1-based).
- Create is `PUT` on the collection (never retried blindly: it is not idempotent),
  always with a `foreign-id` (a create without one is Kleer's "Tekniskt fel" 500);
  update is `POST` on the item. No batch endpoints: one call per op.
- 5 requests per second per token by default (not published; `config.rate_limit`
  overrides).
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
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RecordError
from engine.values import coerce

__all__ = ["KleerAdapter"]

DEFAULT_RATE_LIMIT = (5, 1.0)
INVOICE_PAGE_SIZE = 500

Sleep = Callable[[float], Awaitable[object]]

# catalog object -> (collection path, list wrapper key)
_PATHS: dict[str, tuple[str, str]] = {
    "users": ("user", "users"),
    "suppliers": ("supplier", "suppliers"),
    "subcontractors": ("subcontractor", "subcontractor-readables"),
    "clients": ("client", "clients"),
    "client_projects": ("client-project", "client-project-readables"),
    "products": ("product", "products"),
    "invoices": ("client/invoice", "client-invoices"),
    "agreements": ("client/agreement", "client-agreements"),
}
# Row objects: row object -> (parent object, parent's row list, parent reference key).
_ROWS: dict[str, tuple[str, str, str]] = {
    "invoice_rows": ("invoices", "rows", "invoice"),
    "agreement_rows": ("agreements", "recurring-rows", "agreement"),
}
# Fields a create needs even when there is nothing to say (Kleer: "mandatory, may be
# empty"); foreign-id avoids the "Tekniskt fel" 500.
_CREATE_DEFAULTS: dict[str, dict[str, Any]] = {
    "invoices": {"po-nr": "", "delivery-date": ""},
}
# Statuses that reject one record rather than the run.
_REJECTED = (400, 404, 409, 422)
_FIELD_IN_MESSAGE = re.compile(r'[Ff]ield "([^"]+)"')


def _wire(value: Any) -> Any:
    """A typed payload value as Kleer's JSON wants it (dates `YYYY-MM-DD`)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def _unwrap_id(value: Any) -> Any:
    """Client-project readables wrap their own id: `{"id": {"id": n}}`."""
    while isinstance(value, Mapping) and "id" in value:
        value = value["id"]
    return value


class _Lookups:
    """What one read joins onto records: dimension entry names, schedules, suppliers."""

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
        return CheckResult(True, f"Authenticated with Kleer for company "
                                 f"{name or self._base.rsplit('/', 1)[-1]}.")

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
        path, key = _PATHS[obj]
        body = await self._get_json(path)
        items = body.get(key) if isinstance(body, Mapping) else None
        return items if isinstance(items, list) else []

    async def _raw(self, obj: str) -> AsyncIterator[dict[str, Any]]:
        """Every vendor record of `obj`; invoices page, the rest come in one answer."""
        if obj != "invoices":
            items = await self._list(obj)
            self._totals[obj] = len(items)
            for item in items:
                yield item
            return
        path, key = _PATHS[obj]
        offset = 0
        while True:
            body = await self._get_json(path, params={"offset": offset,
                                                      "limit": self._page_size(),
                                                      "ignoreFiles": "true"})
            items = body.get(key) or []
            size = int(body.get("size") or 0)
            self._totals[obj] = size
            for item in items:
                yield item
            offset += len(items)
            if not items or offset >= size:
                return

    def _page_size(self) -> int:
        return int(self.config.options.get("page_size", INVOICE_PAGE_SIZE))

    async def _entry_names(self, lookups: _Lookups) -> dict[int, str]:
        if lookups.entry_names is None:
            names: dict[int, str] = {}
            body = await self._get_json("dimension")
            for dimension in (body or {}).get("dimensions") or []:
                entries = await self._get_json(f"dimension/{dimension['id']}/entry",
                                               missing_ok=True)
                for entry in (entries or {}).get("dimension-entries") or []:
                    names[int(entry["id"])] = str(entry.get("name", ""))
            lookups.entry_names = names
        return lookups.entry_names

    async def _schedule_levels(self, lookups: _Lookups) -> dict[int, float]:
        if lookups.schedules is None:
            body = await self._get_json("payroll/schedule", missing_ok=True)
            levels: dict[int, float] = {}
            for key in ("payroll-fixed-schedule-readables",
                        "payroll-rolling-schedule-readables"):
                for schedule in (body or {}).get(key) or []:
                    if schedule.get("level-of-employment") is not None:
                        levels[int(schedule["id"])] = float(schedule["level-of-employment"])
            lookups.schedules = levels
        return lookups.schedules

    async def _suppliers(self) -> dict[int, dict[str, Any]]:
        return {int(s["id"]): s for s in await self._list("suppliers")}

    async def _contracts(self) -> dict[int, dict[str, Any]]:
        body = await self._get_json("payroll/user")
        out: dict[int, dict[str, Any]] = {}
        for contract in (body or {}).get("payroll-user-readables") or []:
            user = _unwrap_id(contract.get("user"))
            if user is not None:
                out[int(user)] = contract
        return out

    # ------------------------------------------------------------------ conversion

    def _shape(self, info: ObjectInfo, raw: Mapping[str, Any], prefix: str = "") -> Record:
        """`raw` cut to the catalog's readable fields at `prefix`, typed; absent -> None."""
        out: Record = {}
        for path, field in info.fields.items():
            if field.write_only or not path.startswith(prefix):
                continue
            name = path[len(prefix):]
            if "." in name:
                continue
            value = raw.get(name)
            if field.type == "object":
                out[name] = (self._shape(info, value, f"{path}.")
                             if isinstance(value, Mapping) else None)
            elif field.type == "list":
                out[name] = list(value) if isinstance(value, list) else None
            else:
                out[name] = coerce(value, field.type)
        return out

    def _level(self, contract: Mapping[str, Any], levels: Mapping[int, float]) -> float | None:
        """The employment rate of the schedule in force today (else the latest started)."""
        today = self._today().isoformat()
        current = None
        for item in contract.get("schedules") or []:
            start = item.get("start-date") or ""
            end = item.get("end-date") or ""
            if start and start > today:
                continue
            if not end or end >= today:
                current = item
                break
            if current is None or start > (current.get("start-date") or ""):
                current = item
        if current is None:
            return None
        return levels.get(int(_unwrap_id(current.get("schedule"))))

    def _categories(self, raw: Mapping[str, Any], names: Mapping[int, str]) -> list[str]:
        entries = raw.get("dimension-entries") or []
        if isinstance(raw.get("dimension-entry"), Mapping):
            entries = [*entries, raw["dimension-entry"]]
        return [names[int(e["id"])] for e in entries
                if isinstance(e, Mapping) and e.get("id") is not None
                and int(e["id"]) in names]

    def _user(self, info: ObjectInfo, raw: Mapping[str, Any],
              contract: Mapping[str, Any] | None, levels: Mapping[int, float],
              names: Mapping[int, str]) -> Record:
        payroll = None
        if contract is not None:
            payroll = {**contract, "level-of-employment": self._level(contract, levels)}
        record = self._shape(info, {**raw, "payroll": payroll})
        if "categories" in info.fields:
            record["categories"] = self._categories(raw, names)
        return record

    def _subcontractor(self, info: ObjectInfo, sub: Mapping[str, Any],
                       user: Mapping[str, Any], contract: Mapping[str, Any] | None,
                       supplier: Mapping[str, Any] | None) -> Record:
        raw = {**user, "subcontractor-id": sub.get("id"), "payroll": contract,
               "supplier": supplier}
        return self._shape(info, raw)

    def _plain(self, obj: str, info: ObjectInfo, raw: Mapping[str, Any],
               names: Mapping[int, str]) -> Record:
        raw = {**raw, "id": _unwrap_id(raw.get("id"))}
        record = self._shape(info, raw)
        if "categories" in info.fields:
            record["categories"] = self._categories(raw, names)
        return record

    def _rows_of(self, obj: str, info: ObjectInfo, parent: Mapping[str, Any]
                 ) -> Iterable[Record]:
        _, rows_key, parent_key = _ROWS[obj]
        parent_id = _unwrap_id(parent.get("id"))
        for n, row in enumerate(parent.get(rows_key) or [], start=1):
            yield self._shape(info, {**row, "id": f"{parent_id}-{n}",
                                     parent_key: {"id": parent_id}})

    # ------------------------------------------------------------------ reads

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if since is not None or cursor_field is not None:
            raise FatalError(f"kleer {obj} cannot be read changed-since: Kleer has no "
                             "change timestamps; read in full and compare hashes instead")
        return self._read(obj, info)

    async def _read(self, obj: str, info: ObjectInfo) -> AsyncIterator[Record]:
        lookups = _Lookups()
        if obj == "users":
            contracts = await self._contracts()
            levels = await self._schedule_levels(lookups)
            names = await self._entry_names(lookups)
            async for raw in self._raw("users"):
                yield self._user(info, raw, contracts.pop(int(raw["id"]), None), levels,
                                 names)
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
                yield self._plain(obj, info, raw, names)

    async def _read_subcontractors(self, info: ObjectInfo,
                                   only_user: int | None = None) -> AsyncIterator[Record]:
        subs = await self._list("subcontractors")
        wanted = {int(_unwrap_id(u)) for s in subs for u in s.get("users") or []}
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
            supplier = suppliers.get(int(_unwrap_id(sub.get("supplier"))))
            for ref in sub.get("users") or []:
                user_id = int(_unwrap_id(ref))
                if user_id not in wanted or user_id not in users:
                    continue
                count += 1
                yield self._subcontractor(info, sub, users[user_id], contracts.get(user_id),
                                          supplier)
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
            return self._user(info, raw, contract, levels, names)
        return self._plain(obj, info, raw, names)

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields and field_name != info.id_field:
            raise FatalError(f"kleer {obj} cannot be looked up by {field_name!r}; external "
                             f"id fields: {', '.join(info.external_id_fields) or 'none'}")
        wanted = {str(v) for v in values if v not in (None, "")}
        found: dict[str, Record] = {}
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
        async for raw in self._raw(obj):
            value = raw.get(field_name)
            if field_name == "id":
                value = _unwrap_id(value)
            if value is not None and str(value) in wanted and str(value) not in found:
                found[str(value)] = await self._one(obj, info, raw)
                if len(found) == len(wanted):
                    break
        return found

    # ------------------------------------------------------------------ writes

    def _body(self, obj: str, info: ObjectInfo, op: WriteOp) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, value in op.payload.items():
            field = info.fields.get(name)
            if field is None or field.read_only or value is None:
                continue
            body[name] = _wire(value)
        if op.kind == "create":
            for name, default in _CREATE_DEFAULTS.get(obj, {}).items():
                body.setdefault(name, default)
            if "foreign-id" in info.fields:
                body.setdefault("foreign-id", "")
        return body

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        info = self._object(obj)
        results: list[WriteResult] = []
        for op in ops:
            if op.kind not in info.operations or obj not in _PATHS:
                results.append(WriteResult(op.key, op.target_id, error=RecordError(
                    "vendor.unsupported", f"Kleer {obj} cannot be {op.kind}d through the "
                    "API")))
                continue
            if op.kind == "update" and not op.target_id:
                results.append(WriteResult(op.key, None, error=RecordError(
                    "vendor.unsupported", "an update needs the target id")))
                continue
            results.append(await self._write_one(obj, info, op))
        return results

    async def _write_one(self, obj: str, info: ObjectInfo, op: WriteOp) -> WriteResult:
        path = _PATHS[obj][0]
        body = self._body(obj, info, op)
        creating = op.kind == "create"
        try:
            response = await self.session.request(
                "PUT" if creating else "POST",
                f"{self._base}/{path}" if creating else f"{self._base}/{path}/{op.target_id}",
                json=body, idempotent=not creating, expected=_REJECTED)
        except AmbiguousWriteError:
            return WriteResult(op.key, op.target_id, ambiguous=True)
        if response.status_code in _REJECTED:
            return WriteResult(op.key, op.target_id, error=self._rejection(info, response))
        answer = response.json() if response.content else {}
        saved = (answer.get("created") or answer.get("saved") or {}) \
            if isinstance(answer, Mapping) else {}
        target = _unwrap_id(saved.get("id")) if isinstance(saved, Mapping) else None
        return WriteResult(op.key, str(target) if target is not None else op.target_id,
                           created=creating)

    def _rejection(self, info: ObjectInfo, response: httpx.Response) -> RecordError:
        reason = vendor_reason(response, self.context.redactor) or \
            f"Kleer answered {response.status_code}"
        field = None
        match = _FIELD_IN_MESSAGE.search(reason)
        if match:
            path = re.sub(r"\[\d+\]", "", match.group(1))
            while path and path not in info.fields:
                path = path.rpartition(".")[0]
            field = path or match.group(1)
        return RecordError("vendor.rejected", reason, field=field)
