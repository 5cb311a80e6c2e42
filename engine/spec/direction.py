"""Declared field direction in two-way syncs: which side of a pair owns each field.

Two syncs between the same two objects in opposite directions form a pair; each says
which side it is (`direction: outbound` / `inbound` on the sync). A field says which way
it flows: `both` (the default), or only the way of its own sync (`direction: outbound`
in the outbound sync). A field of the opposite sync that reads a one-way field's target
would carry its value back; the engine holds such a field back (never written by a run,
a plan or a spec test) and `specsync validate` says so, or calls it an error when the
two declarations contradict each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.spec.model import FieldMap, Sync

__all__ = ["DirectionProblem", "carries_back", "check_directions", "direction_problems",
           "hold_back_one_way", "opposite"]

SIDES = ("outbound", "inbound")


def _ends(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    source, target = raw.get("source"), raw.get("target")
    if isinstance(source, str) and isinstance(target, str):
        return source, target
    return None


def opposite(syncs: Mapping[str, Any], name: str) -> list[str]:
    """Syncs writing the other way between the same two objects as sync `name`.

    `syncs` maps names to `Sync` values or to raw spec mappings.
    """
    def ends(value: Any) -> tuple[str, str] | None:
        if isinstance(value, Sync):
            return (f"{value.source_connection}.{value.source_object}",
                    f"{value.target_connection}.{value.target_object}")
        return _ends(value) if isinstance(value, Mapping) else None

    mine = ends(syncs[name])
    if mine is None:
        return []
    return [other for other, value in syncs.items()
            if other != name and ends(value) == (mine[1], mine[0])]


def _overlaps(read: str, target: str) -> bool:
    return read == target or read.startswith(target + ".") or target.startswith(read + ".")


def reads(transform: Any) -> tuple[str, ...]:
    """The record fields a transform reads (nothing when it does not compile)."""
    from engine.templates import TransformError, compile_transform

    try:
        return compile_transform(transform, fast=False).fields
    except TransformError:
        return ()


def carries_back(transform: Any, one_way_target: str) -> bool:
    """Whether a field of the opposite sync, rendered by `transform`, reads the target
    field `one_way_target` (and so would write its value back to where it came from)."""
    return any(_overlaps(read, one_way_target) for read in reads(transform))


def hold_back_one_way(syncs: dict[str, Sync]) -> dict[str, Sync]:
    """The syncs with every field that would carry back a one-way field held back."""
    one_way = {name: [f for f in sync.fields if sync.direction and f.direction == sync.direction]
               for name, sync in syncs.items()}
    if not any(one_way.values()):
        return syncs
    out = dict(syncs)
    for name, sync in syncs.items():
        owners = [(other, f) for other in opposite(syncs, name) for f in one_way[other]]
        if not owners:
            continue
        fields: list[FieldMap] = []
        for f in sync.fields:
            owner = next((f"{other}.{o.target}" for other, o in owners
                          if carries_back(f.transform, o.target)), None)
            fields.append(dataclasses.replace(f, enabled=False, held_back=owner)
                          if owner else f)
        out[name] = dataclasses.replace(sync, fields=tuple(fields))
    return out


@dataclass(frozen=True)
class DirectionProblem:
    code: str
    message: str
    pointer: str
    hint: str | None = None
    warning: bool = False


def _field_rows(raw: Mapping[str, Any]) -> Iterator[tuple[str, Any, str | None]]:
    """(target, transform, declared direction) of each row of a raw sync."""
    for target, value in (raw.get("fields") or {}).items():
        if isinstance(value, Mapping) and ("value" in value or "template" in value):
            transform = {"template": value["template"], "from": list(value.get("from", []))} \
                if "template" in value else value["value"]
            declared = value.get("direction")
            yield str(target), transform, declared if isinstance(declared, str) else None
        else:
            yield str(target), value, None


def direction_problems(data: Mapping[str, Any]) -> Iterator[DirectionProblem]:
    """What is inconsistent about the declared directions of a spec's two-way pairs."""
    from engine.spec.source import pointer_join

    syncs = {k: v for k, v in (data.get("syncs") or {}).items() if isinstance(v, Mapping)}
    for name, raw in syncs.items():
        pointer = pointer_join("/syncs", name)
        side = raw.get("direction")
        pairs = opposite(syncs, name)
        rows = list(_field_rows(raw))
        declared = [(t, d) for t, _, d in rows if d not in (None, "both")]
        if side is None:
            for target, way in declared:
                yield DirectionProblem(
                    "spec.direction-undeclared",
                    f"field `{target}` flows {way} only, but sync `{name}` does not say "
                    "which side of a two-way pair it is",
                    pointer_join(pointer_join(pointer_join(pointer, "fields"), target),
                                 "direction"),
                    f"add `direction: {way}` to sync `{name}`")
            continue
        if not pairs:
            yield DirectionProblem(
                "spec.direction-no-pair",
                f"sync `{name}` says it is the {side} side of a two-way pair, but no sync "
                f"writes the other way ({raw.get('target')} -> {raw.get('source')})",
                pointer_join(pointer, "direction"), "remove `direction`, or add that sync")
            continue
        for other in pairs:
            if syncs[other].get("direction") is None:
                yield DirectionProblem(
                    "spec.direction-pair",
                    f"sync `{other}` writes the other way of `{name}` ({side}) but does not "
                    "say which side it is",
                    pointer_join(pointer_join("/syncs", other), "source"),
                    f"add `direction: {'inbound' if side == 'outbound' else 'outbound'}` "
                    f"to `{other}`")
            elif syncs[other].get("direction") == side and list(syncs).index(other) > \
                    list(syncs).index(name):  # said once, at the first of the two
                yield DirectionProblem(
                    "spec.direction-pair",
                    f"syncs `{name}` and `{other}` write opposite ways but both say "
                    f"they are {side}",
                    pointer_join(pointer, "direction"),
                    f"one of them is {'inbound' if side == 'outbound' else 'outbound'}")
        for target, way in declared:
            if way != side:
                yield DirectionProblem(
                    "spec.direction-field",
                    f"field `{target}` is declared {way} only, but `{name}` is the {side} "
                    "sync: it would write the field the way it must not flow",
                    pointer_join(pointer_join(pointer_join(pointer, "fields"), target),
                                 "direction"),
                    f"make it `direction: {side}` or `both`, or map it in the {way} sync")
        # the fields of the other side that would carry one of ours back
        for target, _, flows in rows:
            if flows != side:
                continue
            for other in pairs:
                for back, transform, back_way in _field_rows(syncs[other]):
                    if not carries_back(transform, target):
                        continue
                    at = pointer_join(pointer_join(pointer_join("/syncs", other), "fields"),
                                      back)
                    if back_way is not None:
                        yield DirectionProblem(
                            "spec.direction-conflict",
                            f"field `{back}` of `{other}` is declared {back_way} but reads "
                            f"`{target}`, which `{name}` declares {side} only",
                            pointer_join(at, "direction"),
                            f"declare `{target}` `direction: both` in `{name}`, or stop "
                            f"reading it in `{other}`")
                    else:
                        yield DirectionProblem(
                            "spec.direction-held-back",
                            f"field `{back}` of `{other}` is never written: it would carry "
                            f"back `{target}`, which `{name}` declares {side} only",
                            at, f"remove it, or declare `{target}` `direction: both`",
                            warning=True)


def check_directions(ctx: Any) -> Iterator[Any]:
    """The problems as `specsync validate` diagnostics (ctx: engine/spec/check.py's)."""
    from engine.diagnostics import Severity

    for p in direction_problems(ctx.data):
        yield ctx.diag(p.code, p.message, p.pointer, p.hint,
                       severity=Severity.WARNING if p.warning else Severity.ERROR)
