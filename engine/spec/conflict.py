"""Who keeps a two-way field that both systems changed since the last sync (S28).

In a two-way pair (engine/spec/direction.py) a field that flows both ways and that the
opposite sync carries back is *merged* field by field (engine/sync/merge.py): a change
made on one side only always wins, whichever sync runs first; only when both sides
changed the same field to different values does a policy decide, and the conflict is
recorded. The policy is `conflict:` on the field or on its sync:

- `source_wins`: this sync's source keeps its value;
- `target_wins`: this sync's target keeps its value;
- `newest`: the record its own system stamped later (both objects need a modification
  timestamp, a change-tracking field of their catalogs); never a clock of ours.

Said once, on either sync of the pair: the opposite sync's counterpart follows (its
`source_wins` is our `target_wins`). Said nowhere, the source of the pair's outbound
sync (the system of record) wins. Two declarations that contradict are an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from engine.spec.direction import carries_back, opposite
from engine.spec.model import FieldMap, Sync

__all__ = ["check_conflicts", "conflict_problems", "with_merge"]

POLICIES = {"source_wins": "source", "target_wins": "target", "newest": "newest"}
_INVERSE = {"source": "target", "target": "source", "newest": "newest"}
_NAMES = {policy: name for name, policy in POLICIES.items()}


def _counterparts(syncs: Mapping[str, Sync], name: str, f: FieldMap
                  ) -> list[tuple[Sync, FieldMap]]:
    """The fields of the opposite syncs that carry `f`'s target back."""
    return [(syncs[other], g) for other in opposite(syncs, name)
            for g in syncs[other].fields
            if g.enabled and g.held_back is None and g.direction == "both"
            and carries_back(g.transform, f.target)]


def _declared(sync: Sync, f: FieldMap) -> str | None:
    said = f.conflict or sync.conflict
    return POLICIES.get(said) if said else None


def with_merge(syncs: dict[str, Sync]) -> dict[str, Sync]:
    """The syncs with their merged two-way fields and each one's resolved policy."""
    out = dict(syncs)
    for name, sync in syncs.items():
        if sync.direction is None:
            continue
        merge: dict[str, str] = {}
        for f in sync.fields:
            if not f.enabled or f.held_back is not None or f.direction != "both" \
                    or f.on == "create":
                continue
            pairs = _counterparts(syncs, name, f)
            if not pairs:
                continue  # nothing carries it back: the source owns it
            policy = _declared(sync, f)
            if policy is None:
                theirs = next((p for other, g in pairs if (p := _declared(other, g))), None)
                policy = _INVERSE[theirs] if theirs else \
                    ("source" if sync.direction == "outbound" else "target")
            merge[f.target] = policy
        if merge:
            out[name] = dataclasses.replace(sync, merge=merge)
    return out


def _said(raw: Mapping[str, Any], field: Any) -> str | None:
    """A raw field's (or else its raw sync's) declared policy."""
    if isinstance(field, Mapping) and isinstance(field.get("conflict"), str):
        return str(field["conflict"])
    value = raw.get("conflict")
    return value if isinstance(value, str) else None


