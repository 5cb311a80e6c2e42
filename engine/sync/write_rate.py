"""The per-record write-rate breaker of two-way syncs (reliability.md S27): no ping-pong.

Two syncs writing opposite ways between the same two objects (A -> B and B -> A) can
bounce a record back and forth for ever when their mappings are not each other's
inverse (a phone number reformatted one way, a suffix added the other). Echo checks
catch our own unchanged writes; they cannot catch a value that changes on every trip.

So every write of such a pair is counted per record, both directions together: the
record is named by its id on the pair's first side (`hubspot.companies#123`), which
one sync reads as its source id and the other writes as its target id. More than
`max_writes` writes within `window` (`safeguards: write_rate:` in the spec) and the
record is quarantined: its writes become failures with code `record.quarantined` (the
run says so; the others go through) until an operator releases it with
`specsync quarantine release INTEGRATION RECORD`; its count then starts over.

Syncs without an opposite sync are not counted: a record changed often at its one
source is not a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from engine.spec.model import Spec, Sync
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import StateStore
from engine.sync.changes import Change, ChangeKind

__all__ = ["WriteRate", "pair_of"]

CODE = "record.quarantined"


def _side(connection: str, obj: str) -> str:
    return f"{connection}.{obj}"


def pair_of(spec: Spec, sync: Sync) -> str | None:
    """The two-way pair a sync belongs to ("a+b", names sorted), or None."""
    source = (sync.source_connection, sync.source_object)
    target = (sync.target_connection, sync.target_object)
    opposite = sorted(s.name for s in spec.syncs.values() if s.name != sync.name
                      and (s.source_connection, s.source_object) == target
                      and (s.target_connection, s.target_object) == source)
    return "+".join(sorted([sync.name, *opposite])) if opposite else None


class WriteRate:
    """Counts a two-way sync's writes per record and holds back quarantined records."""

    def __init__(self, spec: Spec, sync: Sync, store: AsyncStateStore,
                 clock: Callable[[], datetime]) -> None:
        self.integration = spec.integration
        self.sync = sync
        self.store = store
        self.clock = clock
        self.limits = sync.safeguards.write_rate
        self.pair = pair_of(spec, sync)
        source = _side(sync.source_connection, sync.source_object)
        target = _side(sync.target_connection, sync.target_object)
        self.first = min(source, target)
        self.by_source = source == self.first  # the record's first-side id is its source id
        self.quarantined: list[str] = []  # records held back in this run

    def record_of(self, change: Change) -> str | None:
        """The record a change writes, by its id on the pair's first side."""
        found = change.source_id if self.by_source else change.target_id
        return f"{self.first}#{found}" if found else None

    async def screen(self, changes: Sequence[Change]) -> Sequence[Change]:
        """The changes, with the writes of quarantined records turned into failures."""
        if self.pair is None:
            return changes
        counted: dict[str, str] = {}
        for change in changes:
            if change.kind.writes and (change.kind is not ChangeKind.ADOPT or change.payload):
                record = self.record_of(change)
                if record is not None:
                    counted[record] = f"{self.sync.name}={change.key}"
        if not counted:
            return changes
        integration, pair, limits, at = self.integration, self.pair, self.limits, self.clock()

        def count(state: StateStore) -> set[str]:
            return state.count_writes(integration, pair, counted, at=at,
                                      window=limits.window, max_writes=limits.max_writes)

        stopped = await self.store.run(count)
        if not stopped:
            return changes
        screened: list[Change] = []
        for change in changes:
            record = self.record_of(change) if change.kind.writes else None
            if record in stopped:
                self.quarantined.append(record)
                screened.append(self._held(change, record))
            else:
                screened.append(change)
        return screened

    def _held(self, change: Change, record: str) -> Change:
        window = int(self.limits.window.total_seconds())
        return Change(
            ChangeKind.ERROR, change.key, change.target_id, code=CODE,
            source_id=change.source_id,
            reason=f"quarantined by the write-rate breaker: {record} was written more than "
            f"{self.limits.max_writes} times within {window}s by the two-way syncs "
            f"{self.pair.replace('+', ' and ') if self.pair else ''} (their mappings may not "
            "be each other's inverse); it is not written again until released with "
            f"`specsync quarantine release {self.integration} {record}`")

    def warning(self) -> str | None:
        """What the run tells the operator, when it held records back."""
        if not self.quarantined:
            return None
        shown = ", ".join(sorted(set(self.quarantined))[:5])
        return (f"{len(set(self.quarantined))} record(s) quarantined by the write-rate "
                f"breaker (written back and forth by {self.pair}): {shown}; see "
                "`specsync quarantine`")
