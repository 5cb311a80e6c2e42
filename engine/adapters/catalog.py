"""Adapters' declared objects and fields, as the spec checker and the engine see them.

Each vendor package ships its catalog as `catalog.json` (the format is
schemas/objects.schema.json) and serves it through its `Vendor` in the adapter registry.
Field paths are dotted (`payroll.ssn`, `address.zip-code`), following nested `fields`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Catalog", "FieldInfo", "ObjectInfo"]


@dataclass(frozen=True)
class FieldInfo:
    path: str
    type: str
    required: bool = False
    read_only: bool = False
    write_only: bool = False
    create_only: bool = False  # settable at creation only: the API cannot change it later
    label: str = ""
    description: str = ""
    enum: tuple[Any, ...] | None = None
    items: str | None = None
    ref: str | None = None  # a reference to the system's own metadata of this kind
    ref_parent: str | None = None  # the sibling field naming its parent (a stage's pipeline)


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    label: str
    id_field: str
    external_id_fields: tuple[str, ...]
    cursor_fields: tuple[str, ...]
    operations: frozenset[str]
    webhook_events: tuple[str, ...]
    fields: Mapping[str, FieldInfo]  # every dotted path, nested ones included

    def field(self, path: str) -> FieldInfo | None:
        return self.fields.get(path)

    def field_type(self, path: str) -> str | None:
        info = self.fields.get(path)
        return info.type if info else None

    def top_level(self) -> list[str]:
        return sorted(p for p in self.fields if "." not in p)

    def readable(self, *, nested: bool = True) -> list[str]:
        return sorted(p for p, f in self.fields.items()
                      if not f.write_only and (nested or "." not in p))

    def writable(self, *, nested: bool = True) -> list[str]:
        return sorted(p for p, f in self.fields.items()
                      if not f.read_only and (nested or "." not in p))

    def required_fields(self) -> list[str]:
        return sorted(p for p, f in self.fields.items() if f.required and "." not in p)


def _flatten(prefix: str, fields: Mapping[str, Any], read_only: bool = False,
             write_only: bool = False) -> Iterator[FieldInfo]:
    """Every field as a dotted path; children inherit read-only / write-only from parents."""
    for name, raw in fields.items():
        path = f"{prefix}{name}"
        ro = read_only or bool(raw.get("read_only"))
        wo = write_only or bool(raw.get("write_only"))
        yield FieldInfo(
            path=path,
            type=raw["type"],
            required=bool(raw.get("required")),
            read_only=ro,
            write_only=wo,
            create_only=bool(raw.get("create_only")),
            label=raw.get("label", ""),
            description=raw.get("description", ""),
            enum=tuple(raw["enum"]) if "enum" in raw else None,
            items=raw.get("items"),
            ref=raw.get("ref"),
            ref_parent=raw.get("ref_parent"),
        )
        if raw.get("fields"):
            yield from _flatten(f"{path}.", raw["fields"], ro, wo)


@dataclass(frozen=True)
class Catalog:
    adapter: str
    title: str
    objects: Mapping[str, ObjectInfo]
    webhook_events: tuple[str, ...]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Catalog:
        objects = {}
        for name, raw in data["objects"].items():
            objects[name] = ObjectInfo(
                name=name,
                label=raw.get("label", name),
                id_field=raw["id_field"],
                external_id_fields=tuple(raw.get("external_id_fields", ())),
                cursor_fields=tuple(raw.get("cursor_fields", ())),
                operations=frozenset(raw["operations"]),
                webhook_events=tuple(raw.get("webhook_events", ())),
                fields={f.path: f for f in _flatten("", raw["fields"])},
            )
        return cls(data["adapter"], data.get("title", data["adapter"]), objects,
                   tuple(data.get("webhook_events", ())))
