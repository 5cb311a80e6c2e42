"""`specsync sandbox up`: the local simulators of the four systems, on loopback."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.cli.core import UsageError, command, group
from engine.cli.options import count, host

__all__ = ["SANDBOX"]


@dataclass(frozen=True)
class SandboxUpArgs:
    records: int
    faults: str
    seed: int
    host: str


def _up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records", type=count(0), default=50, metavar="N",
                   help="records per object (default 50)")
    p.add_argument("--faults", default="", metavar="SPEC",
                   help="faults to inject, e.g. latency=50ms,error_rate=0.1,seed=7 "
                   "(default: none)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the generated records: the same seed, the same data "
                   "(default 1)")
    p.add_argument("--host", type=host, default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1)")


def up(args: SandboxUpArgs) -> int:
    from engine.sandbox.platform import Faults, FaultsError
    from engine.sandbox.serve import run_sandboxes

    try:
        faults = Faults.parse(args.faults)
    except FaultsError as exc:
        raise UsageError(f"argument --faults: {exc}") from None
    return run_sandboxes(records=args.records, faults=faults, seed=args.seed,
                         host=args.host) or 0


UP = command(
    "up", help="run all four simulators on loopback until Ctrl-C",
    example="specsync sandbox up --records 1000 --faults latency=50ms,error_rate=0.05",
    args=SandboxUpArgs, handler=up, arguments=_up_arguments,
    description="Start the Kleer, Cinode, Maconomy and HubSpot simulators, print the "
    "`export` lines that point specs at them and a curl per system, and serve until Ctrl-C.",
)

SANDBOX = group(
    "sandbox", help="local simulators of Kleer, Cinode, Maconomy and HubSpot",
    example="specsync sandbox up --records 200",
    subcommands=(UP,),
)
