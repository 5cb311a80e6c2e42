"""Links as they will be after the syncs planned before: what `plan` shows of a first run.

On a first run the customers sync creates the customers that the projects sync then
links to (`linked('customers')`). Planned one after the other, the projects' plan would
find no link and list every project as failing. `PlannedLinks` reads the store as usual
and, for a key an earlier sync's plan creates or adopts, answers with the target id that
plan found (an adopt) or a placeholder naming the record to be created.

    links = PlannedLinks(runtime.store, spec.integration)
    links.expect(customers_plan)            # after planning customers
    await plan_sync(runtime, "projects", links=links)
"""

from __future__ import annotations

from typing import Any

from engine.sync.changes import ChangeKind, Plan
from engine.sync.runtime import StoreLinks

__all__ = ["PlannedLinks", "planned_id"]


def planned_id(sync: str, key: str) -> str:
    """The stand-in for a target id that a planned create has not made yet."""
    return f"(new in {sync}: {key})"


class PlannedLinks(StoreLinks):
    """`StoreLinks` that also knows the links the plans given to `expect` would make."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._planned: dict[tuple[str, str], str] = {}

    def expect(self, plan: Plan) -> None:
        """Take the links a run of `plan` would write (the changes the plan kept)."""
        for change in plan.changes:
            if change.kind is ChangeKind.CREATE:
                self._planned[(plan.sync, change.key)] = planned_id(plan.sync, change.key)
            elif change.kind is ChangeKind.ADOPT and change.target_id:
                self._planned[(plan.sync, change.key)] = change.target_id

    def linked(self, sync: str, key: Any) -> str | None:
        found = super().linked(sync, key)
        if found is None:
            return self._planned.get((sync, str(key)))
        return found
