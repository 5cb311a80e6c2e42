"""Commands for the safeguards' state: `breakers` (list, reset) and `quarantine` (list,
release), and the part of `specsync status` that shows them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.cli.core import command, group
from engine.cli.options import add_state_option, state_url

if TYPE_CHECKING:
    from rich.console import Console

    from engine.state.base import Run, StateStore

__all__ = ["BREAKERS", "QUARANTINE", "print_safeguards"]

# How a safeguard's refusal starts, in a run's error (engine/sync/*.py, adapters/breaker.py).
_STOPPED_BY = ("deletion guard:", "failed-record threshold:")


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def print_safeguards(store: StateStore, latest: dict[tuple[str, str], Run],
                     console: Console) -> None:
    """Status: runs a safeguard stopped, circuit breakers not closed, quarantined records."""
    from rich.table import Table

    stopped = [(key, run) for key, run in sorted(latest.items()) if run.status == "failed"
               and run.error and (run.error.startswith(_STOPPED_BY)
                                  or "circuit breaker" in run.error)]
    for (integration, sync), run in stopped:
        console.print(f"stopped by a safeguard: {integration}/{sync}: {run.error}",
                      markup=False, highlight=False)
    breakers = [b for b in store.breakers() if b.state != "closed"]
    if breakers:
        table = Table(title="circuit breakers (`specsync breakers reset` closes them)")
        for column in ("integration", "system", "endpoint", "state", "failures", "since",
                       "probe at", "last failure"):
            table.add_column(column)
        for b in breakers:
            table.add_row(b.integration, b.system, b.endpoint, b.state, str(b.failures),
                          _when(b.opened_at), _when(b.retry_at), b.reason or "-")
        console.print(table)
    held = store.quarantined()
    if held:
        console.print(_quarantine_table(held))


def _quarantine_table(held: list) -> object:
    from rich.table import Table

    table = Table(title="quarantined records (`specsync quarantine release` writes them again)")
    for column in ("integration", "record", "syncs", "keys", "writes", "since"):
        table.add_column(column)
    for q in held:
        table.add_row(q.integration, q.record, q.pair, q.keys, str(q.writes),
                      _when(q.quarantined_at))
    return table


def _console() -> Console:
    from engine.cli.state import _console as console

    return console()


def _open(state: str | None) -> StateStore:
    from engine.state import open_store

    return open_store(state_url(state), create=False)


# -- quarantine ---------------------------------------------------------------------------

@dataclass(frozen=True)
class QuarantineListArgs:
    integration: str | None
    state: str | None


def _quarantine_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--integration", metavar="NAME", help="only this integration's records")
    add_state_option(p)


def quarantine_list(args: QuarantineListArgs) -> int:
    from engine.state import StoreNotFoundError

    try:
        store = _open(args.state)
    except StoreNotFoundError as exc:
        print(f"nothing quarantined: {exc}")
        return 0
    with store:
        held = store.quarantined(args.integration)
        if not held:
            print("nothing quarantined")
            return 0
        _console().print(_quarantine_table(held))
    return 0


@dataclass(frozen=True)
class ReleaseArgs:
    integration: str
    record: str
    state: str | None


def _release_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("integration", metavar="INTEGRATION",
                   help="the integration the record belongs to, e.g. kleer-hubspot")
    p.add_argument("record", metavar="RECORD",
                   help="as `specsync quarantine list` shows it, e.g. hubspot.companies#123")
    add_state_option(p)


def release(args: ReleaseArgs) -> int:
    from engine.state import StoreNotFoundError

    try:
        store = _open(args.state)
    except StoreNotFoundError as exc:
        print(f"nothing released: {exc}")
        return 1
    with store:
        if not store.release_quarantine(args.integration, args.record, at=datetime.now(UTC)):
            print(f"{args.integration} {args.record} is not quarantined (`specsync quarantine "
                  "list` shows what is)")
            return 1
    print(f"released {args.integration} {args.record}: the next run of its syncs writes it "
          "again (its write count starts over)")
    return 0


QUARANTINE = group(
    "quarantine", help="records the write-rate breaker of two-way syncs stopped writing",
    example="specsync quarantine release kleer-hubspot hubspot.companies#123",
    subcommands=(
        command("list", help="the quarantined records, their syncs, keys and write counts",
                example="specsync quarantine list --integration kleer-hubspot",
                args=QuarantineListArgs, handler=quarantine_list,
                arguments=_quarantine_list_arguments),
        command("release", help="write a quarantined record again (fix the mapping first)",
                example="specsync quarantine release kleer-hubspot hubspot.companies#123",
                args=ReleaseArgs, handler=release, arguments=_release_arguments),
    ),
)


# -- breakers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BreakersListArgs:
    state: str | None


def _breakers_list_arguments(p: argparse.ArgumentParser) -> None:
    add_state_option(p)


def breakers_list(args: BreakersListArgs) -> int:
    from rich.table import Table

    from engine.state import StoreNotFoundError

    try:
        store = _open(args.state)
    except StoreNotFoundError as exc:
        print(f"no circuit breakers: {exc}")
        return 0
    with store:
        found = store.breakers()
    if not found:
        print("no circuit breaker has seen a failure")
        return 0
    table = Table(title="circuit breakers")
    for column in ("integration", "system", "endpoint", "state", "failures", "probe at",
                   "last failure"):
        table.add_column(column)
    for b in found:
        table.add_row(b.integration, b.system, b.endpoint, b.state, str(b.failures),
                      _when(b.retry_at), b.reason or "-")
    _console().print(table)
    return 0


@dataclass(frozen=True)
class ResetArgs:
    integration: str | None
    system: str | None
    endpoint: str | None
    state: str | None


def _reset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--integration", metavar="NAME", help="only this integration's breakers")
    p.add_argument("--system", metavar="ADAPTER", help="only this system's (e.g. cinode)")
    p.add_argument("--endpoint", metavar="ENDPOINT", help='only this one ("GET /v1/users")')
    add_state_option(p)


def reset(args: ResetArgs) -> int:
    from engine.state import StoreNotFoundError

    try:
        store = _open(args.state)
    except StoreNotFoundError as exc:
        print(f"nothing to reset: {exc}")
        return 0
    with store:
        closed = store.reset_breakers(args.integration, args.system, args.endpoint)
    print(f"closed {closed} circuit breaker(s); the next run calls their endpoints again")
    return 0


BREAKERS = group(
    "breakers", help="circuit breakers per system and endpoint: list them, close them",
    example="specsync breakers reset --system cinode",
    subcommands=(
        command("list", help="every breaker that has seen failures, open ones included",
                example="specsync breakers list --state .specsync/state.db",
                args=BreakersListArgs,
                handler=breakers_list, arguments=_breakers_list_arguments),
        command("reset", help="close breakers now instead of waiting for their probe",
                example="specsync breakers reset --integration maconomy-cinode",
                args=ResetArgs, handler=reset, arguments=_reset_arguments),
    ),
)
