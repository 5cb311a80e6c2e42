"""Turn one source record into the target payload a sync writes: the field table, compiled.

The same `Mapper` serves `specsync test`, `plan`, `run` and workflow actions, so what a
spec test asserts is exactly what a run writes. Rules it applies:

- a field whose `enabled` is false (a setup switch) is never written;
- a transform that returns `omit` leaves the field out for that record;
- `on: create` fields and `placement` are written when the record is created, never on
  later updates (so Cinode stage changes made by people are kept); so are fields the
  target's catalog marks `create_only` and every field of an object the vendor cannot
  update (validate warns when a spec does not say `on: create` for them);
- a `required` field whose value is empty fails the record with `field.required`;
- a dotted target (`invoiceAddress.city`) builds a nested object;
- a source field the catalog declares but the record lacks reads as `none`, as in the
  filter language (vendors omit empty fields; `{{ vatnumber }}` then writes null). A name
  that is not a declared field never gets this far: `specsync validate` rejects it;
- values are converted to the target field's declared type (a linked id "9001" becomes
  the integer 9001 for an integer field), so plans and payloads compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.adapters.text import TextRules
from engine.errors import RecordError
from engine.spec.model import FieldMap
from engine.templates import OMIT, RenderContext, Transform, compile_transform
from engine.values import coerce

__all__ = ["CompiledField", "Mapper"]


_NATIVE: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "list": list,
    "object": dict}
# Exact types that already fit a target type: checked inline by `Mapper.map`, so the
# common case (a template that produced the right type) costs no call at all.
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}), "integer": frozenset({int}), "number": frozenset({int, float}),
    "boolean": frozenset({bool}), "list": frozenset({list}), "object": frozenset({dict}),
}


def _coercer(type_name: str | None) -> Any:
    """A converter to the target field's type that costs nothing when the value fits."""
    if type_name is None:
        return None
    native = _NATIVE.get(type_name)

    def convert(value: Any) -> Any:
        if value is None or (native is not None and isinstance(value, native)
                             and not (type_name in ("integer", "number")
                                      and isinstance(value, bool))):
            return value
        return coerce(value, type_name)

    return convert


@dataclass(frozen=True)
class CompiledField:
    target: str
    transform: Transform
    required: bool
    create_only: bool
    source: str | None
    type: str | None = None
    path: tuple[str, ...] = field(default=(), compare=False)
    convert: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, target: str, transform: Transform, required: bool, create_only: bool,
              source: str | None, type_name: str | None) -> CompiledField:
        return cls(target, transform, required, create_only, source, type_name,
                   tuple(target.split(".")), _coercer(type_name))

    def render(self, record: Mapping[str, Any], ctx: RenderContext) -> Any:
        try:
            value = self.transform.render(record, ctx)
        except RecordError as exc:
            if exc.field is None:
                exc.field = self.target
            raise
        if self.required and (value is None or value == "" or value == [] or value is OMIT):
            raise self.missing()
        if value is OMIT or self.convert is None:
            return value
        return self.convert(value)

    def missing(self) -> RecordError:
        """The error of a required field whose value is empty."""
        origin = f" (from {self.source})" if self.source else ""
        return RecordError("field.required",
                           f"`{self.target}` is required but the record has no value for it"
                           f"{origin}", field=self.target)


def _set(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if len(path) == 1:
        payload[path[0]] = value
        return
    node = payload
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _has(record: Mapping[str, Any], parts: Sequence[str]) -> bool:
    node: Any = record
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _put_none(record: dict[str, Any], parts: Sequence[str]) -> None:
    node = record
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, Mapping) else {}
        node[part] = child
        node = child
    node.setdefault(parts[-1], None)


