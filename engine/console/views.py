"""What each console page shows, read from the deployment, the state store and the
progress board. These functions call the store synchronously: the routes run them in a
thread (`asyncio.to_thread`), never on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from engine.redact import Redactor
from engine.runner.context import BreakerView, RunnerContext
from engine.runner.progress import RunProgress
from engine.runner.schedule import ScheduledSync, parse_schedule
from engine.spec.environment import resolve_text
from engine.spec.model import Spec, Sync
from engine.state.base import AuditEntry, Incident, RecordFailure, Run, StateStore, SyncPause

__all__ = ["Overview", "SyncPage", "SyncRow", "overview", "record_url", "sync_page"]

_WRITTEN = ("create", "update", "adopt", "deactivate", "delete")


@dataclass(frozen=True)
class SyncRow:
    """One sync as the overview lists it."""

    integration: str
    sync: str
    title: str
    source: str
    target: str
    schedule: str
    trigger: str | None  # "webhook from hubspot" when a webhook starts it too
    next_run: datetime | None
    paused: SyncPause | None
    skipped_at: datetime | None  # the last slot skipped while paused
    last_run: Run | None
    cursor: str | None
    failing: int
    acknowledged: int
    breakers: tuple[BreakerView, ...]
    progress: RunProgress | None
    tenant: str | None = None  # once deployments serve several tenants

    @property
    def written(self) -> int:
        counts = self.last_run.counts if self.last_run else {}
        return sum(counts.get(k, 0) for k in _WRITTEN)

    @property
    def open_breakers(self) -> tuple[BreakerView, ...]:
        return tuple(b for b in self.breakers if b.state != "closed")

    @property
    def health(self) -> str:
        """One word for the row's badge: running, paused, failing, failed, ok, new."""
        if self.progress is not None:
            return "running"
        if self.paused is not None:
            return "paused"
        if self.last_run is not None and self.last_run.status in ("failed", "interrupted"):
            return "failed"
        if self.open_breakers or self.failing - self.acknowledged > 0:
            return "failing"
        return "ok" if self.last_run is not None else "new"


@dataclass(frozen=True)
class Overview:
    rows: tuple[SyncRow, ...]
    inbox_depth: int | None
    breakers: tuple[BreakerView, ...]
    incidents: tuple[Incident, ...]
    now: datetime

    @property
    def tenants(self) -> bool:
        return any(row.tenant for row in self.rows)


@dataclass(frozen=True)
class SyncPage:
    row: SyncRow
    spec: Spec
    definition: Sync
    runs: tuple[Run, ...]
    failures: tuple[RecordFailure, ...]
    more_failures: bool
    audit: tuple[AuditEntry, ...]
    now: datetime


def _breakers_of(spec: Spec, sync: Sync, breakers: Sequence[BreakerView]
                 ) -> tuple[BreakerView, ...]:
    names = set()
    for connection in (sync.source_connection, sync.target_connection):
        names.add(connection)
        if connection in spec.connections:
            names.add(spec.connections[connection].adapter)
    return tuple(b for b in breakers if b.system in names
                 and (b.integration is None or b.integration == spec.integration))


def _row(ctx: RunnerContext, store: StateStore, spec: Spec, sync: Sync, *,
         latest: Run | None, counts: tuple[int, int], paused: SyncPause | None,
         breakers: Sequence[BreakerView], progress: RunProgress | None,
         now: datetime) -> SyncRow:
    schedule = parse_schedule(sync.schedule)
    job = ScheduledSync(spec.integration, sync.name, schedule)
    skipped = store.get_meta(spec.integration, job.skipped_key)
    trigger = sync.trigger
    return SyncRow(
        integration=spec.integration, sync=sync.name, title=sync.title or sync.name,
        source=f"{sync.source_connection}.{sync.source_object}",
        target=f"{sync.target_connection}.{sync.target_object}",
        schedule=sync.schedule,
        trigger=f"webhook from {trigger.webhook}" if trigger and trigger.webhook else None,
        next_run=None if paused else schedule.next_after(now),
        paused=paused,
        skipped_at=datetime.fromisoformat(skipped) if skipped and paused else None,
        last_run=latest, cursor=store.get_cursor(spec.integration, sync.name),
        failing=counts[0], acknowledged=counts[1],
        breakers=_breakers_of(spec, sync, breakers), progress=progress)


def overview(ctx: RunnerContext) -> Overview:
    """Every integration and sync, with the state of each."""
    store, now = ctx.store, ctx.clock()
    deployment = ctx.deployment
    latest: dict[tuple[str, str], Run] = {}
    for run in store.list_runs(limit=1000):
        latest.setdefault((run.integration, run.sync), run)
    counts = store.failure_counts()
    paused = store.paused_syncs()
    breakers = ctx.breakers()
    progress = {(p.integration, p.sync): p for p in ctx.progress.snapshot()}
    rows = []
    for name in sorted(deployment.specs):
        spec = deployment.specs[name]
        for sync in spec.syncs.values():
            key = (name, sync.name)
            rows.append(_row(ctx, store, spec, sync, latest=latest.get(key),
                             counts=counts.get(key, (0, 0)), paused=paused.get(key),
                             breakers=breakers, progress=progress.get(key), now=now))
    return Overview(tuple(rows), ctx.inbox_depth(max_age=0.0), tuple(breakers),
                    tuple(store.open_incidents()), now)


def sync_page(ctx: RunnerContext, integration: str, sync_name: str, *,
              failure_limit: int = 200) -> SyncPage | None:
    """One sync's history, failing records and audit trail; None if there is no such sync."""
    spec = ctx.deployment.specs.get(integration)
    if spec is None or sync_name not in spec.syncs:
        return None
    sync = spec.syncs[sync_name]
    store, now = ctx.store, ctx.clock()
    runs = store.list_runs(integration, sync_name, limit=50)
    latest = next((r for r in runs), None)
    failures = store.list_failures(integration, sync_name, limit=failure_limit + 1)
    counts = store.failure_counts().get((integration, sync_name), (0, 0))
    progress = next((p for p in ctx.progress.snapshot()
                     if (p.integration, p.sync) == (integration, sync_name)), None)
    row = _row(ctx, store, spec, sync, latest=latest, counts=counts,
               paused=store.paused_syncs().get((integration, sync_name)),
               breakers=ctx.breakers(), progress=progress, now=now)
    redact = Redactor()
    shown = tuple(_masked(f, redact) for f in failures[:failure_limit])
    return SyncPage(row, spec, sync, tuple(runs), shown, len(failures) > failure_limit,
                    tuple(store.list_audit(integration, sync_name, limit=30)), now)


def _masked(failure: RecordFailure, redact: Redactor) -> RecordFailure:
    """The vendor's reason with personal data masked once more (stored masked already:
    this guards messages written by an older version)."""
    from dataclasses import replace

    return replace(failure, message=redact.text(failure.message))


def record_url(ctx: RunnerContext, integration: str, sync_name: str,
               target_id: str) -> str | None:
    """The target record in its system's web app, when the connection says where."""
    spec = ctx.deployment.specs.get(integration)
    if spec is None or sync_name not in spec.syncs:
        return None
    sync = spec.syncs[sync_name]
    connection = spec.connections.get(sync.target_connection)
    if connection is None or not connection.record_url:
        return None
    missing: list[str] = []
    template = resolve_text(connection.record_url, ctx.deployment.environ, missing)
    if missing:
        return None
    url = template.replace("{object}", quote(sync.target_object, safe="")).replace(
        "{id}", quote(target_id, safe=""))
    return url if url.startswith(("https://", "http://")) else None
