"""Field-level merge of a two-way record: each side's own change survives (S28).

A sync of a two-way pair writes a changed record's two-way fields (`Sync.merge`,
engine/spec/conflict.py) one by one, against the values both systems last agreed on:
the *base*, kept per system record and field as a hash (never the value: they may be
personal data) in the state store's `field_bases`. Both syncs of the pair keep it, each
for its target's fields and for the source fields those were mapped from, so a change
carried either way is the agreed value for both afterwards. For each field, with `m`
what this sync maps from its source, `t` what its target holds and `b` the base:

- m = t                 -> agreed: nothing to write, the base moves to it;
- no base yet           -> as before merging: m is written;
- m = b (t changed)     -> the target's own change: kept (the opposite sync carries it);
- t = b (m changed)     -> the source's own change: written;
- both changed, m != t  -> a conflict: the policy names the winner. A source win is
  written and recorded (`conflicts`); a target win is left for the opposite sync, which
  meets the same conflict from its side and records it when it carries the value.

Values compare as the target's catalog types them, an empty string as none. Fields of
one nested object (`address.*`) are written together, so a target that replaces the
whole object when one part is sent keeps the parts it owns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.state.base import Conflict, FieldBase
from engine.state.created_values import encode_values
from engine.sync.changes import FieldChange, diff_fields
from engine.sync.mapping import CompiledField
from engine.values import coerce

__all__ = ["MergeOutcome", "Merger", "digest"]


def get_path(record: Mapping[str, Any] | None, path: Sequence[str]) -> Any:
    node: Any = record
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _has(record: Mapping[str, Any], path: Sequence[str]) -> bool:
    node: Any = record
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _set(payload: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = payload
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _plain(value: Any, type_name: str | None) -> Any:
    if value is None or value == "":
        return None
    value = coerce(value, type_name)
    return None if value == "" else value


def digest(value: Any, type_name: str | None = None) -> str:
    """The hash a base keeps of a value (typed as its field, "" as none)."""
    blob = encode_values(_plain(value, type_name)).encode()
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


def _stamp(record: Mapping[str, Any] | None, info: ObjectInfo | None) -> datetime | None:
    """The system's own modification time of a record (its first change-tracking field)."""
    if record is None or info is None or not info.cursor_fields:
        return None
    value = coerce(record.get(info.cursor_fields[0]), "datetime")
    return value if isinstance(value, datetime) else None


