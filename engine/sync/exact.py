"""Exact plans: `specsync plan --out FILE`, then `specsync run --plan FILE` does that plan.

A plan file holds, per sync, every change the plan found that writes (or fails), each
with the hashes it was computed from: what would be written (`payload`), the source
record as read (`source`) and the target's values of the written fields (`target`), and
the position it was planned from (spec hash, the sync's fingerprint and cursor). It keeps
hashes and field names only: no record values (personal data) reach the file.

`run --plan` checks the spec and the positions, then plans again and compares: any
record whose change differs (another payload, kind or target, or a write the plan did
not have) makes the plan stale, and the run is refused naming those records and why
(the source record changed, the target changed, its links changed). Otherwise it runs,
and a guard in the run holds back (records as failing, retried by the next run) any
change that still differs from the plan when its batch is written: nothing is written
that the plan did not say.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.adapters.base import Record
from engine.errors import RecordError, SpecsyncError
from engine.sync.changes import Change, ChangeKind, Plan, payload_hash
from engine.sync.planned import planned_id

__all__ = ["PLAN_FORMAT", "ExactPlan", "PlannedChange", "PlannedSync", "Recorder",
           "RunGuard", "StaleRecord", "load_plan", "stale_records"]

PLAN_FORMAT = 1
_ABSENT = "absent"


def _hash(value: Any) -> str:
    return payload_hash({"v": value})


@dataclass(frozen=True)
class PlannedChange:
    kind: str
    key: str
    target_id: str | None
    payload: str  # hash of what is written
    source: str  # hash of the source record read
    target: str  # hash of the target's values of the written fields ("absent": none)
    fields: tuple[str, ...] = ()  # the fields it changes (names only)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "target_id": self.target_id,
                "fields": list(self.fields),
                "hashes": {"payload": self.payload, "source": self.source,
                           "target": self.target}}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PlannedChange:
        hashes = raw["hashes"]
        return cls(str(raw["kind"]), str(raw["key"]), raw.get("target_id"),
                   str(hashes["payload"]), str(hashes["source"]), str(hashes["target"]),
                   tuple(raw.get("fields") or ()))


@dataclass
class PlannedSync:
    sync: str
    full: bool
    cursor: str | None
    fingerprint: str | None  # the stored one the plan read from
    counts: dict[str, int]
    changes: dict[str, PlannedChange] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"sync": self.sync, "full": self.full,
                "from": {"cursor": self.cursor, "fingerprint": self.fingerprint},
                "counts": self.counts,
                "changes": [c.to_dict() for c in self.changes.values()]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PlannedSync:
        changes = [PlannedChange.from_dict(c) for c in raw.get("changes") or ()]
        return cls(str(raw["sync"]), bool(raw.get("full")), raw["from"].get("cursor"),
                   raw["from"].get("fingerprint"), dict(raw.get("counts") or {}),
                   {c.key: c for c in changes})


@dataclass
class ExactPlan:
    integration: str
    spec_hash: str
    syncs: list[PlannedSync]

    def to_dict(self) -> dict[str, Any]:
        return {"specsync_plan": PLAN_FORMAT, "integration": self.integration,
                "spec_hash": self.spec_hash, "syncs": [s.to_dict() for s in self.syncs]}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")


def load_plan(path: str | Path) -> ExactPlan:
    """A plan file written by `plan --out`; a SpecsyncError saying what is wrong if not."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecsyncError(f"{path}: no such plan file") from None
    except (OSError, ValueError) as exc:
        raise SpecsyncError(f"{path}: not a plan file written by `specsync plan --out` "
                            f"({exc})") from None
    if not isinstance(raw, dict) or raw.get("specsync_plan") != PLAN_FORMAT:
        raise SpecsyncError(f"{path}: not a plan file written by `specsync plan --out` "
                            f"(format {PLAN_FORMAT})")
    try:
        return ExactPlan(str(raw["integration"]), str(raw["spec_hash"]),
                         [PlannedSync.from_dict(s) for s in raw["syncs"]])
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpecsyncError(f"{path}: a damaged plan file (missing {exc})") from None


def _target_hash(change: Change) -> str:
    if change.kind is ChangeKind.CREATE:
        return _ABSENT
    return _hash(sorted((f.field, f.old) for f in change.fields))


