"""The portal's data: one `ObjectStore` per object type and the `Associations` between
records. No HTTP here; the routes (`objects`, `batch`, `associations`, ...) and the
record operations (`records`) work on these.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from engine.sandbox.hubspot import seed
from engine.sandbox.hubspot.catalog import (
    ASSOCIATION_TYPE_IDS,
    PAIR_OF_TYPE_ID,
    PRIMARY_ASSOCIATIONS,
    ObjectType,
    inverse_type_id,
)
from engine.sandbox.hubspot.errors import validation
from engine.sandbox.platform import Clock, Collection

__all__ = ["Associations", "ObjectStore"]

Pair = tuple[str, str]  # (object type name, record id)


class ObjectStore:
    """One object type: its records (a base `Collection`), property catalog, unique
    indexes and archived records."""

    def __init__(self, otype: ObjectType, size: int, *, seed_value: int, defect_rate: float,
                 clock: Clock) -> None:
        self.type = otype
        self.collection = Collection(
            otype.name, key="id", size=size,
            factory=seed.record_factory(otype.name, seed_value, defect_rate),
            clock=clock, index_of=lambda rid: seed.base_index(otype.name, str(rid)))
        created = "2020-01-01T00:00:00.000Z"
        self.properties: dict[str, dict[str, Any]] = {
            p.name: p.to_json(otype.name, created) for p in seed.PROPERTIES[otype.name]}
        self.archived: dict[str, dict[str, Any]] = {}
        self._unique: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(seed.OBJECT_ID_BASE[otype.name] + seed.CREATED_ID_OFFSET)

    def __repr__(self) -> str:
        return f"ObjectStore({self.type.name!r}, {len(self.collection)} records)"

    def new_id(self) -> str:
        return str(next(self._ids))

    def is_unique(self, name: str) -> bool:
        prop = self.properties.get(name)
        return bool(prop and prop.get("hasUniqueValue"))

    def unique_index(self, name: str) -> dict[str, str]:
        index = self._unique.get(name)
        if index is None:
            # Learned once by reading every record; kept current by `store`/`remove`.
            index = {}
            for record in self.collection.iter():
                value = record["properties"].get(name)
                if value:
                    index[value] = record["id"]
            self._unique[name] = index
        return index

    def find(self, record_id: str, id_property: str | None = None) -> dict[str, Any] | None:
        if id_property and id_property != "hs_object_id":
            if not self.is_unique(id_property):
                raise validation(f"Property {id_property!r} is not a unique property of "
                                 f"{self.type.name}; idProperty needs hasUniqueValue.",
                                 name=id_property)
            found = self.unique_index(id_property).get(str(record_id))
            return None if found is None else self.collection.get(found)
        return self.collection.get(str(record_id))

    def store(self, record: dict[str, Any], previous: dict[str, Any] | None) -> None:
        for name, index in self._unique.items():
            old = (previous or {}).get("properties", {}).get(name)
            new = record["properties"].get(name)
            if old and index.get(old) == record["id"]:
                del index[old]
            if new:
                index[new] = record["id"]
        self.collection.put(record)

    def remove(self, record: dict[str, Any]) -> None:
        for name, index in self._unique.items():
            value = record["properties"].get(name)
            if value and index.get(value) == record["id"]:
                del index[value]
        self.collection.delete(record["id"])


class Associations:
    """Associations between records, both directions: generated ones plus an overlay."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.added: dict[Pair, dict[Pair, set[int]]] = {}
        self.removed: set[tuple[Pair, Pair]] = set()

    def _seeded(self, otype: str, oid: str) -> dict[Pair, set[int]]:
        index = seed.base_index(otype, oid)
        out: dict[Pair, set[int]] = {}
        if index is None or index >= self.sizes.get(otype, 0):
            return out
        for to_type, to_index in seed.seeded_associations(otype, index, self.sizes):
            key = (to_type, seed.base_id(to_type, to_index))
            if ((otype, oid), key) in self.removed:
                continue
            ids = {ASSOCIATION_TYPE_IDS[(otype, to_type)]}
            primary = PRIMARY_ASSOCIATIONS.get((otype, to_type))
            if primary is not None:
                ids.add(primary)
            out[key] = ids
        return out

    def of(self, otype: str, oid: str) -> dict[Pair, set[int]]:
        """Every association of one record: `(to_type, to_id) -> {type ids}`."""
        out = self._seeded(otype, oid)
        for key, ids in self.added.get((otype, oid), {}).items():
            out.setdefault(key, set()).update(ids)
        return {k: v for k, v in out.items() if v}

    def add(self, a: Pair, b: Pair, type_ids: Iterable[int]) -> bool:
        """Associate a with b by each type id (both directions); True when the pair was
        not associated before."""
        new = b not in self.of(*a)
        for type_id in type_ids:
            pair = PAIR_OF_TYPE_ID.get(type_id)
            inverse = inverse_type_id(type_id, pair) if pair else \
                ASSOCIATION_TYPE_IDS[(b[0], a[0])]
            self.added.setdefault(a, {}).setdefault(b, set()).add(type_id)
            self.added.setdefault(b, {}).setdefault(a, set()).add(inverse)
        self.removed.discard((a, b))
        self.removed.discard((b, a))
        return new

    def remove(self, a: Pair, b: Pair) -> bool:
        """Remove every association between a and b; True when there was one."""
        existed = b in self.of(*a)
        self.added.get(a, {}).pop(b, None)
        self.added.get(b, {}).pop(a, None)
        self.removed.add((a, b))
        self.removed.add((b, a))
        return existed

    def drop_record(self, a: Pair) -> list[Pair]:
        """Forget every association of a (it was archived); the records it had."""
        others = list(self.of(*a))
        for b in others:
            self.remove(a, b)
        return others
