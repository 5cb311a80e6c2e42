"""Records skipped because what they refer to is not linked by another sync, on purpose
(`linked_source('customers', missing='skip')`): counted as filtered, and named once per
run and plan so the operator sees which records stay out and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.sync.changes import Change, ChangeKind

__all__ = ["CODE", "Unlinked"]

CODE = "links.unlinked"  # the code linked()/linked_source() skip a record with
_SHOWN = 5


@dataclass
class Unlinked:
    """The skipped records of one run or plan: how many, a few keys and one reason."""

    count: int = 0
    keys: list[str] = field(default_factory=list)
    reason: str = ""

    def see(self, change: Change) -> None:
        if change.kind is not ChangeKind.FILTERED or change.code != CODE:
            return
        self.count += 1
        if len(self.keys) < _SHOWN:
            self.keys.append(change.key)
        self.reason = self.reason or change.reason

    def warning(self) -> str | None:
        if not self.count:
            return None
        more = f" and {self.count - len(self.keys)} more" if self.count > len(self.keys) else ""
        return (f"{self.count} record{'s' if self.count != 1 else ''} skipped, not failed "
                f"({', '.join(self.keys)}{more}): {self.reason}")
