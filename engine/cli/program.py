"""The `specsync` program: its one list of commands, and `main()`.

Adding a command means writing it in the module of its group (or a new one) and adding
it to `COMMANDS` below; nothing else is looked up or registered. The order here is the
order of `specsync --help`.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.cli import (
    author,
    demo,
    replay,
    safeguards,
    sandbox,
    scale,
    serve,
    setup,
    spec,
    state,
    sync,
)
from engine.cli.core import Command, run

__all__ = ["COMMANDS", "main", "version"]

COMMANDS: tuple[Command, ...] = (
    spec.VALIDATE,
    spec.TEST,
    spec.DOCS,
    author.NEW,
    author.FUNCTIONS,
    sync.PLAN,
    sync.RUN,
    setup.CHECK,
    setup.CONNECT,
    setup.LOCK,
    state.STATUS,
    state.HISTORY,
    safeguards.BREAKERS,
    safeguards.QUARANTINE,
    sync.EXPLAIN,
    replay.REPLAY,
    serve.SERVE,
    scale.WORKER,
    scale.STATE,
    sandbox.SANDBOX,
    demo.DEMO,
)


def version() -> str:
    """`specsync --version`: the installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return f"specsync {installed('specsync')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "specsync (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point: run `specsync` with `argv` (default: sys.argv[1:])."""
    return run(COMMANDS, argv, version=version)
