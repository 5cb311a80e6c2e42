"""Deltek Maconomy (REST containers, filter panes): customers and jobs, read only.

Facts this adapter is built on (apis.md section 4):

- Login: `GET {api}/auth/{shortname}` with Basic credentials and
  `Maconomy-Authentication: X-Reconnect` answers 204 with a `Maconomy-Reconnect`
  token; later calls send `Authorization: X-Reconnect <token>`. The server may rotate
  the token on any answer (a new `Maconomy-Reconnect` header): the latest one is kept.
  A 401 (idle expiry) logs in again, once, through `HttpSession`.
- Lists: `POST {api}/containers/{shortname}/{container}/filter` with
  `{restriction, fields, limit, offset, orderby}`; records are
  `panes.filter.records[].data`; paging continues while a page is full.
- Changed-since reads restrict on `transactiontimestamp >= timestamp(y, m, d, h, mi, s,
  ms)` (the literal form the sandbox's restriction parser documents) and order by
  `transactiontimestamp` then the key, so they come oldest-first.
- Offset paging can skip a record when the set shifts under it (a record changed during
  the read moves to the end). Each page therefore re-reads the previous page's last
  record; if it is not where it was, the read continues by key set (restriction "after
  the last record seen") instead of by offset. Full reads keep the server's cheap
  natural-order offset paging as long as nothing moves.
- Field names are all lower case. The catalog's names are requested when the
  container's specification (`GET {api}/containers/{shortname}/{container}`) has them;
  `budget` is `budgetamount` in tenants that call it so. Values are converted by
  per-field converters built once per read: JSON booleans and numbers pass through,
  dates and timestamps (local server time, `options.timezone`, default UTC) parse.
- Maconomy is a source only for this integration: `write()` raises FatalError.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from engine.adapters.base import (
    AdapterContext,
    CheckResult,
    ConnectionConfig,
    Record,
    WriteOp,
    WriteResult,
)
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError

__all__ = ["MaconomyAdapter", "restriction_literal"]

log = logging.getLogger("engine.adapters.maconomy")

# Maconomy publishes no rate limit; stay polite to what is often an on-premise server.
DEFAULT_RATE_LIMIT = (20, 1.0)
DEFAULT_PAGE_SIZE = 5000
MAX_PAGE_SIZE = 10_000
LOOKUP_CHUNK = 200  # values per `or` restriction in find_external

_CONTAINERS = {"customers": "customercard", "jobs": "jobs"}
# Catalog name -> wire names to try, in order (tenant-specific field names).
_WIRE_NAMES = {"budget": ("budget", "budgetamount")}
_ACCEPT = "application/vnd.deltek.maconomy.containers+json; charset=utf-8; version=9.0"
_AUTH_ACCEPT = "application/vnd.deltek.maconomy.authentication+json; charset=utf-8; version=3.0"

Sleep = Callable[[float], Awaitable[object]]
Converter = Callable[[Any], Any]


def restriction_literal(value: Any, zone: tzinfo = UTC) -> str:
    """A value as Maconomy restriction text: quoted strings, timestamp(...), date(...)."""
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
        return (f"timestamp({local.year}, {local.month}, {local.day}, {local.hour}, "
                f"{local.minute}, {local.second}, {local.microsecond // 1000})")
    if isinstance(value, date):
        return f"date({value.year}, {value.month}, {value.day})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


# ---------------------------------------------------------------------- converters
# Each takes a non-None wire value and returns the catalog type; values already of the
# right JSON type pass through untouched (the common case costs one type check).


def _date_converter() -> Converter:
    cache: dict[str, date | None] = {}  # a few thousand distinct days at most

    def convert(value: Any) -> Any:
        if type(value) is not str:
            return value
        found = cache.get(value, cache)
        if found is cache:
            try:
                found = date.fromisoformat(value[:10]) if value else None
            except ValueError:
                return value  # unconvertible: left as is, a filter on it is false
            if len(cache) < 100_000:
                cache[value] = found
        return found

    return convert


def _datetime_converter(zone: tzinfo) -> Converter:
    from_iso = datetime.fromisoformat
    # Appending the offset and parsing once is several times faster than parsing and
    # then `replace(tzinfo=...)`; values that already carry an offset take the slow path.
    suffix = "+00:00" if zone is UTC else ""

    def slow(value: str) -> Any:
        try:
            moment = from_iso(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # unconvertible: left as is, a filter on it is false
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    def convert(value: Any) -> Any:
        if type(value) is not str:
            return value
        if not value:
            return None
        if suffix:
            try:
                return from_iso(value + suffix)
            except ValueError:
                pass
        return slow(value)

    return convert


def _integer(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _number(value: Any) -> Any:
    if type(value) in (int, float):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if type(value) is int:
        return bool(value)
    return value


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


_GUARDS: dict[str, Converter] = {"string": _string, "integer": _integer, "number": _number,
                                 "boolean": _boolean}
# Container specification types whose JSON values already have the catalog's type.
_NATIVE: dict[str, frozenset[str]] = {
    "string": frozenset({"string"}), "integer": frozenset({"integer"}),
    "number": frozenset({"integer", "real", "amount"}), "boolean": frozenset({"boolean"}),
}


class _Plan:
    """How to turn one container's rows into catalog records, computed once per read.

    Dates and timestamps are text on the wire and are parsed on every row. Strings,
    numbers and booleans arrive as JSON types when the container's specification
    declares them so; only fields declared otherwise (or when the specification is
    unknown) get a converter that checks each value.
    """

    def __init__(self, info: ObjectInfo, available: Mapping[str, str] | None,
                 zone: tzinfo) -> None:
        self.renames: list[tuple[str, str]] = []  # (wire, catalog) where they differ
        self.parsed: list[tuple[str, Converter]] = []
        self.guarded: list[tuple[str, Converter]] = []
        wire_fields: list[str] = []
        for name, field in info.fields.items():
            if "." in name or field.write_only:
                continue
            candidates = _WIRE_NAMES.get(name, (name,))
            wire = next((c for c in candidates if available is None or c in available), None)
            if wire is None:
                continue  # this tenant's container has no such field
            wire_fields.append(wire)
            if wire != name:
                self.renames.append((wire, name))
            if field.type == "date":
                self.parsed.append((name, _date_converter()))
            elif field.type == "datetime":
                self.parsed.append((name, _datetime_converter(zone)))
            elif field.type in _GUARDS and (
                    available is None or available[wire] not in _NATIVE[field.type]):
                self.guarded.append((name, _GUARDS[field.type]))
        self.catalog_fields = frozenset(n for n in info.fields if "." not in n)
        # Ask for named fields only when the container has more than we want; when we
        # want all of them, the server's default (every field) is the same and cheaper.
        if available is None or set(available) <= set(wire_fields):
            self.wire_fields: list[str] | None = None
        else:
            self.wire_fields = wire_fields
        # With the container's fields known, every key a row carries maps to the catalog.
        self.trusted_keys = available is not None

    def records(self, rows: list[dict[str, Any]]) -> list[Record]:
        """Convert one page's row `data` dicts in place (the decoded page owns them)."""
        if self.renames:
            for data in rows:
                for wire, name in self.renames:
                    if wire in data:
                        data[name] = data.pop(wire)
        if not self.trusted_keys:
            keep = self.catalog_fields
            for data in rows:
                for key in [k for k in data if k not in keep]:
                    del data[key]
        for name, convert in self.parsed:
            for data in rows:
                value = data.get(name)
                if value is not None:
                    data[name] = convert(value)
        for name, convert in self.guarded:
            for data in rows:
                value = data.get(name)
                if value is not None:
                    data[name] = convert(value)
        return rows


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a dropped read-ahead's outcome as seen (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()


