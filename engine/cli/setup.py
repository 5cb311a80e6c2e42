"""Commands that set a spec up against the live systems: `connect` and `check`.

`connect` registers, through the vendors' own APIs, what the spec's triggers and
workflow actions need (engine/runner/connect.py) and shows each registration. `check`
tests each connection, then compares those registrations with what the vendors hold
and reports drift (missing, extra or different registrations). Both exit 1 when
something is wrong.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.cli.core import command
from engine.cli.options import add_state_option

if TYPE_CHECKING:
    from engine.runner.connect import ConnectionReport
    from engine.sync.runtime import Runtime

__all__ = ["CHECK", "CONNECT", "render_registrations"]

PUBLIC_URL_ENV = "SPECSYNC_PUBLIC_URL"


def _public_url_option(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--public-url", metavar="URL", default=os.environ.get(PUBLIC_URL_ENV),
                   help="the https base URL the vendors reach `specsync serve` at "
                   f"(default ${PUBLIC_URL_ENV})" + ("" if required else
                                                    "; without it registrations are "
                                                    "recognised by their path alone"))


def render_registrations(reports: list[ConnectionReport]) -> list[str]:
    """One line per registration (and per connection that could not be compared)."""
    lines: list[str] = []
    for report in reports:
        where = f"{report.connection} ({report.vendor})"
        if report.error:
            lines.append(f"FAIL     {where}: {report.error}")
            continue
        for item in report.registrations:
            target = f" -> {item.target}" if item.target else ""
            detail = f" ({item.detail})" if item.detail else ""
            lines.append(f"{item.state:<8} {where} {item.kind}: {item.name}{target}{detail}")
    return lines


# -- connect ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectArgs:
    spec: str
    public_url: str | None
    state: str | None


def _connect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    _public_url_option(p, required=True)
    add_state_option(p)


def connect(args: ConnectArgs) -> int:
    from engine.cli.sync import open_runtime
    from engine.errors import SpecsyncError
    from engine.runner.connect import reconcile_spec

    if not args.public_url:
        raise SpecsyncError(f"connect needs --public-url (or ${PUBLIC_URL_ENV}): the https "
                            "address the vendors reach `specsync serve` at")

    async def main() -> bool:
        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            reports = await reconcile_spec(runtime, args.public_url, apply=True)
        for line in render_registrations(reports):
            print(line)
        if not reports:
            print("nothing to register: no sync of the spec is started by webhooks and it "
                  "has no workflow actions")
        return not any(r.error for r in reports)

    import asyncio

    return 0 if asyncio.run(main()) else 1


CONNECT = command(
    "connect", help="register the webhooks and workflow actions a spec needs with the vendors",
    example="specsync connect specs/kleer-hubspot --public-url https://sync.example.com",
    args=ConnectArgs, handler=connect, arguments=_connect_arguments,
    description="Through each vendor's own API, register what the spec's triggers and "
    "workflow actions need to reach `specsync serve` at --public-url: Cinode's company "
    "webhook with its credential header, HubSpot's webhook target and subscriptions for "
    "the triggering properties, HubSpot's workflow action definitions. Idempotent: what "
    "is registered already stays, what differs is corrected, extra registrations of the "
    "integration are removed. Prints each registration.",
)


# -- check ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckArgs:
    spec: str
    public_url: str | None
    state: str | None


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    _public_url_option(p, required=False)
    add_state_option(p)


async def _connections(runtime: Runtime) -> tuple[bool, set[str]]:
    """Test each connection; returns whether all work and the names that do."""
    from engine.errors import SpecsyncError

    ok, working = True, set()
    for name, connection in runtime.spec.connections.items():
        try:
            result = await runtime.adapter(name).check()
            good, message = result.ok, result.message
        except SpecsyncError as exc:  # one the user can act on: its words only
            good, message = False, runtime.redactor.text(str(exc))
        except Exception as exc:  # a check reports, it does not crash
            good = False
            message = runtime.redactor.text(f"{type(exc).__name__}: {exc}")
        ok = ok and good
        if good:
            working.add(name)
        print(f"{'ok  ' if good else 'FAIL'} {name} ({connection.adapter}): {message}")
    return ok, working


def check(args: CheckArgs) -> int:
    from engine.cli.sync import open_runtime
    from engine.runner.connect import reconcile_spec

    async def main() -> bool:
        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            ok, working = await _connections(runtime)
            reports = [r for r in await reconcile_spec(runtime, args.public_url, apply=False)
                       if r.connection in working or r.error]
        lines = render_registrations(reports)
        if lines:
            print("registrations (specsync connect makes them):")
            for line in lines:
                print(f"  {line}")
        drift = sum(len(r.drift) for r in reports)
        if drift:
            print(f"{drift} registration(s) drifted: run specsync connect {args.spec} "
                  "--public-url URL")
        return ok and not drift and not any(r.error for r in reports)

    import asyncio

    return 0 if asyncio.run(main()) else 1


CHECK = command(
    "check", help="test each connection and the registrations of a spec; report drift",
    example="specsync check specs/kleer-hubspot --public-url https://sync.example.com",
    args=CheckArgs, handler=check, arguments=_check_arguments,
    description="Connect to every system the spec names, with its credentials, and report "
    "per connection; then compare the webhooks, subscriptions and workflow actions the "
    "spec needs with what the vendors hold (missing, extra, different). Exits 1 when any "
    "connection fails or anything drifted.",
)
