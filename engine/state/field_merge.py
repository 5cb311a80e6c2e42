"""Two-way fields on both stores: the bases their merge compares with and the conflicts it
recorded (engine/sync/merge.py). Mixins of the two stores (their `_read`), plus the
statements their `commit_batch` runs in its own transaction, so a base moves with the
write that made it agreed, never apart from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.state._shared import chunks, from_epoch, to_epoch
from engine.state.base import BatchCommit, Conflict

if TYPE_CHECKING:
    import sqlite3

    import psycopg

__all__ = ["PostgresFieldMerge", "SqliteFieldMerge"]

_IN_CHUNK = 500
_CONFLICT_COLUMNS = ("integration, sync, source_key, field, source_value, target_value,"
                     " winner, policy, at, run_id, id")


def _base_rows(batch: BatchCommit) -> list[tuple[str, str, str]]:
    return [(b.object, b.record_id, json.dumps(dict(b.hashes), sort_keys=True))
            for b in batch.bases if b.record_id is not None and b.hashes]


def _conflict(row: Sequence[Any], at: datetime) -> Conflict:
    return Conflict(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], at,
                    row[9], row[10])


class SqliteFieldMerge:
    """`get_bases`, `list_conflicts`, `conflict_counts` and the batch's writes, on SQLite."""

    _read: Any

    def get_bases(self, integration: str, object: str, record_ids: Sequence[str]
                  ) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for part in chunks(list(dict.fromkeys(record_ids)), _IN_CHUNK):
            marks = ", ".join("?" * len(part))
            for row in self._read(
                    "SELECT record_id, hashes FROM field_bases WHERE integration = ? AND"
                    f" object = ? AND record_id IN ({marks})", (integration, object, *part)):
                found[row[0]] = json.loads(row[1])
        return found

    def list_conflicts(self, integration: str | None = None, limit: int = 50
                       ) -> list[Conflict]:
        rows = self._read(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflicts WHERE (? IS NULL OR integration = ?)"
            " ORDER BY at DESC, id DESC LIMIT ?", (integration, integration, limit))
        return [_conflict(r, from_epoch(r[8])) for r in rows]

    def conflict_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT integration, sync, count(*) FROM conflicts"
                          " GROUP BY integration, sync")
        return {(r[0], r[1]): r[2] for r in rows}

    @staticmethod
    def write_merge(db: sqlite3.Connection, batch: BatchCommit) -> None:
        at = to_epoch(batch.at)
        if batch.bases:
            db.executemany(
                "INSERT INTO field_bases (integration, object, record_id, hashes, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (integration, object, record_id) DO"
                " UPDATE SET hashes = json_patch(field_bases.hashes, excluded.hashes),"
                " updated_at = excluded.updated_at",
                [(batch.integration, *row, at) for row in _base_rows(batch)])
        if batch.stale:
            db.executemany(
                "UPDATE links SET hash = '', source_hash = NULL WHERE integration = ?"
                " AND sync = ? AND target_id = ?",
                [(batch.integration, sync, target_id) for sync, target_id in batch.stale])
        if batch.conflicts:
            db.executemany(
                "INSERT INTO conflicts (integration, sync, source_key, field, source_value,"
                " target_value, winner, policy, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                [(c.integration, c.sync, c.source_key, c.field, c.source_value,
                  c.target_value, c.winner, c.policy, to_epoch(c.at),
                  c.run_id if c.run_id is not None else batch.run_id)
                 for c in batch.conflicts])


class PostgresFieldMerge:
    """`get_bases`, `list_conflicts`, `conflict_counts` and the batch's writes, on
    PostgreSQL."""

    _read: Any

    def get_bases(self, integration: str, object: str, record_ids: Sequence[str]
                  ) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for part in chunks(list(dict.fromkeys(record_ids)), _IN_CHUNK):
            for row in self._read(
                    "SELECT record_id, hashes FROM field_bases WHERE integration = %s AND"
                    " object = %s AND record_id = ANY(%s)", (integration, object, list(part))):
                found[row[0]] = dict(row[1])
        return found

    def list_conflicts(self, integration: str | None = None, limit: int = 50
                       ) -> list[Conflict]:
        rows = self._read(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflicts"
            " WHERE (%(i)s::text IS NULL OR integration = %(i)s)"
            " ORDER BY at DESC, id DESC LIMIT %(n)s", {"i": integration, "n": limit})
        return [_conflict(r, r[8].astimezone(UTC)) for r in rows]

    def conflict_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT integration, sync, count(*) FROM conflicts"
                          " GROUP BY integration, sync")
        return {(r[0], r[1]): r[2] for r in rows}

    @staticmethod
    def write_merge(cur: psycopg.Cursor[Any], batch: BatchCommit, at: datetime) -> None:
        if batch.bases:
            cur.executemany(
                "INSERT INTO field_bases (integration, object, record_id, hashes, updated_at)"
                " VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (integration, object,"
                " record_id) DO UPDATE SET hashes = field_bases.hashes || excluded.hashes,"
                " updated_at = excluded.updated_at",
                [(batch.integration, *row, at) for row in _base_rows(batch)])
        if batch.stale:
            cur.executemany(
                "UPDATE links SET hash = '', source_hash = NULL WHERE integration = %s"
                " AND sync = %s AND target_id = %s",
                [(batch.integration, sync, target_id) for sync, target_id in batch.stale])
        if batch.conflicts:
            cur.executemany(
                "INSERT INTO conflicts (integration, sync, source_key, field, source_value,"
                " target_value, winner, policy, at, run_id) VALUES (%s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s)",
                [(c.integration, c.sync, c.source_key, c.field, c.source_value,
                  c.target_value, c.winner, c.policy, c.at,
                  c.run_id if c.run_id is not None else batch.run_id)
                 for c in batch.conflicts])
