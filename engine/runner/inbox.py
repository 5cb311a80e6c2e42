"""The inbox worker: turns stored webhook events into syncs of the records they name.

Each round claims a batch of due events (a lease: a worker killed mid-batch, even by
SIGKILL, leaves them to be claimed again when the lease runs out), then:

1. groups them per (integration, sync) and per record id, so duplicates and events that
   arrived out of order collapse into ONE read of the record's current state;
2. inside the sync's gate (never beside a scheduled run of the same sync), re-reads each
   record from the source with `adapter.get` and runs the sync for exactly those records
   (`run_sync(records=...)`), which maps ALL mapped fields, compares the payload hash
   with the last written one and writes only what changed;
3. marks the events done, or gives them back with exponential backoff (`inbox_retry`
   with `not_before`). After `max_attempts` an event is dropped with an error in the
   log: the scheduled delta run is the safety net that picks the change up.

The events of a sync an operator paused are held: given back, due again after
`hold_seconds`, never dropped for it (a held round does not count as a failed attempt).
So are the events of a sync whose scheduled upstream sync (one whose links it reads,
dependencies.py) never completed a run: on a fresh store they wait for its first run
instead of failing `links.missing`.

A batch is claimed, and settled, in store transactions of at most `chunk_size` events:
the webhook receiver shares the store, and every delivery waiting to be stored would
wait out one long transaction (a 5,000-event claim held it for ~200 ms).

Echo suppression (reliability.md S27), what it relies on: a property change that our
own opposite sync wrote (Kleer -> HubSpot wrote `name`, HubSpot now reports `name`
changed) must not be written back. The worker looks up the opposite sync's link whose
target is this record (`link_for_target`), projects the re-read record onto the fields
that sync writes (typed as its mapper types them) and, when that projection hashes to
the link's last-written hash and every changed property is one of those fields, skips
the record: what the source holds is exactly what we wrote. Anything else goes through
`run_sync`, whose own hash comparison turns a record we already wrote into a skip.
`changeSource: INTEGRATION` is only a hint (another integration shares the label) and
is not used to decide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from engine.adapters.base import Record, WebhookEvent
from engine.errors import RetriableError
from engine.runner.context import RunnerContext
from engine.runner.creates import create_through_action, creates_record
from engine.runner.dependencies import first_run_done
from engine.runner.deployment import Deployment
from engine.spec.model import Sync
from engine.state.base import InboxEvent
from engine.sync.changes import payload_hash
from engine.sync.mapping import Mapper
from engine.sync.pipeline import run_sync
from engine.values import coerce

__all__ = ["InboxWorker", "is_echo"]

log = logging.getLogger(__name__)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _get(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _put(payload: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = payload
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _read_fields(sync: Sync) -> set[str]:
    """The source fields a sync's field table reads (key components excluded)."""
    mapper = Mapper(sync.fields, sync.placement)
    return {path for f in (*mapper.fields, *mapper.placement) for path in f.transform.fields}


def is_echo(deployment: Deployment, integration: str, sync: Sync, record: Record,
            object_id: str, events: Sequence[WebhookEvent]) -> bool:
    """True when the record holds exactly what an opposite sync last wrote to it, and the
    change cannot be one this sync cares about (see the module docstring): either every
    event names a property that sync writes (vendors whose events say what changed), or
    everything this sync reads is written by that sync (vendors whose events do not)."""
    if not sync.ignore_echo or not events or any(e.is_deletion for e in events):
        return False
    changed = {e.property_name for e in events} \
        if all(e.property_name for e in events) else None
    runtime = deployment.runtimes[integration]
    for opposite in deployment.opposite_syncs(integration, sync):
        link = runtime.store.link_for_target(integration, opposite.name, object_id)
        if link is None or not link.active or not link.hash:
            continue
        target = runtime.adapter(opposite.target_connection).describe().objects.get(
            opposite.target_object)
        mapper = Mapper(opposite.fields, opposite.placement, target=target,
                        text=runtime.text_rules(opposite.target_connection))
        written = [f for f in mapper.fields if not f.create_only]
        names = {f.target for f in written}
        if opposite.key.match == "external" and opposite.key.target_field:
            names.add(opposite.key.target_field)  # holds the key: written on create
        covered = changed is not None and changed <= names
        reads = _read_fields(sync)
        if not covered and not (reads and reads <= names):
            continue
        projection: dict[str, Any] = {}
        for compiled in written:
            _put(projection, compiled.target, coerce(_get(record, compiled.target),
                                                     compiled.type))
        if payload_hash(projection) == link.hash:
            return True
    return False