def conflict_problems(data: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(code, message, pointer, hint) of each misplaced or contradicting `conflict:`."""
    from engine.spec.source import pointer_join

    syncs = {k: v for k, v in (data.get("syncs") or {}).items() if isinstance(v, Mapping)}
    for name, raw in syncs.items():
        pointer = pointer_join("/syncs", name)
        given = raw.get("fields")
        fields: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        two_way = raw.get("direction") is not None and opposite(syncs, name)
        if "conflict" in raw and not two_way:
            yield ("spec.conflict-no-pair",
                   f"sync `{name}` says who wins a conflict, but it is not a declared side "
                   "of a two-way pair", pointer_join(pointer, "conflict"),
                   "add `direction: outbound` or `inbound` (and the opposite sync), or "
                   "remove `conflict`")
        for target, value in fields.items():
            if not isinstance(value, Mapping) or "conflict" not in value:
                continue
            at = pointer_join(pointer_join(pointer_join(pointer, "fields"), target),
                              "conflict")
            if not two_way:
                yield ("spec.conflict-no-pair",
                       f"field `{target}` says who wins a conflict, but sync `{name}` is "
                       "not a declared side of a two-way pair", at,
                       "add `direction` to the sync, or remove `conflict`")
            elif value.get("direction", "both") != "both":
                yield ("spec.conflict-one-way",
                       f"field `{target}` flows {value['direction']} only: only one side "
                       "writes it, so there is no conflict to decide", at,
                       "remove `conflict`, or make the field `direction: both`")
        if not two_way:
            continue
        yield from _contradictions(syncs, name, pointer, fields)


def _both_ways(value: Any) -> bool:
    return not isinstance(value, Mapping) or value.get("direction", "both") == "both"


def _contradictions(syncs: Mapping[str, Mapping[str, Any]], name: str, pointer: str,
                    fields: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """Winners the two syncs of a pair would pick differently, each said once (at the
    first sync of the two, at the declaration that says it)."""
    from engine.spec.source import pointer_join

    order = list(syncs)
    raw = syncs[name]
    said: set[str] = set()
    for target, value in fields.items():
        mine = _said(raw, value)
        if mine not in POLICIES or not _both_ways(value):
            continue
        where = pointer_join(pointer_join(pointer_join(pointer, "fields"), target),
                             "conflict") if isinstance(value, Mapping) and "conflict" in value \
            else pointer_join(pointer, "conflict")
        for other in opposite(syncs, name):
            if order.index(other) < order.index(name) or where in said:
                continue
            theirs_raw = syncs[other]
            for back, back_value in (theirs_raw.get("fields") or {}).items():
                transform = back_value.get("value", back_value.get("template")) \
                    if isinstance(back_value, Mapping) else back_value
                theirs = _said(theirs_raw, back_value)
                if theirs not in POLICIES or not _both_ways(back_value) or \
                        not carries_back(transform, str(target)) or \
                        POLICIES[theirs] == _INVERSE[POLICIES[str(mine)]]:
                    continue
                said.add(where)
                yield ("spec.conflict-contradiction",
                       f"`{name}` says `{mine}` for field `{target}`, but `{other}` says "
                       f"`{theirs}` for `{back}`, which carries it back: the two syncs would "
                       "pick different winners", where,
                       f"say it once, or make `{other}`'s "
                       f"`{_NAMES[_INVERSE[POLICIES[str(mine)]]]}`")
                break


def _newest_pointers(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(sync name, pointer) of each `conflict: newest`."""
    from engine.spec.source import pointer_join

    for name, raw in (data.get("syncs") or {}).items():
        if not isinstance(raw, Mapping):
            continue
        pointer = pointer_join("/syncs", name)
        if raw.get("conflict") == "newest":
            yield name, pointer_join(pointer, "conflict")
        fields = raw.get("fields")
        for target, value in (fields.items() if isinstance(fields, Mapping) else ()):
            if isinstance(value, Mapping) and value.get("conflict") == "newest":
                yield name, pointer_join(pointer_join(pointer_join(pointer, "fields"),
                                                      target), "conflict")


def check_conflicts(ctx: Any) -> Iterator[Any]:
    """The problems as `specsync validate` diagnostics (ctx: engine/spec/check.py's),
    with `newest` checked against the catalogs: both objects need a timestamp."""
    for code, message, pointer, hint in conflict_problems(ctx.data):
        yield ctx.diag(code, message, pointer, hint)
    syncs = ctx.data.get("syncs") or {}
    for name, pointer in _newest_pointers(ctx.data):
        raw = syncs[name]
        for end in ("source", "target"):
            resolved = ctx.object_of(raw.get(end))
            if resolved is None or resolved[2] is None:
                continue
            conn, obj, info = resolved
            if not info.cursor_fields:
                yield ctx.diag(
                    "spec.conflict-newest",
                    f"`newest` compares the systems' own modification timestamps, but "
                    f"`{conn}.{obj}` has none", pointer,
                    "say `source_wins` or `target_wins`: no clock of ours decides")
