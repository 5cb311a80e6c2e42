"""What the operator console keeps, on SQLite: pauses, acknowledged failures, the audit
log and alert incidents. A mixin of `SqliteStateStore` (its `_read` and `_write`), in a
module of its own so the store's core stays readable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from engine.state._shared import from_epoch, to_epoch
from engine.state.base import AuditEntry, Incident, RecordFailure, SyncPause

__all__ = ["FAILURE_COLUMNS", "SqliteOperatorState", "failure_row"]

FAILURE_COLUMNS = (
    "source_key, code, message, attempts, first_seen, last_seen, run_id, integration, sync,"
    " acknowledged_by, acknowledged_at"
)
_AUDIT_COLUMNS = "id, at, actor, role, action, outcome, integration, sync, source_key, detail"
_INCIDENT_COLUMNS = (
    "id, key, kind, integration, sync, summary, opened_at, cleared_at, open_sent_at,"
    " clear_sent_at, attempts, last_error"
)
# An incident owes a notification: its opening, or its clearing once cleared.
_OWED = "(open_sent_at IS NULL OR (cleared_at IS NOT NULL AND clear_sent_at IS NULL))"


def _moment(value: float | None) -> datetime | None:
    return None if value is None else from_epoch(value)


def failure_row(row: Sequence[Any]) -> RecordFailure:
    return RecordFailure(
        row[0], row[1], row[2], row[3], from_epoch(row[4]), from_epoch(row[5]), row[6],
        row[7], row[8], row[9], _moment(row[10]),
    )


def _audit(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(at=from_epoch(row[1]), actor=row[2], role=row[3], action=row[4],
                      outcome=row[5], integration=row[6], sync=row[7], source_key=row[8],
                      detail=row[9], id=row[0])


def _incident(row: Sequence[Any]) -> Incident:
    return Incident(id=row[0], key=row[1], kind=row[2], integration=row[3], sync=row[4],
                    summary=row[5], opened_at=from_epoch(row[6]), cleared_at=_moment(row[7]),
                    open_sent_at=_moment(row[8]), clear_sent_at=_moment(row[9]),
                    attempts=row[10], last_error=row[11])


class SqliteOperatorState:
    """The console's part of the StateStore protocol (see base.py) on SQLite."""

    if TYPE_CHECKING:
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    # -- pauses ------------------------------------------------------------------------
    def set_paused(self, integration: str, sync: str, paused: bool, *, by: str,
                   at: datetime, reason: str | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO sync_controls (integration, sync, paused, changed_by, changed_at,"
                " reason) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (integration, sync) DO UPDATE"
                " SET paused = excluded.paused, changed_by = excluded.changed_by,"
                " changed_at = excluded.changed_at, reason = excluded.reason",
                (integration, sync, int(paused), by, to_epoch(at), reason))

    def paused_syncs(self) -> dict[tuple[str, str], SyncPause]:
        rows = self._read("SELECT integration, sync, changed_by, changed_at, reason"
                          " FROM sync_controls WHERE paused = 1")
        return {(r[0], r[1]): SyncPause(r[0], r[1], r[2], from_epoch(r[3]), r[4])
                for r in rows}

    # -- failures ------------------------------------------------------------------------
    def get_failure(self, integration: str, sync: str, source_key: str
                    ) -> RecordFailure | None:
        rows = self._read(
            f"SELECT {FAILURE_COLUMNS} FROM failures WHERE integration = ? AND sync = ?"
            " AND source_key = ?", (integration, sync, source_key))
        return failure_row(rows[0]) if rows else None

    def acknowledge_failure(self, integration: str, sync: str, source_key: str, *,
                            by: str, at: datetime) -> bool:
        with self._write() as db:
            cur = db.execute(
                "UPDATE failures SET acknowledged_by = ?, acknowledged_at = ?"
                " WHERE integration = ? AND sync = ? AND source_key = ?",
                (by, to_epoch(at), integration, sync, source_key))
            return cur.rowcount == 1

    def failure_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        rows = self._read(
            "SELECT integration, sync, count(*), count(acknowledged_by) FROM failures"
            " GROUP BY integration, sync")
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    # -- audit log -----------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> int:
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO audit_log (at, actor, role, action, outcome, integration, sync,"
                " source_key, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (to_epoch(entry.at), entry.actor, entry.role, entry.action, entry.outcome,
                 entry.integration, entry.sync, entry.source_key, entry.detail))
            assert cur.lastrowid is not None
            return cur.lastrowid

    def list_audit(self, integration: str | None = None, sync: str | None = None,
                   limit: int = 50) -> list[AuditEntry]:
        rows = self._read(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE (? IS NULL OR integration = ?)"
            " AND (? IS NULL OR sync = ?) ORDER BY at DESC, id DESC LIMIT ?",
            (integration, integration, sync, sync, limit))
        return [_audit(row) for row in rows]

    # -- alert incidents -------------------------------------------------------------------
    def open_incident(self, key: str, kind: str, integration: str, sync: str, summary: str,
                      *, at: datetime) -> bool:
        moment = to_epoch(at)
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO alert_incidents (key, kind, integration, sync, summary, opened_at,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) WHERE cleared_at IS NULL DO NOTHING",
                (key, kind, integration, sync, summary, moment, moment))
            return cur.rowcount == 1

    def clear_incident(self, key: str, *, at: datetime) -> bool:
        moment = to_epoch(at)
        with self._write() as db:
            cur = db.execute(
                "UPDATE alert_incidents SET cleared_at = ?,"
                " next_attempt_at = max(next_attempt_at, ?)"
                " WHERE key = ? AND cleared_at IS NULL", (moment, moment, key))
            return cur.rowcount == 1

    def open_incidents(self) -> list[Incident]:
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM alert_incidents"
                          " WHERE cleared_at IS NULL ORDER BY opened_at, id")
        return [_incident(row) for row in rows]

    def list_incidents(self, limit: int = 50) -> list[Incident]:
        rows = self._read(f"SELECT {_INCIDENT_COLUMNS} FROM alert_incidents"
                          " ORDER BY opened_at DESC, id DESC LIMIT ?", (limit,))
        return [_incident(row) for row in rows]

    def claim_notifications(self, now: datetime, lease_seconds: float, limit: int = 20
                            ) -> list[Incident]:
        moment = to_epoch(now)
        with self._write() as db:
            rows = db.execute(
                "UPDATE alert_incidents SET next_attempt_at = ? WHERE id IN ("
                f" SELECT id FROM alert_incidents WHERE {_OWED} AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?)"
                f" RETURNING {_INCIDENT_COLUMNS}",
                (moment + lease_seconds, moment, limit)).fetchall()
        found = [_incident(row) for row in rows]
        found.sort(key=lambda i: (i.opened_at, i.id))
        return found

    def notification_sent(self, incident_id: int, phase: Literal["open", "clear"], *,
                          at: datetime) -> None:
        column = "open_sent_at" if phase == "open" else "clear_sent_at"
        with self._write() as db:
            # Due again at once: a clearing that came meanwhile is owed next.
            db.execute(f"UPDATE alert_incidents SET {column} = ?, attempts = 0,"
                       " last_error = NULL, next_attempt_at = ? WHERE id = ?",
                       (to_epoch(at), to_epoch(at), incident_id))

    def notification_failed(self, incident_id: int, error: str, *,
                            retry_at: datetime) -> None:
        with self._write() as db:
            db.execute("UPDATE alert_incidents SET attempts = attempts + 1, last_error = ?,"
                       " next_attempt_at = ? WHERE id = ?",
                       (error[:500], to_epoch(retry_at), incident_id))