async def _iterate(records: Sequence[Record]) -> AsyncIterator[Record]:
    for record in records:
        yield record


class InboxWorker:
    """Processes the inbox until stopped; `process_once()` is one round (for tests)."""

    def __init__(self, ctx: RunnerContext, *, worker_id: str | None = None,
                 batch_size: int = 500, lease_seconds: float = 120.0, max_attempts: int = 10,
                 backoff_seconds: float = 5.0, max_backoff_seconds: float = 3600.0,
                 idle_seconds: float = 1.0, chunk_size: int = 250,
                 hold_seconds: float = 30.0,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.ctx = ctx
        self.worker_id = worker_id or _worker_id()
        self.batch_size = batch_size
        self.chunk_size = max(1, chunk_size)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.idle_seconds = idle_seconds
        self.hold = timedelta(seconds=hold_seconds)
        self.sleep = sleep
        self._wake = asyncio.Event()
        self.reads = 0  # source reads made, for tests and logs

    def wake(self) -> None:
        """New events were stored: do not wait for the idle timeout."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                claimed = await self.process_once()
            except Exception:
                log.exception("inbox round failed; retrying shortly")
                claimed = 0
            if claimed:
                continue
            waiters = {asyncio.ensure_future(self._wake.wait()),
                       asyncio.ensure_future(stop.wait()),
                       asyncio.ensure_future(self.sleep(self.idle_seconds))}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)

    async def process_once(self) -> int:
        """Claim one batch and process it; returns how many events were claimed."""
        ctx = self.ctx
        claimed = await self._claim()
        if not claimed:
            return 0
        deployment = ctx.deployment
        groups: dict[tuple[str, str], dict[str, list[WebhookEvent]]] = defaultdict(dict)
        owners: dict[tuple[str, str], list[int]] = defaultdict(list)
        done: list[int] = []
        for row in claimed:
            integration, _, connection = row.source.partition("/")
            try:
                event = WebhookEvent.from_bytes(row.payload)
            except (ValueError, TypeError):
                log.error("inbox event %s of %s is unreadable; dropped", row.id, row.source)
                done.append(row.id)
                continue
            syncs = deployment.triggered(integration, connection, event)
            if not syncs:  # the spec changed since it was stored
                done.append(row.id)
                continue
            for sync in syncs:
                groups[(integration, sync)].setdefault(event.object_id, []).append(event)
                owners[(integration, sync)].append(row.id)

        failed: dict[int, str] = {}
        held: set[int] = set()
        paused = await asyncio.to_thread(ctx.store.paused_syncs) if groups else {}
        for (integration, sync), by_record in groups.items():
            if (integration, sync) in paused:
                held.update(owners[(integration, sync)])
                continue
            waiting = await asyncio.to_thread(self._waiting_for, deployment, integration, sync)
            if waiting:
                log.info("webhook events held: waiting for the first run of %s",
                         ", ".join(waiting), extra={"integration": integration, "sync": sync})
                held.update(owners[(integration, sync)])
                continue
            try:
                await self._sync(deployment, integration, sync, by_record)
            except Exception as exc:
                message = deployment.runtimes[integration].redactor.text(
                    f"{type(exc).__name__}: {exc}")[:500]
                log.warning("webhook-triggered run failed; events will be retried",
                            extra={"integration": integration, "sync": sync,
                                   "error": message})
                for event_id in owners[(integration, sync)]:
                    failed[event_id] = message
        for event_id in held:
            failed.setdefault(event_id, "held: the sync is paused")
        await self._settle(claimed, done, failed, held)
        return len(claimed)

    def _waiting_for(self, deployment: Deployment, integration: str, sync: str) -> list[str]:
        """Scheduled upstream syncs that never completed a run (their first is coming)."""
        spec = deployment.specs[integration]
        return [name for name in sorted(deployment.upstream(integration, sync))
                if spec.syncs[name].schedule != "never"
                and not first_run_done(self.ctx.store, integration, name)]

    async def _claim(self) -> list[InboxEvent]:
        """Up to `batch_size` due events, claimed `chunk_size` at a time (in order)."""
        claimed: list[InboxEvent] = []
        while len(claimed) < self.batch_size:
            want = min(self.chunk_size, self.batch_size - len(claimed))
            rows = await asyncio.to_thread(self.ctx.store.inbox_claim, self.worker_id, want,
                                           self.ctx.clock(), self.lease_seconds)
            claimed.extend(rows)
            if len(rows) < want:
                break
        return claimed

    async def _settle(self, claimed: Sequence[InboxEvent], done: list[int],
                      failed: Mapping[int, str], held: set[int] | frozenset[int] = frozenset()
                      ) -> None:
        store = self.ctx.store
        now = self.ctx.clock()
        outcomes: Counter[tuple[str, str, str]] = Counter()
        retries: list[tuple[int, str, datetime]] = []
        settled = set(done)  # a set: `in` on the list made a 5,000-event batch quadratic
        for row in claimed:
            integration, _, connection = row.source.partition("/")
            if row.id not in failed:
                if row.id not in settled:
                    done.append(row.id)
                outcomes[(integration, connection, "processed")] += 1
                continue
            if row.id in held and failed[row.id].startswith("held"):
                retries.append((row.id, failed[row.id], now + self.hold))
                continue
            outcomes[(integration, connection, "failed")] += 1
            if row.attempts >= self.max_attempts:
                log.error("webhook event dropped after %d attempts; the scheduled run will "
                          "pick the change up", row.attempts,
                          extra={"integration": integration, "connection": connection,
                                 "error": failed[row.id]})
                done.append(row.id)
                continue
            delay = min(self.max_backoff, self.backoff * 2 ** (row.attempts - 1))
            retries.append((row.id, failed[row.id], now + timedelta(seconds=delay)))
        for (integration, connection, outcome), count in outcomes.items():
            self.ctx.metrics.events.labels(integration, connection, outcome).inc(count)

        def give_back(chunk: Sequence[tuple[int, str, datetime]]) -> None:
            for event_id, error, not_before in chunk:
                store.inbox_retry(event_id, error, not_before)

        for start in range(0, len(retries), self.chunk_size):
            await asyncio.to_thread(give_back, retries[start:start + self.chunk_size])
        for start in range(0, len(done), self.chunk_size):
            await asyncio.to_thread(partial(store.inbox_done, now=now),
                                    done[start:start + self.chunk_size])

    async def _sync(self, deployment: Deployment, integration: str, sync_name: str,
                    by_record: Mapping[str, Sequence[WebhookEvent]]) -> None:
        runtime = deployment.runtimes[integration]
        sync = runtime.spec.syncs[sync_name]
        source = runtime.adapter(sync.source_connection)
        async with self.ctx.gate.hold(integration, sync_name):
            # Read inside the gate: a scheduled run of this sync may have written a newer
            # state meanwhile, and what we write must not be older than what it wrote.
            records: list[Record] = []
            for object_id, events in by_record.items():
                record = await source.get(sync.source_object, object_id)
                self.reads += 1
                if record is None:
                    continue  # deleted since: nothing to push
                if creates_record(sync, record, runtime.spec.setup) and \
                        not any(e.is_deletion for e in events):
                    # New in the source: created in the target by the sync's create
                    # action, which writes the new id back (creates.py).
                    await create_through_action(self.ctx, deployment, integration, sync,
                                                object_id, record)
                    continue
                if is_echo(deployment, integration, sync, record, object_id, events):
                    self.ctx.metrics.events.labels(integration, sync.source_connection,
                                                   "echo").inc(len(events))
                    continue
                records.append(record)
            if not records:
                return
            live = self.ctx.progress.begin(runtime, sync_name, trigger="webhook")
            try:
                report = await run_sync(runtime, sync_name, trigger="webhook",
                                        records=_iterate(records), progress=live.update)
            except Exception:
                self.ctx.metrics.runs.labels(integration, sync_name, "webhook", "failed").inc()
                raise
            finally:
                self.ctx.progress.end(live)
                self.ctx.run_finished(integration, sync_name)
        self.ctx.metrics.observe_run(integration, sync_name, "webhook", report.outcome,
                                     report.counts, report.tripped)
        if report.tripped == "circuit_breaker":  # not processed: retried once it closes
            raise RetriableError(report.error or "a circuit breaker is open")
