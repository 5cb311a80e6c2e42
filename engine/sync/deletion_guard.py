"""The deletion guard (reliability.md S12): no mass deactivation or delete by accident.

A run does not deactivate or delete as it reads. It holds those changes until it has
read everything, then lets them through only within the sync's limits (`safeguards:
deletions:` in the spec): at most `max` in a run, and at most `max_share` of the
sync's linked records once there are `min` of them. Beyond a limit the run writes
none of them and fails with the count and the way to let it through once
(`specsync run --confirm-deletions N`).

So a listing that breaks off (an error mid-read) deletes nothing: the run fails before
the held changes are written. A listing shorter than the total the source itself
states is refused the same way, and so is one that came back empty while records are
linked: an empty or truncated listing never counts as "everything deleted".

While changes are held, checkpoints keep the cursor where it was before the first of
them, so a run that stops (refused, or killed) reads them again next time.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import SafeguardTripped
from engine.spec.safeguards import DeletionLimits
from engine.sync.changes import Change, ChangeKind

__all__ = ["DELETING", "DeletionGuard"]

DELETING = frozenset({ChangeKind.DEACTIVATE, ChangeKind.DELETE})


class DeletionGuard:
    """Holds one run's deactivations and deletes until `release` judges them."""

    def __init__(self, limits: DeletionLimits, *, linked: int, sync: str,
                 confirmed: int | None = None) -> None:
        self.limits = limits
        self.linked = linked  # active links when the run started
        self.sync = sync
        self.confirmed = confirmed
        self.held: list[Change] = []
        self.cursor: str | None = None  # the cursor before the first held change
        self._holding = False

    def hold(self, changes: Sequence[Change], cursor_before: str | None) -> list[Change]:
        """The changes to write now; deactivations and deletes are kept back.

        Raises SafeguardTripped as soon as the held ones exceed a limit (a run need not
        read on to know it will be refused; memory holds at most a limit's worth)."""
        rest: list[Change] = []
        for change in changes:
            if change.kind in DELETING:
                if not self._holding:
                    self._holding, self.cursor = True, cursor_before
                self.held.append(change)
            else:
                rest.append(change)
        if len(self.held) > self.limits.max:
            self._refuse(f"the sync's limit is {self.limits.max}", finished=False)
        return rest

    def capped(self, cursor: str | None) -> str | None:
        """The cursor a checkpoint may commit: not past a held change."""
        return self.cursor if self._holding else cursor

    def release(self, *, read: int, stated_total: int | None, full: bool) -> list[Change]:
        """The held changes, once the whole listing is read; SafeguardTripped when they
        exceed a limit or the listing cannot be trusted to say what is gone."""
        held = len(self.held)
        if not held:
            return []
        if full and read == 0:
            self._refuse("the source listing came back empty; an empty listing is never "
                         "taken to mean everything is gone", listing=True)
        if full and stated_total is not None and read < stated_total:
            self._refuse(f"the source listing was cut short ({read} of the {stated_total} "
                         "records it states); a truncated listing is never taken to mean "
                         "the rest is gone", listing=True)
        why = self.beyond(held)
        if why:
            self._refuse(why)
        released, self.held = self.held, []
        return released

    def beyond(self, count: int) -> str | None:
        """Which limit `count` deactivations and deletes exceed, in words; None if none.
        (`specsync plan` asks too, to say beforehand that a run would be refused.)"""
        if count > self.limits.max:
            return f"the sync's limit is {self.limits.max}"
        share = count / self.linked if self.linked else 1.0
        if count >= self.limits.min and share > self.limits.max_share:
            return (f"{share:.0%} of its {self.linked} linked records; the sync's limit is "
                    f"{self.limits.max_share:.0%}")
        return None

    def _refuse(self, why: str, *, finished: bool = True, listing: bool = False) -> None:
        count = len(self.held)
        if self.confirmed is not None and count <= self.confirmed and not listing:
            return  # the operator confirmed this many
        kinds = sorted({str(c.kind) for c in self.held})
        many = f"{count}" if finished else f"at least {count}"
        raise SafeguardTripped(
            "deletions",
            f"deletion guard: the run would {' or '.join(kinds)} {many} record(s): {why}. "
            "Nothing was deactivated or deleted. If this is intended, run it once with "
            f"`specsync run SPEC --sync {self.sync} --confirm-deletions {count}` (or raise "
            "safeguards.deletions in the spec).")
