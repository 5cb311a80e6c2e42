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

import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from engine.adapters.base import Record
from engine.state.base import RunOutcome, RunStatus, StateStore
from engine.sync.apply import Checkpoints
from engine.sync.changes import Change, ChangeKind, Plan
from engine.sync.job import SyncJob
from engine.sync.lease import SyncLease
from engine.sync.pace import request_meter
from engine.sync.quota import DailyQuota
from engine.sync.read import DeltaCursor, batches
from engine.sync.runtime import Runtime, StoreLinks

__all__ = ["RunReport", "SyncJob", "plan_sync", "run_sync"]

PLAN_KEEP = 2_000  # changes kept for display; counts always cover every record

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


async def plan_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                    records: AsyncIterator[Record] | None = None,
                    links: StoreLinks | None = None) -> Plan:
    """What a run would do, field by field; reads source and target, writes nothing.

    `links` replaces the store's links (planned.py: the links earlier plans would make).
    """
    job = SyncJob(runtime, sync_name, links=links)
    integration, name = job.integration, job.sync.name
    plan = Plan(integration, name)

    def position(state: StateStore) -> tuple[str | None, str | None]:
        return state.get_cursor(integration, name), state.get_fingerprint(integration, name)

    cursor, fingerprint = await job.astore.run(position)
    since = job.reader.window(full, cursor=cursor, stored_fingerprint=fingerprint,
                              fingerprint=job.fingerprint)
    if records is not None:
        stream = records
    elif since is None:
        stream = job.reader.records(None)
    else:
        failing = set(await job.astore.failing_keys(integration, name))
        stream = job.reader.stream(since, set(), failing)
    async for batch in batches(stream, job.batch_size):
        for change in await job.decider.decide(batch, with_old=True):
            plan.add(change, keep=len(plan.changes) < PLAN_KEEP)
    plan.truncated = sum(plan.counts.values()) > len(plan.changes)
    return plan


async def run_sync(runtime: Runtime, sync_name: str, *, full: bool = False,
                   trigger: str = "manual", records: AsyncIterator[Record] | None = None,
                   progress: Callable[[dict[str, int]], None] | None = None,
                   git_commit: str | None = None) -> RunReport:
    """Run one sync to the end (or to the first error that stops it) and record the run."""
    job = SyncJob(runtime, sync_name)
    store, integration, name = job.astore, job.integration, job.sync.name
    started = time.monotonic()
    lease = SyncLease(store, integration, name, clock=runtime.clock, host=runtime.host)
    await lease.take()
    started_at = runtime.clock()

    def start(state: StateStore) -> tuple[int, str | None, str | None, list[str]]:
        run_id = state.start_run(integration, name, spec_hash=job.spec.content_hash,
                                 git_commit=git_commit, trigger=trigger, started_at=started_at)
        return (run_id, state.get_cursor(integration, name),
                state.get_fingerprint(integration, name), state.failing_keys(integration, name))

    run_id, stored_cursor, fingerprint, failing_keys = await store.run(start)
    since = job.reader.window(full, cursor=stored_cursor, stored_fingerprint=fingerprint,
                              fingerprint=job.fingerprint)
    counts: dict[str, int] = {str(kind): 0 for kind in _COUNTED}
    report = RunReport(integration, name, run_id, "running", counts, stored_cursor,
                       since is None)
    failing = set(failing_keys)
    # Keys read in this run that the retry of failures must not fetch again. Only keys
    # that were failing, or failed now, can be retried: remembering just those keeps
    # memory flat however large the source (everything streams; see the design notes).
    read_keys: set[str] = set()
    cursor = DeltaCursor(job.sync, stored_cursor, advance=records is None)
    checkpoints = Checkpoints(store, integration, name, lease=lease, run_id=run_id,
                              clock=runtime.clock, ordered=since is not None and records is None,
                              cursor=stored_cursor)
    quota = DailyQuota(request_meter(runtime, job.sync.target_connection),
                       target_object=job.sync.target_object,
                       costs=runtime.adapter(job.sync.target_connection))
    stopped: str | None = None  # why a backfill stopped before the end (quota.py)
    try:
        stream = records if records is not None else job.reader.stream(since, read_keys,
                                                                        failing)
        async for batch in batches(stream, job.batch_size):
            changes = await job.decider.decide(batch, with_old=False) \
                if quota.fits(()) else []
            affordable = quota.affordable(changes)
            if not changes or affordable < len(changes):
                # The day's quota: write what it pays for, then stop (read again next run).
                stopped = quota.message(counts["read"] + affordable, _total(runtime, job),
                                        runtime.clock())
                changes = changes[:affordable]
                if not changes:
                    break
            counts["read"] += len(batch) if stopped is None else len(changes)
            if progress is not None:  # read, before the writes that may take a while
                progress(counts)
            newest = cursor.scan(batch)
            applied = await job.writer.apply(changes)
            applied.links.extend(job.decider.take_refreshed())  # unchanged: source hashes
            quota.spent(changes)
            if stopped is None:  # a batch written in part leaves the cursor where it was
                cursor.reach(newest)
            failed = applied.failed
            report.failures.extend(failed[: max(0, 100 - len(report.failures))])
            failed_keys = {c.key for c in failed}
            read_keys.update(failed_keys)
            for change in changes:
                kind = ChangeKind.ERROR if failed_keys and change.key in failed_keys \
                    else change.kind
                counts[kind] = counts.get(kind, 0) + 1
            resolved = [c.key for c in changes
                        if c.kind in _RESOLVING and c.key in failing] if failing else []
            await checkpoints.batch(applied, resolved, cursor.value)
            job.links.forget()
            if progress is not None:
                progress(counts)
            if stopped is not None:
                break
        if records is None and stopped is None:
            await checkpoints.finish(cursor.value)
            await store.set_fingerprint(integration, name, job.fingerprint)
        report.outcome = "partial" if counts[ChangeKind.ERROR] or stopped else "success"
        if stopped is not None:
            if checkpoints.ordered:  # a delta read's cursor stands where it stopped
                await checkpoints.finish(cursor.value)
            report.warnings.append(stopped)
            report.error = stopped
    except BaseException as exc:
        report.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt | GeneratorExit) \
            else "failed"
        report.error = runtime.redactor.text(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        warning = cursor.warning()
        if warning:
            report.warnings.append(warning)
        report.cursor = cursor.value
        report.seconds = time.monotonic() - started
        outcome = _final(report.outcome)
        finished_at = runtime.clock()

        def finish(state: StateStore) -> None:
            try:
                state.finish_run(run_id, outcome=outcome, counts=counts, error=report.error,
                                 finished_at=finished_at)
            finally:
                lease.release_now(state)

        await store.run(finish)  # both in one trip, completed even if this task is cancelled
    return report


def _total(runtime: Runtime, job: SyncJob) -> int | None:
    """How many records the source says a full read yields (for a backfill's ETA)."""
    try:
        return runtime.adapter(job.sync.source_connection).total(job.sync.source_object)
    except Exception:  # an ETA is never worth failing a run for
        return None


def _final(status: RunStatus) -> RunOutcome:
    """How a run ended: one still "running" when it stopped was interrupted."""
    return "interrupted" if status == "running" else status


def failing_summary(changes: Iterable[Change]) -> list[str]:
    return [f"{c.key}: [{c.code}] {c.reason}" for c in changes if c.kind is ChangeKind.ERROR]
