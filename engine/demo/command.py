"""`specsync demo [--records N] [--keep-running] [--state DIR]`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from engine.cli import extra_command

__all__ = ["cmd_demo", "register"]


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.demo.run import run_demo

    state = Path(args.state) if args.state else None
    return asyncio.run(run_demo(args.records, state=state, keep_running=args.keep_running))


def register(sub: Any) -> None:
    """Add the `demo` subcommand to the CLI's subparsers."""
    p = sub.add_parser("demo", help="watch the three seed integrations sync between local "
                       "sandboxes of Kleer, Cinode, Maconomy and HubSpot (start here)")
    p.add_argument("--records", type=int, default=30, metavar="N",
                   help="records per sandbox object (default 30: done in well under a "
                   "minute)")
    p.add_argument("--keep-running", action="store_true",
                   help="leave the sandboxes and the runner up until Ctrl-C")
    p.add_argument("--state", metavar="DIR",
                   help="an empty directory for the demo's state store (default: a "
                   "temporary directory, removed afterwards)")
    p.set_defaults(handler=cmd_demo)


extra_command(register)
