"""One rate budget per credential for a whole cluster, kept in PostgreSQL.

Four workers each keeping their own 40-per-2-seconds budget for one Cinode company would
send up to 160; the vendor counts them together. Here every process draws from one row
per credential (`specsync_rate_budgets`, keyed by `credential_key`, never the secret):

- an acquisition locks the row, computes the wait with the in-process budget's own code
  (`RateBudget.wait_at`, restored from the row's state) on the DATABASE's clock, so
  machines whose clocks disagree still share one timeline, and records itself when it
  may go: one short transaction per request;
- what a response's headers teach (limits, remaining counts, Retry-After, daily
  quotas) is learned into the same row, so every worker slows down together;
- a request that would wait longer than `hold_seconds` is not waited for: the budget
  raises `RetriableError(retry_after=...)`, the run stops cleanly (batches committed,
  cursor never ahead) and its job is put back for that time, so no worker slot idles.

    budgets = SharedRateBudgets(dsn, schema="specsync")
    deployment = Deployment.from_specs(specs, store, budgets=budgets)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import psycopg

from engine.adapters.ratelimit import RateBudget, RateBudgets
from engine.errors import RetriableError, StateError

__all__ = ["SharedRateBudget", "SharedRateBudgets", "ensure_budget_table"]

MARGIN_SECONDS = 0.05  # our acquisition and the vendor's count are a few ms apart

_TABLE = """CREATE TABLE IF NOT EXISTS specsync_rate_budgets (
    key TEXT PRIMARY KEY,
    state JSONB NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"""


def ensure_budget_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(_TABLE)


class _Database:
    """One connection per event loop (budgets serve the loop their adapters run on)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self._conns: dict[int, tuple[psycopg.AsyncConnection[Any], asyncio.Lock]] = {}

    async def connection(self) -> tuple[psycopg.AsyncConnection[Any], asyncio.Lock]:
        loop = id(asyncio.get_running_loop())
        found = self._conns.get(loop)
        if found is not None and not found[0].closed and not found[0].broken:
            return found
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, options=f"-c search_path={self.schema}")
        pair = (conn, asyncio.Lock())
        self._conns[loop] = pair
        return pair

    async def aclose(self) -> None:
        for conn, _ in self._conns.values():
            await conn.close()
        self._conns.clear()


class SharedRateBudget(RateBudget):
    """A RateBudget whose state lives in PostgreSQL (see the module docstring)."""

    def __init__(self, key: str, limit: int, per_seconds: float, db: _Database, *,
                 hold_seconds: float) -> None:
        super().__init__(key, limit, per_seconds)
        self._db = db
        self.hold_seconds = hold_seconds
        self.margin = MARGIN_SECONDS
        self._created = False

    def __repr__(self) -> str:
        return f"SharedRateBudget({self.key!r}, limit={self.limit}, per={self.per_seconds})"

    async def _locked(self, step: Any) -> Any:
        """Run `step(now)` on the row's state, locked, and write the state back."""
        try:
            conn, lock = await self._db.connection()
            async with lock, conn.transaction():
                if not self._created:
                    await conn.execute("INSERT INTO specsync_rate_budgets (key) VALUES (%s)"
                                       " ON CONFLICT (key) DO NOTHING", (self.key,))
                    self._created = True
                cur = await conn.execute(
                    "SELECT state, extract(epoch FROM clock_timestamp())::float8"
                    " FROM specsync_rate_budgets WHERE key = %s FOR UPDATE", (self.key,))
                row = await cur.fetchone()
                if row is None:  # deleted meanwhile (an operator reset): start afresh
                    self._created = False
                    raise StateError(f"rate budget {self.key} was removed; try again")
                configured = self._configured.limit
                self.restore(row[0] or {})
                self._configured.limit = min(configured, self._configured.limit)
                result = step(float(row[1]))
                await conn.execute(
                    "UPDATE specsync_rate_budgets SET state = %s, updated_at = now()"
                    " WHERE key = %s", (json.dumps(self.snapshot()), self.key))
                return result
        except psycopg.Error as exc:
            raise StateError(f"shared rate budget {self.key}: {exc}") from exc

    async def acquire(self, *, max_wait: float | None = None) -> float:
        hold = self.hold_seconds if max_wait is None else min(max_wait, self.hold_seconds)
        waited = 0.0
        started = time.monotonic()
        while True:
            def step(now: float) -> float:
                wait = self.wait_at(now)
                if wait <= 0:
                    self.take_at(now)
                return wait

            wait = await self._locked(step)
            if wait <= 0:
                break
            if waited + wait > hold:
                raise RetriableError(
                    f"rate budget {self.key}: next request allowed in {wait:.1f}s; the run "
                    f"is put back rather than holding a worker for more than {hold:.0f}s",
                    retry_after=wait)
            await asyncio.sleep(wait)
            waited = time.monotonic() - started
        if waited:
            self._stats.waits += 1
            self._stats.waited_seconds += waited
        return waited

    async def observe(self, status: int, headers: Mapping[str, str]) -> None:
        if not _teaches(status, headers):
            return  # nothing to learn: no trip to the database

        def step(now: float) -> None:
            # Retry-After as an HTTP-date is read against the wall clock; our "now" is the
            # database's epoch time, which is a wall clock too.
            self._wall_clock = lambda: now
            self.learn_at(now, status, headers)

        await self._locked(step)


def _teaches(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a response carries anything a budget learns from (rate-limit headers, as
    `RateBudget.observe` reads them, Retry-After, a daily quota)."""
    if status in (429, 503):
        return True
    for name in headers:
        lower = name.lower()
        if "ratelimit" in lower or "requests-left" in lower or lower == "retry-after":
            return True
    return False


class SharedRateBudgets(RateBudgets):
    """`RateBudgets` whose budgets are shared through PostgreSQL (one per credential)."""

    def __init__(self, dsn: str, *, schema: str = "specsync",
                 hold_seconds: float = 20.0) -> None:
        super().__init__()
        self._database = _Database(dsn, schema)
        self.hold_seconds = hold_seconds
        self._shared: dict[str, SharedRateBudget] = {}

    def __repr__(self) -> str:
        return f"SharedRateBudgets(schema={self._database.schema!r}, budgets={len(self)})"

    def for_credential(self, key: str, limit: int, per_seconds: float) -> RateBudget:
        from engine.adapters.ratelimit import credential_key

        hashed = credential_key(key)
        budget = self._shared.get(hashed)
        if budget is None:
            budget = SharedRateBudget(hashed, limit, per_seconds, self._database,
                                      hold_seconds=self.hold_seconds)
            self._shared[hashed] = budget
            self._budgets[hashed] = budget
        elif limit < budget.limit and per_seconds >= budget.per_seconds:
            budget._configured.limit = limit
        return budget

    async def aclose(self) -> None:
        await self._database.aclose()
