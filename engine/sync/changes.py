"""What a sync decides for each source record: the values `plan` shows and `run` applies.

A `Change` is one record's fate in one run, its `ChangeKind`: create, update, adopt (an
existing target found by lookup), skip (nothing changed), deactivate or delete (it left
the filter), filtered (never matched), or error (recorded and retried next run). `Plan` is
the serialisable list of them with counts, so a plan can be snapshot-tested and compared
with what a run did.

`ChangeKind` is a `StrEnum`: a kind equals, hashes and prints as its string, so run counts,
the state store and JSON keep the words they always had; `to_dict` writes plain strings.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from engine.errors import RecordError, RecordSkipped
from engine.state.base import CreatedValues

if TYPE_CHECKING:
    from engine.sync.merge import MergeOutcome

__all__ = ["KINDS", "Change", "ChangeKind", "FieldChange", "Plan", "diff_fields",
           "payload_hash", "source_hash", "source_hasher"]


class ChangeKind(StrEnum):
    """What a run does with one source record."""

    CREATE = "create"
    UPDATE = "update"
    ADOPT = "adopt"  # an existing target found by external id or `adopt_by`: linked, not created
    DEACTIVATE = "deactivate"  # it left the filter: the `deactivate` fields are written
    DELETE = "delete"  # it left the filter and the sync deletes
    SKIP = "skip"  # what would be written equals what was last written
    FILTERED = "filtered"  # the filter does not select it (and nothing is linked to undo)
    ERROR = "error"  # recorded with its reason and retried next run

    @property
    def writes(self) -> bool:
        """Whether the kind sends something to the target (an adopt may send nothing)."""
        return self in _WRITING


_WRITING = frozenset({ChangeKind.CREATE, ChangeKind.UPDATE, ChangeKind.ADOPT,
                      ChangeKind.DEACTIVATE, ChangeKind.DELETE})
_QUIET = frozenset({ChangeKind.SKIP, ChangeKind.FILTERED})  # counted, never listed in a plan

KINDS: tuple[ChangeKind, ...] = tuple(ChangeKind)  # the order plans list their counts in

_HASH_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def payload_hash(payload: Mapping[str, Any]) -> str:
    """A stable content hash of what is written: key order and dict identity do not matter."""
    blob = orjson.dumps(payload, option=_HASH_OPTIONS, default=_default)
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def source_hash(record: Mapping[str, Any], salt: bytes) -> str:
    """A content hash of a source record under a sync's fingerprint (`salt`): equal to
    the one on its link, the record maps to what was last written, so a run skips it
    without mapping (engine/sync/decide.py)."""
    return source_hasher(salt)(record)


def source_hasher(salt: bytes) -> Callable[[Mapping[str, Any]], str]:
    """`source_hash` under one salt, for every record of a run: the salt is hashed once
    and each record's hash continues from a copy of that state (same values)."""
    salted = hashlib.blake2b(salt, digest_size=16)
    dumps, default = orjson.dumps, _default

    def hash_of(record: Mapping[str, Any]) -> str:
        try:  # keys in the adapter's order: another order only costs one mapping
            blob = dumps(record, default=default)
        except TypeError:  # a key that is not a string
            blob = dumps(record, option=_HASH_OPTIONS, default=default)
        state = salted.copy()
        state.update(blob)
        return state.hexdigest()

    return hash_of


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": _plain(self.old), "new": _plain(self.new)}


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    key: str
    target_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[FieldChange, ...] = ()
    reason: str = ""  # why: the error message, the filter that dropped it, ...
    code: str = ""  # the error code for kind "error"
    source_id: str | None = None
    hash: str = ""  # hash of the fields later runs compare (the update payload)
    source_hash: str | None = None  # the source record's (`source_hash`), kept on its link
    # Fields the target sets at creation only whose source value changed since: not
    # written (the target cannot take them), reported by plan, run and status.
    held: tuple[FieldChange, ...] = ()
    created: CreatedValues | None = None  # the creation values to remember, if changed
    # A merged two-way record (merge.py): the bases and conflicts its write commits.
    merge: MergeOutcome | None = None

    @classmethod
    def skip(cls, key: str, target_id: str | None, source_id: str | None) -> Change:
        """`Change(ChangeKind.SKIP, key, target_id, source_id=source_id)`, for the hot path.

        A no-change reconcile makes one per record; filling the instance dict directly
        costs half of the frozen dataclass's `__init__` (nine `object.__setattr__`). The
        fields left at their defaults are not stored: read, they are the class's
        defaults (the dataclass keeps those on the class), so the change is the same.
        """
        change = object.__new__(cls)
        change.__dict__.update(kind=_SKIP, key=key, target_id=target_id, payload={},
                               source_id=source_id)
        return change

    @classmethod
    def failure(cls, key: str, error: RecordError, source_id: str | None = None) -> Change:
        """The error change of a record that failed: the error's code, its message and
        the field it concerns; a record the spec skips (`RecordSkipped`) is filtered."""
        where = f" (field {error.field})" if error.field else ""
        kind = ChangeKind.FILTERED if isinstance(error, RecordSkipped) else ChangeKind.ERROR
        return cls(kind, key, code=error.code, reason=f"{error.message}{where}",
                   source_id=source_id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": str(self.kind), "key": self.key}  # a plain str
        if self.target_id is not None:
            out["target_id"] = self.target_id
        if self.fields:
            out["fields"] = [f.to_dict() for f in self.fields]
        if self.code:
            out["code"] = self.code
        if self.reason:
            out["reason"] = self.reason
        if self.held:
            out["held"] = [f.to_dict() for f in self.held]
        return out


_SKIP = ChangeKind.SKIP


@dataclass
class Plan:
    integration: str
    sync: str
    changes: list[Change] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    truncated: bool = False  # more changes than kept for display; counts are complete
    held: int = 0  # records with a change to a field the target sets at creation only
    warnings: list[str] = field(default_factory=list)  # e.g. a safeguard a run would trip
    # linked records the last complete full read did not list (engine/sync/source_deletes.py)
    deleted_in_source: int = 0

    def add(self, change: Change, keep: bool = True) -> None:
        self.counts[change.kind] += 1
        if change.held:
            self.held += 1
        if keep:
            self.changes.append(change)

    def to_dict(self) -> dict[str, Any]:
        visible = [c for c in self.changes if c.kind not in _QUIET or c.held]
        out: dict[str, Any] = {
            "integration": self.integration,
            "sync": self.sync,
            "counts": {k.value: self.counts.get(k, 0) for k in KINDS},
            "changes": [c.to_dict() for c in sorted(visible, key=lambda c: (c.kind, c.key))],
            "truncated": self.truncated,
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }
        if self.held:
            out["held"] = self.held
        if self.deleted_in_source:
            out["deleted_in_source"] = self.deleted_in_source
        return out


def diff_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Field-by-field old -> new for the fields a write sets (nested objects compared whole)."""
    old = old or {}
    changes = []
    for name in sorted(new):
        before = old.get(name)
        after = new[name]
        if _plain(before) != _plain(after):
            changes.append(FieldChange(name, before, after))
    return tuple(changes)