@dataclass(frozen=True)
class MergeOutcome:
    """What a merged record leaves to commit once written: the bases both systems' records
    now agree on (a target record created by this write has no id yet: None), and the
    conflicts it decided for its source."""

    bases: tuple[FieldBase, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    # (opposite sync, this record's source id): its link to this source record no longer
    # says what its target holds once this write lands (stale, see `Merger.stale`)
    stale: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Merged:
    payload: dict[str, Any]
    fields: tuple[FieldChange, ...]
    outcome: MergeOutcome
    kept: tuple[str, ...] = field(default=())  # fields the target keeps (its own change)


class Merger:
    """Merges one sync's records (see the module docstring)."""

    def __init__(self, *, integration: str, sync: str, policies: Mapping[str, str],
                 fields: Sequence[CompiledField], source_object: str, target_object: str,
                 source_info: ObjectInfo | None, target_info: ObjectInfo | None,
                 source_system: str, target_system: str, outbound: bool, at: datetime,
                 opposite: Sequence[str] = (), redact: Callable[[str], str] = str) -> None:
        self.integration, self.sync = integration, sync
        self.policies = policies
        self.fields = [f for f in fields if not f.create_only]
        self.merged = [f for f in self.fields if f.target in policies]
        self.source_object, self.target_object = source_object, target_object
        self.source_info, self.target_info = source_info, target_info
        self.source_system, self.target_system = source_system, target_system
        self.outbound = outbound  # ties of `newest` go to the outbound sync's source
        self.redact = redact
        self.at = at  # the run's time, on the conflicts it records
        self.opposite = tuple(opposite)

    def _source_type(self, path: str) -> str | None:
        return self.source_info.field_type(path) if self.source_info else None

    def agreed(self, record: Mapping[str, Any], update: Mapping[str, Any],
               source_id: str | None, target_id: str | None,
               fields: Sequence[CompiledField] | None = None) -> tuple[FieldBase, ...]:
        """The bases of fields whose target now holds what the source maps to."""
        target: dict[str, str] = {}
        source: dict[str, str] = {}
        for f in self.merged if fields is None else fields:
            value = get_path(update, f.path)
            target[f.target] = digest(value, f.type)
            for read in f.transform.fields:
                source[read] = digest(get_path(record, read.split(".")),
                                      self._source_type(read))
        bases = [FieldBase(self.target_object, target_id, target)]
        if source_id is not None and source:
            bases.append(FieldBase(self.source_object, source_id, source))
        return tuple(bases) if target else ()

    def _winner(self, policy: str, record: Mapping[str, Any],
                current: Mapping[str, Any]) -> str:
        if policy != "newest":
            return policy
        ours, theirs = _stamp(record, self.source_info), _stamp(current, self.target_info)
        if ours is not None and theirs is not None and ours != theirs:
            return "source" if ours > theirs else "target"
        return "source" if self.outbound else "target"

    def merge(self, key: str, record: Mapping[str, Any], update: Mapping[str, Any],
              current: Mapping[str, Any], base: Mapping[str, str] | None,
              source_id: str | None, target_id: str) -> Merged:
        """The payload to write for a linked record whose target holds `current`."""
        base = base or {}
        final: dict[str, Any] = {}
        write: set[str] = set()
        agree: list[CompiledField] = []
        kept: list[str] = []
        conflicts: list[Conflict] = []
        for f in self.fields:
            if not _has(update, f.path):
                continue  # omitted for this record
            mine = get_path(update, f.path)
            theirs = get_path(current, f.path)
            same = digest(mine, f.type) == digest(theirs, f.type)
            if f.target not in self.policies:
                final[f.target] = mine
                if not same or (self.target_info is not None and
                                (info := self.target_info.field(f.target)) is not None
                                and info.write_only):
                    write.add(f.target)
                continue
            was = base.get(f.target)
            if same:
                final[f.target] = mine
                agree.append(f)
                continue
            if was is None or digest(theirs, f.type) == was:
                final[f.target] = mine  # no base yet, or only the source changed
                write.add(f.target)
                agree.append(f)
                continue
            if digest(mine, f.type) == was:
                final[f.target] = theirs  # only the target changed: its own change
                kept.append(f.target)
                continue
            winner = self._winner(self.policies[f.target], record, current)
            if winner == "target":
                final[f.target] = theirs  # the opposite sync carries and records it
                kept.append(f.target)
                continue
            final[f.target] = mine
            write.add(f.target)
            agree.append(f)
            conflicts.append(Conflict(
                self.integration, self.sync, key, f.target,
                self.redact(encode_values(_plain(mine, f.type))),
                self.redact(encode_values(_plain(theirs, f.type))),
                self.source_system, self._policy_name(f.target), self.at))
        # a nested object is written whole: its parts the target keeps go with it
        tops = {f.path[0] for f in self.fields if f.target in write and len(f.path) > 1}
        payload: dict[str, Any] = {}
        for f in self.fields:
            if f.target in final and (f.target in write or (len(f.path) > 1
                                                            and f.path[0] in tops)):
                _set(payload, f.path, final[f.target])
        bases = self.agreed(record, update, source_id, target_id, agree) if agree else ()
        return Merged(payload, diff_fields(current, payload) if payload else (),
                      MergeOutcome(bases, tuple(conflicts),
                                   self.stale(source_id) if payload else ()), tuple(kept))

    def stale(self, source_id: str | None) -> tuple[tuple[str, str], ...]:
        """The opposite syncs' links to this record's source, made stale by writing its
        target: their hash says what they last wrote, and this write carried the
        target's own changes into their source. Cleared, the next run of each looks
        at the record again (and finds it agreed) instead of skipping it as unchanged,
        which would miss a later source edit back to the value it last wrote."""
        if source_id is None:
            return ()
        return tuple((other, source_id) for other in self.opposite)

    def _policy_name(self, target: str) -> str:
        policy = self.policies[target]
        return "newest" if policy == "newest" else f"{policy}_wins"