class Recorder:
    """Collects the planned changes of one sync as `plan_sync` decides its batches."""

    def __init__(self, key_of: Callable[[Record], str]) -> None:
        self.key_of = key_of
        self.changes: dict[str, PlannedChange] = {}

    def batch(self, records: Sequence[Record], changes: Iterable[Change]) -> None:
        sources: dict[str, str] = {}
        for record in records:
            try:
                sources[self.key_of(record)] = _hash(dict(record))
            except RecordError:
                continue
        for change in changes:
            if change.kind in (ChangeKind.SKIP, ChangeKind.FILTERED):
                continue
            self.changes[change.key] = PlannedChange(
                str(change.kind), change.key, change.target_id, payload_hash(change.payload),
                sources.get(change.key, _ABSENT), _target_hash(change),
                tuple(f.field for f in change.fields))

    def planned(self, plan: Plan, *, full: bool, cursor: str | None,
                fingerprint: str | None) -> PlannedSync:
        return PlannedSync(plan.sync, full, cursor, fingerprint,
                           {str(k): int(v) for k, v in plan.counts.items()}, self.changes)


@dataclass(frozen=True)
class StaleRecord:
    sync: str
    key: str
    why: str


def _why(old: PlannedChange | None, new: PlannedChange | None) -> str:
    if old is None:
        assert new is not None
        return f"not in the plan: it would now {new.kind}"
    if new is None:
        return f"planned to {old.kind}, now nothing to write"
    if old.source != new.source:
        return f"the source record changed (planned to {old.kind}, now {new.kind})"
    if old.target != new.target or old.target_id != new.target_id:
        return f"the target record changed (planned to {old.kind}, now {new.kind})"
    return f"its links changed (planned to {old.kind}, now {new.kind})"


def stale_records(planned: PlannedSync, now: PlannedSync) -> list[StaleRecord]:
    """The records whose change made again differs from the planned one."""
    out = []
    for key in sorted(set(planned.changes) | set(now.changes)):
        old, new = planned.changes.get(key), now.changes.get(key)
        if old is not None and new is not None and (old.kind, old.target_id, old.payload,
                                                    old.source, old.target) == (
                new.kind, new.target_id, new.payload, new.source, new.target):
            continue
        if old is not None and new is None and old.kind == "error":
            continue  # a planned failure that now goes through as unchanged: nothing to do
        out.append(StaleRecord(planned.sync, key, _why(old, new)))
    return out


def _stand_in(value: Any, created: Mapping[str, str]) -> Any:
    """`value` with target ids this run created put back as the plan's placeholders."""
    if isinstance(value, Mapping):
        return {k: _stand_in(v, created) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stand_in(v, created) for v in value]
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value) in created:
        return created[str(value)]
    return value


class RunGuard:
    """Lets through only the changes a plan file has; the rest fail as `plan.stale`."""

    def __init__(self, plan: ExactPlan) -> None:
        self.plan = {s.sync: s for s in plan.syncs}
        self.created: dict[str, str] = {}  # target id -> the plan's placeholder
        self.held: list[StaleRecord] = []

    def made(self, sync: str, links: Mapping[str, str]) -> None:
        """The target ids a sync's creates made (key -> id), for the syncs after it."""
        for key, target_id in links.items():
            self.created[str(target_id)] = planned_id(sync, key)

    def __call__(self, sync: str, changes: list[Change]) -> list[Change]:
        planned = self.plan[sync].changes
        out = []
        for change in changes:
            if not change.kind.writes:
                out.append(change)
                continue
            want = planned.get(change.key)
            got = payload_hash(_stand_in(change.payload, self.created)) \
                if self.created else payload_hash(change.payload)
            if want is not None and want.kind == change.kind and want.payload == got and \
                    want.target_id == change.target_id:
                out.append(change)
                continue
            why = "not in the plan" if want is None else "changed since the plan"
            self.held.append(StaleRecord(sync, change.key, why))
            out.append(Change.failure(change.key, RecordError(
                "plan.stale", f"{why}: not written by `run --plan` (a plain run retries it)"),
                change.source_id))
        return out
