"""What the safeguards keep, on PostgreSQL: circuit-breaker states and the write counts
and quarantine of two-way records. A mixin of `PostgresStateStore` (its `_read` and
`_write`); a record's count is read `FOR UPDATE`, so runners sharing the store count
every write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.state._shared import aware
from engine.state.base import BreakerRecord, QuarantinedRecord

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresSafeguardState"]

_BREAKER = "integration, system, endpoint, state, failures, opened_at, retry_at, reason"
_QUARANTINE = "integration, pair, record, writes, window_start, quarantined_at, keys"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _keys(known: str, key: str) -> str:
    """The record's keys, one per sync ("a=K1, b=K2"): the newest for each sync."""
    sync = key.split("=", 1)[0]
    kept = [k for k in known.split(", ") if k and k.split("=", 1)[0] != sync]
    return ", ".join(sorted([*kept, key]))


class PostgresSafeguardState:
    """The safeguards' part of the StateStore protocol (see base.py) on PostgreSQL."""

    if TYPE_CHECKING:
        def _read(self, query: str,
                  params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]: ...

        def _write(self) -> AbstractContextManager[psycopg.Cursor[Any]]: ...

    # -- circuit breakers ----------------------------------------------------------------
    def save_breakers(self, breakers: Sequence[BreakerRecord], *, at: datetime) -> None:
        with self._write() as cur:
            for b in breakers:
                if b.state == "closed" and not b.failures:
                    cur.execute("DELETE FROM circuit_breakers WHERE integration = %s AND"
                                " system = %s AND endpoint = %s",
                                (b.integration, b.system, b.endpoint))
                    continue
                cur.execute(
                    f"INSERT INTO circuit_breakers ({_BREAKER}, updated_at) VALUES"
                    " (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (integration, system, endpoint)"
                    " DO UPDATE SET state = excluded.state, failures = excluded.failures,"
                    " opened_at = excluded.opened_at, retry_at = excluded.retry_at,"
                    " reason = excluded.reason, updated_at = excluded.updated_at",
                    (b.integration, b.system, b.endpoint, b.state, b.failures,
                     _utc(b.opened_at), _utc(b.retry_at), b.reason, aware(at)))

    def breakers(self) -> list[BreakerRecord]:
        rows = self._read(f"SELECT {_BREAKER} FROM circuit_breakers"
                          " ORDER BY integration, system, endpoint")
        return [BreakerRecord(r[0], r[1], r[2], r[3], r[4], _utc(r[5]), _utc(r[6]), r[7])
                for r in rows]

    def reset_breakers(self, integration: str | None = None, system: str | None = None,
                       endpoint: str | None = None) -> int:
        with self._write() as cur:
            cur.execute(
                "DELETE FROM circuit_breakers WHERE (%(i)s::text IS NULL OR integration = %(i)s)"
                " AND (%(s)s::text IS NULL OR system = %(s)s)"
                " AND (%(e)s::text IS NULL OR endpoint = %(e)s)",
                {"i": integration, "s": system, "e": endpoint})
            return cur.rowcount

    # -- write rate and quarantine ---------------------------------------------------------
    def count_writes(self, integration: str, pair: str, records: Mapping[str, str], *,
                     at: datetime, window: timedelta, max_writes: int) -> set[str]:
        now = aware(at)
        stopped: set[str] = set()
        with self._write() as cur:
            for record, key in sorted(records.items()):  # one lock order for every runner
                cur.execute(
                    "SELECT window_start, writes, keys, quarantined_at FROM record_writes"
                    " WHERE integration = %s AND pair = %s AND record = %s FOR UPDATE",
                    (integration, pair, record))
                row = cur.fetchone()
                if row is not None and row[3] is not None:
                    stopped.add(record)
                    continue
                if row is None or now - row[0] > window:
                    start, writes, keys = now, 1, _keys(row[2] if row else "", key)
                else:
                    start, writes, keys = row[0], row[1] + 1, _keys(row[2], key)
                quarantined = now if writes > max_writes else None
                if quarantined is not None:
                    stopped.add(record)
                cur.execute(
                    "INSERT INTO record_writes (integration, pair, record, window_start,"
                    " writes, keys, quarantined_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (integration, pair, record) DO UPDATE SET"
                    " window_start = excluded.window_start, writes = excluded.writes,"
                    " keys = excluded.keys, quarantined_at = excluded.quarantined_at",
                    (integration, pair, record, start, writes, keys, quarantined))
        return stopped

    def quarantined(self, integration: str | None = None) -> list[QuarantinedRecord]:
        rows = self._read(
            f"SELECT {_QUARANTINE} FROM record_writes WHERE quarantined_at IS NOT NULL"
            " AND (%(i)s::text IS NULL OR integration = %(i)s) ORDER BY quarantined_at, record",
            {"i": integration})
        return [QuarantinedRecord(r[0], r[1], r[2], r[3], r[4].astimezone(UTC),
                                  r[5].astimezone(UTC), r[6]) for r in rows]

    def release_quarantine(self, integration: str, record: str, *, at: datetime) -> bool:
        with self._write() as cur:
            cur.execute(
                "UPDATE record_writes SET quarantined_at = NULL, writes = 0, window_start = %s"
                " WHERE integration = %s AND record = %s AND quarantined_at IS NOT NULL",
                (aware(at), integration, record))
            return cur.rowcount > 0
