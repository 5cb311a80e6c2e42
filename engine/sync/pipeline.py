"""The sync pipeline: read -> filter -> map -> match -> diff -> write -> checkpoint.

`plan_sync` and `run_sync` share every step but the last two, so what a plan shows is
what a run does. Records stream through in batches; memory holds one batch. The steps
live in their own modules; this one drives them:

    read.py     records, the delta window and cursor, retries of failed records
    decide.py   filter, key, map, diff against the last write, match: one Change each
    match.py    the target lookups that let a first run adopt instead of duplicate
    apply.py    writes, unknown outcomes resolved by lookup, batch checkpoints
    lease.py    the single-writer lease of a sync
    job.py      the steps compiled for one sync and run

Every state-store call is awaited through `runtime.astore`, on the store's own thread:
the event loop never waits for a commit.

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
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace

from engine.adapters.base import Record
from engine.adapters.breaker import CircuitOpenError
from engine.errors import RecordError, SafeguardTripped
from engine.state.base import RunOutcome, RunStatus, StateStore
from engine.sync.apply import Applied, Checkpoints
from engine.sync.changes import Change, ChangeKind, Plan
from engine.sync.deletion_guard import DeletionGuard
from engine.sync.failure_share import FailureShare
from engine.sync.job import SyncJob
from engine.sync.lease import SyncLease
from engine.sync.pace import request_meter
from engine.sync.quota import DailyQuota
from engine.sync.read import DeltaCursor, batches, page_batches
from engine.sync.recording import ReadRecorder
from engine.sync.runtime import Runtime, StoreLinks
from engine.sync.source_deletes import SourceDeletes, unseen_note
from engine.sync.unlinked import Unlinked
from engine.sync.verify import modified_keys
from engine.sync.write_rate import WriteRate

__all__ = ["RunReport", "SyncJob", "plan_sync", "run_sync"]

PLAN_KEEP = 2_000  # changes kept for display; counts always cover every record
# Records whose links are read in one trip to the store (several batches): a trip costs
# about as much CPU as deciding a hundred unchanged records, in thread handoffs.
WINDOW_RECORDS = 1_000

# The counts a run reports, in the order they are shown.
_COUNTED = ("read", ChangeKind.CREATE, ChangeKind.UPDATE, ChangeKind.ADOPT, ChangeKind.SKIP,
            ChangeKind.FILTERED, ChangeKind.DEACTIVATE, ChangeKind.DELETE, ChangeKind.ERROR)
_RESOLVING = frozenset({ChangeKind.SKIP, ChangeKind.FILTERED})  # clear a record's failure


@dataclass
class RunReport:
    integration: str
    sync: str
    run_id: int | None
    outcome: RunStatus
    counts: dict[str, int]
    cursor: str | None
    full: bool
    warnings: list[str] = field(default_factory=list)
    failures: list[Change] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    held: dict[str, int] = field(default_factory=dict)  # create-only field -> records held
    tripped: str | None = None  # the safeguard that stopped the run, if one did


async def plan_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                    records: AsyncIterator[Record] | None = None,
                    links: StoreLinks | None = None, keep: int = PLAN_KEEP,
                    on_batch: Callable[[SyncJob, list[Record], list[Change]], None] | None
                    = None) -> Plan:
    """What a run would do, field by field; reads source and target, writes nothing.

    `links` replaces the store's links (planned.py: the links earlier plans would make);
    `keep` is how many changes are kept for display; `on_batch` sees each batch and its
    changes (exact.py records an exact plan from them).
    """
    job = SyncJob(runtime, sync_name, links=links)
    integration, name = job.integration, job.sync.name
    plan = Plan(integration, name)

    def position(state: StateStore) -> tuple[str | None, str | None, int]:
        return (state.get_cursor(integration, name), state.get_fingerprint(integration, name),
                state.count_links(integration, name))

    cursor, fingerprint, linked = await job.astore.run(position)
    since = job.reader.window(full, cursor=cursor, stored_fingerprint=fingerprint,
                              fingerprint=job.fingerprint)
    if since is None and records is None:
        job.decider.modified = await _verify(job)
    if records is not None:
        stream = records
    elif since is None:
        stream = job.reader.records(None)
    else:
        failing = set(await job.astore.failing_keys(integration, name))
        stream = job.reader.stream(since, set(), failing)
    unlinked = Unlinked()
    async for batch in batches(stream, job.batch_size, ahead=job.decider.prefetch,
                               window=_window(job)):
        decided = await job.decider.decide(batch, with_old=True)
        if on_batch is not None:
            on_batch(job, batch, decided)
        for change in decided:
            plan.add(change, keep=len(plan.changes) < keep)
            unlinked.see(change)
    if (skipped := unlinked.warning()) is not None:
        plan.warnings.append(skipped)
    if records is None:
        await _plan_source_deletes(job, plan, keep)
    plan.truncated = sum(plan.counts.values()) > len(plan.changes)
    deleting = plan.counts[ChangeKind.DEACTIVATE] + plan.counts[ChangeKind.DELETE]
    why = DeletionGuard(job.sync.safeguards.deletions, linked=linked,
                        sync=name).beyond(deleting) if deleting else None
    if why:
        plan.warnings.append(
            f"the deletion guard would hold this run's {deleting} deactivations and "
            f"deletes ({why}): a run writes none of them unless confirmed with "
            f"`specsync run SPEC --sync {name} --confirm-deletions {deleting}`")
    return plan


async def run_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                   trigger: str = "manual", records: AsyncIterator[Record] | None = None,
                   progress: Callable[[dict[str, int]], None] | None = None,
                   git_commit: str | None = None,
                   guard: Callable[[str, list[Change]], list[Change]] | None = None,
                   confirm_deletions: int | None = None) -> RunReport:
    """Run one sync to the end (or to the first error that stops it) and record the run.

    `guard` may replace a batch's changes before they are written (exact.py's RunGuard
    fails those an exact plan does not have). A safeguard that trips (deletion_guard.py,
    failure_share.py) ends the run as failed with its reason in `error`; it is not raised."""
    job = SyncJob(runtime, sync_name)
    store, integration, name = job.astore, job.integration, job.sync.name
    started = time.monotonic()
    lease = SyncLease(store, integration, name, clock=runtime.clock, host=runtime.host)
    await lease.take()
    started_at = runtime.clock()
    breakers = runtime.circuit_breakers

    def start(state: StateStore) -> tuple[int, str | None, str | None, list[str], int]:
        breakers.load(state.breakers())  # what other runs (and operators) left
        run_id = state.start_run(integration, name, spec_hash=job.spec.content_hash,
                                 git_commit=git_commit, trigger=trigger, started_at=started_at)
        return (run_id, state.get_cursor(integration, name),
                state.get_fingerprint(integration, name), state.failing_keys(integration, name),
                state.count_links(integration, name))

    run_id, stored_cursor, fingerprint, failing_keys, linked = await store.run(start)
    since = job.reader.window(full, cursor=stored_cursor, stored_fingerprint=fingerprint,
                              fingerprint=job.fingerprint)
    counts: dict[str, int] = {str(kind): 0 for kind in _COUNTED}
    report = RunReport(integration, name, run_id, "running", counts, stored_cursor,
                       since is None)
    failing = set(failing_keys)
    deletions = DeletionGuard(job.sync.safeguards.deletions, linked=linked, sync=name,
                              confirmed=confirm_deletions)
    failure_share = FailureShare(job.sync.safeguards.failures)
    write_rate = WriteRate(job.spec, job.sync, store, runtime.clock)
    unlinked = Unlinked()
    # Keys read in this run that the retry of failures must not fetch again. Only keys
    # that were failing, or failed now, can be retried: remembering just those keeps
    # memory flat however large the source (everything streams; see the design notes).
    read_keys: set[str] = set()
    cursor = DeltaCursor(job.sync, stored_cursor, advance=records is None)
    recorder = ReadRecorder(job, run_id) if job.sync.replay and records is None else None
    whole = records is None and since is None  # the source's whole listing is read
    source_deletes = SourceDeletes(job, full=whole)
    checkpoints = Checkpoints(store, integration, name, lease=lease, run_id=run_id,
                              clock=runtime.clock, ordered=since is not None and records is None,
                              cursor=stored_cursor, redact=runtime.redactor.text)
    # A key.modified failure stands until a full run's read of the target clears it: a
    # delta or webhook run cannot see the target's field, so it does not resolve one.
    pinned: set[str] = set()
    quota = DailyQuota(request_meter(runtime, job.sync.target_connection),
                       target_object=job.sync.target_object,
                       costs=runtime.adapter(job.sync.target_connection))
    quota_stop: str | None = None  # why a backfill stopped before the end (quota.py)
    try:
        await source_deletes.begin(run_id, started_at)
        checkpoints.sweep = source_deletes.sweep
        if since is None and records is None:
            job.decider.modified = await _verify(job)
        elif job.sync.key.verify and failing:
            pinned = {f.source_key for f in await store.list_failures(
                integration, name, limit=100_000) if f.code == "key.modified"}
        # A stop request (SIGTERM) ends the read; the batch in hand is still written.
        halted = lambda: runtime.stop.requested  # noqa: E731
        paged = job.reader.pages() if whole else None
        if paged is not None:  # the adapter hands over pages: no step per record
            stream_batches = page_batches(paged, job.batch_size, ahead=job.decider.prefetch,
                                          window=_window(job), stopped=halted)
        else:
            stream = records if records is not None else job.reader.stream(since, read_keys,
                                                                            failing)
            stream_batches = batches(runtime.stop.guard(stream), job.batch_size,
                                     ahead=job.decider.prefetch, window=_window(job),
                                     stopped=halted)
        async for batch in stream_batches:
            if not quota.fits(()):  # not even the look-ups: the day's quota is spent
                quota_stop = quota.message(counts["read"], _total(job), runtime.clock())
                break
            before = cursor.value
            changes = await job.decider.decide(batch, with_old=False)
            # Only plain skips (a reconcile's usual batch): nothing to hold, screen, write
            # or count one by one; the steps below would each pass them through.
            quiet = job.decider.quiet and guard is None
            if guard is not None:
                changes = guard(name, changes)
            seen = source_deletes.seen(changes)
            if not quiet:
                changes = list(await write_rate.screen(deletions.hold(changes, before)))
            affordable = quota.affordable(changes)
            if affordable < len(changes):
                # The day's quota: write what it pays for, then stop (read again next run).
                quota_stop = quota.message(counts["read"] + affordable, _total(job),
                                             runtime.clock())
                changes = changes[:affordable]
            counts["read"] += len(batch) if quota_stop is None else len(changes)
            if progress is not None:  # read, before the writes that may take a while
                progress(counts)
            newest = cursor.scan(batch)
            if quiet:
                applied = Applied()
            else:
                for change in changes:
                    for held in change.held:
                        report.held[held.field] = report.held.get(held.field, 0) + 1
                    unlinked.see(change)
                applied = await job.writer.apply(changes, fence=lease.fence)
                quota.spent(changes)
            applied.links.extend(job.decider.take_refreshed())  # unchanged: source hashes
            if quota_stop is None:  # a batch written in part leaves the cursor where it was
                cursor.reach(newest)
            failed = applied.failed
            report.failures.extend(  # a reason may quote an e-mail or a phone: masked
                replace(c, reason=runtime.redactor.text(c.reason))
                for c in failed[: max(0, 100 - len(report.failures))])
            failed_keys = {c.key for c in failed}
            read_keys.update(failed_keys)
            if quiet:
                counts[ChangeKind.SKIP] += len(changes)
            else:
                for change in changes:
                    kind = ChangeKind.ERROR if failed_keys and change.key in failed_keys \
                        else change.kind
                    counts[kind] = counts.get(kind, 0) + 1
            resolved = [c.key for c in changes if c.kind in _RESOLVING and c.key in failing
                        and c.key not in pinned] if failing else []
            await checkpoints.batch(applied, resolved, deletions.capped(cursor.value), seen)
            if recorder is not None:
                await recorder.batch(batch, changes, failed_keys)
            job.links.forget()
            failure_share.check(counts)
            if progress is not None:
                progress(counts)
            if quota_stop is not None:
                break
        if quota_stop is not None:
            # What the day's quota paid for is committed; a delta read resumes after it,
            # a full read reads again and skips what is linked now.
            await checkpoints.flush(deletions.capped(cursor.value))
            report.outcome = "partial"
            report.error = quota_stop
            report.warnings.append(quota_stop)
        elif runtime.stop.requested:
            # Stopped before the end of the read: what completed is committed (a delta
            # read resumes after it), the cursor of a full read is not (it reads again).
            await checkpoints.flush(deletions.capped(cursor.value))
            report.outcome = "interrupted"
            report.error = f"stopped by {runtime.stop.reason} before the end of the read"
        else:
            stated = job.source.total(job.sync.source_object) if whole else None
            await checkpoints.mark()  # every key listed is marked before the pass is judged
            untrusted = await source_deletes.complete(
                read=counts["read"], linked=linked, stated_total=stated, at=runtime.clock())
            if untrusted:
                report.warnings.append(untrusted)
            if records is None:
                await _source_deletes(source_deletes, deletions, report, cursor.value,
                                      exact=guard is not None, confirmed=confirm_deletions)
            released = deletions.release(read=counts["read"], full=whole, stated_total=stated)
            if released:
                released = list(await write_rate.screen(released))
                applied = await job.writer.apply(released, fence=lease.fence)
                failed_keys = {c.key for c in applied.failed}
                report.failures.extend(
                    replace(c, reason=runtime.redactor.text(c.reason))
                    for c in applied.failed[: max(0, 100 - len(report.failures))])
                for change in released:
                    kind = ChangeKind.ERROR if change.key in failed_keys else change.kind
                    counts[kind] = counts.get(kind, 0) + 1
                await checkpoints.batch(applied, [], cursor.value)
            if records is None:
                await checkpoints.finish(cursor.value)
                await store.set_fingerprint(integration, name, job.fingerprint)
            if recorder is not None:
                await recorder.prune()
            report.outcome = "partial" if counts[ChangeKind.ERROR] else "success"
    except SafeguardTripped as exc:
        report.outcome, report.tripped = "failed", exc.safeguard
        report.error = runtime.redactor.text(str(exc))
    except CircuitOpenError as exc:  # nothing more is sent; what was committed stays
        report.outcome, report.tripped = "failed", "circuit_breaker"
        report.error = runtime.redactor.text(str(exc))
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt | GeneratorExit | asyncio.CancelledError)
        report.outcome = "interrupted" if stopped else "failed"
        report.error = (f"stopped by {runtime.stop.reason or 'cancellation'}; the writes in "
                        "flight were abandoned" if stopped
                        else runtime.redactor.text(f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        for warning in (cursor.warning(), write_rate.warning(), unlinked.warning()):
            if warning:
                report.warnings.append(warning)
        if report.held:
            report.warnings.append(held_warning(report.held))
        report.cursor = deletions.capped(cursor.value) if report.tripped else cursor.value
        report.seconds = time.monotonic() - started
        outcome = _final(report.outcome)
        finished_at = runtime.clock()

        def finish(state: StateStore) -> None:
            try:
                state.finish_run(run_id, outcome=outcome, counts=counts, error=report.error,
                                 finished_at=finished_at)
                state.save_breakers(breakers.changed(), at=finished_at)
            finally:
                lease.release_now(state)

        await store.run(finish)  # both in one trip, completed even if this task is cancelled
    return report


async def _source_deletes(found: SourceDeletes, deletions: DeletionGuard, report: RunReport,
                          cursor: str | None, *, exact: bool, confirmed: int | None) -> None:
    """The records deleted in the source that the last complete full read found: counted,
    and (as the sync says) held with the run's other deactivations and deletes, for the
    deletion guard to judge. A run of an exact plan (`--plan FILE`) only counts them."""
    limit = max(deletions.limits.max, confirmed or 0) + 1  # one past: the guard refuses
    count, changes = await found.changes(limit)
    if not count:
        return
    report.counts["deleted_in_source"] = count
    if exact or not changes:
        report.warnings.append(unseen_note(count, report.sync, found.mode))
        return
    deletions.hold(changes, cursor)


async def _plan_source_deletes(job: SyncJob, plan: Plan, keep: int) -> None:
    """What the last complete full read found deleted in the source: the count, and the
    deactivations or deletes a run would hold for the deletion guard."""
    found = SourceDeletes(job, full=True)
    count, changes = await found.changes(job.sync.safeguards.deletions.max + 1)
    if not count:
        return
    last = await job.astore.last_sweep(job.integration, job.sync.name)
    plan.deleted_in_source = count
    plan.warnings.append(unseen_note(count, job.sync.name, found.mode,
                                     last.finished if last else None))
    for change in changes:
        plan.add(change, keep=len(plan.changes) < keep)


def _window(job: SyncJob) -> int:
    """Batches per trip for their links: about WINDOW_RECORDS records, at least one."""
    return max(1, WINDOW_RECORDS // job.batch_size)


def _total(job: SyncJob) -> int | None:
    """How many records the source says a full read yields (for a backfill's ETA)."""
    try:
        return job.source.total(job.sync.source_object)
    except Exception:  # an ETA is never worth failing a run for
        return None


def _final(status: RunStatus) -> RunOutcome:
    """How a run ended: one still "running" when it stopped was interrupted."""
    return "interrupted" if status == "running" else status


async def _verify(job: SyncJob) -> dict[str, RecordError]:
    """A full read: the linked targets whose key field was changed there (verify.py)."""
    return await modified_keys(job.sync, job.target, job.target_info, job.astore,
                               job.integration)


def held_warning(held: dict[str, int]) -> str:
    """The run's word on source changes to fields the target sets at creation only."""
    fields = ", ".join(f"{name} ({n} record{'s' if n != 1 else ''})"
                       for name, n in sorted(held.items()))
    return (f"source changes not written, the target sets these fields at creation only: "
            f"{fields}; `specsync status` lists the records (change them in the target by "
            "hand, or set the source back)")


def failing_summary(changes: Iterable[Change]) -> list[str]:
    return [f"{c.key}: [{c.code}] {c.reason}" for c in changes if c.kind is ChangeKind.ERROR]
