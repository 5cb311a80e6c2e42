"""Move an embedded SQLite state store into PostgreSQL, so a deployment grows to workers.

    specsync state move --from .specsync/state.db --to postgresql://db/specsync

Everything moves: links with their hashes, cursors and fingerprints, failing records,
run history, the webhook inbox (processed events keep deduplicating their resends),
workflow-action claims, leases (with their epochs, so fencing stays monotonic; no holder)
and metadata (including each schedule's last slot). The first run after the move finds
every record linked with the hash it last wrote: it writes nothing, re-adopts nothing.

It refuses, and writes nothing, when:
- the target holds any state already (moving twice, or onto another deployment's store);
- a run is in progress on the source (a sync's lease is held and unexpired): stop
  `serve` first; a "running" run whose lease expired (its process died) moves as
  "interrupted";
- the two stores are at different schema versions (upgrade the older one first).

The copy is one PostgreSQL transaction; the SQLite file is read in one read transaction
and never changed. Columns are matched by name, so what later migrations add moves too.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from engine.errors import StateError
from engine.state.migrations import latest_version

__all__ = ["MoveReport", "move_state"]

# Parents before children (failures reference runs).
TABLES = ("sync_state", "links", "runs", "failures", "inbox", "leases", "actions", "meta",
          "circuit_breakers", "record_writes")
_IDENTITY = ("runs", "inbox")
_CHUNK = 5_000


@dataclass
class MoveReport:
    rows: dict[str, int] = field(default_factory=dict)
    interrupted: int = 0
    seconds: float = 0.0


def _pg_columns(cur: psycopg.Cursor[Any], schema: str, table: str) -> dict[str, str]:
    cur.execute("SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s", (schema, table))
    return {name: kind for name, kind in cur.fetchall()}


def _convert(value: Any, kind: str) -> Any:
    """A SQLite value as the PostgreSQL column wants it."""
    if value is None:
        return None
    if kind.startswith("timestamp"):
        return datetime.fromtimestamp(float(value), UTC)
    if kind == "boolean":
        return bool(value)
    if kind == "jsonb":
        return Jsonb(json.loads(value) if isinstance(value, str) else value)
    if kind == "bytea":
        return bytes(value)
    return value


def _rows(db: sqlite3.Connection, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
    query = f"SELECT {', '.join(columns)} FROM {table}"  # names come from the schema
    cursor = db.execute(query)
    while rows := cursor.fetchmany(_CHUNK):
        for row in rows:
            yield list(row)


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StateError(f"{path}: no SQLite state store there")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    db.execute("BEGIN")  # one read snapshot for the whole move
    return db


def _check_source(db: sqlite3.Connection, now: float) -> None:
    version = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    if version is None or version[0] != latest_version("sqlite"):
        raise StateError(f"the SQLite store is at schema version {version and version[0]}, "
                         f"this specsync at {latest_version('sqlite')}: open it once with "
                         "this version (any command does) and move again")
    held = db.execute("SELECT name FROM leases WHERE holder IS NOT NULL AND expires_at > ?",
                      (now,)).fetchall()
    if held:
        names = ", ".join(row[0] for row in held[:5])
        raise StateError(f"a run is in progress on the SQLite store ({names}): stop "
                         "`specsync serve` and any `specsync run`, then move again")


def _check_target(cur: psycopg.Cursor[Any], schema: str) -> None:
    cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    row = cur.fetchone()
    if row is None or row[0] != latest_version("postgres"):
        raise StateError(f"the PostgreSQL schema {schema!r} is at version {row and row[0]}")
    for table in TABLES:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)))
        found = cur.fetchone()
        if found and found[0]:
            raise StateError(
                f"the PostgreSQL schema {schema!r} already holds state ({table} is not "
                "empty); move into a fresh schema (add ?schema=NAME to the URL) or database")


def move_state(source: str | Path, target_url: str) -> MoveReport:
    """Copy the SQLite store at `source` into the PostgreSQL store at `target_url`."""
    from engine.state import open_store

    started = time.monotonic()
    report = MoveReport()
    target = open_store(target_url)  # creates and migrates the schema if needed
    schema = getattr(target, "schema", None)
    if schema is None:
        target.close()
        raise StateError("the target must be a postgresql:// URL")
    db = _open_source(Path(source))
    try:
        _check_source(db, time.time())
        with target.transaction() as cur:  # type: ignore[attr-defined]
            _check_target(cur, schema)
            for table in TABLES:
                report.rows[table] = _copy(db, cur, schema, table)
            cur.execute("UPDATE runs SET status = 'interrupted', finished_at ="
                        " coalesce(finished_at, now()), error = coalesce(error, %s)"
                        " WHERE status = 'running'",
                        ("the run was in progress when its store was moved to PostgreSQL",))
            report.interrupted = cur.rowcount
            cur.execute("UPDATE leases SET holder = NULL")
            for table in _IDENTITY:
                cur.execute(sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'),"
                    " greatest((SELECT max(id) FROM {i}), 1), (SELECT count(*) > 0 FROM {i}))"
                ).format(t=sql.Literal(table), i=sql.Identifier(table)))
    finally:
        db.close()
        target.close()
    report.seconds = time.monotonic() - started
    return report


def _copy(db: sqlite3.Connection, cur: psycopg.Cursor[Any], schema: str, table: str) -> int:
    wanted = _pg_columns(cur, schema, table)
    present = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    columns = [c for c in present if c in wanted]
    if not columns:
        return 0
    kinds = [wanted[c] for c in columns]
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if table in _IDENTITY else sql.SQL("")
    statement = sql.SQL("INSERT INTO {} ({}){} VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), overriding,
        sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    count = 0
    batch: list[list[Any]] = []
    for row in _rows(db, table, columns):
        batch.append([_convert(v, k) for v, k in zip(row, kinds, strict=True)])
        if len(batch) >= _CHUNK:
            cur.executemany(statement, batch)
            count += len(batch)
            batch.clear()
    if batch:
        cur.executemany(statement, batch)
        count += len(batch)
    return count
