"""Creation values on both stores: the fields a target sets at creation only, as written,
and the source changes to them the target cannot take ("held"). Mixins of the two
stores (their `_read`), plus the statements their `commit_batch` runs in its own
transaction, so a held change is recorded with the batch that saw it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.state._shared import chunks, from_epoch, to_epoch
from engine.state.base import BatchCommit, CreatedValues

if TYPE_CHECKING:
    import sqlite3

    import psycopg

__all__ = ["PostgresCreatedValues", "SqliteCreatedValues", "encode_values"]

_IN_CHUNK = 500
_COLUMNS = "source_key, created, held, held_since, integration, sync"


def encode_values(values: Any) -> str:
    """JSON text that compares equal for equal values (sorted keys; dates as text)."""
    return json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)


def _row(row: Sequence[Any], since: datetime | None) -> CreatedValues:
    held = json.loads(row[2]) if row[2] is not None else None
    return CreatedValues(row[0], json.loads(row[1]),
                         {k: (v[0], v[1]) for k, v in held.items()} if held else None,
                         since, row[4], row[5])


def _params(batch: BatchCommit) -> list[tuple[Any, ...]]:
    return [(c.source_key, encode_values(dict(c.created)),
             encode_values({k: list(v) for k, v in c.held.items()}) if c.held else None)
            for c in batch.created]


class SqliteCreatedValues:
    """`get_created`, `list_held`, `held_counts` and the batch's upsert, on SQLite."""

    _read: Any

    def get_created(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, CreatedValues]:
        found: dict[str, CreatedValues] = {}
        for part in chunks(list(dict.fromkeys(keys)), _IN_CHUNK):
            marks = ", ".join("?" * len(part))
            for row in self._read(
                    f"SELECT {_COLUMNS} FROM created_values WHERE integration = ? AND sync = ?"
                    f" AND source_key IN ({marks})", (integration, sync, *part)):
                found[row[0]] = _row(row, from_epoch(row[3]) if row[3] is not None else None)
        return found

    def list_held(self, integration: str | None = None, sync: str | None = None,
                  limit: int = 100) -> list[CreatedValues]:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM created_values WHERE held IS NOT NULL"
            " AND (? IS NULL OR integration = ?) AND (? IS NULL OR sync = ?)"
            " ORDER BY held_since, integration, sync, source_key LIMIT ?",
            (integration, integration, sync, sync, limit))
        return [_row(r, from_epoch(r[3]) if r[3] is not None else None) for r in rows]

    def held_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT integration, sync, count(*) FROM created_values"
                          " WHERE held IS NOT NULL GROUP BY integration, sync")
        return {(r[0], r[1]): r[2] for r in rows}

    @staticmethod
    def write_created(db: sqlite3.Connection, batch: BatchCommit) -> None:
        if not batch.created:
            return
        at = to_epoch(batch.at)
        db.executemany(
            "INSERT INTO created_values (integration, sync, source_key, created, held,"
            " held_since, updated_at) VALUES (?, ?, ?, ?, ?, CASE WHEN ? IS NULL THEN NULL"
            " ELSE ? END, ?) ON CONFLICT (integration, sync, source_key) DO UPDATE SET"
            " created = excluded.created, held = excluded.held,"
            " held_since = CASE WHEN excluded.held IS NULL THEN NULL"
            "  ELSE coalesce(created_values.held_since, excluded.held_since) END,"
            " updated_at = excluded.updated_at",
            [(batch.integration, batch.sync, key, created, held, held, at, at)
             for key, created, held in _params(batch)])


class PostgresCreatedValues:
    """`get_created`, `list_held`, `held_counts` and the batch's upsert, on PostgreSQL."""

    _read: Any

    def get_created(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, CreatedValues]:
        found: dict[str, CreatedValues] = {}
        for part in chunks(list(dict.fromkeys(keys)), _IN_CHUNK):
            for row in self._read(
                    f"SELECT {_COLUMNS} FROM created_values WHERE integration = %s"
                    " AND sync = %s AND source_key = ANY(%s)", (integration, sync, list(part))):
                found[row[0]] = _row(row, row[3].astimezone(UTC) if row[3] else None)
        return found

    def list_held(self, integration: str | None = None, sync: str | None = None,
                  limit: int = 100) -> list[CreatedValues]:
        rows = self._read(
            f"SELECT {_COLUMNS} FROM created_values WHERE held IS NOT NULL"
            " AND (%(i)s::text IS NULL OR integration = %(i)s)"
            " AND (%(s)s::text IS NULL OR sync = %(s)s)"
            " ORDER BY held_since, integration, sync, source_key LIMIT %(n)s",
            {"i": integration, "s": sync, "n": limit})
        return [_row(r, r[3].astimezone(UTC) if r[3] else None) for r in rows]

    def held_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT integration, sync, count(*) FROM created_values"
                          " WHERE held IS NOT NULL GROUP BY integration, sync")
        return {(r[0], r[1]): r[2] for r in rows}

    @staticmethod
    def write_created(cur: psycopg.Cursor[Any], batch: BatchCommit, at: datetime) -> None:
        if not batch.created:
            return
        cur.executemany(
            "INSERT INTO created_values (integration, sync, source_key, created, held,"
            " held_since, updated_at) VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::text IS NULL"
            " THEN NULL ELSE %s::timestamptz END, %s) ON CONFLICT (integration, sync,"
            " source_key) DO UPDATE SET created = excluded.created, held = excluded.held,"
            " held_since = CASE WHEN excluded.held IS NULL THEN NULL"
            "  ELSE coalesce(created_values.held_since, excluded.held_since) END,"
            " updated_at = excluded.updated_at",
            [(batch.integration, batch.sync, key, created, held, held, at, at)
             for key, created, held in _params(batch)])
