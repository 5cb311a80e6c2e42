"""The sync pipeline: read -> filter -> map -> match -> diff -> write -> checkpoint.

`plan_sync` and `run_sync` share every step but the last two, so what a plan shows is
what a run does. Records stream through in batches; memory holds one batch.

Guarantees (see reliability.md, invariants I1-I3):
- links, hashes, failures and the delta cursor of a batch are committed in ONE
  transaction, after the batch's writes; the cursor never passes a record that was
  neither written, skipped as unchanged, nor recorded as failed;
- a record whose payload hash equals the last written one is not written again, so
  the overlap window re-reads recent records without writing them twice;
- a create goes out only after looking the target up by external id, so a first run
  adopts what exists; a create with an unknown outcome is resolved by that lookup on
  the next attempt, never re-sent blindly;
- a failing record is recorded with the vendor's reason and retried next run; the
  others go through;
- a spec change that changes mapped output (the sync's fingerprint) makes the next
  run read everything, and every record whose payload changed is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.adapters.base import Adapter, Record, WriteOp, WriteResult
from engine.adapters.catalog import ObjectInfo
from engine.errors import RecordError, StateError
from engine.rules import compile_rule, parse_rule
from engine.spec.model import Spec, Sync
from engine.state.base import BatchCommit, FailedRecord, LeaseToken, Link, sync_lease_name
from engine.sync.changes import Change, Plan, diff_fields, payload_hash
from engine.sync.mapping import Mapper
from engine.sync.runtime import Runtime, StoreLinks
from engine.templates import RenderContext, build_key, compile_transform
from engine.values import coerce, parse_datetime

__all__ = ["RunReport", "SyncJob", "plan_sync", "run_sync"]

PLAN_KEEP = 2_000  # changes kept for display; counts always cover every record
LEASE_TTL = 120.0


@dataclass
class RunReport:
    integration: str
    sync: str
    run_id: int | None
    outcome: str
    counts: dict[str, int]
    cursor: str | None
    full: bool
    warnings: list[str] = field(default_factory=list)
    failures: list[Change] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def _id_text(value: Any) -> str | None:
    return None if value is None else str(value)


class SyncJob:
    """One sync compiled for one run: filter, key, mapper, adapters and state."""

    def __init__(self, runtime: Runtime, sync_name: str, *, links: StoreLinks | None = None):
        spec: Spec = runtime.spec
        if sync_name not in spec.syncs:
            raise KeyError(sync_name)
        self.runtime = runtime
        self.spec = spec
        self.sync: Sync = spec.syncs[sync_name]
        self.integration = spec.integration
        self.store = runtime.store
        self.source: Adapter = runtime.adapter(self.sync.source_connection)
        self.target: Adapter = runtime.adapter(self.sync.target_connection)
        self.source_info: ObjectInfo | None = self.source.describe().objects.get(
            self.sync.source_object)
        self.target_info: ObjectInfo | None = self.target.describe().objects.get(
            self.sync.target_object)
        self.links = links or runtime.links()
        self.now = runtime.clock()
        self.ctx = RenderContext(setup=spec.setup, links=self.links, now=self.now)
        self.predicate = (compile_rule(parse_rule(self.sync.filter), setup=spec.setup,
                                       clock=runtime.clock) if self.sync.filter else None)
        self.mapper = Mapper(self.sync.fields, self.sync.placement, target=self.target_info,
                             source=self.source_info)
        self.deactivate = {name: compile_transform(value)
                           for name, value in self.sync.deactivate.items()}
        self.fingerprint = self.sync.fingerprint(spec.setup)
        key = self.sync.key
        self.external_field = key.target_field if key.match == "external" else None
        self.adopt_by = {name: compile_transform(value) for name, value in key.adopt_by.items()}
        # Records are decided and checkpointed in batches of `batch_size`; the adapter
        # splits the writes of a batch into what one API call can carry.
        self.batch_size = max(1, self.sync.batch_size)

    # -- reading --------------------------------------------------------------
    def cursor_value(self, record: Mapping[str, Any]) -> datetime | None:
        delta = self.sync.delta
        if delta is None:
            return None
        value = record.get(delta.cursor)
        if type(value) is datetime and value.tzinfo is not None:
            return value  # adapters already hand over aware datetimes: the common case
        value = coerce(value, "datetime")
        return value if isinstance(value, datetime) else None

    def since(self, full: bool) -> datetime | None:
        if full or self.sync.delta is None:
            return None
        if self.store.get_fingerprint(self.integration, self.sync.name) != self.fingerprint:
            return None  # the spec changed what is written: reconcile everything
        cursor = self.store.get_cursor(self.integration, self.sync.name)
        if cursor is None:
            return None
        return parse_datetime(cursor) - self.sync.delta.overlap

    def source_id_for(self, key: str) -> str | None:
        """The source record id behind a failing key, to fetch it again for a retry."""
        if key.startswith("#"):
            return key[1:]
        components = self.sync.key.components
        parts = key.split(self.sync.key.separator) if len(components) > 1 else [key]
        values = dict(zip(components, parts, strict=False))
        id_field = self.source_info.id_field if self.source_info else None
        return values.get(id_field) if id_field else None

    def records(self, since: datetime | None) -> AsyncIterator[Record]:
        """The source's records (changed since `since`, or all): the adapter's own stream,
        not wrapped in another generator that every record would pass through."""
        delta = self.sync.delta
        return self.source.read(self.sync.source_object, since=since,
                                cursor_field=delta.cursor if delta and since else None)

    async def noting_keys(self, records: AsyncIterator[Record], seen: set[str],
                          only: Container[str] | None = None) -> AsyncIterator[Record]:
        """Pass records through, remembering their keys as they are read.

        With `only` (the keys failing before the run), just those are remembered: the
        set then grows with the failures, not with the size of the source.
        """
        key = self.sync.key
        async for record in records:
            with contextlib.suppress(RecordError):
                text = build_key(key.components, key.separator, record)
                if only is None or text in only:
                    seen.add(text)
            yield record

    async def retry_records(self, seen: set[str]) -> AsyncIterator[Record]:
        """Records that failed before and were not read again this run (delta reads)."""
        for key in self.store.failing_keys(self.integration, self.sync.name):
            if key in seen:
                continue
            source_id = self.source_id_for(key)
            if source_id is None:
                continue
            record = await self.source.get(self.sync.source_object, source_id)
            if record is not None:
                yield record

    # -- deciding ---------------------------------------------------------------
    def _last_per_key(self, batch: Sequence[Record]) -> list[tuple[str | RecordError,
                                                                    Record]]:
        """Each record with its key (or why it has none), one record per key in a batch
        (the last read): two writes of one key in one batch would both see "no link
        yet" and create twice."""
        key = self.sync.key
        components, separator = key.components, key.separator
        pairs: list[tuple[str | RecordError, Record]] = []
        by_key: dict[str, Record] = {}
        keyless = 0
        for record in batch:
            try:
                text = build_key(components, separator, record)
            except RecordError as exc:
                pairs.append((exc, record))
                keyless += 1
                continue
            pairs.append((text, record))
            by_key[text] = record
        if len(by_key) + keyless == len(batch):
            return pairs  # no key twice: the read order
        return [*by_key.items(), *[p for p in pairs if isinstance(p[0], RecordError)]]

    def key_of(self, record: Mapping[str, Any]) -> str:
        key = self.sync.key
        return build_key(key.components, key.separator, record)

    def _error(self, key: str, exc: RecordError, source_id: str | None = None) -> Change:
        where = f" (field {exc.field})" if exc.field else ""
        return Change("error", key, code=exc.code, reason=f"{exc.message}{where}",
                      source_id=source_id)

    async def decide(self, batch: Sequence[Record], *, with_old: bool) -> list[Change]:
        """What to do with each record of a batch; reads the target, never writes."""
        id_field = self.source_info.id_field if self.source_info else None
        prepared: list[tuple[Record, str, str | None, bool, dict | None, dict | None]] = []
        changes: list[Change] = []
        predicate = self.predicate
        map_record = self.mapper.map
        ctx = self.ctx
        for key, record in self._last_per_key(batch):
            source_id = _id_text(record.get(id_field)) if id_field else None
            if isinstance(key, RecordError):
                # A record the filter rejects needs no key: it is not synced at all.
                if predicate is not None and not predicate(record):
                    changes.append(Change("filtered", f"#{source_id}", None,
                                          source_id=source_id,
                                          reason="the filter does not select it"))
                else:
                    changes.append(self._error(f"#{source_id}", key, source_id))
                continue
            if predicate is not None and not predicate(record):
                prepared.append((record, key, source_id, False, None, None))
                continue
            try:
                update, create_only = map_record(record, ctx)
            except RecordError as exc:
                changes.append(self._error(key, exc, source_id))
                continue
            prepared.append((record, key, source_id, True, create_only, update))

        links = self.store.get_links(self.integration, self.sync.name,
                                     [item[1] for item in prepared])
        unlinked = [key for _, key, _, matched, *_ in prepared if matched and key not in links]
        existing = await self._lookup(unlinked) if unlinked else {}
        if self.adopt_by and unlinked:
            missing = {key for key in unlinked if existing.get(key) is None}
            existing.update(await self._adopt_lookup(
                [(key, record) for record, key, _, matched, *_ in prepared if key in missing]))
        for record, key, source_id, matched, create, update in prepared:
            link = links.get(key)
            if not matched:
                changes.append(await self._unmatched(record, key, link, source_id))
                continue
            assert update is not None and create is not None  # create holds create-only fields
            new_hash = payload_hash(update)
            if link is not None:
                if link.active and link.hash == new_hash:
                    changes.append(Change.skip(key, link.target_id, source_id))
                    continue
                old = await self._target_record(link.target_id) if with_old else None
                fields = self._diff(old, update) if with_old else diff_fields({}, update)
                changes.append(Change("update", key, link.target_id, update, fields,
                                      source_id=source_id, hash=new_hash))
                continue
            found = existing.get(key)
            if isinstance(found, RecordError):
                changes.append(self._error(key, found, source_id))
                continue
            if found is not None:
                target_id = _id_text(found.get(self.target_info.id_field)) \
                    if self.target_info else None
                owner = self.store.link_for_target(self.integration, self.sync.name,
                                                   target_id) if target_id else None
                if owner is not None and owner.source_key != key:
                    changes.append(Change(
                        "error", key, target_id, code="key.adopt-conflict", source_id=source_id,
                        reason=f"the {self.sync.target_object} record {target_id} that matches "
                        f"it already belongs to {owner.source_key}; two source records share "
                        "the lookup value, so neither is adopted twice (fix the data)"))
                    continue
                if self.external_field and self.adopt_by:
                    # Adopted by another field: the target learns our key too.
                    update = {**update, self.external_field: key}
                fields = self._diff(found, update)
                changes.append(Change("adopt", key, target_id, update if fields else {}, fields,
                                      source_id=source_id, hash=new_hash))
                continue
            try:
                payload = self.mapper.create_from(record, self.ctx, update, create)
            except RecordError as exc:
                changes.append(self._error(key, exc, source_id))
                continue
            if self.external_field:
                payload[self.external_field] = key
            changes.append(Change("create", key, None, payload, diff_fields(None, payload),
                                  source_id=source_id, hash=new_hash))
        return changes

    def _diff(self, old: Record | None, new: Mapping[str, Any]) -> tuple:
        """Field changes against the target's current record; fields the target cannot
        read back (write-only, resolved by the adapter) show their old value as unknown."""
        changes = diff_fields(old, new)
        if old is None or self.target_info is None:
            return changes
        from engine.sync.changes import FieldChange

        unreadable = {c.field for c in changes if c.field not in old and
                      (info := self.target_info.field(c.field)) is not None and info.write_only}
        return tuple(FieldChange(c.field, "(not readable)", c.new) if c.field in unreadable
                     else c for c in changes)

    async def _lookup(self, keys: Sequence[str]) -> dict[str, Record | RecordError]:
        """Existing target records for unlinked keys (external match) or ids (internal)."""
        if not keys or self.target_info is None:
            return {}
        obj = self.sync.target_object
        if self.external_field:
            if "find_external" not in self.target_info.operations:
                return {}
            return dict(await self.target.find_external(obj, self.external_field, list(keys)))
        found: dict[str, Record | RecordError] = {}
        id_type = self.target_info.field_type(self.target_info.id_field)
        for key in keys:
            if id_type == "integer" and not key.isdigit():
                found[key] = RecordError(
                    "key.not-an-id",
                    f"internal matching needs the {self.target.name} id (a number) as the key, "
                    f"but the key is {key!r}: choose external matching, or key components that "
                    "hold the target's id")
                continue
            record = await self.target.get(obj, key)
            found[key] = record if record is not None else RecordError(
                "key.not-found", f"internal matching: {self.target.name} has no "
                f"{obj} with id {key}")
        return found

    async def _adopt_lookup(self, items: Sequence[tuple[str, Record]]
                            ) -> dict[str, Record | RecordError]:
        """Existing targets found by the key's `adopt_by` fields (e.g. an org number) for
        records no target holds the key of yet: a first run adopts them, never duplicates."""
        found: dict[str, Record | RecordError] = {}
        obj = self.sync.target_object
        for field_name, transform in self.adopt_by.items():
            wanted: dict[str, str] = {}
            for key, record in items:
                if key in found:
                    continue
                try:
                    value = transform.render(self.mapper.complete(record), self.ctx)
                except RecordError:
                    continue
                if value not in (None, ""):
                    wanted.setdefault(str(value), key)
            if wanted:
                hits = await self.target.find_external(obj, field_name, list(wanted))
                for value, record in hits.items():
                    found[wanted[value]] = record
        return found

    async def _target_record(self, target_id: str | None) -> Record | None:
        if target_id is None or self.target_info is None or \
                "get" not in self.target_info.operations:
            return None
        return await self.target.get(self.sync.target_object, target_id)

    async def _unmatched(self, record: Record, key: str, link: Link | None,
                         source_id: str | None) -> Change:
        behaviour = self.sync.on_unmatched
        if link is None or not link.active or behaviour == "ignore":
            return Change("filtered", key, link.target_id if link else None, source_id=source_id,
                          reason="the filter does not select it")
        if behaviour == "delete":
            return Change("delete", key, link.target_id, source_id=source_id,
                          reason="it stopped matching the filter")
        try:
            payload = {name: t.render(record, self.ctx) for name, t in self.deactivate.items()}
        except RecordError as exc:
            return self._error(key, exc, source_id)
        return Change("deactivate", key, link.target_id, payload, diff_fields({}, payload),
                      source_id=source_id, reason="it stopped matching the filter")

    # -- writing ----------------------------------------------------------------
    async def apply(self, changes: Sequence[Change]) -> tuple[list[Link], list[FailedRecord],
                                                              list[Change]]:
        """Write what `decide` chose; the links and failures to commit, and the failures."""
        ops: list[WriteOp] = []
        pending: list[Change] = []
        links: list[Link] = []
        failures: list[FailedRecord] = []
        failed: list[Change] = []
        for change in changes:
            if change.kind == "error":
                failures.append(FailedRecord(change.key, change.code, change.reason))
                failed.append(change)
            elif change.kind == "adopt" and not change.payload:
                links.append(Link(change.key, change.target_id or "", self._hash(change),
                                  origin="adopted"))
            elif change.kind in ("create", "update", "adopt", "deactivate", "delete"):
                kind = {"adopt": "update", "deactivate": "update"}.get(change.kind, change.kind)
                ops.append(WriteOp(kind, change.key, change.payload, change.target_id,  # type: ignore[arg-type]
                                   self.external_field))
                pending.append(change)
        if ops:
            results = await self.target.write(self.sync.target_object, ops)
            for change, result in zip(pending, results, strict=True):
                resolved = await self._settle(change, result)
                if isinstance(resolved, Link):
                    links.append(resolved)
                else:
                    failures.append(FailedRecord(change.key, resolved.code, resolved.reason))
                    failed.append(resolved)
        return links, failures, failed

    @staticmethod
    def _hash(change: Change) -> str:
        return change.hash  # empty for deactivate/delete: a later match writes again

    async def _settle(self, change: Change, result: WriteResult,
                      retried: bool = False) -> Link | Change:
        origin = {"adopt": "adopted", "create": "created"}.get(change.kind, "created")
        if result.ambiguous:
            # Sent, no answer: the record may exist. Look it up rather than send it again.
            found = await self._lookup([change.key]) if self.external_field else {}
            record = found.get(change.key)
            if isinstance(record, dict) and self.target_info is not None:
                target_id = _id_text(record.get(self.target_info.id_field))
                return Link(change.key, target_id or "", self._hash(change), origin="created")
            if self.external_field and not retried and change.kind == "create":
                # The lookup says it did not land: sending it once more is not blind.
                [again] = await self.target.write(self.sync.target_object, [WriteOp(
                    "create", change.key, change.payload, None, self.external_field)])
                return await self._settle(change, again, retried=True)
            return Change("error", change.key, change.target_id, code="write.ambiguous",
                          reason="the write was sent but its outcome is unknown; it is looked "
                          "up by external id before the next attempt", source_id=change.source_id)
        if result.error is not None:
            return self._error(change.key, result.error, change.source_id)
        target_id = result.target_id or change.target_id or ""
        existing_origin = origin if change.kind in ("create", "adopt") else "created"
        active = change.kind not in ("deactivate", "delete")
        return Link(change.key, target_id, self._hash(change), origin=existing_origin,  # type: ignore[arg-type]
                    active=active)


