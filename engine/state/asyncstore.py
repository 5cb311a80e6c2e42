"""The state store for async code: every call awaited, none run on the event loop.

The `StateStore` protocol is synchronous (see base.py for why). Called from a coroutine,
each call would hold up the event loop for its duration: an fsync per commit on SQLite,
a network round trip per statement on PostgreSQL. `AsyncStateStore` runs the calls on a
worker thread of its own and lets the loop go on meanwhile:

    astore = AsyncStateStore(store)
    links = await astore.get_links("kleer-cinode", "customers", keys)
    # several calls in one hop to the thread (one wait instead of three):
    cursor, fingerprint, failing = await astore.run(lambda s: (
        s.get_cursor(i, n), s.get_fingerprint(i, n), s.failing_keys(i, n)))
    await astore.aclose()                    # stops the thread; the store stays open

One thread, not a pool, for two reasons. The calls run in the order they were made, so a
batch's commit is never overtaken by the lease release that follows it. And a store's
connection is only ever used from that thread (plus whoever calls the store directly:
both stores lock around each call, so that stays safe).

A call once made is carried out: cancelling the coroutine that awaits it does not
withdraw it (it may already be committing); the cancellation is raised at once and the
call completes on the thread, before any call made after it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice
from typing import Literal, ParamSpec, TypeVar

from engine.state.base import (
    ActionRecord,
    ActionStatus,
    AuditEntry,
    BatchCommit,
    BreakerRecord,
    Conflict,
    CreatedValues,
    InboxEvent,
    Incident,
    LeaseToken,
    Link,
    LinkState,
    QuarantinedRecord,
    RecordFailure,
    Run,
    RunOutcome,
    StateStore,
    Sweep,
    SyncPause,
)
from engine.state.recordings import RecordedRead, RecordedRun

__all__ = ["AsyncStateStore"]

T = TypeVar("T")
P = ParamSpec("P")

_LINKS_PER_HOP = 1_000  # iter_links: links fetched per trip to the thread


class AsyncStateStore:
    """Awaitable `StateStore` calls, run in order on one worker thread (see module doc).

    The methods mirror the `StateStore` protocol one to one (a test keeps them in step);
    `run` makes several calls in one trip. It does not own the store: `aclose` stops the
    thread, closing the store stays with whoever opened it.
    """

    def __init__(self, store: StateStore, *, name: str = "specsync-state") -> None:
        self.store = store
        # The thread starts on the first call; unused facades cost nothing.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def __repr__(self) -> str:
        return f"AsyncStateStore({self.store!r})"

    async def run(self, work: Callable[[StateStore], T]) -> T:
        """`work(store)` on the store's thread: many calls, one wait."""
        return await self._call(work, self.store)

    async def _call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        if kwargs:
            future = loop.run_in_executor(self._executor,
                                          functools.partial(function, *args, **kwargs))
        else:
            future = loop.run_in_executor(self._executor, function, *args)
        # Shielded: a cancelled caller must not withdraw a call that is queued (see the
        # module docstring); its result or error is collected and dropped.
        return await asyncio.shield(future)

    def shutdown(self) -> None:
        """Stop the worker thread once the calls already made are done (never blocks)."""
        self._executor.shutdown(wait=False)

    async def aclose(self) -> None:
        """`shutdown`, for `async with` and symmetry with the adapters' `aclose`."""
        self.shutdown()

    async def __aenter__(self) -> AsyncStateStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- ID links ---------------------------------------------------------------------
    async def get_links(self, integration: str, sync: str, keys: Sequence[str]
                        ) -> dict[str, Link]:
        return await self._call(self.store.get_links, integration, sync, keys)

    async def link_states(self, integration: str, sync: str, keys: Sequence[str]
                          ) -> dict[str, LinkState]:
        return await self._call(self.store.link_states, integration, sync, keys)

    async def link_for_target(self, integration: str, sync: str, target_id: str
                              ) -> Link | None:
        return await self._call(self.store.link_for_target, integration, sync, target_id)

    async def iter_links(self, integration: str, sync: str) -> AsyncIterator[Link]:
        """Every link of a sync in key order, fetched a thousand per trip to the thread."""
        links: Iterator[Link] = await self._call(self.store.iter_links, integration, sync)
        while True:
            chunk = await self._call(_take, links, _LINKS_PER_HOP)
            for link in chunk:
                yield link
            if len(chunk) < _LINKS_PER_HOP:
                return

    async def count_links(self, integration: str, sync: str) -> int:
        return await self._call(self.store.count_links, integration, sync)

    async def get_created(self, integration: str, sync: str, keys: Sequence[str]
                          ) -> dict[str, CreatedValues]:
        return await self._call(self.store.get_created, integration, sync, keys)

    async def get_bases(self, integration: str, object: str, record_ids: Sequence[str]
                        ) -> dict[str, dict[str, str]]:
        return await self._call(self.store.get_bases, integration, object, record_ids)

    async def list_held(self, integration: str | None = None, sync: str | None = None,
                        limit: int = 100) -> list[CreatedValues]:
        return await self._call(self.store.list_held, integration, sync, limit)

    async def held_counts(self) -> dict[tuple[str, str], int]:
        return await self._call(self.store.held_counts)

    async def list_conflicts(self, integration: str | None = None, limit: int = 50
                             ) -> list[Conflict]:
        return await self._call(self.store.list_conflicts, integration, limit)

    async def conflict_counts(self) -> dict[tuple[str, str], int]:
        return await self._call(self.store.conflict_counts)

    # -- cursor, fingerprint, batch commit ----------------------------------------------
    async def get_cursor(self, integration: str, sync: str) -> str | None:
        return await self._call(self.store.get_cursor, integration, sync)

    async def commit_batch(self, batch: BatchCommit) -> None:
        await self._call(self.store.commit_batch, batch)

    async def get_fingerprint(self, integration: str, sync: str) -> str | None:
        return await self._call(self.store.get_fingerprint, integration, sync)

    async def set_fingerprint(self, integration: str, sync: str, fingerprint: str) -> None:
        await self._call(self.store.set_fingerprint, integration, sync, fingerprint)

    # -- runs -------------------------------------------------------------------------
    async def start_run(self, integration: str, sync: str, *, spec_hash: str,
                        git_commit: str | None, trigger: str, started_at: datetime) -> int:
        return await self._call(self.store.start_run, integration, sync, spec_hash=spec_hash,
                                git_commit=git_commit, trigger=trigger, started_at=started_at)

    async def finish_run(self, run_id: int, *, outcome: RunOutcome, counts: Mapping[str, int],
                         error: str | None, finished_at: datetime) -> None:
        await self._call(self.store.finish_run, run_id, outcome=outcome, counts=counts,
                         error=error, finished_at=finished_at)

    async def get_run(self, run_id: int) -> Run | None:
        return await self._call(self.store.get_run, run_id)

    async def list_runs(self, integration: str | None = None, sync: str | None = None,
                        limit: int = 20) -> list[Run]:
        return await self._call(self.store.list_runs, integration, sync, limit)

    async def recover_interrupted(self, now: datetime) -> int:
        return await self._call(self.store.recover_interrupted, now)

    # -- per-record failures ------------------------------------------------------------
    async def failing_keys(self, integration: str, sync: str) -> list[str]:
        return await self._call(self.store.failing_keys, integration, sync)

    async def list_failures(self, integration: str | None = None, sync: str | None = None,
                            limit: int = 100) -> list[RecordFailure]:
        return await self._call(self.store.list_failures, integration, sync, limit)

    # -- webhook inbox ------------------------------------------------------------------
    async def inbox_put(self, source: str, event_id: str, payload: bytes, *,
                        received_at: datetime, not_before: datetime | None = None) -> bool:
        return await self._call(self.store.inbox_put, source, event_id, payload,
                                received_at=received_at, not_before=not_before)

    async def inbox_put_many(self, items: Sequence[tuple[str, str, bytes]], *,
                             received_at: datetime) -> list[bool]:
        return await self._call(self.store.inbox_put_many, items, received_at=received_at)

    async def inbox_claim(self, worker: str, limit: int, now: datetime, lease_seconds: float
                          ) -> list[InboxEvent]:
        return await self._call(self.store.inbox_claim, worker, limit, now, lease_seconds)

    async def inbox_done(self, ids: Sequence[int], *, now: datetime | None = None) -> None:
        await self._call(self.store.inbox_done, ids, now=now)

    async def inbox_retry(self, id: int, error: str, not_before: datetime) -> None:
        await self._call(self.store.inbox_retry, id, error, not_before)

    async def inbox_depth(self) -> int:
        return await self._call(self.store.inbox_depth)

    async def inbox_prune(self, done_before: datetime) -> int:
        return await self._call(self.store.inbox_prune, done_before)

    # -- leases -------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float
                            ) -> int | None:
        return await self._call(self.store.acquire_lease, name, holder, now, ttl_seconds)

    async def renew_lease(self, name: str, holder: str, epoch: int, now: datetime,
                          ttl_seconds: float) -> bool:
        return await self._call(self.store.renew_lease, name, holder, epoch, now, ttl_seconds)

    async def release_lease(self, name: str, holder: str, epoch: int) -> None:
        await self._call(self.store.release_lease, name, holder, epoch)

    async def current_lease(self, name: str, now: datetime) -> LeaseToken | None:
        return await self._call(self.store.current_lease, name, now)

    # -- workflow action idempotency ------------------------------------------------------
    async def claim_action(self, key: str, now: datetime, *, stale_after: float | None = None
                           ) -> ActionRecord:
        return await self._call(self.store.claim_action, key, now, stale_after=stale_after)

    async def complete_action(self, key: str, result: Mapping[str, object],
                              status: ActionStatus, *, now: datetime | None = None) -> None:
        await self._call(self.store.complete_action, key, result, status, now=now)

    # -- adapter metadata -----------------------------------------------------------------
    async def get_meta(self, integration: str, key: str) -> str | None:
        return await self._call(self.store.get_meta, integration, key)

    async def set_meta(self, integration: str, key: str, value: str | None) -> None:
        await self._call(self.store.set_meta, integration, key, value)

    # -- operator controls (the console) ------------------------------------------------
    async def set_paused(self, integration: str, sync: str, paused: bool, *, by: str,
                         at: datetime, reason: str | None = None) -> None:
        await self._call(self.store.set_paused, integration, sync, paused, by=by, at=at,
                         reason=reason)

    async def paused_syncs(self) -> dict[tuple[str, str], SyncPause]:
        return await self._call(self.store.paused_syncs)

    async def get_failure(self, integration: str, sync: str, source_key: str
                          ) -> RecordFailure | None:
        return await self._call(self.store.get_failure, integration, sync, source_key)

    async def acknowledge_failure(self, integration: str, sync: str, source_key: str, *,
                                  by: str, at: datetime) -> bool:
        return await self._call(self.store.acknowledge_failure, integration, sync, source_key,
                                by=by, at=at)

    async def failure_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        return await self._call(self.store.failure_counts)

    async def append_audit(self, entry: AuditEntry) -> int:
        return await self._call(self.store.append_audit, entry)

    async def list_audit(self, integration: str | None = None, sync: str | None = None,
                         limit: int = 50) -> list[AuditEntry]:
        return await self._call(self.store.list_audit, integration, sync, limit)

    # -- alert incidents ------------------------------------------------------------------
    async def open_incident(self, key: str, kind: str, integration: str, sync: str,
                            summary: str, *, at: datetime) -> bool:
        return await self._call(self.store.open_incident, key, kind, integration, sync,
                                summary, at=at)

    async def clear_incident(self, key: str, *, at: datetime) -> bool:
        return await self._call(self.store.clear_incident, key, at=at)

    async def open_incidents(self) -> list[Incident]:
        return await self._call(self.store.open_incidents)

    async def list_incidents(self, limit: int = 50) -> list[Incident]:
        return await self._call(self.store.list_incidents, limit)

    async def claim_notifications(self, now: datetime, lease_seconds: float, limit: int = 20
                                  ) -> list[Incident]:
        return await self._call(self.store.claim_notifications, now, lease_seconds, limit)

    async def notification_sent(self, incident_id: int, phase: Literal["open", "clear"], *,
                                at: datetime) -> None:
        await self._call(self.store.notification_sent, incident_id, phase, at=at)

    async def notification_failed(self, incident_id: int, error: str, *,
                                  retry_at: datetime) -> None:
        await self._call(self.store.notification_failed, incident_id, error,
                         retry_at=retry_at)

    # -- source deletions: reconcile passes -------------------------------------------------
    async def begin_sweep(self, integration: str, sync: str, run_id: int, at: datetime) -> int:
        return await self._call(self.store.begin_sweep, integration, sync, run_id, at)

    async def end_sweep(self, integration: str, sync: str, sweep: int, at: datetime) -> None:
        await self._call(self.store.end_sweep, integration, sync, sweep, at)

    async def last_sweep(self, integration: str, sync: str) -> Sweep | None:
        return await self._call(self.store.last_sweep, integration, sync)

    async def unseen_links(self, integration: str, sync: str, limit: int) -> list[Link]:
        return await self._call(self.store.unseen_links, integration, sync, limit)

    # -- safeguards -----------------------------------------------------------------------
    async def save_breakers(self, breakers: Sequence[BreakerRecord], *, at: datetime) -> None:
        await self._call(self.store.save_breakers, breakers, at=at)

    async def breakers(self) -> list[BreakerRecord]:
        return await self._call(self.store.breakers)

    async def reset_breakers(self, integration: str | None = None, system: str | None = None,
                             endpoint: str | None = None) -> int:
        return await self._call(self.store.reset_breakers, integration, system, endpoint)

    async def count_writes(self, integration: str, pair: str, records: Mapping[str, str], *,
                           at: datetime, window: timedelta, max_writes: int) -> set[str]:
        return await self._call(self.store.count_writes, integration, pair, records, at=at,
                                window=window, max_writes=max_writes)

    async def quarantined(self, integration: str | None = None) -> list[QuarantinedRecord]:
        return await self._call(self.store.quarantined, integration)

    async def release_quarantine(self, integration: str, record: str, *, at: datetime
                                 ) -> bool:
        return await self._call(self.store.release_quarantine, integration, record, at=at)

    # -- replay: recorded reads -----------------------------------------------------------
    async def record_reads(self, run_id: int, integration: str, sync: str, first: int,
                           reads: Sequence[RecordedRead], *, at: datetime) -> None:
        await self._call(self.store.record_reads, run_id, integration, sync, first, reads,
                         at=at)

    async def prune_recordings(self, integration: str, sync: str, *, keep: int,
                               older_than: datetime) -> None:
        await self._call(self.store.prune_recordings, integration, sync, keep=keep,
                         older_than=older_than)

    async def recorded_runs(self, integration: str, sync: str | None = None
                            ) -> list[RecordedRun]:
        return await self._call(self.store.recorded_runs, integration, sync)

    async def recorded_reads(self, run_id: int) -> list[RecordedRead]:
        return await self._call(self.store.recorded_reads, run_id)

    # -- lifecycle ------------------------------------------------------------------------
    async def schema_version(self) -> int:
        return await self._call(self.store.schema_version)


def _take(items: Iterator[Link], count: int) -> list[Link]:
    return list(islice(items, count))
