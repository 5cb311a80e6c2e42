"""The failed-record threshold (reliability.md S20): a run failing most records stops.

A failing record is recorded and retried while the others go through; that is right
for a few bad records and wrong when the mapping or the target is broken and nearly
every write fails. Once `min` records were written or failed, a run whose failed share
exceeds `max_share` (`safeguards: failures:` in the spec) stops after committing the
batch it is on: its failing records stay recorded with their reasons (retried next
run) and the run is marked failed, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import SafeguardTripped
from engine.spec.safeguards import FailureLimits

__all__ = ["FailureShare"]

_WRITTEN = ("create", "update", "adopt", "deactivate", "delete")


class FailureShare:
    """Judges a run's counts after each committed batch."""

    def __init__(self, limits: FailureLimits) -> None:
        self.limits = limits

    def check(self, counts: Mapping[str, int]) -> None:
        """SafeguardTripped when the failed share of what was attempted is too high."""
        failed = counts.get("error", 0)
        if not failed:
            return
        attempted = failed + sum(counts.get(kind, 0) for kind in _WRITTEN)
        if attempted < self.limits.min:
            return
        share = failed / attempted
        if share > self.limits.max_share:
            raise SafeguardTripped(
                "failures",
                f"failed-record threshold: {failed} of {attempted} records written or "
                f"failed in this run failed ({share:.0%}, the sync's limit is "
                f"{self.limits.max_share:.0%}), so the run stopped rather than go on "
                "failing; the failing records are recorded with their reasons and retried "
                "on the next run (see `specsync status`).")
