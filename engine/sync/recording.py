"""Replay's recording: what a run of a sync that opts in (`replay:`) read, per batch.

Each source record is kept with what it became in that run: its kind (create, update,
adopt, skip, filtered, deactivate, delete, error) and, when it mapped, every field the
spec made of it (the payload a create writes, placement aside); a record that failed
keeps its error code. Identity numbers never reach the store in clear: every value,
in the record and in what it became, goes through `mask_personnummer` first (a field
computed from one is then not comparable in a replay, and says so).

Only runs that read the source themselves are recorded (a webhook's single records
would push the full reads out); after a run the store keeps the newest `keep` runs
and none older than `max_age`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.adapters.base import Record
from engine.errors import RecordError
from engine.redact import is_personnummer, mask_personnummer
from engine.state.base import StateStore
from engine.state.recordings import RecordedRead
from engine.sync.changes import Change, ChangeKind
from engine.sync.job import SyncJob

__all__ = ["ReadRecorder", "masked"]

_MAPPED = frozenset({ChangeKind.CREATE, ChangeKind.UPDATE, ChangeKind.ADOPT, ChangeKind.SKIP})


def masked(value: Any) -> Any:
    """A JSON-ready copy of `value` with personal identity numbers masked."""
    if isinstance(value, str):
        return mask_personnummer(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return "[personnummer]" if is_personnummer(str(value)) else value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(v) for v in value]
    return mask_personnummer(str(value))


class ReadRecorder:
    """Records the batches of one run of one sync."""

    def __init__(self, job: SyncJob, run_id: int) -> None:
        self.job = job
        self.run_id = run_id
        self.rows = 0

    def _outcome(self, record: Record, change: Change | None, failed: bool) -> dict[str, Any]:
        if change is None:
            return {"kind": "unread"}
        kind = ChangeKind.ERROR if failed else change.kind
        if kind is ChangeKind.ERROR:
            return {"kind": "error", "code": change.code or "write.failed"}
        if change.kind not in _MAPPED:
            return {"kind": str(kind)}
        try:
            update, create_only = self.job.decider.mapper.map(record, self.job.ctx)
        except RecordError as exc:
            return {"kind": "error", "code": exc.code}
        return {"kind": str(kind), "payload": masked({**update, **create_only})}

    async def batch(self, batch: Sequence[Record], changes: Sequence[Change],
                    failed_keys: Collection[str]) -> None:
        """Keep one batch (before its links are forgotten: templates may read them)."""
        by_key = {c.key: c for c in changes}
        reads = []
        for key, record in self.job.decider.last_per_key(batch):
            if isinstance(key, RecordError):
                continue  # no key: nothing a replay could compare
            reads.append(RecordedRead(key, masked(dict(record)),
                                      self._outcome(record, by_key.get(key),
                                                    key in failed_keys)))
        if not reads:
            return
        first, self.rows = self.rows, self.rows + len(reads)
        job, run_id, at = self.job, self.run_id, self.job.runtime.clock()

        def keep(state: StateStore) -> None:
            state.record_reads(run_id, job.integration, job.sync.name, first, reads, at=at)

        await job.astore.run(keep)

    async def prune(self) -> None:
        """Keep the newest `keep` runs of the sync, none older than `max_age`."""
        replay = self.job.sync.replay
        if replay is None:
            return
        job = self.job
        oldest = job.runtime.clock() - replay.max_age

        def prune(state: StateStore) -> None:
            state.prune_recordings(job.integration, job.sync.name, keep=replay.keep,
                                   older_than=oldest)

        await job.astore.run(prune)