def _cleaned(clean: Callable[[str, str], str], field: str, value: Any) -> Any:
    """`value` with every text in it as the target's TextRules make it."""
    if type(value) is str:
        return clean(field, value)
    if isinstance(value, dict):
        return {k: _cleaned(clean, f"{field}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(clean, field, v) for v in value]
    return value


class Mapper:
    """The compiled field table of one sync or action."""

    def __init__(self, fields: Sequence[FieldMap], placement: Mapping[str, Any] | None = None,
                 target: ObjectInfo | None = None, source: ObjectInfo | None = None,
                 text: TextRules | None = None):
        # The target's rules for control characters (engine/adapters/text.py): applied
        # to every text value before it is hashed, so the hash is of what is written.
        self._clean = text.clean if text is not None and text.active else None
        def type_of(name: str) -> str | None:
            return target.field_type(name) if target is not None else None

        def once(f: FieldMap) -> bool:
            """Written at creation only: the spec says so, or the vendor cannot update it."""
            if f.on == "create" or target is None:
                return f.on == "create"
            info = target.field(f.target)
            return "update" not in target.operations or bool(info and info.create_only)

        self.fields = tuple(
            CompiledField.build(f.target, compile_transform(f.transform), f.required,
                                once(f), f.source, type_of(f.target))
            for f in fields if f.enabled
        )
        self.placement = tuple(
            CompiledField.build(name, compile_transform(value), False, True, None,
                                type_of(name))
            for name, value in (placement or {}).items()
        )
        read = {path for f in (*self.fields, *self.placement) for path in f.transform.fields}
        if source is not None:
            read = {p for p in read if p in source.fields}
        self._top = tuple(sorted(p for p in read if "." not in p))
        self._top_set = frozenset(self._top)
        self._nested = tuple(tuple(p.split(".")) for p in sorted(read) if "." in p)
        # `map` runs once per record: each field as a flat tuple of what it needs.
        self._steps = tuple(
            (f.transform.render, f, f.target, f.path if len(f.path) > 1 else None,
             f.create_only, f.required, f.convert, _EXACT.get(f.type or "", frozenset()))
            for f in self.fields)

    def complete(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The record with declared-but-absent fields present as None (copied only if needed)."""
        if not self._nested and type(record) is dict and record.keys() >= self._top_set:
            return record  # the common case: every field the templates read is there
        missing_top = [name for name in self._top if name not in record]
        missing_nested = [parts for parts in self._nested if not _has(record, parts)]
        if not missing_top and not missing_nested:
            return record
        out = dict(record)
        for name in missing_top:
            out[name] = None
        for parts in missing_nested:
            _put_none(out, parts)
        return out

    def _render(self, fields: Sequence[CompiledField], record: Mapping[str, Any],
                ctx: RenderContext, payload: dict[str, Any]) -> None:
        for compiled in fields:
            value = compiled.render(record, ctx)
            if value is not OMIT:
                if self._clean is not None and value is not None:
                    value = _cleaned(self._clean, compiled.target, value)
                _set(payload, compiled.path, value)

    def map(self, record: Mapping[str, Any], ctx: RenderContext) -> tuple[dict[str, Any],
                                                                           dict[str, Any]]:
        """One pass over the field table: (update payload, create-only fields).

        The update payload is what later runs keep in step and compare by hash; a create
        writes it plus the create-only fields plus `placement` (see `create_from`).
        """
        record = self.complete(record)
        update: dict[str, Any] = {}
        create_only: dict[str, Any] = {}
        clean = self._clean
        # `CompiledField.render` inlined: this loop runs for every field of every record.
        for render, compiled, target, path, once, required, convert, exact in self._steps:
            try:
                value = render(record, ctx)
            except RecordError as exc:
                if exc.field is None:
                    exc.field = target
                raise
            if required and (value is None or value == "" or value == [] or value is OMIT):
                raise compiled.missing()
            if value is OMIT:
                continue
            if convert is not None and value is not None and type(value) not in exact:
                value = convert(value)
            if clean is not None and value is not None:
                value = _cleaned(clean, target, value)
            if path is None:
                (create_only if once else update)[target] = value
            else:
                _set(create_only if once else update, path, value)
        return update, create_only

    def create_from(self, record: Mapping[str, Any], ctx: RenderContext,
                    update: Mapping[str, Any], create_only: Mapping[str, Any]) -> dict[str, Any]:
        """The create payload from a `map()` result (renders placement only now)."""
        payload = {**update, **create_only}
        if self.placement:
            self._render(self.placement, self.complete(record), ctx, payload)
        return payload

    def create_payload(self, record: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
        """Every enabled field plus placement: what a new target record gets."""
        payload: dict[str, Any] = {}
        record = self.complete(record)
        self._render(self.fields, record, ctx, payload)
        self._render(self.placement, record, ctx, payload)
        return payload

    def update_payload(self, record: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
        """The fields later runs keep in step (placement and create-only fields excluded)."""
        payload: dict[str, Any] = {}
        record = self.complete(record)
        self._render([f for f in self.fields if not f.create_only], record, ctx, payload)
        return payload

    def create_only_targets(self) -> list[str]:
        return [f.target for f in (*self.fields, *self.placement) if f.create_only]
