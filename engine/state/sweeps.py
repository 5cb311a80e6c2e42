"""Reconcile passes on both stores: which linked keys a whole source listing saw.

A full read marks every key it lists with its pass (`links.seen_sweep`), a batch at a
time in the batch's own transaction; the pass lives on `sync_state` until a read gets
to the end of the listing, and then becomes the last completed one. The links of that
pass that are active, unmarked, and were not written since it began are the records
deleted in the source (engine/sync/source_deletes.py). A link written after the pass
began (a delta run, a webhook, this run's own create) is left out: whoever wrote it
had just read its record. Mixins of the two stores (their `_write` and `_read`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.state._shared import aware, chunks, from_epoch, to_epoch
from engine.state.base import BatchCommit, Link, Sweep

if TYPE_CHECKING:
    import sqlite3

    import psycopg

__all__ = ["PostgresSweeps", "SqliteSweeps"]

_IN_CHUNK = 500
_LINKS = "l.source_key, l.target_id, l.hash, l.origin, l.active, l.updated_at, l.source_hash"
# The links of a sync that its last completed pass did not see (one parameter per `?`:
# integration and sync twice; the dialects differ in their placeholders and booleans).
_UNSEEN = ("FROM links l JOIN sync_state s ON s.integration = l.integration"
           " AND s.sync = l.sync WHERE l.integration = {p} AND l.sync = {p}"
           " AND s.swept IS NOT NULL AND l.active = {true}"
           " AND (l.seen_sweep IS NULL OR l.seen_sweep <> s.swept)"
           " AND l.updated_at < s.swept_started")


class SqliteSweeps:
    """`begin_sweep`, `end_sweep`, `last_sweep`, `unseen_links` and the batch's marks."""

    _read: Any
    _write: Any

    def begin_sweep(self, integration: str, sync: str, run_id: int, at: datetime) -> int:
        with self._write() as db:
            db.execute(
                "INSERT INTO sync_state (integration, sync, sweep, sweep_started, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (integration, sync) DO UPDATE SET"
                " sweep = coalesce(sync_state.sweep, excluded.sweep),"
                " sweep_started = coalesce(sync_state.sweep_started, excluded.sweep_started)",
                (integration, sync, run_id, to_epoch(at), to_epoch(at)))
            row = db.execute("SELECT sweep FROM sync_state WHERE integration = ? AND sync = ?",
                             (integration, sync)).fetchone()
        return int(row[0])

    def end_sweep(self, integration: str, sync: str, sweep: int, at: datetime) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE sync_state SET swept = sweep, swept_started = sweep_started,"
                " swept_at = ?, sweep = NULL, sweep_started = NULL"
                " WHERE integration = ? AND sync = ? AND sweep = ?",
                (to_epoch(at), integration, sync, sweep))

    def last_sweep(self, integration: str, sync: str) -> Sweep | None:
        rows = self._read("SELECT swept, swept_started, swept_at FROM sync_state"
                          " WHERE integration = ? AND sync = ? AND swept IS NOT NULL",
                          (integration, sync))
        if not rows:
            return None
        [[count]] = self._read("SELECT count(*) " + _UNSEEN.format(p="?", true=1),
                               (integration, sync))
        sweep, started, finished = rows[0]
        return Sweep(int(sweep), from_epoch(started), from_epoch(finished), int(count))

    def unseen_links(self, integration: str, sync: str, limit: int) -> list[Link]:
        rows = self._read(f"SELECT {_LINKS} " + _UNSEEN.format(p="?", true=1)
                          + " ORDER BY l.source_key LIMIT ?", (integration, sync, limit))
        return [Link.of_row(r[0], r[1], r[2], r[3], bool(r[4]), from_epoch(r[5]), r[6])
                for r in rows]

    @staticmethod
    def write_seen(db: sqlite3.Connection, batch: BatchCommit) -> None:
        if batch.sweep is None or not batch.seen:
            return
        for part in chunks(batch.seen, _IN_CHUNK):  # an IN list: half the cost of one a row
            db.execute(
                "UPDATE links SET seen_sweep = ? WHERE integration = ? AND sync = ?"
                f" AND source_key IN ({', '.join('?' * len(part))})",
                (batch.sweep, batch.integration, batch.sync, *part))


class PostgresSweeps:
    """`begin_sweep`, `end_sweep`, `last_sweep`, `unseen_links` and the batch's marks."""

    _read: Any
    _write: Any

    def begin_sweep(self, integration: str, sync: str, run_id: int, at: datetime) -> int:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO sync_state (integration, sync, sweep, sweep_started, updated_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (integration, sync) DO UPDATE SET"
                " sweep = coalesce(sync_state.sweep, excluded.sweep),"
                " sweep_started = coalesce(sync_state.sweep_started, excluded.sweep_started)"
                " RETURNING sweep",
                (integration, sync, run_id, aware(at), aware(at)))
            row = cur.fetchone()
        return int(row[0])

    def end_sweep(self, integration: str, sync: str, sweep: int, at: datetime) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE sync_state SET swept = sweep, swept_started = sweep_started,"
                " swept_at = %s, sweep = NULL, sweep_started = NULL"
                " WHERE integration = %s AND sync = %s AND sweep = %s",
                (aware(at), integration, sync, sweep))

    def last_sweep(self, integration: str, sync: str) -> Sweep | None:
        rows = self._read("SELECT swept, swept_started, swept_at FROM sync_state"
                          " WHERE integration = %s AND sync = %s AND swept IS NOT NULL",
                          (integration, sync))
        if not rows:
            return None
        [[count]] = self._read("SELECT count(*) " + _UNSEEN.format(p="%s", true="TRUE"),
                               (integration, sync))
        sweep, started, finished = rows[0]
        return Sweep(int(sweep), started.astimezone(UTC), finished.astimezone(UTC),
                     int(count))

    def unseen_links(self, integration: str, sync: str, limit: int) -> list[Link]:
        rows = self._read(f"SELECT {_LINKS} " + _UNSEEN.format(p="%s", true="TRUE")
                          + " ORDER BY l.source_key LIMIT %s", (integration, sync, limit))
        return [Link.of_row(r[0], r[1], r[2], r[3], bool(r[4]), r[5].astimezone(UTC), r[6])
                for r in rows]

    @staticmethod
    def write_seen(cur: psycopg.Cursor[Any], batch: BatchCommit) -> None:
        if batch.sweep is None or not batch.seen:
            return
        for part in chunks(list(batch.seen), _IN_CHUNK * 20):
            cur.execute(
                "UPDATE links SET seen_sweep = %s WHERE integration = %s AND sync = %s"
                " AND source_key = ANY(%s)",
                (batch.sweep, batch.integration, batch.sync, list(part)))
