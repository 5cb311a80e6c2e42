"""What the safeguards keep, on SQLite: circuit-breaker states and the write counts and
quarantine of two-way records. A mixin of `SqliteStateStore` (its `_read` and `_write`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.state._shared import from_epoch, to_epoch
from engine.state.base import BreakerRecord, QuarantinedRecord

__all__ = ["SqliteSafeguardState"]

_BREAKER = "integration, system, endpoint, state, failures, opened_at, retry_at, reason"
_QUARANTINE = "integration, pair, record, writes, window_start, quarantined_at, keys"


def _moment(value: float | None) -> datetime | None:
    return None if value is None else from_epoch(value)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else to_epoch(value)


def _keys(known: str, key: str) -> str:
    """The record's keys, one per sync ("a=K1, b=K2"): the newest for each sync."""
    sync = key.split("=", 1)[0]
    kept = [k for k in known.split(", ") if k and k.split("=", 1)[0] != sync]
    return ", ".join(sorted([*kept, key]))


class SqliteSafeguardState:
    """The safeguards' part of the StateStore protocol (see base.py) on SQLite."""

    if TYPE_CHECKING:
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    # -- circuit breakers ----------------------------------------------------------------
    def save_breakers(self, breakers: Sequence[BreakerRecord], *, at: datetime) -> None:
        with self._write() as db:
            for b in breakers:
                if b.state == "closed" and not b.failures:
                    db.execute("DELETE FROM circuit_breakers WHERE integration = ? AND"
                               " system = ? AND endpoint = ?",
                               (b.integration, b.system, b.endpoint))
                    continue
                db.execute(
                    f"INSERT INTO circuit_breakers ({_BREAKER}, updated_at) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (integration, system, endpoint)"
                    " DO UPDATE SET state = excluded.state, failures = excluded.failures,"
                    " opened_at = excluded.opened_at, retry_at = excluded.retry_at,"
                    " reason = excluded.reason, updated_at = excluded.updated_at",
                    (b.integration, b.system, b.endpoint, b.state, b.failures,
                     _epoch(b.opened_at), _epoch(b.retry_at), b.reason, to_epoch(at)))

    def breakers(self) -> list[BreakerRecord]:
        rows = self._read(f"SELECT {_BREAKER} FROM circuit_breakers"
                          " ORDER BY integration, system, endpoint")
        return [BreakerRecord(r[0], r[1], r[2], r[3], r[4], _moment(r[5]), _moment(r[6]),
                              r[7]) for r in rows]

    def reset_breakers(self, integration: str | None = None, system: str | None = None,
                       endpoint: str | None = None) -> int:
        with self._write() as db:
            return db.execute(
                "DELETE FROM circuit_breakers WHERE (? IS NULL OR integration = ?)"
                " AND (? IS NULL OR system = ?) AND (? IS NULL OR endpoint = ?)",
                (integration, integration, system, system, endpoint, endpoint)).rowcount

    # -- write rate and quarantine ---------------------------------------------------------
    def count_writes(self, integration: str, pair: str, records: Mapping[str, str], *,
                     at: datetime, window: timedelta, max_writes: int) -> set[str]:
        now, span = to_epoch(at), window.total_seconds()
        stopped: set[str] = set()
        with self._write() as db:
            for record, key in records.items():
                row = db.execute(
                    "SELECT window_start, writes, keys, quarantined_at FROM record_writes"
                    " WHERE integration = ? AND pair = ? AND record = ?",
                    (integration, pair, record)).fetchone()
                if row is not None and row[3] is not None:
                    stopped.add(record)
                    continue
                if row is None or now - row[0] > span:
                    start, writes, keys = now, 1, _keys(row[2] if row else "", key)
                else:
                    start, writes, keys = row[0], row[1] + 1, _keys(row[2], key)
                quarantined = now if writes > max_writes else None
                if quarantined is not None:
                    stopped.add(record)
                db.execute(
                    "INSERT INTO record_writes (integration, pair, record, window_start,"
                    " writes, keys, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (integration, pair, record) DO UPDATE SET"
                    " window_start = excluded.window_start, writes = excluded.writes,"
                    " keys = excluded.keys, quarantined_at = excluded.quarantined_at",
                    (integration, pair, record, start, writes, keys, quarantined))
        return stopped

    def quarantined(self, integration: str | None = None) -> list[QuarantinedRecord]:
        rows = self._read(
            f"SELECT {_QUARANTINE} FROM record_writes WHERE quarantined_at IS NOT NULL"
            " AND (? IS NULL OR integration = ?) ORDER BY quarantined_at, record",
            (integration, integration))
        return [QuarantinedRecord(r[0], r[1], r[2], r[3], from_epoch(r[4]), from_epoch(r[5]),
                                  r[6]) for r in rows]

    def release_quarantine(self, integration: str, record: str, *, at: datetime) -> bool:
        with self._write() as db:
            return db.execute(
                "UPDATE record_writes SET quarantined_at = NULL, writes = 0, window_start = ?"
                " WHERE integration = ? AND record = ? AND quarantined_at IS NOT NULL",
                (to_epoch(at), integration, record)).rowcount > 0
