"""The shared state store: PostgreSQL, for several workers sharing the work.

Same behaviour as SqliteStateStore, with PostgreSQL's tools for concurrency: inbox
claims use `SELECT ... FOR UPDATE SKIP LOCKED` (concurrent workers never block on,
or double-claim, an event), lease changes lock the lease row, and a batch commit
holds the lease row `FOR SHARE` while it writes, so a takeover waits for the commit
or the commit sees the takeover. Tables live in one schema (default "specsync";
tests use throwaway ones) selected through search_path.

A broken connection (failover, restart) raises StateError for the call in flight
and is replaced on the next call.

The module is long on purpose: it is the whole StateStore protocol on PostgreSQL, one
method per protocol method beside its SQL; split by table, every piece would reach back
into the same connection pool, lock and transaction helpers.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from engine.errors import StateError
from engine.state._shared import (
    INTERRUPTED_MESSAGE,
    aware,
    check_action_status,
    check_link,
    check_outcome,
    chunks,
)
from engine.state.base import (
    ActionRecord,
    ActionStatus,
    BatchCommit,
    InboxEvent,
    LeaseToken,
    Link,
    LinkState,
    RecordFailure,
    Run,
    RunOutcome,
)
from engine.state.created_values import PostgresCreatedValues
from engine.state.field_merge import PostgresFieldMerge
from engine.state.migrations import latest_version, load_migrations
from engine.state.postgres_operator import FAILURE_COLUMNS as _FAILURE_COLUMNS
from engine.state.postgres_operator import PostgresOperatorState, failure_row
from engine.state.postgres_safeguards import PostgresSafeguardState
from engine.state.recordings import PostgresRecordings
from engine.state.sweeps import PostgresSweeps

__all__ = ["PostgresStateStore"]

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_IN_CHUNK = 5000
_ITERSIZE = 2000

_LINK_COLUMNS = "source_key, target_id, hash, origin, active, updated_at, source_hash"
_STATE_COLUMNS = "source_key, target_id, hash, active, source_hash, origin"  # LinkState
_RUN_COLUMNS = (
    "id, integration, sync, status, spec_hash, git_commit, trigger, started_at, finished_at,"
    " counts, error"
)
_INBOX_COLUMNS = (
    "inbox.id, inbox.source, inbox.event_id, inbox.payload, inbox.received_at,"
    " inbox.attempts, inbox.last_error, inbox.claimed_by, inbox.lease_until"
)
_ACTION_COLUMNS = "key, status, result, attempts, created_at, updated_at"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _link(row: Sequence[Any]) -> Link:
    return Link.of_row(row[0], row[1], row[2], row[3], row[4], row[5], row[6])  # UTC


def _run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        integration=row[1],
        sync=row[2],
        status=row[3],
        spec_hash=row[4],
        git_commit=row[5],
        trigger=row[6],
        started_at=row[7].astimezone(UTC),
        finished_at=_utc(row[8]),
        counts=row[9] or {},
        error=row[10],
    )


def _event(row: Sequence[Any]) -> InboxEvent:
    return InboxEvent(
        id=row[0],
        source=row[1],
        event_id=row[2],
        payload=bytes(row[3]),
        received_at=row[4].astimezone(UTC),
        attempts=row[5],
        last_error=row[6],
        claimed_by=row[7],
        lease_until=_utc(row[8]),
    )


def _action(row: Sequence[Any], fresh: bool) -> ActionRecord:
    return ActionRecord(
        key=row[0],
        status=row[1],
        result=row[2],
        attempts=row[3],
        created_at=row[4].astimezone(UTC),
        updated_at=row[5].astimezone(UTC),
        fresh=fresh,
    )


class PostgresStateStore(PostgresCreatedValues, PostgresFieldMerge, PostgresOperatorState,
                         PostgresRecordings, PostgresSafeguardState, PostgresSweeps):
    """State in PostgreSQL. `PostgresStateStore("postgresql://u@host/db", schema="specsync")`."""

    def __init__(self, dsn: str, *, schema: str = "specsync", connect_timeout: int = 10) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise StateError(
                f"PostgreSQL schema name {schema!r} is not a plain identifier "
                "(letters, digits, underscore; at most 63)"
            )
        self.schema = schema
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            try:
                with self._errors():
                    self._connection()
                self._migrate()
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        # Never the DSN: it may carry a password.
        return f"PostgresStateStore(schema={self.schema!r})"

    # -- plumbing ------------------------------------------------------------------
    def _open(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self._dsn, autocommit=autocommit, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise StateError(f"cannot connect to the PostgreSQL state store: {exc}") from exc
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.execute("SET TIME ZONE 'UTC'")  # timestamps come back in UTC, nothing to convert
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._open(autocommit=True)
            self._conn.execute(
                "CREATE TEMP TABLE link_stage (ord BIGINT, source_key TEXT, target_id TEXT,"
                " hash TEXT, origin TEXT, active BOOLEAN, updated_at TIMESTAMPTZ,"
                " source_hash TEXT)"
                " ON COMMIT DELETE ROWS"
            )
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn.close()
                self._conn = None  # reconnect on the next call
            raise StateError(f"PostgreSQL state store: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction; any exception rolls everything back."""
        with self._lock, self._errors():
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on the store's connection, for work that must commit with state
        (engine/scale defers its jobs in it); errors become StateError, as everywhere."""
        with self._write() as cur:
            yield cur

    def _read(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._connection().execute(query, params).fetchall()

    def _migrate(self) -> None:
        latest = latest_version("postgres")
        lock_key = int.from_bytes(
            hashlib.sha256(f"specsync-migrate:{self.schema}".encode()).digest()[:8],
            "big",
            signed=True,
        )
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
            cur.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            (current,) = cur.fetchone() or (0,)
            if current > latest:
                raise StateError(
                    f"state schema {self.schema!r} has schema version {current}, newer than "
                    f"this specsync understands ({latest}); upgrade specsync to use it"
                )
            for migration in load_migrations("postgres")[current:]:
                cur.execute(migration.sql.encode())  # several statements, no parameters
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )

    def schema_version(self) -> int:
        return int(self._read("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgresStateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ID links ------------------------------------------------------------------
    def get_links(self, integration: str, sync: str, keys: Sequence[str]) -> dict[str, Link]:
        found: dict[str, Link] = {}
        unique = list(dict.fromkeys(keys))
        for part in chunks(unique, _IN_CHUNK):
            for row in self._read(
                f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = %s AND sync = %s"
                " AND source_key = ANY(%s)",
                (integration, sync, list(part)),
            ):
                found[row[0]] = _link(row)
        return found

    def link_states(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, LinkState]:
        found: dict[str, LinkState] = {}
        unique = list(dict.fromkeys(keys))
        for part in chunks(unique, _IN_CHUNK):
            found.update({row[0]: row for row in self._read(
                f"SELECT {_STATE_COLUMNS} FROM links WHERE integration = %s AND sync = %s"
                " AND source_key = ANY(%s)",
                (integration, sync, list(part)),
            )})
        return found

    def link_for_target(self, integration: str, sync: str, target_id: str) -> Link | None:
        rows = self._read(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = %s AND sync = %s"
            " AND target_id = %s ORDER BY active DESC, updated_at DESC LIMIT 1",
            (integration, sync, target_id),
        )
        return _link(rows[0]) if rows else None

    def iter_links(self, integration: str, sync: str) -> Iterator[Link]:
        # A server-side cursor on a connection of its own: one consistent snapshot,
        # fetched _ITERSIZE rows at a time, independent of commits made meanwhile.
        conn = self._open(autocommit=False)
        try:
            with conn.cursor(name="specsync_iter_links") as cur:
                cur.itersize = _ITERSIZE
                cur.execute(
                    f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = %s AND sync = %s"
                    " ORDER BY source_key",
                    (integration, sync),
                )
                while rows := cur.fetchmany(_ITERSIZE):
                    for row in rows:
                        yield _link(row)
        except psycopg.Error as exc:
            raise StateError(f"PostgreSQL state store: {exc}") from exc
        finally:
            conn.close()

    def count_links(self, integration: str, sync: str) -> int:
        return int(self._read(
            "SELECT count(*) FROM links WHERE integration = %s AND sync = %s", (integration, sync)
        )[0][0])

    # -- cursor, fingerprint, batch commit --------------------------------------------
    def get_cursor(self, integration: str, sync: str) -> str | None:
        rows = self._read(
            "SELECT cursor FROM sync_state WHERE integration = %s AND sync = %s",
            (integration, sync),
        )
        return rows[0][0] if rows else None

    def commit_batch(self, batch: BatchCommit) -> None:
        at = aware(batch.at)
        scope = (batch.integration, batch.sync)
        written: list[str] = []
        with self._write() as cur:
            if batch.lease is not None:
                lease = batch.lease
                cur.execute(
                    "SELECT holder, epoch FROM leases WHERE name = %s FOR SHARE", (lease.name,)
                )
                row = cur.fetchone()
                if row is None or tuple(row) != (lease.holder, lease.epoch):
                    raise StateError(
                        f"lease {lease.name!r} epoch {lease.epoch} held by {lease.holder!r} "
                        "was lost to a newer holder; batch not committed"
                    )
            if batch.links:
                self._upsert_links(cur, batch, at, written)
            if written:  # the staged keys, without shipping them back as an array
                cur.execute(
                    "DELETE FROM failures USING pg_temp.link_stage AS staged"
                    " WHERE failures.integration = %s AND failures.sync = %s"
                    " AND failures.source_key = staged.source_key",
                    scope,
                )
            if batch.resolved:
                cur.execute(
                    "DELETE FROM failures WHERE integration = %s AND sync = %s"
                    " AND source_key = ANY(%s)",
                    (*scope, list(batch.resolved)),
                )
            cur.executemany(
                "INSERT INTO failures (integration, sync, source_key, code, message, attempts,"
                " first_seen, last_seen, run_id) VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s)"
                " ON CONFLICT (integration, sync, source_key) DO UPDATE SET"
                " code = excluded.code, message = excluded.message,"
                " attempts = failures.attempts + 1, last_seen = excluded.last_seen,"
                " run_id = coalesce(excluded.run_id, failures.run_id),"
                # another reason is news: an operator's acknowledgement no longer holds
                " acknowledged_by = CASE WHEN failures.code = excluded.code"
                "  THEN failures.acknowledged_by END,"
                " acknowledged_at = CASE WHEN failures.code = excluded.code"
                "  THEN failures.acknowledged_at END",
                [(*scope, f.source_key, f.code, f.message, at, at, batch.run_id)
                 for f in batch.failures],
            )
            if batch.cursor is not None:
                cur.execute(
                    "INSERT INTO sync_state (integration, sync, cursor, updated_at)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (integration, sync) DO UPDATE SET"
                    " cursor = excluded.cursor, updated_at = excluded.updated_at",
                    (*scope, batch.cursor, at),
                )
            self.write_created(cur, batch, at)
            self.write_seen(cur, batch)
            self.write_merge(cur, batch, at)

    @staticmethod
    def _upsert_links(
        cur: psycopg.Cursor[Any], batch: BatchCommit, at: datetime, written: list[str]
    ) -> None:
        """COPY the links into a session temp table, then upsert them in one statement.

        COPY is the fast path for big first-run batches (200k links: seconds, not a
        minute of per-row INSERTs) and costs one extra round trip for small ones. Links
        stream from the batch inside the transaction; for a key given twice the later
        link wins, as it would with one upsert per link.
        """
        with cur.copy(
            "COPY pg_temp.link_stage (ord, source_key, target_id, hash, origin, active,"
            " updated_at, source_hash) FROM STDIN"
        ) as copy:
            for position, link in enumerate(batch.links):
                check_link(link)
                written.append(link.source_key)
                stamp = at if link.updated_at is None else aware(link.updated_at)
                copy.write_row(
                    (position, link.source_key, link.target_id, link.hash, link.origin, link.active,
                     stamp, link.source_hash)
                )
        if written:
            cur.execute(
                "INSERT INTO links (integration, sync, source_key, target_id, hash, origin,"
                " active, updated_at, source_hash)"
                " SELECT DISTINCT ON (source_key) %s, %s, source_key, target_id, hash, origin,"
                " active, updated_at, source_hash FROM pg_temp.link_stage"
                " ORDER BY source_key, ord DESC"
                " ON CONFLICT (integration, sync, source_key) DO UPDATE SET"
                " target_id = excluded.target_id, hash = excluded.hash,"
                " origin = excluded.origin, active = excluded.active,"
                " updated_at = excluded.updated_at, source_hash = excluded.source_hash",
                (batch.integration, batch.sync),
            )

    def get_fingerprint(self, integration: str, sync: str) -> str | None:
        rows = self._read(
            "SELECT fingerprint FROM sync_state WHERE integration = %s AND sync = %s",
            (integration, sync),
        )
        return rows[0][0] if rows else None

    def set_fingerprint(self, integration: str, sync: str, fingerprint: str) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO sync_state (integration, sync, fingerprint, updated_at)"
                " VALUES (%s, %s, %s, now()) ON CONFLICT (integration, sync) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
                (integration, sync, fingerprint),
            )

    # -- runs --------------------------------------------------------------------------
    def start_run(
        self,
        integration: str,
        sync: str,
        *,
        spec_hash: str,
        git_commit: str | None,
        trigger: str,
        started_at: datetime,
    ) -> int:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO runs (integration, sync, status, spec_hash, git_commit, trigger,"
                " started_at) VALUES (%s, %s, 'running', %s, %s, %s, %s) RETURNING id",
                (integration, sync, spec_hash, git_commit, trigger, aware(started_at)),
            )
            row = cur.fetchone()
            assert row is not None
            return int(row[0])

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: RunOutcome,
        counts: Mapping[str, int],
        error: str | None,
        finished_at: datetime,
    ) -> None:
        check_outcome(outcome)
        with self._write() as cur:
            cur.execute(
                "UPDATE runs SET status = %s, counts = %s, error = %s, finished_at = %s"
                " WHERE id = %s",
                (outcome, Jsonb(dict(counts)), error, aware(finished_at), run_id),
            )
            if cur.rowcount != 1:
                raise StateError(f"run {run_id} does not exist")

    def get_run(self, run_id: int) -> Run | None:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return _run(rows[0]) if rows else None

    def list_runs(
        self, integration: str | None = None, sync: str | None = None, limit: int = 20
    ) -> list[Run]:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs"
            " WHERE (%(i)s::text IS NULL OR integration = %(i)s)"
            " AND (%(s)s::text IS NULL OR sync = %(s)s)"
            " ORDER BY started_at DESC, id DESC LIMIT %(n)s",
            {"i": integration, "s": sync, "n": limit},
        )
        return [_run(row) for row in rows]

    def recover_interrupted(self, now: datetime) -> int:
        at = aware(now)
        with self._write() as cur:
            cur.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = %(at)s, error = %(msg)s"
                " WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM leases"
                "  WHERE leases.name = 'sync:' || runs.integration || '/' || runs.sync"
                "  AND leases.holder IS NOT NULL AND leases.expires_at > %(at)s)",
                {"at": at, "msg": INTERRUPTED_MESSAGE},
            )
            return cur.rowcount

    # -- per-record failures -------------------------------------------------------------
    def failing_keys(self, integration: str, sync: str) -> list[str]:
        rows = self._read(
            "SELECT source_key FROM failures WHERE integration = %s AND sync = %s"
            " ORDER BY source_key",
            (integration, sync),
        )
        return [row[0] for row in rows]

    def list_failures(
        self, integration: str | None = None, sync: str | None = None, limit: int = 100
    ) -> list[RecordFailure]:
        rows = self._read(
            f"SELECT {_FAILURE_COLUMNS} FROM failures"
            " WHERE (%(i)s::text IS NULL OR integration = %(i)s)"
            " AND (%(s)s::text IS NULL OR sync = %(s)s)"
            " ORDER BY last_seen DESC, integration, sync, source_key LIMIT %(n)s",
            {"i": integration, "s": sync, "n": limit},
        )
        return [failure_row(row) for row in rows]

    # -- webhook inbox ---------------------------------------------------------------------
    def inbox_put(
        self,
        source: str,
        event_id: str,
        payload: bytes,
        *,
        received_at: datetime,
        not_before: datetime | None = None,
    ) -> bool:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO inbox (source, event_id, payload, received_at, not_before)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source, event_id) DO NOTHING",
                (source, event_id, payload, aware(received_at),
                 None if not_before is None else aware(not_before)),
            )
            return cur.rowcount == 1

    def inbox_put_many(
        self, items: Sequence[tuple[str, str, bytes]], *, received_at: datetime
    ) -> list[bool]:
        with self._write() as cur:
            return self.insert_events(cur, items, received_at=received_at)

    @staticmethod
    def insert_events(
        cur: psycopg.Cursor[Any], items: Sequence[tuple[str, str, bytes]], *,
        received_at: datetime
    ) -> list[bool]:
        """`inbox_put_many` inside a transaction the caller holds (see `transaction`)."""
        at = aware(received_at)
        stored: list[bool] = []
        for source, event_id, payload in items:
            cur.execute(
                "INSERT INTO inbox (source, event_id, payload, received_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (source, event_id) DO NOTHING",
                (source, event_id, payload, at))
            stored.append(cur.rowcount == 1)
        return stored

    def inbox_claim(
        self, worker: str, limit: int, now: datetime, lease_seconds: float,
        *, source: str | None = None,
    ) -> list[InboxEvent]:
        """As the protocol says; `source` claims only that source's events (a worker of
        engine/scale processes one source per job)."""
        at = aware(now)
        with self._write() as cur:
            cur.execute(
                "WITH due AS (SELECT id FROM inbox WHERE status <> 'done' AND ("
                "   (status = 'pending' AND (not_before IS NULL OR not_before <= %(at)s))"
                "   OR (status = 'claimed' AND lease_until <= %(at)s))"
                "   AND (%(source)s::text IS NULL OR source = %(source)s)"
                "  ORDER BY received_at, id LIMIT %(n)s FOR UPDATE SKIP LOCKED)"
                " UPDATE inbox SET status = 'claimed', claimed_by = %(w)s,"
                " lease_until = %(until)s, attempts = inbox.attempts + 1"
                f" FROM due WHERE inbox.id = due.id RETURNING {_INBOX_COLUMNS}",
                {"at": at, "n": limit, "w": worker, "source": source,
                 "until": at + timedelta(seconds=lease_seconds)},
            )
            rows = cur.fetchall()
        events = [_event(row) for row in rows]
        events.sort(key=lambda e: (e.received_at, e.id))
        return events

    def inbox_done(self, ids: Sequence[int], *, now: datetime | None = None) -> None:
        at = aware(now or datetime.now(UTC))
        with self._write() as cur:
            cur.execute(
                "UPDATE inbox SET status = 'done', payload = '', claimed_by = NULL,"
                " lease_until = NULL, done_at = %s WHERE id = ANY(%s)",
                (at, list(ids)),
            )

    def inbox_retry(self, id: int, error: str, not_before: datetime) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE inbox SET status = 'pending', last_error = %s, not_before = %s,"
                " claimed_by = NULL, lease_until = NULL WHERE id = %s AND status <> 'done'",
                (error, aware(not_before), id),
            )

    def inbox_depth(self) -> int:
        return int(self._read("SELECT count(*) FROM inbox WHERE status <> 'done'")[0][0])

    def inbox_prune(self, done_before: datetime) -> int:
        with self._write() as cur:
            cur.execute(
                "DELETE FROM inbox WHERE status = 'done' AND done_at < %s", (aware(done_before),)
            )
            return cur.rowcount

    # -- leases ---------------------------------------------------------------------------
    def acquire_lease(
        self, name: str, holder: str, now: datetime, ttl_seconds: float
    ) -> int | None:
        at = aware(now)
        with self._write() as cur:
            # Make sure the row exists, then lock it: concurrent acquirers queue here.
            cur.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at)"
                " VALUES (%s, NULL, 0, to_timestamp(0)) ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            cur.execute(
                "SELECT holder, epoch, expires_at FROM leases WHERE name = %s FOR UPDATE",
                (name,),
            )
            row = cur.fetchone()
            assert row is not None
            if row[0] not in (None, holder) and row[2] > at:
                return None
            epoch = int(row[1]) + 1
            cur.execute(
                "UPDATE leases SET holder = %s, epoch = %s, expires_at = %s WHERE name = %s",
                (holder, epoch, at + timedelta(seconds=ttl_seconds), name),
            )
            return epoch

    def renew_lease(
        self, name: str, holder: str, epoch: int, now: datetime, ttl_seconds: float
    ) -> bool:
        with self._write() as cur:
            cur.execute(
                "UPDATE leases SET expires_at = %s WHERE name = %s AND holder = %s AND epoch = %s",
                (aware(now) + timedelta(seconds=ttl_seconds), name, holder, epoch),
            )
            return cur.rowcount == 1

    def current_lease(self, name: str, now: datetime) -> LeaseToken | None:
        rows = self._read(
            "SELECT holder, epoch FROM leases WHERE name = %s AND holder IS NOT NULL"
            " AND expires_at > %s", (name, aware(now)))
        return LeaseToken(name, rows[0][0], rows[0][1]) if rows else None

    def release_lease(self, name: str, holder: str, epoch: int) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE leases SET holder = NULL WHERE name = %s AND holder = %s AND epoch = %s",
                (name, holder, epoch),
            )

    # -- workflow action idempotency ---------------------------------------------------------
    def claim_action(
        self, key: str, now: datetime, *, stale_after: float | None = None
    ) -> ActionRecord:
        at = aware(now)
        with self._write() as cur:
            cur.execute(
                "INSERT INTO actions (key, status, attempts, created_at, updated_at)"
                " VALUES (%s, 'pending', 1, %s, %s) ON CONFLICT (key) DO NOTHING"
                f" RETURNING {_ACTION_COLUMNS}",
                (key, at, at),
            )
            row = cur.fetchone()
            if row is not None:
                return _action(row, fresh=True)
            cur.execute(f"SELECT {_ACTION_COLUMNS} FROM actions WHERE key = %s FOR UPDATE", (key,))
            row = cur.fetchone()
            assert row is not None
            if (
                row[1] == "pending"
                and stale_after is not None
                and row[5] <= at - timedelta(seconds=stale_after)
            ):
                cur.execute(
                    "UPDATE actions SET attempts = attempts + 1, updated_at = %s WHERE key = %s"
                    f" RETURNING {_ACTION_COLUMNS}",
                    (at, key),
                )
                row = cur.fetchone()
                assert row is not None
                return _action(row, fresh=True)
            return _action(row, fresh=False)

    def complete_action(
        self,
        key: str,
        result: Mapping[str, object],
        status: ActionStatus,
        *,
        now: datetime | None = None,
    ) -> None:
        check_action_status(status)
        with self._write() as cur:
            cur.execute(
                "UPDATE actions SET status = %s, result = %s, updated_at = %s WHERE key = %s",
                (status, Jsonb(dict(result)), aware(now or datetime.now(UTC)), key),
            )
            if cur.rowcount != 1:
                raise StateError(f"action {key!r} was never claimed")

    # -- adapter metadata ---------------------------------------------------------------------
    def get_meta(self, integration: str, key: str) -> str | None:
        rows = self._read(
            "SELECT value FROM meta WHERE integration = %s AND key = %s", (integration, key)
        )
        return rows[0][0] if rows else None

    def set_meta(self, integration: str, key: str, value: str | None) -> None:
        with self._write() as cur:
            if value is None:
                cur.execute(
                    "DELETE FROM meta WHERE integration = %s AND key = %s", (integration, key)
                )
            else:
                cur.execute(
                    "INSERT INTO meta (integration, key, value) VALUES (%s, %s, %s)"
                    " ON CONFLICT (integration, key) DO UPDATE SET value = excluded.value",
                    (integration, key, value),
                )
