"""`specsync demo`: the newcomer's tour of the three seed integrations."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.cli.core import command
from engine.cli.options import count

__all__ = ["DEMO"]


@dataclass(frozen=True)
class DemoArgs:
    records: int
    keep_running: bool
    state: str | None


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records", type=count(1), default=30, metavar="N",
                   help="records per sandbox object (default 30: done in well under a minute)")
    p.add_argument("--keep-running", action="store_true",
                   help="leave the sandboxes and the runner up until Ctrl-C")
    p.add_argument("--state", metavar="DIR",
                   help="an empty directory for the demo's state store (default: a "
                   "temporary directory, removed afterwards)")


def demo(args: DemoArgs) -> int:
    import asyncio
    from pathlib import Path

    from engine.demo.run import run_demo

    state = Path(args.state) if args.state else None
    return asyncio.run(run_demo(args.records, state=state, keep_running=args.keep_running))


DEMO = command(
    "demo", help="watch the three seed integrations sync between local sandboxes (start here)",
    example="specsync demo --records 100 --keep-running",
    args=DemoArgs, handler=demo, arguments=_arguments,
    description="Start local sandboxes of Kleer, Cinode, Maconomy and HubSpot and the "
    "runner, run every scheduled sync once, then make live changes whose webhooks and "
    "workflow actions go through the real runner, and report what happened.",
)
