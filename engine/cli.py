"""The `specsync` command line.

Exit codes: 0 success, 1 problems found (invalid spec, failed test, failed run),
2 usage errors. Nothing reaches the user as a raw traceback: unexpected errors are
reported in one line with a hint to rerun with --debug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from engine.diagnostics import Severity, render_github, render_json, render_text
from engine.errors import SpecError, SpecsyncError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _print_diagnostics(diags: list, sources: dict[str, str], fmt: str) -> None:
    if fmt == "json":
        print(render_json(diags))
    elif fmt == "github":
        if diags:
            print(render_github(diags))
    elif diags:
        print(render_text(diags, sources), file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.spec.load import validate_paths

    diags, sources, count = validate_paths(args.paths)
    _print_diagnostics(diags, sources, args.format)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if args.format == "text" and not errors:
        noun = "spec" if count == 1 else "specs"
        print(f"{count} {noun} valid", file=sys.stderr)
    return 1 if errors else 0


def cmd_test(args: argparse.Namespace) -> int:
    from engine.spectest import run_spec_tests

    return run_spec_tests(args.paths, verbose=args.verbose, name_filter=args.k)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specsync",
        description="Declarative integrations: validate, test, plan and run spec files.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check specs: structure, filters, templates, field names")
    p.add_argument("paths", nargs="*", default=["specs"], metavar="PATH")
    p.add_argument("--format", choices=["text", "json", "github"], default="text")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("test", help="run the spec tests beside each spec (no network)")
    p.add_argument("paths", nargs="*", default=["specs"], metavar="PATH")
    p.add_argument("-v", "--verbose", action="store_true", help="list every case")
    p.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    p.set_defaults(handler=cmd_test)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def extra_command(register: Callable[[argparse._SubParsersAction], None]) -> None:
    """Let engine modules add their own subcommands (sandbox, run, serve, ...)."""
    _EXTRA_COMMANDS.append(register)


def _load_extra_commands() -> None:
    import importlib

    for module in ("engine.commands", "engine.docs.command", "engine.demo.command"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def main(argv: Sequence[str] | None = None) -> int:
    _load_extra_commands()
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except SpecError as exc:
        print(render_text(exc.diagnostics, exc.sources), file=sys.stderr)
        return 1
    except SpecsyncError as exc:
        print(f"specsync: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("specsync: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if args.debug or os.environ.get("SPECSYNC_DEBUG"):
            raise
        print(f"specsync: internal error: {type(exc).__name__}: {exc}\n"
              "  rerun with --debug for the traceback, and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
