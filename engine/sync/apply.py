"""Apply: write what `decide` chose, then commit the batch's links, failures and cursor.

Writes go to the adapter in one call per batch (it splits them into what one API call
can carry) and come back one result per record: a rejected record never fails the
others. A create whose outcome is unknown (sent, no answer) is looked up by external id
before anything else: found, it is linked; not found, it is sent once more; with no
way to look it up, it is recorded as failed, to be looked up before the next attempt.

Each batch's links, failures and cursor are committed in ONE transaction, after its
writes, fenced by the sync's lease. A batch that wrote and failed nothing only moves the
cursor: that may wait (a cursor committed late is re-read, never lost), so it is
committed at most once a second instead of paying a durable commit per batch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from engine.adapters.base import Adapter, WriteOp, WriteResult
from engine.spec.model import Sync
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import (
    BatchCommit,
    Conflict,
    CreatedValues,
    FailedRecord,
    FieldBase,
    Link,
    LinkOrigin,
)
from engine.sync.changes import Change, ChangeKind
from engine.sync.lease import SyncLease
from engine.sync.match import TargetMatcher

__all__ = ["Applied", "Checkpoints", "Writer"]

COMMIT_INTERVAL = 1.0  # seconds a cursor-only checkpoint may wait
SEEN_PENDING = 20_000  # listed keys (source_deletes.py) a checkpoint may hold back

# What each kind of change sends: an adopt or deactivate updates the target.
_WRITE_KIND: dict[ChangeKind, Literal["create", "update", "delete"]] = {
    ChangeKind.CREATE: "create", ChangeKind.UPDATE: "update", ChangeKind.ADOPT: "update",
    ChangeKind.DEACTIVATE: "update", ChangeKind.DELETE: "delete"}
_ORIGIN: dict[ChangeKind, LinkOrigin] = {ChangeKind.ADOPT: "adopted",
                                         ChangeKind.CREATE: "created"}


@dataclass
class Applied:
    """What one batch's writes leave to commit and report."""

    links: list[Link] = field(default_factory=list)
    failures: list[FailedRecord] = field(default_factory=list)  # to record in the store
    failed: list[Change] = field(default_factory=list)  # the same, as errors to report
    created: list[CreatedValues] = field(default_factory=list)  # creation values to keep
    bases: list[FieldBase] = field(default_factory=list)  # two-way fields now agreed
    conflicts: list[Conflict] = field(default_factory=list)  # both sides changed a field
    stale: list[tuple[str, str]] = field(default_factory=list)  # (sync, target id) links

    def merged(self, change: Change, target_id: str | None) -> None:
        """Keep what a merged two-way record's write (or no write) agreed on."""
        if change.merge is None:
            return
        self.bases.extend(base if base.record_id is not None
                          else replace(base, record_id=target_id)
                          for base in change.merge.bases)
        self.conflicts.extend(change.merge.conflicts)
        if change.kind.writes and change.payload:
            self.stale.extend(change.merge.stale)

    def fail(self, change: Change) -> None:
        self.failures.append(FailedRecord(change.key, change.code, change.reason))
        self.failed.append(change)


class Writer:
    """Writes the changes of one sync's batches to its target."""

    def __init__(self, sync: Sync, target: Adapter, matcher: TargetMatcher) -> None:
        self.sync = sync
        self.target = target
        self.matcher = matcher
        self.external_field = matcher.external_field

    async def apply(self, changes: Sequence[Change],
                    fence: Callable[[], Awaitable[None]] | None = None) -> Applied:
        """Write what `decide` chose; the links and failures to commit, and the failures.

        `fence` is awaited before each call to the target (its `max_batch` writes): the
        sync's lease check, so a runner that lost its lease stops before the next one."""
        applied = Applied()
        ops: list[WriteOp] = []
        pending: list[Change] = []
        for change in changes:
            kind = change.kind
            if kind is ChangeKind.ERROR:
                applied.fail(change)
            elif kind is ChangeKind.ADOPT and not change.payload:
                # Found as it should be: linked without a write.
                applied.links.append(Link(change.key, change.target_id or "", change.hash,
                                          origin="adopted", source_hash=change.source_hash))
                if change.created is not None:
                    applied.created.append(change.created)
                applied.merged(change, change.target_id)
            elif not kind.writes and (change.created is not None or change.merge is not None):
                if change.created is not None:
                    applied.created.append(change.created)  # unchanged, or a change held
                applied.merged(change, change.target_id)  # agreed, or the target's own
            elif kind.writes:
                ops.append(WriteOp(_WRITE_KIND[kind], change.key, change.payload,
                                   change.target_id, self.external_field))
                pending.append(change)
        if ops:
            results = await self._write(ops, fence)
            for change, result in zip(pending, results, strict=True):
                settled = await self._settle(change, result)
                if isinstance(settled, Link):
                    applied.links.append(settled)
                    if change.created is not None:
                        applied.created.append(change.created)
                    applied.merged(change, settled.target_id)
                else:
                    applied.fail(settled)
        return applied

    async def _write(self, ops: Sequence[WriteOp],
                     fence: Callable[[], Awaitable[None]] | None) -> list[WriteResult]:
        obj = self.sync.target_object
        if fence is None:
            return await self.target.write(obj, ops)
        size = max(1, self.target.max_batch(obj))
        results: list[WriteResult] = []
        for start in range(0, len(ops), size):
            await fence()
            results.extend(await self.target.write(obj, ops[start:start + size]))
        return results

    async def _settle(self, change: Change, result: WriteResult,
                      retried: bool = False) -> Link | Change:
        """The link a write made, or the failure to record (resolving an unknown outcome)."""
        # `change.hash` is empty for deactivate and delete: a later match writes again.
        if result.ambiguous:
            # Sent, no answer: the record may exist. Look it up rather than send it again.
            found = await self.matcher.lookup([change.key]) if self.external_field else {}
            record = found.get(change.key)
            if isinstance(record, dict) and self.matcher.target_info is not None:
                target_id = self.matcher.target_id(record)
                return Link(change.key, target_id or "", change.hash, origin="created",
                            source_hash=change.source_hash)
            if self.external_field and not retried and change.kind is ChangeKind.CREATE:
                # The lookup says it did not land: sending it once more is not blind.
                [again] = await self.target.write(self.sync.target_object, [WriteOp(
                    "create", change.key, change.payload, None, self.external_field)])
                return await self._settle(change, again, retried=True)
            return Change(ChangeKind.ERROR, change.key, change.target_id,
                          code="write.ambiguous",
                          reason="the write was sent but its outcome is unknown; it is looked "
                          "up by external id before the next attempt",
                          source_id=change.source_id)
        if result.error is not None:
            return Change.failure(change.key, result.error, change.source_id)
        target_id = result.target_id or change.target_id or ""
        return Link(change.key, target_id, change.hash,
                    origin=_ORIGIN.get(change.kind, "created"),
                    active=change.kind not in (ChangeKind.DEACTIVATE, ChangeKind.DELETE),
                    source_hash=change.source_hash)


