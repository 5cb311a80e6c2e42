"""Whether a sync has completed a run here: the fact dependency ordering and
`missing='skip'` both rest on (a link not made by then is not about to be made)."""

from __future__ import annotations

from engine.state.base import StateStore

__all__ = ["LAST_SLOT_PREFIX", "first_run_done"]

#: The meta key the scheduler records a sync's last slot under (runner/schedule.py).
LAST_SLOT_PREFIX = "runner.last_slot."


def first_run_done(store: StateStore, integration: str, sync: str) -> bool:
    """Whether the sync ever completed a run here (scheduled, or by `specsync run`)."""
    if store.get_meta(integration, LAST_SLOT_PREFIX + sync) is not None:
        return True
    return any(run.finished_at is not None and run.status != "interrupted"
               for run in store.list_runs(integration, sync, limit=5))
