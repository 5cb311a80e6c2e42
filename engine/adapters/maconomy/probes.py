"""`specsync check` for Maconomy: log in, read, and probe every unconfirmed option listed.

One plain sentence per probe. The confirmed path is always probed (credentials, the
container resources and their specifications, a one-row read, offset paging); each
option in `options.unconfirmed` is probed on the live tenant with the request it makes
the adapter send (option names and facts: options.py). Nothing is probed that the
connection does not list: a probe of an unlisted option would itself send a request no
real client sends. The check fails when reads cannot work as configured; an option the
tenant refuses but the adapter survives (changed-since on the server, doubled quotes)
is reported with what the adapter does instead, and does not fail the check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.adapters.base import CheckResult
from engine.adapters.maconomy.restriction import restriction_literal
from engine.adapters.maconomy.wire import Container
from engine.errors import FatalError

if TYPE_CHECKING:
    from engine.adapters.maconomy.adapter import MaconomyAdapter

__all__ = ["run_probes"]

CURSOR = "transactiontimestamp"


@dataclass
class _Report:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def say(self, text: str, *, fails: bool = False) -> None:
        if text not in self.lines:
            self.lines.append(text)
        if fails:
            self.ok = False

    def result(self) -> CheckResult:
        return CheckResult(self.ok, "\n  ".join(self.lines))


def _reason(exc: Exception, adapter: MaconomyAdapter) -> str:
    if isinstance(exc, FatalError):
        reason = exc.vendor_reason or str(exc)
        return adapter.context.redactor.text(f"{exc.status}: {reason}" if exc.status
                                             else reason)
    return adapter.context.redactor.text(f"{type(exc).__name__}: {exc}")


async def run_probes(adapter: MaconomyAdapter) -> CheckResult:
    report = _Report()
    options = adapter.options
    wire = adapter.wire
    system = options.shortname
    try:
        first = await wire.container("customers")
    except FatalError as exc:
        if exc.status in (401, 403):
            report.say(f"Maconomy refused the user name or password for system {system!r} "
                       f"({exc.status}).", fails=True)
        elif not exc.vendor_reason:  # the adapter's own finding, already in plain words
            text = adapter.context.redactor.text(str(exc)).removeprefix("maconomy: ")
            report.say(text[:1].upper() + text[1:] + ".", fails=True)
        else:
            report.say(f"Maconomy refused: {_reason(exc, adapter)}", fails=True)
        return report.result()
    except Exception as exc:  # a check reports; it never raises
        report.say(f"Maconomy is unreachable: {_reason(exc, adapter)}", fails=True)
        return report.result()
    if wire.token is not None:
        report.say(f"Logged in to Maconomy system {system!r} (reconnect token received).")
    else:
        report.say("The server answered without a Maconomy-Reconnect token: this server may "
                   "need single sign-on (X-Cookie), which specsync does not support; every "
                   "request will carry the user name and password.", fails=True)
    try:
        containers = {"customers": first, "jobs": await wire.container("jobs")}
        readable = [await _readable(adapter, report, obj, container)
                    for obj, container in containers.items()]
        if not all(readable):
            return report.result()
        await _paging(adapter, report, first)
        if options.server_delta:
            for obj, container in containers.items():
                await _changed_since(adapter, report, obj, container)
        else:
            report.say(f"Changed-since reads read every record and compare {CURSOR} "
                       "locally; to restrict them on the server, add "
                       "transactiontimestamp_restriction, timestamp_literal and "
                       "restriction_extended to options.unconfirmed and run check again.")
        if options.has("quote_doubling"):
            await _quote_doubling(adapter, report, first)
        if options.has("filter_orderby"):
            await _orderby(adapter, report, first)
        if options.has("logout_via_auth"):
            await _logout(adapter, report, first)
    except FatalError as exc:
        report.say(f"Maconomy refused: {_reason(exc, adapter)}", fails=True)
    except Exception as exc:  # a check reports; it never raises
        report.say(f"Maconomy is unreachable: {_reason(exc, adapter)}", fails=True)
    return report.result()


async def _readable(adapter: MaconomyAdapter, report: _Report, obj: str,
                    container: Container) -> bool:
    options = adapter.options
    wire = adapter.wire
    where = (f"{options.api_path}/containers/{options.shortname}/{container.name}/filter"
             if options.has("filter_endpoint") else "its data:filter link")
    readable = True
    try:
        page = await wire.page(obj, container, restriction=None, fields=None, limit=1,
                               offset=0, order=[])
    except FatalError as exc:
        readable = False
        if exc.status == 404 and options.has("filter_endpoint"):
            report.say(f"This Maconomy server has no {where} resource (404): remove "
                       "filter_endpoint from options.unconfirmed.", fails=True)
        elif exc.status in (406, 415):
            report.say(f"This Maconomy server does not accept version "
                       f"{options.containers_version} of the containers format "
                       f"({exc.status}); set options.containers_version to one it accepts.",
                       fails=True)
        else:
            report.say(f"The {container.name} container cannot be read through {where}: "
                       f"{_reason(exc, adapter)}", fails=True)
    else:
        how = (f"through {where} (filter_endpoint)" if options.has("filter_endpoint")
               else "through the v1 API")
        report.say(f"The {container.name} container is readable {how} "
                   f"({'has' if page.rows else 'no'} records).")
    if container.fields is None:
        source = ("GET " + adapter.wire.current_path(obj) + " (specification_path)"
                  if options.has("specification_path") else "its specification link")
        status = container.specification_status
        report.say(f"The {container.name} specification could not be read from {source}"
                   f"{f' ({status})' if status else ''}: every field is asked for and "
                   "checked value by value."
                   + (" Remove specification_path from options.unconfirmed."
                      if options.has("specification_path") else ""),
                   fails=options.has("specification_path"))
        return readable
    info = adapter.describe().objects[obj]
    missing = sorted(n for n in info.fields if "." not in n and n not in container.fields
                     and not (n == "budget" and "budgetamount" in container.fields))
    if missing:
        report.say(f"The {container.name} container has no {', '.join(missing)}: "
                   "those fields stay empty.")
    return readable


async def _paging(adapter: MaconomyAdapter, report: _Report, container: Container) -> None:
    key = adapter.describe().objects["customers"].id_field
    order = [f"+{key}"] if adapter.wire.can_order() else []
    page = await adapter.wire.page("customers", container, restriction=None, fields=[key],
                                   limit=2, offset=1, order=order)
    if page.row_offset == 1 and (page.row_count is None or page.row_count <= 2):
        report.say("Paging by offset works (rowOffset answers the offset asked for).")
    else:
        report.say(f"Maconomy ignored offset (asked 1, answered rowOffset "
                   f"{page.row_offset}): listing cannot page on this server.", fails=True)


async def _changed_since(adapter: MaconomyAdapter, report: _Report, obj: str,
                         container: Container) -> None:
    options = adapter.options
    name = container.name
    blocked = adapter.server_delta_blocked(container, CURSOR)
    if blocked is not None:
        report.say(f"{blocked[0].upper()}{blocked[1:]}: changed-since reads of {name} will "
                   "read every record and compare locally (transactiontimestamp_restriction "
                   "does nothing here).")
        return
    if container.fields is not None and CURSOR not in container.fields:
        report.say(f"The {name} container has no {CURSOR}: changed-since reads cannot see "
                   "changes; run full syncs.", fails=True)
        return
    zone, base = options.zone, options.month_base
    floor = f"timestamp(2000, {base}, 1, 0, 0, 0, 0)"
    try:
        page = await adapter.wire.page(obj, container, restriction=f"{CURSOR} >= {floor}",
                                       fields=None, limit=1, offset=0, order=[])
    except FatalError as exc:
        if exc.status != 400:
            raise
        report.say(f"Maconomy refused the restriction {CURSOR} >= timestamp(...) on {name} "
                   f"({_reason(exc, adapter)}): changed-since reads will compare locally; "
                   "remove transactiontimestamp_restriction and timestamp_literal from "
                   "options.unconfirmed.")
        return
    info = adapter.describe().objects[obj]
    records = [r for r in _plan_records(adapter, obj, container, page.rows) if r.get(CURSOR)]
    if not records:
        report.say(f"{CURSOR} >= timestamp(...) is accepted on {name} (no record to check "
                   "the month numbering on).")
        return
    record = records[0]
    key = info.id_field
    moment = record[CURSOR]
    own = f"{key}='{record[key]}'" if "'" not in str(record[key]) else None
    if own is None:
        report.say(f"{CURSOR} >= timestamp(...) is accepted on {name}.")
        return
    found = await _finds(adapter, obj, container,
                         f"{own} and {CURSOR} >= {restriction_literal(moment, zone, base)}")
    if found:
        report.say(f"{CURSOR} >= timestamp(...) is accepted on {name}: changed-since reads "
                   "restrict on the server.")
        return
    other = 1 - base
    if await _finds(adapter, obj, container,
                    f"{own} and {CURSOR} >= {restriction_literal(moment, zone, other)}"):
        report.say(f"timestamp(...) months are numbered from {other} here, not {base}: set "
                   f"options.month_base to {other}, or changed-since reads will miss "
                   "changes.", fails=True)
    else:
        report.say(f"Maconomy does not find a {name} record by its own {CURSOR} with "
                   "timestamp(...) (check options.timezone): changed-since reads could miss "
                   "changes; remove transactiontimestamp_restriction.", fails=True)


def _plan_records(adapter: MaconomyAdapter, obj: str, container: Container,
                  rows: list[dict]) -> list[dict]:
    from engine.adapters.maconomy.adapter import _types
    from engine.adapters.maconomy.convert import Plan

    info = adapter.describe().objects[obj]
    return Plan(info, _types(container), adapter.options.zone).records(rows)


async def _finds(adapter: MaconomyAdapter, obj: str, container: Container,
                 restriction: str) -> bool:
    page = await adapter.wire.page(obj, container, restriction=restriction, fields=None,
                                   limit=1, offset=0, order=[])
    return bool(page.rows)


async def _quote_doubling(adapter: MaconomyAdapter, report: _Report,
                          container: Container) -> None:
    key = adapter.describe().objects["customers"].id_field
    try:
        await adapter.wire.page("customers", container, restriction=f"{key}='it''s'",
                                fields=[key], limit=1, offset=0, order=[])
    except FatalError as exc:
        if exc.status != 400:
            raise
        report.say(f"Maconomy refused a doubled quote ({_reason(exc, adapter)}): remove "
                   "quote_doubling; values containing ' will be matched from a full read.")
        return
    report.say("Quotes inside values are escaped by doubling here.")


async def _orderby(adapter: MaconomyAdapter, report: _Report, container: Container) -> None:
    key = adapter.describe().objects["customers"].id_field
    firsts = []
    for sign in "+-":
        page = await adapter.wire.page("customers", container, restriction=None,
                                       fields=[key], limit=1, offset=0,
                                       order=[f"{sign}{key}"])
        firsts.append(page.rows[0].get(key) if page.rows else None)
    if firsts[0] is not None and firsts[0] == firsts[1]:
        report.say("Maconomy ignores orderby in a filter body here: remove filter_orderby.",
                   fails=True)
    else:
        report.say("orderby in a filter body is honoured here.")


async def _logout(adapter: MaconomyAdapter, report: _Report, container: Container) -> None:
    wire = adapter.wire
    token = wire.token
    await wire.logout()
    if token is None or container.resource is None:
        report.say("Logging out through /auth could not be verified (no session or no v1 "
                   "container resource to try the old token on).")
        return
    response = await wire.plain.request(
        "GET", container.resource, expected=(401, 403, 404),
        headers={"Authorization": f"X-Reconnect {token}", "Accept": "application/json"})
    if response.status_code == 401:
        report.say("Logging out through /auth with X-Log-Out ends the session here.")
    else:
        report.say("The token still works after X-Log-Out on /auth: logging out that way "
                   "does nothing here; remove logout_via_auth.", fails=True)