class Checkpoints:
    """Commits a run's batches: links, failures and cursor together, fenced by the lease.

    `ordered` says the cursor may be committed with each batch (a delta read, in cursor
    order); otherwise it is committed only by `finish`, once everything was read.
    """

    def __init__(self, store: AsyncStateStore, integration: str, sync: str, *,
                 lease: SyncLease, run_id: int, clock: Callable[[], datetime],
                 ordered: bool, cursor: str | None,
                 redact: Callable[[str], str] = str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.integration = integration
        self.sync = sync
        self.lease = lease
        self.run_id = run_id
        self.clock = clock
        self.ordered = ordered
        self.committed_cursor = cursor
        self.redact = redact  # failure text is stored with personal data masked
        self.monotonic = monotonic
        self._last = monotonic()
        # A full read's reconcile pass (source_deletes.py): the keys it listed are marked
        # with it, riding on the checkpoints (a no-change batch's wait for one second).
        self.sweep: int | None = None
        self._seen: list[str] = []

    async def batch(self, applied: Applied, resolved: Sequence[str],
                    cursor: str | None, seen: Sequence[str] = ()) -> None:
        """Commit a batch when it changed something, or its cursor (or the keys it listed,
        `seen`) has waited long enough; then renew the lease (StateError if another
        runner has taken it over)."""
        if seen:
            self._seen.extend(seen)
        if not (applied.links or applied.failures or resolved or applied.created
                or len(self._seen) >= SEEN_PENDING
                or applied.bases or applied.conflicts or applied.stale
                or self.monotonic() - self._last > COMMIT_INTERVAL):
            return
        seen, self._seen = self._seen, []
        await self.store.commit_batch(BatchCommit(
            self.integration, self.sync, self.clock(), links=applied.links,
            failures=[replace(f, message=self.redact(f.message)) for f in applied.failures],
            resolved=resolved, created=applied.created, bases=applied.bases,
            conflicts=applied.conflicts, stale=applied.stale,
            cursor=cursor if self.ordered else None, lease=self.lease.token,
            run_id=self.run_id, seen=seen, sweep=self.sweep))
        if self.ordered:
            self.committed_cursor = cursor
        self._last = self.monotonic()
        await self.lease.renew()

    async def flush(self, cursor: str | None) -> None:
        """Commit the cursor the completed batches reached, for a run stopped early; a
        read out of cursor order commits none (its next run reads it all again). The
        keys listed so far are committed either way: a resumed pass keeps them."""
        if self.ordered:
            await self.finish(cursor)
        else:
            await self.mark()

    async def mark(self) -> None:
        """Commit the listed keys still held back (before the pass is judged)."""
        if self._seen:
            seen, self._seen = self._seen, []
            await self.store.commit_batch(BatchCommit(
                self.integration, self.sync, self.clock(), lease=self.lease.token,
                run_id=self.run_id, seen=seen, sweep=self.sweep))

    async def finish(self, cursor: str | None) -> None:
        """Commit the cursor the whole read reached, if no batch carried it yet."""
        await self.mark()
        if cursor != self.committed_cursor:
            await self.store.commit_batch(BatchCommit(
                self.integration, self.sync, self.clock(), cursor=cursor,
                lease=self.lease.token, run_id=self.run_id))
            self.committed_cursor = cursor
