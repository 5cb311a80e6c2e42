"""Records deleted in the source (reliability.md S12), found by full reads.

A delta read cannot see a record that is gone, and nothing in a listing says "deleted".
A full read lists every record (unfiltered: the sync's filter is applied here, after the
read), so a linked record it does not list is gone. Each key a
full read lists is marked in the store with the reconcile pass ("sweep") it belongs to,
committed with the batch's checkpoint (engine/state/sweeps.py): memory holds at most a
checkpoint's worth of keys, never the source. When the read reaches the end of the
listing the pass is complete, and the active links it did not mark, that nothing wrote
since it began, are the records deleted in the source.

A pass completes only when its listing can be trusted to be whole: the read was not cut
short (a stop, an error, the day's quota), did not come back empty while records are
linked, is not shorter than the total the source states, and every record the filter
selects had a key (one whose key cannot be built cannot be marked, and would look
deleted). Otherwise the pass stays open and nothing is flagged; the next full read
carries on with it, so a key marked before a crash stays marked and a resumed pass
never flags a record it saw.

What becomes of them is the sync's `on_source_delete`:

    report      (the default) counted as `deleted_in_source`, named in the run's warnings,
                `specsync plan` and `specsync status`; nothing is written
    deactivate  the sync's `deactivate:` fields are written (rendered with no source
                record: constants, setup values), through the deletion guard
    delete      the target record is deleted, through the deletion guard
    ignore      nothing is marked or looked for

A deactivation or delete the guard holds (or the target refuses) leaves its link active
and unseen, so every later run, delta or full, holds it again until an operator
confirms it (`--confirm-deletions N`) or the source lists the record again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.errors import RecordError
from engine.state.base import Link
from engine.sync.changes import Change, ChangeKind, diff_fields
from engine.sync.job import SyncJob
from engine.templates import compile_transform

__all__ = ["REASON", "SourceDeletes", "unseen_note"]

REASON = "it was deleted in the source (the last full read did not list it)"


class SourceDeletes:
    """One run's part in finding source deletions (see the module docstring)."""

    def __init__(self, job: SyncJob, *, full: bool) -> None:
        self.job = job
        self.mode = job.sync.on_source_delete
        self.tracking = full and self.mode != "ignore"
        self.sweep: int | None = None  # the pass this run's keys are marked with
        self.keyless = 0  # selected records without a key: the pass cannot complete

    async def begin(self, run_id: int, at: datetime) -> None:
        """Join the pass in progress, or begin one (a full read only)."""
        if self.tracking:
            self.sweep = await self.job.astore.begin_sweep(
                self.job.integration, self.job.sync.name, run_id, at)

    def seen(self, changes: Sequence[Change]) -> list[str]:
        """The keys a batch listed, to mark with the pass (every keyed change)."""
        if self.sweep is None:
            return []
        keys: list[str] = []
        for change in changes:
            if change.key.startswith("#"):  # no key: the filter's reject, or an error
                if change.kind is ChangeKind.ERROR:
                    self.keyless += 1
            else:
                keys.append(change.key)
        return keys

    async def complete(self, *, read: int, linked: int, stated_total: int | None,
                       at: datetime) -> str | None:
        """After a read that got to the end: complete the pass if its listing can be
        trusted; else a warning saying why no source deletion was judged."""
        if self.sweep is None:
            return None
        why = None
        if self.keyless:
            why = (f"{self.keyless} record(s) had no key, and a record that cannot be "
                   "marked as listed would look deleted")
        elif read == 0 and linked:
            why = "the source listing came back empty"
        elif stated_total is not None and read < stated_total:
            why = f"the listing was cut short ({read} of the {stated_total} records it states)"
        if why:
            return (f"records deleted in the source were not looked for: {why}; the next "
                    "full read carries on")
        await self.job.astore.end_sweep(self.job.integration, self.job.sync.name,
                                        self.sweep, at)
        return None

    async def changes(self, limit: int) -> tuple[int, list[Change]]:
        """How many linked records the last completed pass found deleted, and (when the
        sync writes them) the deactivations or deletes of up to `limit` of them."""
        job = self.job
        if self.mode == "ignore" or (self.mode == "report" and not self.tracking):
            return 0, []
        last = await job.astore.last_sweep(job.integration, job.sync.name)
        if last is None or not last.unseen:
            return 0, []
        if self.mode == "report":
            return last.unseen, []
        links = await job.astore.unseen_links(job.integration, job.sync.name, limit)
        return last.unseen, [self._change(link) for link in links]

    def _change(self, link: Link) -> Change:
        if self.mode == "delete":
            return Change(ChangeKind.DELETE, link.source_key, link.target_id, reason=REASON)
        try:
            payload = {name: compile_transform(value).render({}, self.job.ctx)
                       for name, value in self.job.sync.deactivate.items()}
        except RecordError as exc:
            return Change.failure(link.source_key, exc, None)
        return Change(ChangeKind.DEACTIVATE, link.source_key, link.target_id, payload,
                      diff_fields({}, payload), reason=REASON)


def unseen_note(count: int, sync: str, mode: str, when: datetime | None = None) -> str:
    """The words for linked records a full read no longer lists."""
    at = f" (the full read of {when:%Y-%m-%d %H:%M} UTC)" if when is not None else ""
    then = {"report": "reported only (on_source_delete: report); set on_source_delete to "
                      "deactivate or delete to act on them",
            "deactivate": "deactivated in the target (on_source_delete: deactivate)",
            "delete": "deleted in the target (on_source_delete: delete)"}.get(mode, mode)
    return (f"{count} linked record(s) of {sync} are no longer in the source's listing"
            f"{at}: deleted in the source; {then}")
