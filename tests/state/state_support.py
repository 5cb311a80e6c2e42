"""Shared helpers of the state store tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.state.base import StateStore

PG_DSN = os.environ.get("SPECSYNC_TEST_POSTGRES_DSN")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus seconds: tests pass the clock explicitly."""
    return T0 + timedelta(seconds=seconds)


def unique(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Backend:
    """One fresh database; `store()` opens another store (connection) on it."""

    name: str
    open: Callable[[], StateStore]
    execute: Callable[[str], None]  # raw SQL on the same database, outside the store
    opened: list[StateStore] = field(default_factory=list)

    def store(self) -> StateStore:
        store = self.open()
        self.opened.append(store)
        return store
