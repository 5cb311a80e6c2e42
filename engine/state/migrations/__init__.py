"""Versioned schema migrations, one ordered set of SQL files per database.

`sqlite/NNNN_name.sql` and `postgres/NNNN_name.sql` share their numbering: version N
means the same logical schema on both. A store applies the missing versions in
order, in one transaction together with their `schema_migrations` rows, and
refuses a database whose version is newer than the code (an older specsync must not
write to a schema it does not understand).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = ["Migration", "latest_version", "load_migrations", "sqlite_statements"]

Dialect = Literal["sqlite", "postgres"]
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def load_migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """The dialect's migrations in order; numbering must run 1, 2, 3... without gaps."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..N: {versions}")
    return tuple(found)


def latest_version(dialect: Dialect) -> int:
    return len(load_migrations(dialect))


def sqlite_statements(script: str) -> list[str]:
    """Split a script into statements, so they can run inside our own transaction.

    (`executescript` would COMMIT first, breaking the migration's atomicity.)
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise RuntimeError(f"incomplete SQL statement at the end of a migration: {buffer!r}")
    return statements
