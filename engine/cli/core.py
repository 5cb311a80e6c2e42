"""The command line's core: a list of commands in, a parser and an exit code out.

    from engine.cli.core import run
    sys.exit(run(COMMANDS, sys.argv[1:], version=lambda: "specsync 0.1.0"))

A `Command` names itself, says what it does in one line, gives one example, adds its
own arguments, and runs a handler that takes a typed arguments object: a frozen
dataclass built from argparse's namespace by field name (`command()` checks at type-check
time that the handler takes what the dataclass is). A group (`sandbox`) is a command
with subcommands. Nothing registers itself anywhere: the program's one list is
`engine.cli.program.COMMANDS`, and a parser is built from whatever list it is given.

Exit codes: 0 success; 1 problems found (an invalid spec, a failed test or run, an
error the user can act on); 2 usage errors (argparse's own, and `UsageError` from a
handler that can judge an argument only after importing something heavy); 130
interrupted; 141 the reader of standard output went away (`plan --json | head`), as for a
process that SIGPIPE ended. Nothing reaches the user as a raw traceback unless they ask
with `--debug` (before or after the command) or `$SPECSYNC_DEBUG`.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Command", "UsageError", "build_parser", "command", "group", "run"]

Arguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
A = TypeVar("A", bound="DataclassInstance")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141

# namespace attributes the parser sets for dispatch; not identifiers an option could use
_RUN = "specsync:run"
_PARSER = "specsync:parser"


class UsageError(Exception):
    """An argument is wrong in a way only the handler can tell: exit 2 with a usage line."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one line of help, one example, its arguments, its handler.

    `run` is None for a group, whose `subcommands` are the commands it holds. `args` is
    the dataclass the handler takes (tests compare its fields with the parser's).
    """

    name: str
    help: str
    example: str
    arguments: Arguments = _no_arguments
    run: Handler | None = None
    args: type[DataclassInstance] | None = None
    description: str = ""
    subcommands: tuple[Command, ...] = ()


def command(name: str, *, help: str, example: str, args: type[A], handler: Callable[[A], int],
            arguments: Arguments = _no_arguments, description: str = "") -> Command:
    """A command whose handler takes `args`, built from the parsed namespace by field name."""

    def run_handler(namespace: argparse.Namespace) -> int:
        values = {f.name: getattr(namespace, f.name) for f in fields(args)}
        return handler(args(**values))

    run_handler.__qualname__ = f"run_{name}"
    return Command(name, help, example, arguments, run_handler, args, description)


def group(name: str, *, help: str, example: str, subcommands: tuple[Command, ...],
          description: str = "") -> Command:
    """A command that only holds other commands (`specsync sandbox up`)."""
    return Command(name, help, example, description=description, subcommands=subcommands)


def _debug_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the traceback of an unexpected error (also "
                        "$SPECSYNC_DEBUG=1)")


def _version_action(version: Callable[[], str]) -> type[argparse.Action]:
    """`--version`, whose text is computed only when asked (it reads package metadata)."""

    class Version(argparse.Action):
        def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                     help: str | None = None) -> None:
            super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                             help=help)

        def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: object, option_string: str | None = None) -> None:
            print(version())
            parser.exit()

    return Version


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions as argparse does, but keeps indented lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            indent + line if line.startswith(" ") else super(_Formatter, self)._fill_text(
                line, width, indent)
            for line in text.splitlines()
        )


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], cmd: Command) -> None:
    epilog = f"example:\n  {cmd.example}" if cmd.example else None
    parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help,
                            epilog=epilog, formatter_class=_Formatter)
    # SUPPRESS: given after the command it sets True; not given, it leaves the value
    # the top-level `--debug` set alone
    _debug_option(parser, argparse.SUPPRESS)
    cmd.arguments(parser)
    parser.set_defaults(**{_RUN: cmd.run, _PARSER: parser})
    if cmd.subcommands:
        inner = parser.add_subparsers(metavar="COMMAND", title="commands")
        for child in cmd.subcommands:
            _add(inner, child)


def build_parser(commands: Sequence[Command], *, version: Callable[[], str] | None = None,
                 ) -> argparse.ArgumentParser:
    """The `specsync` parser for exactly these commands."""
    parser = argparse.ArgumentParser(
        prog="specsync",
        description="Declarative integrations: validate, test, plan and run spec files.",
        epilog="`specsync COMMAND --help` shows a command's options and an example.",
    )
    _debug_option(parser, False)
    if version is not None:
        parser.add_argument("--version", action=_version_action(version),
                            help="print the version and exit")
    parser.set_defaults(**{_RUN: None, _PARSER: parser})
    sub = parser.add_subparsers(metavar="COMMAND", title="commands")
    for cmd in commands:
        _add(sub, cmd)
    return parser


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        return None


def _stdout_is_gone() -> bool:
    """Whether the reader of stdout went away (and not some other pipe or socket)."""
    fd = _stdout_fd()
    if fd is None or not hasattr(select, "poll"):
        return True  # cannot tell: the pipe error most likely came from printing
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's last flush is quiet."""
    fd = _stdout_fd()
    if fd is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _report(exc: Exception, debug: bool) -> int:
    """The exit code for an exception a handler raised, after telling the user."""
    from engine.errors import SpecError, SpecsyncError

    if isinstance(exc, SpecError):
        from engine.diagnostics import render_text

        print(render_text(exc.diagnostics, exc.sources), file=sys.stderr)
        return EXIT_PROBLEMS
    if isinstance(exc, SpecsyncError):
        print(f"specsync: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    if debug:
        raise exc
    # the last line of defence: one line, not a traceback
    print(f"specsync: internal error: {type(exc).__name__}: {exc}\n"
          "  rerun with --debug for the traceback, and please report it", file=sys.stderr)
    return EXIT_PROBLEMS


def run(commands: Sequence[Command], argv: Sequence[str] | None = None, *,
        version: Callable[[], str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the chosen command, return the exit code."""
    parser = build_parser(commands, version=version)
    try:
        try:
            namespace = parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        handler: Handler | None = getattr(namespace, _RUN)
        chosen: argparse.ArgumentParser = getattr(namespace, _PARSER)
        if handler is None:  # no command, or a group without its subcommand
            chosen.print_help(sys.stderr)
            return EXIT_USAGE
        debug = bool(namespace.debug or os.environ.get("SPECSYNC_DEBUG"))
        try:
            code = handler(namespace)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
            return code
        except UsageError as exc:
            chosen.print_usage(sys.stderr)
            print(f"{chosen.prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("specsync: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError as exc:
            if not _stdout_is_gone():
                return _report(exc, debug)
            raise
        except Exception as exc:
            return _report(exc, debug)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
