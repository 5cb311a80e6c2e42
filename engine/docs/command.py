"""`specsync docs SPEC [--format md|html] [--output FILE]`.

A broken spec is reported exactly as `specsync validate` reports it (the CLI renders
the SpecError that `load_spec` raises) and the command exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli import extra_command

__all__ = ["cmd_docs", "register"]


def cmd_docs(args: argparse.Namespace) -> int:
    from engine.docs.render import render_docs
    from engine.errors import SpecsyncError
    from engine.spec.load import load_spec

    text = render_docs(load_spec(args.spec), args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SpecsyncError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


def register(sub: Any) -> None:
    """Add the `docs` subcommand to the CLI's subparsers."""
    from engine.docs.render import FORMATS

    p = sub.add_parser("docs", help="generate the documentation of an integration from its "
                       "spec (field tables, schedules, triggers, actions)")
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default) or html")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(handler=cmd_docs)


extra_command(register)