async def _batches(records: AsyncIterator[Record], size: int) -> AsyncIterator[list[Record]]:
    """Records in lists of `size`. Between batches the event loop gets a turn, so I/O
    started in the background (an adapter fetching its next page) proceeds while
    records of the current page are decided: a page already in memory never suspends."""
    batch: list[Record] = []
    async for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
            await asyncio.sleep(0)
    if batch:
        yield batch


async def _chain(*sources: AsyncIterator[Record]) -> AsyncIterator[Record]:
    for source in sources:
        async for record in source:
            yield record


async def plan_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                    records: AsyncIterator[Record] | None = None) -> Plan:
    """What a run would do, field by field; reads source and target, writes nothing."""
    job = SyncJob(runtime, sync_name)
    plan = Plan(job.integration, job.sync.name)
    seen: set[str] = set()
    since = job.since(full)
    stream = records if records is not None else job.records(since)

    if records is None and since is not None:
        failing = set(job.store.failing_keys(job.integration, job.sync.name))
        stream = _chain(job.noting_keys(stream, seen, only=failing), job.retry_records(seen))
    async for batch in _batches(stream, job.batch_size):
        for change in await job.decide(batch, with_old=True):
            plan.add(change, keep=len(plan.changes) < PLAN_KEEP)
    plan.truncated = sum(plan.counts.values()) > len(plan.changes)
    return plan


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_local_holder(holder: str) -> bool:
    """True when a lease holder is a process on this machine that no longer exists.

    A runner killed with SIGKILL cannot release its lease; waiting for the lease to
    expire would stall the next run for minutes. A holder on another machine is never
    judged dead here: only its lease expiry can say so.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire_sync_lease(store: Any, name: str, holder: str, now: datetime) -> int | None:
    """Take the single-writer lease of a sync, recovering it from a dead local holder."""
    epoch = store.acquire_lease(name, holder, now, LEASE_TTL)
    if epoch is None:
        current = store.current_lease(name, now)
        if current is not None and _dead_local_holder(current.holder):
            store.release_lease(name, current.holder, current.epoch)
            store.recover_interrupted(now)  # its run is marked interrupted, not running
            epoch = store.acquire_lease(name, holder, now, LEASE_TTL)
    return epoch


async def run_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                   trigger: str = "manual", records: AsyncIterator[Record] | None = None,
                   progress: Callable[[dict[str, int]], None] | None = None,
                   git_commit: str | None = None) -> RunReport:
    """Run one sync to the end (or to the first error that stops it) and record the run."""
    import time

    job = SyncJob(runtime, sync_name)
    store = job.store
    started = time.monotonic()
    lease_name = sync_lease_name(job.integration, job.sync.name)
    holder = _holder()
    epoch = acquire_sync_lease(store, lease_name, holder, runtime.clock())
    if epoch is None:
        raise StateError(f"another run of {job.integration}/{job.sync.name} is in progress "
                         "(it holds the sync's lease); try again when it has finished")
    lease = LeaseToken(lease_name, holder, epoch)
    run_id = store.start_run(job.integration, job.sync.name, spec_hash=job.spec.content_hash,
                             git_commit=git_commit, trigger=trigger, started_at=runtime.clock())
    since = job.since(full)
    counts: dict[str, int] = {"read": 0, "create": 0, "update": 0, "adopt": 0, "skip": 0,
                              "filtered": 0, "deactivate": 0, "delete": 0, "error": 0}
    report = RunReport(job.integration, job.sync.name, run_id, "running", counts,
                       store.get_cursor(job.integration, job.sync.name), since is None)
    cursor = report.cursor
    committed_cursor = cursor
    last_commit = time.monotonic()
    failing = set(store.failing_keys(job.integration, job.sync.name))
    # Keys read in this run that `retry_records` must not fetch again. Only keys that
    # were failing, or failed now, can be retried: remembering just those keeps memory
    # flat however large the source (everything streams; see the design notes).
    read_keys: set[str] = set()
    missing_cursor = 0
    # A delta read comes in ascending cursor order, so each checkpoint may carry the
    # cursor. A full read comes in the source's own order: its cursor is committed only
    # when the whole read is done, or a record not yet read could fall behind it.
    ordered = since is not None and records is None
    try:
        stream = records if records is not None else job.records(since)
        if records is None and since is not None:
            stream = _chain(job.noting_keys(stream, read_keys, only=failing),
                            job.retry_records(read_keys))
        cursor_field = job.sync.delta.cursor if job.sync.delta is not None else None
        async for batch in _batches(stream, job.batch_size):
            counts["read"] += len(batch)
            batch_cursor: datetime | None = None
            if cursor_field is not None:
                for record in batch:
                    value = record.get(cursor_field)
                    if type(value) is not datetime or value.tzinfo is None:
                        value = job.cursor_value(record)  # not an aware datetime yet
                    if value is None:
                        missing_cursor += 1
                    elif batch_cursor is None or value > batch_cursor:
                        batch_cursor = value
            changes = await job.decide(batch, with_old=False)
            links, failures, failed = await job.apply(changes)
            report.failures.extend(failed[: max(0, 100 - len(report.failures))])
            failed_keys = {c.key for c in failed}
            read_keys.update(failed_keys)
            for change in changes:
                kind = "error" if failed_keys and change.key in failed_keys else change.kind
                counts[kind] = counts.get(kind, 0) + 1
            resolved = [c.key for c in changes
                        if c.kind in ("skip", "filtered") and c.key in failing] if failing else []
            if batch_cursor is not None and records is None:
                text = batch_cursor.isoformat()
                if cursor is None or parse_datetime(cursor) < batch_cursor:
                    cursor = text
            # A batch that wrote or failed nothing only moves the cursor: that may wait
            # (a cursor committed late is re-read, never lost), so commit it at most once
            # a second instead of paying a durable commit per batch.
            if links or failures or resolved or time.monotonic() - last_commit > 1.0:
                store.commit_batch(BatchCommit(
                    job.integration, job.sync.name, runtime.clock(), links=links,
                    failures=failures, resolved=resolved,
                    cursor=cursor if ordered else None, lease=lease, run_id=run_id))
                if ordered:
                    committed_cursor = cursor
                last_commit = time.monotonic()
                if not store.renew_lease(lease_name, holder, epoch, runtime.clock(), LEASE_TTL):
                    raise StateError("the sync's lease was taken over by another runner")
            job.links.forget()
            if progress is not None:
                progress(counts)
        if records is None and cursor != committed_cursor:
            store.commit_batch(BatchCommit(job.integration, job.sync.name, runtime.clock(),
                                           cursor=cursor, lease=lease, run_id=run_id))
        if records is None:
            store.set_fingerprint(job.integration, job.sync.name, job.fingerprint)
        errors = counts["error"]
        report.outcome = "partial" if errors else "success"
    except BaseException as exc:
        report.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt | GeneratorExit) \
            else "failed"
        report.error = runtime.redactor.text(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if missing_cursor and job.sync.delta is not None:
            report.warnings.append(
                f"{missing_cursor} record(s) have no {job.sync.delta.cursor}: delta sync cannot "
                "see their changes, so they are synced only on full runs (check that the "
                "field exists and updates whenever the record changes)")
        report.cursor = cursor
        report.seconds = time.monotonic() - started
        store.finish_run(run_id, outcome=report.outcome if report.outcome != "running"
                         else "interrupted", counts=counts, error=report.error,
                         finished_at=runtime.clock())
        store.release_lease(lease_name, holder, epoch)
    return report


def failing_summary(changes: Iterable[Change]) -> list[str]:
    return [f"{c.key}: [{c.code}] {c.reason}" for c in changes if c.kind == "error"]
