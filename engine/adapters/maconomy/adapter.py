"""Deltek Maconomy (REST containers): customers and jobs, read only.

Maconomy publishes no API contract. Every fact this adapter relies on is listed here with
its entry in tests/contracts/maconomy/facts.json and the public client code it comes from
(repositories and commits under facts.json "sources", read 2026-12-03). What no named
client shows runs only when the connection lists its option in `options.unconfirmed`
(see options.py), and `specsync check` probes each listed option on the live tenant.

Confirmed by real clients:

- Auth. Basic credentials with `Maconomy-Authentication: X-Reconnect` on the first
  request are answered with a token in `Maconomy-Reconnect` (F-AUTH-BASIC-FIRST:
  simondstewart/MaconomyRestClient TFC-12650 client/filters/AuthorizationFilter.java:31-45;
  magnus-ffcg/maconomy maconomy.py:65,80-87); later requests send
  `Authorization: X-Reconnect <token>` (F-AUTH-RECONNECT: AuthorizationFilter.java:33-36;
  aiqueneldar/time-sync backend/internal/adapters/maconomy/adapter.go:410-413); a
  `Maconomy-Reconnect` header on any answer replaces the token (F-AUTH-ROTATION:
  AuthorizationFilter.java:47-54; time-sync adapter.go:415-419). A 401 on a token sends
  the credentials again, once; a 401 on the credentials is fatal.
- Logout. `Maconomy-Authentication: X-Log-Out` on a request made with the token ends the
  session after it (F-AUTH-LOGOUT: magnus maconomy.py:101-103,119,136): sent once on a
  container resource when the adapter closes.
- Headers. Accept `application/json` on the v1 API (F-CT-V1: client/MaconomyClient.java:
  93,104,248); Accept and Content-Type `application/vnd.deltek.maconomy.containers+json;
  version=5.0` on the current API (F-ACCEPT-V2, F-CT-V2: mawkler/maconomy-cli
  src/infrastructure/repositories/maconomy_http_client.rs:23-24, requests.http:114-145;
  6.1: time-sync adapter.go:59,255); the authentication type version 2.0 on /auth
  (F-ACCEPT-AUTH: time-sync adapter.go:56,123). Set on each request: httpx fills in
  `*/*` when it builds one.
- Listing. The v1 container resource `{base}/containers/v1/{shortname}/{container}` is
  `{containerName, links}` and clients follow its links (F-PATH-V1, F-V1-LINKS,
  F-RESP-CONTAINER: MaconomyClient.java:92-106,226-249,334-336; ContainersConstants.java:6;
  data/Container.java:8-9). The `data:filter` link is read with GET and
  `restriction` (left out when there is none), `limit`, `offset`, `fields` (comma-joined)
  and `orderby` (`+field`/`-field`) (F-V1-FILTER-QUERY: relations/FilterRestriction.java:
  27-89; relations/LinkRelations.java:54-56; master src/main/resources/container-api.ts:
  175-181). `rowOffset` is the offset asked for and `rowCount` the rows returned
  (F-V1-PAGING: client/FilterTest.java:77-91). Reads order by `+key` so offsets stay
  stable; paging and shift handling are in scan.py.
- Answers are `panes.filter.{meta {paneName, rowCount, rowOffset}, records[].data}`
  (F-RESP-FILTER: data/FilterPane.java:50-56, data/FilterRecord.java; container-api.ts:
  74-170; maconomy-cli src/infrastructure/models/search_response.rs:3-34).
- Specification through the container's `specification` link (F-SPEC-VIA-LINK:
  LinkRelations.java:42-44; ContainerOverviewTest.java:90-105). Its pane `fields` is an
  object keyed by field name (F-RESP-SPEC: specification/Pane.java:9-13;
  ContainerOverviewTest.java:96-105); a list of `{name, ...}` is read as well. Each field
  has `type` and `unfilterable` (F-RESP-FIELD: container-api.ts:33-51; specification/
  Field.java:7-22); types are Integer, Real, Amount, Boolean, String, Date, Time, Enum,
  TimeDuration and Auto Timestamp (F-RESP-TYPES: TFC-12650 README.md:5). The catalog's
  fields are asked for by name when the container has more (F-SEARCH-TABLE: fields are
  lower case, FilterRestriction.java:40,43); `budget` is `budgetamount` where a tenant
  calls it so.
- Values. `transactiontimestamp` is `yyyy-MM-dd HH:mm:ss.SSS` in the server's local time,
  `''` when empty; dates `yyyy-MM-dd` (F-RESP-VALUES: master psorestclient/domain/
  jobjournalcardrecord.json:79,206; EmployeeCard.json:211). Conversions: convert.py.
- Restrictions. Single-quoted values compared with `=` (F-R-QUOTE: FilterTest.java:86;
  maconomy-cli maconomy_http_client.rs:235-240), `or` inside parentheses (F-R-OR-PAREN:
  maconomy-cli :235-240), lower-case field names (F-R-LOWER), no empty restriction
  (F-R-EMPTY: FilterRestriction.java:30-32). `get` reads `key='value'` with limit 1 as
  FilterTest.java:86 does (F-KEY-READ); `find_external` reads `(key='a' or key='b' ...)`.
- Errors are `{errorMessage, errorFamily, errorSeverity, focus, data}` (F-RESP-ERROR:
  containers/v1/ServerError.java:7-11,121-125; maconomy-cli :446-456).

Unconfirmed, each only with its name in `options.unconfirmed` (probes: probes.py):

- `transactiontimestamp_restriction` (F-R-TRANSACTIONTIMESTAMP; no client restricts on
  it, and one real definition declares it unfilterable: MaconomyRestClient
  src/test/resources/notes.mdsl.xml:41), with `timestamp_literal` (F-R-TIMESTAMP, in no
  client) and `restriction_extended` (F-R-EXTENDED, `>=`: only in code of unknown
  provenance): changed-since reads restrict on the server (below).
- `quote_doubling` (F-R-DOUBLING): a quote inside a value is written twice. Without it a
  value holding a quote is matched locally from a full read.
- `filter_endpoint` (F-FILTER-V2) lists through `POST {api}/containers/{shortname}/
  {container}/filter` with `{restriction, fields, limit, offset}`, and `filter_orderby`
  (F-FILTER-ORDERBY-BODY) adds `orderby` to that body; `specification_path`
  (F-SPEC-PATH) reads the specification at `GET {api}/containers/{shortname}/
  {container}`; `accept_version` (F-ACCEPT-VERSION-OTHER) allows a
  `containers_version` other than 5.0 or 6.1; `logout_via_auth` (F-AUTH-LOGOUT-VIA-AUTH)
  logs out on `GET {api}/auth/{shortname}`.

Changed-since reads (the seed's delta sync on `transactiontimestamp`). By default every
record is read in key order and those whose `transactiontimestamp` is at or after
`since` (the pipeline's cursor minus the sync's overlap) are kept and handed over oldest
first, so a checkpoint never passes a record not yet seen; records without a timestamp
are left out. With `transactiontimestamp_restriction` the server is asked for
`transactiontimestamp >= timestamp(...)` ordered `+transactiontimestamp,+key` and records
stream as they come (a server that ignores the order is noticed: the rest are sorted
here, with a warning); when the specification marks the field `unfilterable`, or the
server refuses the restriction (400), the read compares locally instead and says so in
the log.

Assumed, from no source: the server's time zone (`options.timezone`, default UTC); the
container names `customercard` and `jobs` and the customer fields beyond
`customernumber`/`name1` (catalog.json); the month numbering of date/timestamp literals
(`options.month_base`, default 1). Maconomy is a source only for this integration:
`write()` raises FatalError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
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
from engine.adapters.http import HttpSession
from engine.adapters.maconomy.convert import Plan
from engine.adapters.maconomy.options import MaconomyOptions
from engine.adapters.maconomy.restriction import any_of, quoted, restriction_literal
from engine.adapters.maconomy.scan import scan
from engine.adapters.maconomy.wire import Container, Wire
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError

__all__ = ["MaconomyAdapter"]

log = logging.getLogger("engine.adapters.maconomy")

# Maconomy publishes no rate limit; stay polite to what is often an on-premise server.
DEFAULT_RATE_LIMIT = (20, 1.0)
LOOKUP_CHUNK = 200  # values per `or` restriction in find_external

Sleep = Callable[[float], Awaitable[object]]


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
            username = config.auth["username"]
            password = config.auth["password"]
        except KeyError as exc:
            raise FatalError(f"maconomy connection {config.name!r}: auth needs username and "
                             f"password; {exc.args[0]} is missing") from None
        self.options = MaconomyOptions.parse(config.name, config.options,
                                             str(client.base_url))
        self.shortname = self.options.shortname
        context.redactor.add(password)
        catalog = _catalog()
        assert catalog is not None
        self._catalog = catalog
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        budget = context.budgets.for_credential(
            f"maconomy:{config.base_url}:{self.shortname}:{username}", limit, per)
        factory = partial(HttpSession, client, name="maconomy", budget=budget,
                          retry=retry or RetryPolicy(), redactor=context.redactor,
                          sleep=sleep)
        self.wire = Wire(self.options, username, password, factory, context)
        self.session = self.wire.session
        # Set when the server refused the changed-since restriction: compare locally.
        self._server_delta_refused: str | None = None
        self._refused_doubling: str | None = None  # likewise, a doubled quote

    def __repr__(self) -> str:
        return f"MaconomyAdapter({self.config.name!r}, shortname={self.shortname!r})"

    @property
    def logins(self) -> int:
        """Credentials traded for a reconnect token so far."""
        return self.wire.logins

    @property
    def _token(self) -> str | None:
        return self.wire.token

    # ------------------------------------------------------------------ protocol

    def describe(self) -> Catalog:
        return self._catalog

    def _object(self, obj: str) -> ObjectInfo:
        info = self._catalog.objects.get(obj)
        if info is None:
            raise FatalError(f"maconomy has no object {obj!r}; objects: "
                             f"{', '.join(sorted(self._catalog.objects))}")
        return info

    async def check(self) -> CheckResult:
        from engine.adapters.maconomy.probes import run_probes

        return await run_probes(self)

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
        await self.wire.logout()

    # ------------------------------------------------------------------ reads

    def _fetcher(self, obj: str, container: Container, restriction: str | None,
                 fields: list[str] | None, order: list[str]
                 ) -> Callable[[int, int], Awaitable[list[dict[str, Any]]]]:
        async def fetch(offset: int, limit: int) -> list[dict[str, Any]]:
            page = await self.wire.page(obj, container, restriction=restriction,
                                        fields=fields, limit=limit, offset=offset,
                                        order=order)
            return page.rows

        return fetch

    def _scan(self, obj: str, container: Container, plan: Plan, key: str,
              restriction: str | None, order: list[str]) -> AsyncIterator[list[dict[str, Any]]]:
        if not self.wire.can_order():
            order = []
        fetch = self._fetcher(obj, container, restriction, plan.wire_fields, order)
        return scan(fetch, key, self.options.page_size, obj)

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        if cursor_field is not None and cursor_field not in info.cursor_fields:
            raise FatalError(f"maconomy {obj} cannot be read changed-since on "
                             f"{cursor_field!r}; cursor fields: "
                             f"{', '.join(info.cursor_fields) or 'none'}")
        if since is not None:
            return self._read_changed(obj, info, cursor_field or info.cursor_fields[0], since)
        return self._read_all(obj, info)

    async def read_pages(self, obj: str) -> AsyncIterator[list[Record]]:
        """Every record, a page at a time (engine/adapters/base.py `PagedRead`): the
        records of `read(obj)`, without a generator step per record."""
        info = self._object(obj)
        container = await self.wire.container(obj)
        plan = Plan(info, _types(container), self.options.zone)
        key = info.id_field
        async for rows in self._scan(obj, container, plan, key, None, [f"+{key}"]):
            yield plan.records(rows)

    async def _read_all(self, obj: str, info: ObjectInfo) -> AsyncIterator[Record]:
        async for records in self.read_pages(obj):
            for record in records:
                yield record

    def server_delta_blocked(self, container: Container, cursor: str) -> str | None:
        """Why a changed-since read cannot restrict on the server, or None when it can."""
        if not self.options.server_delta:
            return "the connection does not list transactiontimestamp_restriction"
        if self._server_delta_refused:
            return self._server_delta_refused
        spec = (container.fields or {}).get(cursor)
        if spec is not None and spec.unfilterable:
            return f"the {container.name} specification marks {cursor} as not filterable"
        return None

    async def _read_changed(self, obj: str, info: ObjectInfo, cursor: str,
                            since: datetime) -> AsyncIterator[Record]:
        container = await self.wire.container(obj)
        plan = Plan(info, _types(container), self.options.zone)
        key = info.id_field
        blocked = self.server_delta_blocked(container, cursor)
        if blocked is None:
            literal = restriction_literal(since, self.options.zone, self.options.month_base)
            restriction = f"{cursor} >= {literal}"
            ordered = self.wire.can_order()
            pages = self._scan(obj, container, plan, key, restriction,
                               [f"+{cursor}", f"+{key}"])
            buffered: list[Record] = []
            try:
                first = await anext(pages, None)
            except FatalError as exc:
                if exc.status != 400:
                    raise
                blocked = self._server_delta_refused = (
                    f"Maconomy refused the restriction {restriction!r} "
                    f"({exc.vendor_reason or exc})")
                log.warning("maconomy: %s; changed-since reads of this connection compare "
                            "transactiontimestamp locally", blocked)
            else:
                newest: tuple[Any, str] | None = None
                async for rows in _chain(first, pages):
                    records = plan.records(rows)
                    if ordered:
                        for record in records:
                            mark = (record.get(cursor), str(record.get(key)))
                            if newest is not None and mark[0] is not None and mark < newest:
                                log.warning("maconomy: %s records came out of the order "
                                            "asked for (+%s,+%s); the rest are sorted here, "
                                            "and a run stopped before the end may miss "
                                            "changes a full run finds", obj, cursor, key)
                                ordered = False  # said once; the rest are buffered
                            elif mark[0] is not None:
                                newest = mark
                            yield record
                    else:
                        buffered.extend(r for r in records if r.get(cursor) is not None)
                if not ordered:
                    for record in _oldest_first(buffered, cursor, key):
                        yield record
                return
        log.info("maconomy: reading every %s record and keeping those changed since %s "
                 "(%s)", obj, since.isoformat(), blocked)
        changed: list[Record] = []
        async for rows in self._scan(obj, container, plan, key, None, [f"+{key}"]):
            for record in plan.records(rows):
                moment = record.get(cursor)
                if isinstance(moment, datetime) and moment >= since:
                    changed.append(record)
        for record in _oldest_first(changed, cursor, key):
            yield record

    async def get(self, obj: str, target_id: str) -> Record | None:
        info = self._object(obj)
        container = await self.wire.container(obj)
        plan = Plan(info, _types(container), self.options.zone)
        literal = quoted(target_id, self._doubling())
        if literal is None:  # a quote in the id: no restriction can say it
            found = await self._match_locally(obj, info, container, plan, info.id_field,
                                              {str(target_id)})
            return found.get(str(target_id))
        page = await self.wire.page(obj, container,
                                    restriction=f"{info.id_field}={literal}",
                                    fields=plan.wire_fields, limit=1, offset=0, order=[])
        rows = plan.records(page.rows)
        return rows[0] if rows else None

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields:
            raise FatalError(f"maconomy {obj} cannot be looked up by {field_name!r}; "
                             f"external id fields: {', '.join(info.external_id_fields)}")
        wanted = sorted({str(v) for v in values if v not in (None, "")})
        container = await self.wire.container(obj)
        plan = Plan(info, _types(container), self.options.zone)
        found: dict[str, Record] = {}
        pending = wanted
        while pending:
            doubling = self._doubling()
            literals = {value: quoted(value, doubling) for value in pending}
            sayable = [value for value in pending if literals[value] is not None]
            try:
                for start in range(0, len(sayable), LOOKUP_CHUNK):
                    chunk = sayable[start:start + LOOKUP_CHUNK]
                    restriction = any_of(field_name, [literals[v] or "" for v in chunk])
                    page = await self.wire.page(obj, container, restriction=restriction,
                                                fields=plan.wire_fields, limit=len(chunk),
                                                offset=0, order=[])
                    for record in plan.records(page.rows):
                        found[str(record.get(field_name))] = record
            except FatalError as exc:
                if not (doubling and exc.status == 400
                        and any("'" in value for value in sayable)):
                    raise
                self._refused_doubling = exc.vendor_reason or str(exc)
                log.warning("maconomy: a doubled quote was refused (%s); values containing "
                            "' are matched from a full read", self._refused_doubling)
                pending = [v for v in pending if str(v) not in found]
                continue
            unsayable = set(pending) - set(sayable)
            if unsayable:
                found.update(await self._match_locally(obj, info, container, plan,
                                                       field_name, unsayable))
            break
        return found

    def _doubling(self) -> bool:
        """Whether a quote inside a value may be written twice (quote_doubling, unless the
        server refused it in this session)."""
        return self.options.has("quote_doubling") and self._refused_doubling is None

    async def _match_locally(self, obj: str, info: ObjectInfo, container: Container,
                             plan: Plan, field_name: str, values: set[str]
                             ) -> dict[str, Record]:
        """Records whose `field_name` is one of `values`, from a full read: for values a
        restriction cannot carry (a quote, without quote_doubling)."""
        log.info("maconomy: %d %s value(s) contain a quote, which a restriction can carry "
                 "only with quote_doubling; matching them from a full read", len(values), obj)
        found: dict[str, Record] = {}
        key = info.id_field
        async for rows in self._scan(obj, container, plan, key, None, [f"+{key}"]):
            for record in plan.records(rows):
                value = str(record.get(field_name))
                if value in values:
                    found[value] = record
        return found


def _types(container: Container) -> dict[str, str] | None:
    if container.fields is None:
        return None
    return {name: spec.type for name, spec in container.fields.items()}


def _oldest_first(records: list[Record], cursor: str, key: str) -> list[Record]:
    return sorted(records, key=lambda r: (r[cursor], str(r.get(key))))


async def _chain(first: list[dict[str, Any]] | None,
                 rest: AsyncIterator[list[dict[str, Any]]]
                 ) -> AsyncIterator[list[dict[str, Any]]]:
    if first is None:
        return
    yield first
    async for rows in rest:
        yield rows
