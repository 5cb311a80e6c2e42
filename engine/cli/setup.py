"""Commands that set a spec up against the live systems: `connect`, `check`, `lock`.

`connect` registers, through the vendors' own APIs, what the spec's triggers and
workflow actions need (engine/runner/connect.py) and shows each registration. `check`
tests each connection, compares those registrations with what the vendors hold
(drift: missing, extra or different registrations), verifies the target metadata the
spec refers to and a sample of the source records (engine/sync/preflight.py), naming
the spec line of each finding, and compares the lock with the live systems. `lock`
writes the resolved references into spec.lock.json beside the spec. All exit 1 when
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
    from engine.sync.preflight import Finding, Preflight
    from engine.sync.runtime import Runtime

__all__ = ["CHECK", "CONNECT", "LOCK", "render_registrations"]

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


def render_findings(findings: list[Finding]) -> list[str]:
    return [f"{f.level:<7} {f'{f.location}: ' if f.location else ''}{f.message}"
            for f in findings]


async def _preflight(runtime: Runtime, working: set[str], *, samples: bool,
                     with_lock: bool) -> Preflight:
    """References (and a sample of source records) on the connections that work."""
    from pathlib import Path

    from engine.spec.load import load_document
    from engine.spec.lockfile import read_lock
    from engine.spec.references import spec_references
    from engine.sync.preflight import check_references, check_samples

    doc, _, _ = load_document(Path(runtime.spec.path))
    assert doc is not None  # the spec loaded a moment ago
    locate = doc.location
    refs = [r for r in spec_references(runtime.spec, runtime.registry)
            if r.connection in working]
    locked = read_lock(runtime.spec.path) if with_lock else None
    if locked is not None:
        locked = [item for item in locked if item.connection in working]
    result = await check_references(runtime, refs, locate, locked)
    if samples:
        syncs = [s.name for s in runtime.spec.syncs.values()
                 if s.source_connection in working and s.target_connection in working]
        result.findings.extend(await check_samples(runtime, locate, syncs))
    return result


def check(args: CheckArgs) -> int:
    from engine.cli.sync import open_runtime
    from engine.runner.connect import reconcile_spec

    async def main() -> bool:
        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            ok, working = await _connections(runtime)
            reports = [r for r in await reconcile_spec(runtime, args.public_url, apply=False)
                       if r.connection in working or r.error]
            try:
                found = await _preflight(runtime, working, samples=True, with_lock=True)
                findings, lock_error = found.findings, None
            except ValueError as exc:  # an unreadable lock
                findings, lock_error = [], str(exc)
        lines = render_registrations(reports)
        if lines:
            print("registrations (specsync connect makes them):")
            for line in lines:
                print(f"  {line}")
        drift = sum(len(r.drift) for r in reports)
        if drift:
            print(f"{drift} registration(s) drifted: run specsync connect {args.spec} "
                  "--public-url URL")
        if findings or lock_error:
            print("target metadata and source data:")
            for line in render_findings(findings):
                print(f"  {line}")
            if lock_error:
                print(f"  problem {lock_error}")
        bad = lock_error or any(f.level != "note" for f in findings)
        return ok and not drift and not any(r.error for r in reports) and not bad

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


# -- lock -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LockArgs:
    spec: str
    state: str | None


def _lock_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    add_state_option(p)


def lock(args: LockArgs) -> int:
    from engine.cli.sync import open_runtime
    from engine.spec.lockfile import kind_word, lock_path, write_lock

    async def main() -> bool:
        async with open_runtime(args.spec, args.state, read_only=True) as runtime:
            ok, working = await _connections(runtime)
            found = await _preflight(runtime, working, samples=False, with_lock=False)
            spec = runtime.spec
        for line in render_findings(found.findings):
            print(line)
        if not ok or found.problems:
            print(f"not locked: fix what is above first ({lock_path(spec.path)} unchanged)")
            return False
        path = write_lock(spec.path, spec.integration, found.resolved)
        for item in sorted(found.resolved, key=lambda r: (r.kind, r.value)):
            named = f" ({item.name})" if item.name else " (created by the first write)"
            print(f"locked  {item.connection}: {kind_word(item.kind)} {item.value}{named}")
        print(f"wrote {path}: {len(found.resolved)} reference(s)")
        return True

    import asyncio

    return 0 if asyncio.run(main()) else 1


LOCK = command(
    "lock", help="resolve the target metadata a spec refers to and write spec.lock.json",
    example="specsync lock specs/maconomy-cinode",
    args=LockArgs, handler=lock, arguments=_lock_arguments,
    description="Look up, on the live systems, every pipeline, stage, currency, language, "
    "office, role and tag the spec refers to, and write them with the names the systems "
    "give them into spec.lock.json beside the spec. `specsync validate` then checks the "
    "spec against the lock offline (CI needs no credentials) and `specsync check` "
    "reports what changed on the systems since. Writes nothing when a reference is missing.",
)
