"""Match: find the target record a source record already has, without a link to say so.

A first run must adopt what exists instead of creating it twice, and a create whose
outcome is unknown must be looked up rather than sent again blindly. Both ask the target:

- external matching: the target field named by `key.target_field` holds the source key
  (`find_external`);
- internal matching: the key *is* the target's id (`get`);
- `key.adopt_by`: other fields identify the record too (an org number), rendered from
  the source record and looked up for keys no target holds yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.adapters.base import Adapter, Record
from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import default_registry
from engine.errors import RecordError
from engine.spec.model import Sync
from engine.sync.mapping import Mapper
from engine.templates import RenderContext, Transform, compile_transform

__all__ = ["INTERNAL_WHY", "TargetMatcher", "id_text", "internal_not_found",
           "unmatched_note"]

Found = dict[str, Record | RecordError]


INTERNAL_WHY = ("{system} assigns its ids, so a record created now could not be found by "
                "this key again and every run would make another")


def internal_not_found(system: str, obj: str, key: str, components: Sequence[str]) -> str:
    """The per-record message of internal matching when the key names no target record."""
    fields = ", ".join(f"`{c}`" for c in components) or "the key"
    return (f"no {system} {obj} has id {key}: internal matching uses {system}'s own id as "
            f"the key and never creates a record ({INTERNAL_WHY.format(system=system)}). "
            f"Either put the {system} id of an existing {obj} in {fields} of this record, "
            f"or choose external matching (the source's id kept in {system}) so that "
            "missing records are created")


def unmatched_note(system: str, obj: str, components: Sequence[str], *, missing: int,
                   selected: int, at_least: bool = False) -> str:
    """What `plan` says up front about an internal-matching sync: how many records name
    no existing target record, what happens to them and what to do."""
    fields = ", ".join(f"`{c}`" for c in components) or "the key"
    share = "all" if missing == selected and not at_least else \
        f"{'at least ' if at_least else ''}{missing} of {selected}"
    return (f"internal matching: {share} selected records name no existing {system} {obj} "
            f"({fields} is not one of its ids); a run reports them as failing "
            f"(key.not-found) and creates nothing ({INTERNAL_WHY.format(system=system)}). "
            f"To create them, choose external matching; to match them, put {system}'s ids "
            f"in {fields}")


def id_text(value: Any) -> str | None:
    """A record id as the state store keeps it (text), None for none."""
    return None if value is None else str(value)


class TargetMatcher:
    """Looks up a sync's existing target records by key, id or `adopt_by` fields."""

    def __init__(self, sync: Sync, target: Adapter, target_info: ObjectInfo | None,
                 mapper: Mapper, ctx: RenderContext) -> None:
        self.sync = sync
        self.target = target
        self.target_info = target_info
        self.mapper = mapper
        self.ctx = ctx
        key = sync.key
        self.external_field = key.target_field if key.match == "external" else None
        self.adopt_by: dict[str, Transform] = {
            name: compile_transform(value) for name, value in key.adopt_by.items()}

    def target_id(self, record: Mapping[str, Any]) -> str | None:
        """The id of a target record found by a lookup."""
        if self.target_info is None:
            return None
        return id_text(record.get(self.target_info.id_field))

    async def lookup(self, keys: Sequence[str]) -> Found:
        """Existing target records for unlinked keys (external match) or ids (internal)."""
        if not keys or self.target_info is None:
            return {}
        obj = self.sync.target_object
        if self.external_field:
            if "find_external" not in self.target_info.operations:
                return {}
            return dict(await self.target.find_external(obj, self.external_field, list(keys)))
        found: Found = {}
        id_type = self.target_info.field_type(self.target_info.id_field)
        for key in keys:
            if id_type == "integer" and not key.isdigit():
                found[key] = RecordError(
                    "key.not-an-id",
                    f"internal matching needs the {self.target.name} id (a number) as the key, "
                    f"but the key is {key!r}: choose external matching, or key components that "
                    "hold the target's id")
                continue
            record = await self.target.get(obj, key)
            found[key] = record if record is not None else self.not_found(key)
        return found

    def not_found(self, key: str) -> RecordError:
        """Internal matching never creates: the message says why and what to do."""
        system = default_registry().title(self.target.name)
        obj = (self.target_info.label if self.target_info else self.sync.target_object).lower()
        return RecordError("key.not-found", internal_not_found(
            system, obj, key, self.sync.key.components))

    async def adopt_lookup(self, items: Sequence[tuple[str, Record]]) -> Found:
        """Existing targets found by the key's `adopt_by` fields (e.g. an org number) for
        records no target holds the key of yet: a first run adopts them, never duplicates."""
        found: Found = {}
        obj = self.sync.target_object
        for field_name, transform in self.adopt_by.items():
            wanted: dict[str, str] = {}
            for key, record in items:
                if key in found:
                    continue
                try:
                    value = transform.render(self.mapper.complete(record), self.ctx)
                except RecordError:
                    continue
                if value not in (None, ""):
                    wanted.setdefault(str(value), key)
            if wanted:
                hits = await self.target.find_external(obj, field_name, list(wanted))
                for value, record in hits.items():
                    found[wanted[value]] = record
        return found

    async def current(self, target_id: str | None) -> Record | None:
        """The target record as it is now (for old -> new in a plan), when readable."""
        if target_id is None or self.target_info is None or \
                "get" not in self.target_info.operations:
            return None
        return await self.target.get(self.sync.target_object, target_id)
