"""The embedded state store: one SQLite file, nothing to install.

Durability and concurrency choices, and why:
- WAL + synchronous=FULL: a committed batch survives a crash *and* a power loss
  (NORMAL may lose the last commits, and the cursor is the whole point).
- Every write is `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken up front, so
  two processes on one file (`specsync serve` beside a manual `specsync run`) wait
  for each other through busy_timeout instead of failing on a lock upgrade.
- One connection per store, guarded by a lock, so it may be used from threads
  (e.g. `asyncio.to_thread`).
- The file is created 0600: it holds links and failure messages about people.

The module is long on purpose: it is the whole StateStore protocol on one engine, one
method per protocol method, each a short statement; split by table, every piece would
reach back into the same connection, lock and transaction helpers.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import StateError
from engine.state._shared import (
    INTERRUPTED_MESSAGE,
    check_action_status,
    check_link,
    check_outcome,
    chunks,
    dump_json,
    from_epoch,
    load_counts,
    load_json,
    to_epoch,
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
from engine.state.created_values import SqliteCreatedValues
from engine.state.field_merge import SqliteFieldMerge
from engine.state.migrations import latest_version, load_migrations, sqlite_statements
from engine.state.recordings import SqliteRecordings
from engine.state.sqlite_operator import FAILURE_COLUMNS as _FAILURE_COLUMNS
from engine.state.sqlite_operator import SqliteOperatorState, failure_row
from engine.state.sqlite_safeguards import SqliteSafeguardState
from engine.state.sweeps import SqliteSweeps

__all__ = ["SqliteStateStore"]

_IN_CHUNK = 500  # well under SQLite's bound-parameter limit
_PAGE = 1000  # links per page when streaming
# Keys from this many on are first read as one range of the primary key (`_link_range`).
_RANGE_MIN = 100

_LINK_COLUMNS = "source_key, target_id, hash, origin, active, updated_at, source_hash"
_STATE_COLUMNS = "source_key, target_id, hash, active, source_hash, origin"  # LinkState
_RUN_COLUMNS = (
    "id, integration, sync, status, spec_hash, git_commit, trigger, started_at, finished_at,"
    " counts, error"
)
_INBOX_COLUMNS = (
    "id, source, event_id, payload, received_at, attempts, last_error, claimed_by, lease_until"
)


def _link(row: Sequence[Any]) -> Link:
    return Link.of_row(row[0], row[1], row[2], row[3], bool(row[4]), from_epoch(row[5]),
                       row[6])


def _run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        integration=row[1],
        sync=row[2],
        status=row[3],
        spec_hash=row[4],
        git_commit=row[5],
        trigger=row[6],
        started_at=from_epoch(row[7]),
        finished_at=None if row[8] is None else from_epoch(row[8]),
        counts=load_counts(row[9]),
        error=row[10],
    )


def _event(row: Sequence[Any]) -> InboxEvent:
    return InboxEvent(
        id=row[0],
        source=row[1],
        event_id=row[2],
        payload=bytes(row[3]),
        received_at=from_epoch(row[4]),
        attempts=row[5],
        last_error=row[6],
        claimed_by=row[7],
        lease_until=None if row[8] is None else from_epoch(row[8]),
    )


def _action(row: Sequence[Any], fresh: bool) -> ActionRecord:
    return ActionRecord(
        key=row[0],
        status=row[1],
        result=load_json(row[2]),
        attempts=row[3],
        created_at=from_epoch(row[4]),
        updated_at=from_epoch(row[5]),
        fresh=fresh,
    )


class SqliteStateStore(SqliteCreatedValues, SqliteFieldMerge, SqliteOperatorState,
                       SqliteRecordings, SqliteSafeguardState, SqliteSweeps):
    """State in one SQLite file. `SqliteStateStore(".specsync/state.db")`.

    ":memory:" works too (tests, one process), without durability.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not Path(self.path).exists():
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:  # a user's mistake (`--state /proc/x.db`), said plainly
                raise StateError(f"cannot create the SQLite state store {self.path}: "
                                 f"{exc.strerror or exc}") from None
        self._lock = threading.RLock()
        # Syncs whose keys came too far apart for one range: read with IN lists since.
        self._scattered: set[tuple[str, str]] = set()
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open SQLite state store {self.path}: {exc}") from exc
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStateStore({self.path!r})"

    # -- plumbing ------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any exception rolls everything back."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"SQLite state store {self.path}: {exc}") from exc
            try:
                yield self._db
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StateError(f"SQLite state store {self.path}: {exc}") from exc
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StateError(f"SQLite state store {self.path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"SQLite state store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        latest = latest_version("sqlite")
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            (current,) = db.execute(
                "SELECT coalesce(max(version), 0) FROM schema_migrations"
            ).fetchone()
            if current > latest:
                raise StateError(
                    f"state database {self.path} has schema version {current}, newer than "
                    f"this specsync understands ({latest}); upgrade specsync to use it"
                )
            now = to_epoch(datetime.now(UTC))
            for migration in load_migrations("sqlite")[current:]:
                for statement in sqlite_statements(migration.sql):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now),
                )

    def schema_version(self) -> int:
        """The applied schema version (for `specsync state` and the tests)."""
        return int(self._read("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ID links ------------------------------------------------------------------
    def get_links(self, integration: str, sync: str, keys: Sequence[str]) -> dict[str, Link]:
        found: dict[str, Link] = {}
        unique = list(dict.fromkeys(keys))
        for part in chunks(unique, _IN_CHUNK):
            marks = ", ".join("?" * len(part))
            for row in self._read(
                f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
                f" AND source_key IN ({marks})",
                (integration, sync, *part),
            ):
                found[row[0]] = _link(row)
        return found

    def link_states(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, LinkState]:
        found: dict[str, LinkState] = {}
        unique = list(dict.fromkeys(keys))
        if len(unique) >= _RANGE_MIN and (integration, sync) not in self._scattered:
            ranged = self._link_range(integration, sync, unique)
            if ranged is not None:
                return ranged
            self._scattered.add((integration, sync))  # keys far apart: seek each one
        for part in chunks(unique, _IN_CHUNK):
            marks = ", ".join("?" * len(part))
            found.update({row[0]: row for row in self._read(
                f"SELECT {_STATE_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
                f" AND source_key IN ({marks})",
                (integration, sync, *part),
            )})
        return found

    def _link_range(self, integration: str, sync: str, keys: list[str]
                    ) -> dict[str, LinkState] | None:
        """The links of `keys` read as one range of the primary key, or None when that
        range holds more than twice as many links as there are keys.

        A source read in key order (Maconomy, by customer number) hands over keys that
        lie side by side in the links' primary key: walking their range costs half
        of seeking each key of an IN list. Text compares as SQLite's BINARY collation
        does (UTF-8 bytes and code points sort alike), so every key lies in the range."""
        bound = 2 * len(keys)
        rows = self._read(
            f"SELECT {_STATE_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
            " AND source_key BETWEEN ? AND ? LIMIT ?",
            (integration, sync, min(keys), max(keys), bound + 1))
        if len(rows) > bound:
            return None
        wanted = set(keys)
        return {row[0]: row for row in rows if row[0] in wanted}

    def link_for_target(self, integration: str, sync: str, target_id: str) -> Link | None:
        rows = self._read(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
            " AND target_id = ? ORDER BY active DESC, updated_at DESC LIMIT 1",
            (integration, sync, target_id),
        )
        return _link(rows[0]) if rows else None

    def iter_links(self, integration: str, sync: str) -> Iterator[Link]:
        # Keyset pages over the primary key: bounded memory, no read transaction held
        # open between pages (it would stop WAL checkpoints), safe to interleave with
        # commits. Links committed during the walk may or may not be seen.
        rows = self._read(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
            " ORDER BY source_key LIMIT ?",
            (integration, sync, _PAGE),
        )
        while rows:
            for row in rows:
                yield _link(row)
            if len(rows) < _PAGE:
                return
            rows = self._read(
                f"SELECT {_LINK_COLUMNS} FROM links WHERE integration = ? AND sync = ?"
                " AND source_key > ? ORDER BY source_key LIMIT ?",
                (integration, sync, rows[-1][0], _PAGE),
            )

    def count_links(self, integration: str, sync: str) -> int:
        return int(self._read(
            "SELECT count(*) FROM links WHERE integration = ? AND sync = ?", (integration, sync)
        )[0][0])

    # -- cursor, fingerprint, batch commit --------------------------------------------
    def get_cursor(self, integration: str, sync: str) -> str | None:
        rows = self._read(
            "SELECT cursor FROM sync_state WHERE integration = ? AND sync = ?",
            (integration, sync),
        )
        return rows[0][0] if rows else None

    def commit_batch(self, batch: BatchCommit) -> None:
        at = to_epoch(batch.at)
        scope = (batch.integration, batch.sync)
        written: list[str] = []

        def link_rows() -> Iterator[tuple[Any, ...]]:
            for link in batch.links:
                check_link(link)
                written.append(link.source_key)
                stamp = at if link.updated_at is None else to_epoch(link.updated_at)
                yield (*scope, link.source_key, link.target_id, link.hash, link.origin,
                       int(link.active), stamp, link.source_hash)

        with self._write() as db:
            if batch.lease is not None:
                lease = batch.lease
                row = db.execute(
                    "SELECT holder, epoch FROM leases WHERE name = ?", (lease.name,)
                ).fetchone()
                if row is None or tuple(row) != (lease.holder, lease.epoch):
                    raise StateError(
                        f"lease {lease.name!r} epoch {lease.epoch} held by {lease.holder!r} "
                        "was lost to a newer holder; batch not committed"
                    )
            db.executemany(
                "INSERT INTO links (integration, sync, source_key, target_id, hash, origin,"
                " active, updated_at, source_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (integration, sync, source_key) DO UPDATE SET"
                " target_id = excluded.target_id, hash = excluded.hash,"
                " origin = excluded.origin, active = excluded.active,"
                " updated_at = excluded.updated_at, source_hash = excluded.source_hash",
                link_rows(),
            )
            db.executemany(
                "DELETE FROM failures WHERE integration = ? AND sync = ? AND source_key = ?",
                ((*scope, key) for key in [*written, *batch.resolved]),
            )
            db.executemany(
                "INSERT INTO failures (integration, sync, source_key, code, message, attempts,"
                " first_seen, last_seen, run_id) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)"
                " ON CONFLICT (integration, sync, source_key) DO UPDATE SET"
                " code = excluded.code, message = excluded.message,"
                " attempts = failures.attempts + 1, last_seen = excluded.last_seen,"
                " run_id = coalesce(excluded.run_id, failures.run_id),"
                # another reason is news: an operator's acknowledgement no longer holds
                " acknowledged_by = CASE WHEN failures.code = excluded.code"
                "  THEN failures.acknowledged_by END,"
                " acknowledged_at = CASE WHEN failures.code = excluded.code"
                "  THEN failures.acknowledged_at END",
                ((*scope, f.source_key, f.code, f.message, at, at, batch.run_id)
                 for f in batch.failures),
            )
            if batch.cursor is not None:
                db.execute(
                    "INSERT INTO sync_state (integration, sync, cursor, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (integration, sync) DO UPDATE SET"
                    " cursor = excluded.cursor, updated_at = excluded.updated_at",
                    (*scope, batch.cursor, at),
                )
            self.write_created(db, batch)
            self.write_seen(db, batch)
            self.write_merge(db, batch)

    def get_fingerprint(self, integration: str, sync: str) -> str | None:
        rows = self._read(
            "SELECT fingerprint FROM sync_state WHERE integration = ? AND sync = ?",
            (integration, sync),
        )
        return rows[0][0] if rows else None

    def set_fingerprint(self, integration: str, sync: str, fingerprint: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO sync_state (integration, sync, fingerprint, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (integration, sync) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
                (integration, sync, fingerprint, to_epoch(datetime.now(UTC))),
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
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO runs (integration, sync, status, spec_hash, git_commit, trigger,"
                " started_at) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (integration, sync, spec_hash, git_commit, trigger, to_epoch(started_at)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

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
        with self._write() as db:
            cur = db.execute(
                "UPDATE runs SET status = ?, counts = ?, error = ?, finished_at = ? WHERE id = ?",
                (outcome, dump_json(counts), error, to_epoch(finished_at), run_id),
            )
            if cur.rowcount != 1:
                raise StateError(f"run {run_id} does not exist")

    def get_run(self, run_id: int) -> Run | None:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def list_runs(
        self, integration: str | None = None, sync: str | None = None, limit: int = 20
    ) -> list[Run]:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE (? IS NULL OR integration = ?)"
            " AND (? IS NULL OR sync = ?) ORDER BY started_at DESC, id DESC LIMIT ?",
            (integration, integration, sync, sync, limit),
        )
        return [_run(row) for row in rows]

    def recover_interrupted(self, now: datetime) -> int:
        at = to_epoch(now)
        with self._write() as db:
            cur = db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ?"
                " WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM leases"
                "  WHERE leases.name = 'sync:' || runs.integration || '/' || runs.sync"
                "  AND leases.holder IS NOT NULL AND leases.expires_at > ?)",
                (at, INTERRUPTED_MESSAGE, at),
            )
            return cur.rowcount

    # -- per-record failures -------------------------------------------------------------
    def failing_keys(self, integration: str, sync: str) -> list[str]:
        rows = self._read(
            "SELECT source_key FROM failures WHERE integration = ? AND sync = ?"
            " ORDER BY source_key",
            (integration, sync),
        )
        return [row[0] for row in rows]

    def list_failures(
        self, integration: str | None = None, sync: str | None = None, limit: int = 100
    ) -> list[RecordFailure]:
        rows = self._read(
            f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE (? IS NULL OR integration = ?)"
            " AND (? IS NULL OR sync = ?)"
            " ORDER BY last_seen DESC, integration, sync, source_key LIMIT ?",
            (integration, integration, sync, sync, limit),
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
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO inbox (source, event_id, payload, received_at, not_before)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING",
                (source, event_id, payload, to_epoch(received_at),
                 None if not_before is None else to_epoch(not_before)),
            )
            return cur.rowcount == 1

    def inbox_put_many(
        self, items: Sequence[tuple[str, str, bytes]], *, received_at: datetime
    ) -> list[bool]:
        at = to_epoch(received_at)
        with self._write() as db:
            return [db.execute(
                "INSERT INTO inbox (source, event_id, payload, received_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING",
                (source, event_id, payload, at)).rowcount == 1
                for source, event_id, payload in items]

    def inbox_claim(
        self, worker: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[InboxEvent]:
        at = to_epoch(now)
        with self._write() as db:
            rows = db.execute(
                "UPDATE inbox SET status = 'claimed', claimed_by = ?, lease_until = ?,"
                " attempts = attempts + 1 WHERE id IN (SELECT id FROM inbox"
                "  WHERE status <> 'done' AND ("
                "   (status = 'pending' AND (not_before IS NULL OR not_before <= ?))"
                "   OR (status = 'claimed' AND lease_until <= ?))"
                "  ORDER BY received_at, id LIMIT ?)"
                f" RETURNING {_INBOX_COLUMNS}",
                (worker, at + lease_seconds, at, at, limit),
            ).fetchall()
        events = [_event(row) for row in rows]
        events.sort(key=lambda e: (e.received_at, e.id))
        return events

    def inbox_done(self, ids: Sequence[int], *, now: datetime | None = None) -> None:
        at = to_epoch(now or datetime.now(UTC))
        with self._write() as db:
            db.executemany(
                "UPDATE inbox SET status = 'done', payload = X'', claimed_by = NULL,"
                " lease_until = NULL, done_at = ? WHERE id = ?",
                ((at, event_id) for event_id in ids),
            )

    def inbox_retry(self, id: int, error: str, not_before: datetime) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE inbox SET status = 'pending', last_error = ?, not_before = ?,"
                " claimed_by = NULL, lease_until = NULL WHERE id = ? AND status <> 'done'",
                (error, to_epoch(not_before), id),
            )

    def inbox_depth(self) -> int:
        return int(self._read("SELECT count(*) FROM inbox WHERE status <> 'done'")[0][0])

    def inbox_prune(self, done_before: datetime) -> int:
        with self._write() as db:
            return db.execute(
                "DELETE FROM inbox WHERE status = 'done' AND done_at < ?",
                (to_epoch(done_before),),
            ).rowcount

    # -- leases ---------------------------------------------------------------------------
    def acquire_lease(
        self, name: str, holder: str, now: datetime, ttl_seconds: float
    ) -> int | None:
        at = to_epoch(now)
        with self._write() as db:
            row = db.execute(
                "SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] not in (None, holder) and row[2] > at:
                return None
            epoch = (row[1] if row else 0) + 1
            db.execute(
                "INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " epoch = excluded.epoch, expires_at = excluded.expires_at",
                (name, holder, epoch, at + ttl_seconds),
            )
            return epoch

    def current_lease(self, name: str, now: datetime) -> LeaseToken | None:
        rows = self._read(
            "SELECT holder, epoch FROM leases WHERE name = ? AND holder IS NOT NULL"
            " AND expires_at > ?", (name, to_epoch(now)))
        return LeaseToken(name, rows[0][0], rows[0][1]) if rows else None

    def renew_lease(
        self, name: str, holder: str, epoch: int, now: datetime, ttl_seconds: float
    ) -> bool:
        with self._write() as db:
            cur = db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?",
                (to_epoch(now) + ttl_seconds, name, holder, epoch),
            )
            return cur.rowcount == 1

    def release_lease(self, name: str, holder: str, epoch: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE leases SET holder = NULL WHERE name = ? AND holder = ? AND epoch = ?",
                (name, holder, epoch),
            )

    # -- workflow action idempotency ---------------------------------------------------------
    def claim_action(
        self, key: str, now: datetime, *, stale_after: float | None = None
    ) -> ActionRecord:
        at = to_epoch(now)
        columns = "key, status, result, attempts, created_at, updated_at"
        with self._write() as db:
            row = db.execute(f"SELECT {columns} FROM actions WHERE key = ?", (key,)).fetchone()
            if row is None:
                row = db.execute(
                    "INSERT INTO actions (key, status, attempts, created_at, updated_at)"
                    f" VALUES (?, 'pending', 1, ?, ?) RETURNING {columns}",
                    (key, at, at),
                ).fetchone()
                return _action(row, fresh=True)
            if row[1] == "pending" and stale_after is not None and row[5] <= at - stale_after:
                row = db.execute(
                    "UPDATE actions SET attempts = attempts + 1, updated_at = ? WHERE key = ?"
                    f" RETURNING {columns}",
                    (at, key),
                ).fetchone()
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
        with self._write() as db:
            cur = db.execute(
                "UPDATE actions SET status = ?, result = ?, updated_at = ? WHERE key = ?",
                (status, dump_json(result), to_epoch(now or datetime.now(UTC)), key),
            )
            if cur.rowcount != 1:
                raise StateError(f"action {key!r} was never claimed")

    # -- adapter metadata ---------------------------------------------------------------------
    def get_meta(self, integration: str, key: str) -> str | None:
        rows = self._read(
            "SELECT value FROM meta WHERE integration = ? AND key = ?", (integration, key)
        )
        return rows[0][0] if rows else None

    def set_meta(self, integration: str, key: str, value: str | None) -> None:
        with self._write() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE integration = ? AND key = ?", (integration, key))
            else:
                db.execute(
                    "INSERT INTO meta (integration, key, value) VALUES (?, ?, ?)"
                    " ON CONFLICT (integration, key) DO UPDATE SET value = excluded.value",
                    (integration, key, value),
                )
