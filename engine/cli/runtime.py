"""A spec's runtime for one command: the spec loaded, its state store open, logs redacted.

`plan`, `run`, `check`, `explain` and the setup commands all open it the same way and
close it however the command ends:

    async with open_runtime("specs/kleer-hubspot", None, read_only=True) as runtime:
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from engine.cli.options import state_url

if TYPE_CHECKING:
    from engine.redact import Redactor
    from engine.state import StateStore
    from engine.sync.runtime import Runtime

__all__ = ["open_runtime"]


def _open_store(state: str | None, *, read_only: bool) -> StateStore:
    """The state store; a command that only reads gets an empty one in memory when the
    file does not exist (nothing ran yet), rather than creating it by looking."""
    from engine.state import SqliteStateStore, StoreNotFoundError, open_store

    try:
        return open_store(state_url(state), create=not read_only)
    except StoreNotFoundError:
        return SqliteStateStore(":memory:")


def _log_redactor() -> Redactor:
    """The redactor of the command's log lines (warnings and errors on stderr), which is
    also the runtime's: the connections' secrets it learns are masked in every line, and
    so are identity numbers, e-mail addresses and phone numbers (engine/redact.py).
    Where something else set logging up already (a test, an embedding program), its
    handlers stay, and the runtime gets a redactor of its own."""
    import logging

    from engine.logs import configure_logging
    from engine.redact import Redactor

    if logging.getLogger().handlers:
        return Redactor()
    return configure_logging("WARNING")


@asynccontextmanager
async def open_runtime(spec_path: str, state: str | None, *,
                        read_only: bool = False) -> AsyncIterator[Runtime]:
    """The spec loaded, its state store open, a Runtime over both; all closed at the end."""
    from engine.heap import settle
    from engine.spec.load import load_spec
    from engine.sync.runtime import Runtime

    spec = load_spec(spec_path)
    with _open_store(state, read_only=read_only) as store:
        runtime = Runtime(spec=spec, store=store, redactor=_log_redactor())
        settle()  # what was loaded stays: full collections need not walk it (heap.py)
        try:
            yield runtime
        finally:
            await runtime.aclose()