def _catalog() -> Catalog:
    """This vendor's catalog (catalog.json beside this module), read once by its Vendor."""
    from engine.adapters.maconomy import VENDOR  # the package has imported this module by now

    return VENDOR.catalog


class MaconomyAdapter:
    """The Maconomy system; see the module docstring. One instance per connection."""

    name = "maconomy"

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient,
                 context: AdapterContext, *, retry: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.context = context
        try:
            self._username = config.auth["username"]
            self._password = config.auth["password"]
        except KeyError as exc:
            raise FatalError(f"maconomy connection {config.name!r}: auth needs username and "
                             f"password; {exc.args[0]} is missing") from None
        shortname = config.options.get("shortname")
        if not shortname:
            raise FatalError(f"maconomy connection {config.name!r}: options.shortname (the "
                             "Maconomy system name) is missing")
        self.shortname = str(shortname)
        context.redactor.add(self._password)
        catalog = _catalog()
        assert catalog is not None
        self._catalog = catalog
        base = str(client.base_url).rstrip("/")
        self._api = "" if base.endswith("/maconomy-api") else str(
            config.options.get("api_path", "/maconomy-api")).rstrip("/")
        self._zone: tzinfo = ZoneInfo(config.options["timezone"]) \
            if config.options.get("timezone") else UTC
        page_size = int(config.options.get("page_size", DEFAULT_PAGE_SIZE))
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        containers = dict(_CONTAINERS)
        containers.update(config.options.get("containers") or {})
        self._containers = containers
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        budget = context.budgets.for_credential(
            f"maconomy:{config.base_url}:{self.shortname}:{self._username}", limit, per)
        retry = retry or RetryPolicy()
        self.session = HttpSession(
            client, name="maconomy", budget=budget, retry=retry, redactor=context.redactor,
            auth=self._authorize, on_unauthorized=self._login_after_401,
            on_response=self._keep_rotated_token, sleep=sleep)
        # Logging in must not itself trigger "401 -> log in again".
        self._login_session = HttpSession(
            client, name="maconomy-login", budget=budget, retry=retry,
            redactor=context.redactor, sleep=sleep)
        self._token: str | None = None
        self._login_lock = asyncio.Lock()
        self._fields: dict[str, dict[str, str] | None] = {}
        self.logins = 0

    def __repr__(self) -> str:
        return f"MaconomyAdapter({self.config.name!r}, shortname={self.shortname!r})"

    # ------------------------------------------------------------------ auth

    async def _login(self) -> None:
        basic = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        try:
            response = await self._login_session.request(
                "GET", f"{self._api}/auth/{self.shortname}",
                headers={"Authorization": f"Basic {basic}",
                         "Maconomy-Authentication": "X-Reconnect", "Accept": _AUTH_ACCEPT})
        except FatalError as exc:
            if exc.status in (401, 403):
                raise FatalError(f"maconomy: the user name or password was refused for "
                                 f"system {self.shortname!r} ({exc.status})",
                                 status=exc.status) from None
            raise
        token = response.headers.get("Maconomy-Reconnect")
        if not token:
            raise FatalError("maconomy: login answered without a Maconomy-Reconnect token")
        self.context.redactor.add(token)
        self._token = token
        self.logins += 1

    async def _authorize(self, request: httpx.Request) -> None:
        if self._token is None:
            async with self._login_lock:
                if self._token is None:
                    await self._login()
        request.headers["Authorization"] = f"X-Reconnect {self._token}"
        request.headers.setdefault("Accept", _ACCEPT)

    async def _login_after_401(self) -> None:
        async with self._login_lock:
            self._token = None
            await self._login()

    async def _keep_rotated_token(self, response: httpx.Response) -> None:
        token = response.headers.get("Maconomy-Reconnect")
        if token and token != self._token:
            self.context.redactor.add(token)
            self._token = token

    # ------------------------------------------------------------------ protocol

    def describe(self) -> Catalog:
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self._catalog.objects.get(obj)
        if info is None:
            raise FatalError(f"maconomy has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self._catalog.objects))}")
        return info

    def _container_path(self, obj: str) -> str:
        return f"{self._api}/containers/{self.shortname}/{self._containers[obj]}"

    async def check(self) -> CheckResult:
        try:
            response = await self._filter("customers", {"restriction": "", "limit": 1,
                                                        "offset": 0})
        except FatalError as exc:
            return CheckResult(False, f"Maconomy refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"Maconomy is unreachable: {type(exc).__name__}: "
                                      f"{self.context.redactor.text(str(exc))}")
        rows = response["panes"]["filter"]["meta"]["rowCount"]
        return CheckResult(True, f"Logged in to Maconomy system {self.shortname!r}; the "
                                 f"{self._containers['customers']} container is readable "
                                 f"({'has' if rows else 'no'} records).")

    def total(self, obj: str) -> int | None:
        """Maconomy's filter panes do not count matches, so no total is known."""
        return None

    def max_batch(self, obj: str) -> int:
        return 1

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        raise FatalError("Maconomy is a source only: this integration never writes to it "
                         f"({len(ops)} {obj} write(s) refused)")

    async def aclose(self) -> None:
        """Log out, so the reconnect token stops working at once."""
        if self._token is None:
            return
        try:
            await self._login_session.request(
                "GET", f"{self._api}/auth/{self.shortname}",
                headers={"Authorization": f"X-Reconnect {self._token}",
                         "Maconomy-Authentication": "X-Log-Out"}, expected=(401,))
        except Exception as exc:  # logging out is a courtesy; never fail a run on it
            log.debug("maconomy logout failed: %s", type(exc).__name__)
        self._token = None

    # ------------------------------------------------------------------ reads

    async def _filter(self, obj: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.session.request(
            "POST", f"{self._container_path(obj)}/filter", content=orjson.dumps(body),
            headers={"Content-Type": "application/json"}, idempotent=True)
        content = response.content
        # httpx 0.28 links a response and its stream both ways (encode/httpx#3733): the
        # page's bytes would wait for a full garbage collection. Cut the loop so they go
        # as soon as the page is decoded; the response was read and closed already.
        response.stream = httpx.ByteStream(b"")
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise FatalError(f"maconomy: the filter answer for {obj} is not JSON "
                             f"({exc})") from None

    async def _available_fields(self, obj: str) -> dict[str, str] | None:
        """The container's fields and their types from its specification, or None."""
        if obj not in self._fields:
            response = await self.session.request("GET", self._container_path(obj),
                                                  expected=(400, 404, 405))
            names: dict[str, str] | None = None
            if response.status_code == 200:
                try:
                    spec = orjson.loads(response.content)
                    fields = spec["panes"]["filter"]["fields"]
                    names = {str(f["name"]).lower(): str(f.get("type", "")).lower()
                             for f in fields}
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    names = None
            self._fields[obj] = names
        return self._fields[obj]

    async def _plan(self, obj: str) -> _Plan:
        return _Plan(self._object(obj), await self._available_fields(obj), self._zone)

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if cursor_field is not None and cursor_field not in info.cursor_fields:
            raise FatalError(f"maconomy {obj} cannot be read changed-since on "
                             f"{cursor_field!r}; cursor fields: "
                             f"{', '.join(info.cursor_fields) or 'none'}")
        if since is not None:
            return self._read(obj, info, cursor_field or info.cursor_fields[0], since)
        return self._read(obj, info, None, None)

    async def _read(self, obj: str, info: ObjectInfo, cursor: str | None,
                    since: datetime | None) -> AsyncIterator[Record]:
        plan = await self._plan(obj)
        key = info.id_field
        if cursor is not None and since is not None:
            base = f"{cursor} >= {restriction_literal(since, self._zone)}"
            orderby = f"{cursor}, {key}"
        else:
            base, orderby = "", ""
        restriction = base
        body: dict[str, Any] = {"restriction": restriction, "limit": self._page_size}
        if plan.wire_fields is not None:
            body["fields"] = plan.wire_fields
        if orderby:
            body["orderby"] = orderby
        offset = 0
        last: Record | None = None
        # The next page is requested as soon as this one has arrived, so the server
        # builds it while the caller works through this one (the caller gives the loop
        # a turn between batches). It is the very request the loop would send next, so
        # the shift check below applies to it unchanged; at most one is in flight.
        ahead: asyncio.Task[list[dict[str, Any]]] | None = None
        try:
            while True:
                overlap = 1 if last is not None and offset else 0
                if ahead is not None:
                    page, ahead = await ahead, None
                else:
                    page = await self._page(obj, body, offset - overlap)
                if overlap:
                    if page and page[0].get(key) == last[key]:  # type: ignore[index]
                        page = page[1:]
                    else:
                        # The set moved under the offset: go on from the last record seen.
                        assert last is not None
                        body["restriction"] = self._after(base, cursor, key, last)
                        offset = 0
                        page = await self._page(obj, body, 0)
                        overlap = 0
                more = len(page) + overlap >= self._page_size
                if more:
                    last = page[-1]  # converted in place below, before it is compared
                    offset += len(page)
                    ahead = asyncio.ensure_future(self._page(obj, dict(body), offset - 1))
                for record in plan.records(page):
                    yield record
                if not more:
                    return
        finally:
            if ahead is not None:  # the caller stopped early: drop the page asked for
                ahead.cancel()
                ahead.add_done_callback(_retrieve)

    async def _page(self, obj: str, body: dict[str, Any], offset: int) -> list[dict[str, Any]]:
        body["offset"] = offset
        answer = await self._filter(obj, body)
        try:
            records = answer["panes"]["filter"]["records"]
        except (KeyError, TypeError):
            raise FatalError(f"maconomy: the filter answer for {obj} has no "
                             "panes.filter.records") from None
        return [row["data"] for row in records]

    def _after(self, base: str, cursor: str | None, key: str, last: Record) -> str:
        """A restriction for every record after `last` in the read's order."""
        after_key = f"{key} > {restriction_literal(last[key])}"
        if cursor is None:
            return after_key
        moment = last.get(cursor)
        if not isinstance(moment, datetime):
            return f"{base} and {after_key}" if base else after_key
        literal = restriction_literal(moment, self._zone)
        return f"({cursor} > {literal} or ({cursor} = {literal} and {after_key}))"

    async def get(self, obj: str, target_id: str) -> Record | None:
        info = self._object(obj)
        plan = await self._plan(obj)
        body: dict[str, Any] = {
            "restriction": f"{info.id_field} = {restriction_literal(target_id)}", "limit": 1}
        if plan.wire_fields is not None:
            body["fields"] = plan.wire_fields
        rows = plan.records(await self._page(obj, body, 0))
        return rows[0] if rows else None

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields:
            raise FatalError(f"maconomy {obj} cannot be looked up by {field_name!r}; "
                             f"external id fields: {', '.join(info.external_id_fields)}")
        wanted = sorted({str(v) for v in values if v not in (None, "")})
        plan = await self._plan(obj)
        found: dict[str, Record] = {}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            body: dict[str, Any] = {
                "restriction": " or ".join(f"{field_name} = {restriction_literal(v)}"
                                           for v in chunk),
                "limit": len(chunk)}
            if plan.wire_fields is not None:
                body["fields"] = plan.wire_fields
            for record in plan.records(await self._page(obj, body, 0)):
                found[str(record.get(field_name))] = record
        return found
