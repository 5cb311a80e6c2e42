"""The target metadata a spec refers to: pipelines, stages, currencies, offices, roles, tags.

A catalog field with `ref: <kind>` holds an id (or name) of the system's own metadata.
The spec refers to such metadata wherever it sets one of those fields without reading
the record:

- a constant or a setup value (`pipelineStageId: "{{ setup.project_default_stage_id }}"`,
  `roles: "{{ setup.roles }}"`): that value, each item of a list;
- a setup table a template looks values up in (`select_tags(setup.user_tags)`,
  `lookup(setup.payment_terms_tags)`): every value of the table;
- a filter comparing a `ref` field of the source with constants or setup values
  (`currentStageId in setup.project_stages`);
- a setup value a template puts at a nested `ref` field of a value it builds: a Kleer
  invoice's `rows` template whose rows fall back to `setup.default_product_id` for
  `product.id` (engine/templates/literal_paths.py). Workflow actions' field tables count
  as much as syncs'.

A `ref_parent` field (a stage's pipeline) gives each reference its parent when the
same table sets it. Values that come from the records themselves are not known before
a run and are not listed. Every reference remembers where the spec sets it (the setup
entry when it comes from setup): `check` and `validate` name that line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import AdapterRegistry, default_registry
from engine.rules import nodes
from engine.rules.parse import parse_rule
from engine.spec.model import Action, Spec, Sync
from engine.spec.source import pointer_join
from engine.templates import compile_transform
from engine.templates.literal_paths import setup_names_at

__all__ = ["SpecReference", "spec_references"]


@dataclass(frozen=True)
class SpecReference:
    connection: str
    kind: str  # the catalog's `ref`: pipelines, pipeline_stages, currencies, ...
    value: str
    parent: str | None  # a stage's pipeline, when the spec names it
    sync: str
    field: str  # the field it is set in ("placement.pipelineStageId", "filter currentStageId")
    pointer: str  # where the spec sets the value
    setup: str | None = None  # the setup entry it comes from

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.connection, self.kind, self.value, self.parent)

    @property
    def where(self) -> str:
        """`setup.x` or the field, in words."""
        return f"setup.{self.setup}" if self.setup else f"{self.sync}: {self.field}"


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _items(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _items(item, pointer_join(pointer, str(key)))
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            yield from _items(item, pointer_join(pointer, n))
    elif value is not None and value != "":
        yield _text(value), pointer


def _values(transform: Any, pointer: str, setup: Mapping[str, Any]
            ) -> list[tuple[str, str, str | None]]:
    """(value, pointer, setup name) for each value a field's transform can set without
    the record deciding it; [] when the records decide."""
    compiled = compile_transform(transform)
    if compiled.kind == "constant":
        return [(v, p, None) for v, p in _items(transform, pointer)]
    names = [n for n in compiled.setup_names if n in setup]
    if compiled.fields and not any(isinstance(setup[n], (Mapping, list)) for n in names):
        return []
    out: list[tuple[str, str, str | None]] = []
    for name in names:
        if compiled.fields and not isinstance(setup[name], (Mapping, list)):
            continue  # a scalar beside record values: not what the field holds
        out.extend((v, p, name) for v, p in _items(setup[name], f"/setup/{name}"))
    return out


def _table(sync: Sync) -> Iterator[tuple[str, str, Any, str]]:
    """(group, field, transform, pointer) for placement and field table entries."""
    for name, transform in sync.placement.items():
        yield "placement", name, transform, pointer_join(sync.pointer, f"placement/{name}")
    for field_map in sync.fields:
        if field_map.enabled:
            yield "fields", field_map.target, field_map.transform, field_map.pointer


def _nested_references(spec: Spec, connection: str, owner: str, info: ObjectInfo,
                       rows: list[tuple[str, str, Any, str]]) -> Iterator[SpecReference]:
    """Setup values put at a nested `ref` field (`rows.product.id`) of a built value."""
    for _, name, transform, _ in rows:
        if not isinstance(transform, str):
            continue
        prefix = f"{name}."
        for path, field in info.fields.items():
            if not path.startswith(prefix) or not field.ref:
                continue
            nested = path[len(prefix):].split(".")
            for setup_name in setup_names_at(transform, nested):
                value = spec.setup.get(setup_name)
                if value is None or isinstance(value, (Mapping, list)):
                    continue
                yield SpecReference(connection, field.ref, _text(value), None, owner, path,
                                    f"/setup/{setup_name}", setup_name)


def _action_references(spec: Spec, action: Action, info: ObjectInfo) -> list[SpecReference]:
    rows = [("fields", f.target, f.transform, f.pointer) for f in action.fields if f.enabled]
    return list(_nested_references(spec, action.target_connection, f"action {action.name}",
                                   info, rows))


def _target_references(spec: Spec, sync: Sync, info: ObjectInfo) -> list[SpecReference]:
    rows = list(_table(sync))
    found: dict[tuple[str, str], list[tuple[str, str, str | None]]] = {}
    for group, name, transform, pointer in rows:
        field = info.field(name)
        if field is not None and (field.ref or any(
                (f := info.field(n)) is not None and f.ref_parent == name
                for _, n, _, _ in rows)):
            found[(group, name)] = _values(transform, pointer, spec.setup)
    out: list[SpecReference] = []
    for (group, name), values in found.items():
        field = info.field(name)
        if field is None or not field.ref:
            continue
        parent = None
        if field.ref_parent:
            parents = found.get((group, field.ref_parent)) or \
                found.get(("fields", field.ref_parent)) or []
            parent = parents[0][0] if len(parents) == 1 else None
        label = f"placement.{name}" if group == "placement" else name
        out.extend(SpecReference(sync.target_connection, field.ref, value, parent, sync.name,
                                 label, pointer, setup)
                   for value, pointer, setup in values)
    out.extend(_nested_references(spec, sync.target_connection, sync.name, info, rows))
    return out


def _filter_references(spec: Spec, sync: Sync, info: ObjectInfo) -> list[SpecReference]:
    if not sync.filter:
        return []
    try:
        rule = parse_rule(sync.filter)
    except Exception:  # validate reports it
        return []
    out: list[SpecReference] = []
    pointer = pointer_join(sync.pointer, "filter")
    for node in _walk(rule.expr):
        if not isinstance(node, nodes.Compare):
            continue
        field = info.field(node.field.name)
        if field is None or not field.ref:
            continue
        operand = node.value
        values: list[tuple[str, str, str | None]]
        if isinstance(operand, nodes.SetupRef) and operand.name in spec.setup:
            values = [(v, p, operand.name)
                      for v, p in _items(spec.setup[operand.name], f"/setup/{operand.name}")]
        elif isinstance(operand, nodes.ListValue):
            values = [(_text(item.value), pointer, None) for item in operand.items]
        elif isinstance(operand, nodes.Literal):
            values = [(_text(operand.value), pointer, None)]
        else:
            continue
        out.extend(SpecReference(sync.source_connection, field.ref, value, None, sync.name,
                                 f"filter {node.field.name}", where, setup)
                   for value, where, setup in values)
    return out


def _walk(expr: Any) -> Iterator[Any]:
    yield expr
    for name in ("items", "operand"):
        child = getattr(expr, name, None)
        if isinstance(child, tuple):
            for item in child:
                yield from _walk(item)
        elif child is not None and not isinstance(child, (str, int)):
            yield from _walk(child)


def spec_references(spec: Spec, registry: AdapterRegistry | None = None
                    ) -> list[SpecReference]:
    """Every reference to target metadata the spec makes, in spec order, once each."""
    registry = registry or default_registry()
    out: list[SpecReference] = []
    for sync in spec.syncs.values():
        target = _object(spec, registry, sync.target_connection, sync.target_object)
        if target is not None:
            out.extend(_target_references(spec, sync, target))
        source = _object(spec, registry, sync.source_connection, sync.source_object)
        if source is not None:
            out.extend(_filter_references(spec, sync, source))
    for action in spec.actions.values():
        target = _object(spec, registry, action.target_connection, action.target_object)
        if target is not None:
            out.extend(_action_references(spec, action, target))
    unique: dict[tuple[Any, ...], SpecReference] = {}
    for ref in out:
        unique.setdefault((*ref.key, ref.pointer), ref)
    return list(unique.values())


def _object(spec: Spec, registry: AdapterRegistry, connection: str, obj: str
            ) -> ObjectInfo | None:
    conn = spec.connections.get(connection)
    vendor = registry.find(conn.adapter) if conn else None
    return vendor.catalog.objects.get(obj) if vendor is not None else None
