"""What replay keeps (`replay:` on a sync): the records a run read and what each became.

Mixins of the two stores (their `_read` and `_write`); the rows are written by
engine/sync/recording.py, already free of personal identity numbers, and read back
by `specsync replay`. A store keeps, per sync, the newest `keep` recorded runs and none
older than the age the spec allows (`prune_recordings`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.state._shared import aware, from_epoch, to_epoch

if TYPE_CHECKING:
    import sqlite3

    import psycopg

__all__ = ["PostgresRecordings", "RecordedRead", "RecordedRun", "SqliteRecordings"]


@dataclass(frozen=True)
class RecordedRun:
    run_id: int
    integration: str
    sync: str
    recorded_at: datetime
    records: int


@dataclass(frozen=True)
class RecordedRead:
    key: str
    record: Mapping[str, Any]  # the source record as read (identity numbers masked)
    outcome: Mapping[str, Any]  # {"kind": ..., "payload": {...}} or {"kind", "code"}


_INSERT = ("INSERT INTO recorded_reads (run_id, integration, sync, seq, source_key,"
           " recorded_at, record, outcome) VALUES ")
_RUNS = ("SELECT run_id, integration, sync, max(recorded_at), count(*) FROM recorded_reads"
         " WHERE integration = {p} AND ({p} IS NULL OR sync = {p})"
         " GROUP BY run_id, integration, sync ORDER BY run_id DESC")
_READS = "SELECT source_key, record, outcome FROM recorded_reads WHERE run_id = {p} ORDER BY seq"
_KEEP = ("DELETE FROM recorded_reads WHERE integration = {p} AND sync = {p} AND (run_id NOT IN"
         " (SELECT DISTINCT run_id FROM recorded_reads WHERE integration = {p} AND sync = {p}"
         " ORDER BY run_id DESC LIMIT {p}) OR recorded_at < {p})")


def _rows(run_id: int, integration: str, sync: str, first: int, at: Any,
          reads: Sequence[RecordedRead]) -> list[tuple[Any, ...]]:
    return [(run_id, integration, sync, first + i, r.key, at,
             json.dumps(r.record, default=str, ensure_ascii=False),
             json.dumps(r.outcome, default=str, ensure_ascii=False))
            for i, r in enumerate(reads)]


class SqliteRecordings:
    """Recorded reads on SQLite."""

    if TYPE_CHECKING:
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def record_reads(self, run_id: int, integration: str, sync: str, first: int,
                     reads: Sequence[RecordedRead], *, at: datetime) -> None:
        with self._write() as db:
            db.executemany(_INSERT + "(?, ?, ?, ?, ?, ?, ?, ?)",
                           _rows(run_id, integration, sync, first, to_epoch(at), reads))

    def prune_recordings(self, integration: str, sync: str, *, keep: int,
                         older_than: datetime) -> None:
        with self._write() as db:
            db.execute(_KEEP.format(p="?"), (integration, sync, integration, sync, keep,
                                             to_epoch(older_than)))

    def recorded_runs(self, integration: str, sync: str | None = None) -> list[RecordedRun]:
        rows = self._read(_RUNS.format(p="?"), (integration, sync, sync))
        return [RecordedRun(r[0], r[1], r[2], from_epoch(r[3]), r[4]) for r in rows]

    def recorded_reads(self, run_id: int) -> list[RecordedRead]:
        return [RecordedRead(r[0], json.loads(r[1]), json.loads(r[2]))
                for r in self._read(_READS.format(p="?"), (run_id,))]


class PostgresRecordings:
    """Recorded reads on PostgreSQL."""

    if TYPE_CHECKING:
        def _read(self, query: str,
                  params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]: ...

        def _write(self) -> AbstractContextManager[psycopg.Cursor[Any]]: ...

    def record_reads(self, run_id: int, integration: str, sync: str, first: int,
                     reads: Sequence[RecordedRead], *, at: datetime) -> None:
        with self._write() as cur:
            cur.executemany(_INSERT + "(%s, %s, %s, %s, %s, %s, %s, %s)",
                            _rows(run_id, integration, sync, first, aware(at), reads))

    def prune_recordings(self, integration: str, sync: str, *, keep: int,
                         older_than: datetime) -> None:
        with self._write() as cur:
            cur.execute(_KEEP.format(p="%s"), (integration, sync, integration, sync, keep,
                                               aware(older_than)))

    def recorded_runs(self, integration: str, sync: str | None = None) -> list[RecordedRun]:
        rows = self._read(_RUNS.format(p="%s").replace("%s IS NULL", "%s::text IS NULL"),
                          (integration, sync, sync))
        return [RecordedRun(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def recorded_reads(self, run_id: int) -> list[RecordedRead]:
        return [RecordedRead(r[0], json.loads(r[1]), json.loads(r[2]))
                for r in self._read(_READS.format(p="%s"), (run_id,))]
