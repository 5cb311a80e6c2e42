"""Record operations on the portal's data, shared by the routes and the control API.

`Records` owns the stores and associations; every write goes through it, so webhooks
fire the same way whatever route (or control call) made the change: creations,
property changes (only for values that really changed), deletions, restores, merges,
privacy deletions and association changes (see `webhooks.Events`). `source` is
`(changeSource, sourceId)`: API writes are `("INTEGRATION", appId)`, control calls that
act as a user in the UI pass `("CRM_UI", "userId:1")`.

Records render as the SDK's `SimplePublicObject` / `SimplePublicObjectWithAssociations`:
`{id, properties, createdAt, updatedAt, archived}` plus `archivedAt`,
`propertiesWithHistory` and `associations` where asked for. The sandbox keeps no value
history: a property's history is its current value, stamped with the record's last
change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.sandbox.hubspot import seed
from engine.sandbox.hubspot.catalog import (
    ASSOCIATION_TYPE_IDS,
    OBJECT_TYPES,
    PAIR_OF_TYPE_ID,
    resolve,
)
from engine.sandbox.hubspot.errors import (
    HubSpotError,
    PropertyProblem,
    not_found,
    validation,
)
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.hubspot.store import Associations, ObjectStore, Pair
from engine.sandbox.hubspot.values import normalise
from engine.sandbox.platform import Clock, SandboxConfig

if TYPE_CHECKING:
    from engine.sandbox.hubspot.webhooks import Events

__all__ = ["Records", "Source"]

Source = tuple[str, str] | None  # (changeSource, sourceId); None: the API, as the app


class Records:
    """The portal's records: stores per object type, associations, and the writes."""

    def __init__(self, config: SandboxConfig, portal_id: int, events: Events) -> None:
        self.clock: Clock = config.clock
        self.events = events
        sizes = seed.object_sizes(config.records)
        self.stores: dict[str, ObjectStore] = {
            name: ObjectStore(otype, sizes[name], seed_value=config.seed,
                              defect_rate=config.defect_rate, clock=config.clock)
            for name, otype in OBJECT_TYPES.items()}
        self.associations = Associations(sizes)
        self.portal_id = portal_id

    def object_store(self, name: str) -> ObjectStore:
        """The store for an object type named any way HubSpot accepts (400 otherwise)."""
        otype = resolve(name, self.portal_id)
        if otype is None:
            raise HubSpotError(400, f"Unable to infer object type from: {name}",
                               "VALIDATION_ERROR")
        return self.stores[otype.name]

    def existing(self, store: ObjectStore, record_id: str,
                 id_property: str | None = None) -> dict[str, Any]:
        record = store.find(str(record_id), id_property)
        if record is None:
            raise not_found(str(record_id))
        return record

    def iter(self, object_type: str) -> Iterator[dict[str, Any]]:
        return self.object_store(object_type).collection.iter()

    # ------------------------------------------------------------------ rendering

    def render(self, store: ObjectStore, record: Mapping[str, Any],
               properties: list[str] | None = None, associations: list[str] | None = None,
               history: list[str] | None = None) -> dict[str, Any]:
        """The record as `SimplePublicObjectWithAssociations`: the asked-for properties
        (else the type's defaults) plus `hs_object_id`, `createdate` and the modified
        stamp; null for a property without a value."""
        stored = record["properties"]
        wanted = list(properties) if properties else list(store.type.defaults)
        for always in ("hs_object_id", "createdate", store.type.modified):
            if always not in wanted:
                wanted.append(always)
        props = {name: stored.get(name) for name in wanted if name in store.properties}
        out: dict[str, Any] = {"id": record["id"], "properties": props,
                               "createdAt": record["createdAt"],
                               "updatedAt": record["updatedAt"],
                               "archived": record.get("archived", False)}
        if record.get("archivedAt"):
            out["archivedAt"] = record["archivedAt"]
        if history:
            out["propertiesWithHistory"] = {
                name: [{"value": stored[name], "timestamp": record["updatedAt"],
                        "sourceType": "API"}] if stored.get(name) else []
                for name in history if name in store.properties}
        if associations:
            assoc: dict[str, Any] = {}
            for to_name in associations:
                try:
                    to_store = self.object_store(to_name)
                except HubSpotError:
                    continue
                results = [{"id": to_id, "type": f"{store.type.singular}_to_"
                            f"{to_store.type.singular}"}
                           for (to_type, to_id), _ in sorted(
                               self.associations.of(store.type.name, record["id"]).items())
                           if to_type == to_store.type.name]
                if results:
                    assoc[to_name] = {"results": results}
            if assoc:
                out["associations"] = assoc
        return out

    def written(self, store: ObjectStore, record: Mapping[str, Any]) -> dict[str, Any]:
        """A record as a write answers it: every property it holds."""
        return self.render(store, record, list(record["properties"]))

    # ------------------------------------------------------------------ validation

    def prepare(self, store: ObjectStore, properties: Any, record_id: str | None,
                *, creating: bool) -> tuple[dict[str, str], list[PropertyProblem]]:
        """Validate and normalise written properties; "" means clear."""
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            raise validation("properties must be an object of property names to values")
        values: dict[str, str] = {}
        problems: list[PropertyProblem] = []
        for name, value in properties.items():
            definition = store.properties.get(name)
            if definition is None:
                problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST",
                                                f'Property "{name}" does not exist'))
                continue
            read_only = definition["modificationMetadata"]["readOnlyValue"]
            if read_only or (name == "createdate" and not creating):
                if name == "hs_object_id" and str(value) == str(record_id):
                    continue
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE",
                                                f'Property "{name}" is read-only'))
                continue
            normalised = normalise(definition, value)
            if isinstance(normalised, PropertyProblem):
                problems.append(normalised)
                continue
            if normalised and definition.get("hasUniqueValue"):
                holder = store.unique_index(name).get(normalised)
                if holder is not None and holder != record_id:
                    problems.append(PropertyProblem(
                        name, "CONFLICTING_UNIQUE_VALUE",
                        f"{normalised} already has that value on {store.type.singular} "
                        f"{holder} for property {name}", conflict=True))
                    continue
            values[name] = normalised
        if creating:
            missing = [n for n in store.type.required if not values.get(n)]
            problems.extend(PropertyProblem(n, "REQUIRED_PROPERTY",
                                            f'Property "{n}" is required') for n in missing)
        return values, problems

    def parse_associations(self, store: ObjectStore, associations: Any
                           ) -> list[tuple[Pair, list[int]]]:
        """`[{to: {id}, types: [{associationCategory, associationTypeId}]}]` of a create
        (the SDK's `PublicAssociationsForObject`) -> ((to_type, to_id), type ids)."""
        if not associations:
            return []
        if not isinstance(associations, list):
            raise validation("associations must be a list of {to, types}")
        out: list[tuple[Pair, list[int]]] = []
        for item in associations:
            try:
                to_id = str(item["to"]["id"])
                type_ids = [int(t["associationTypeId"]) for t in item["types"]]
            except (KeyError, TypeError, ValueError):
                raise validation("each association needs to.id and types[]."
                                 "associationTypeId") from None
            targets = set()
            for type_id in type_ids:
                pair = PAIR_OF_TYPE_ID.get(type_id)
                if pair is None or pair[0] != store.type.name:
                    raise validation(f"{type_id} is not a valid association type id from "
                                     f"{store.type.name}", code="INVALID_ASSOCIATION_TYPE")
                targets.add(pair[1])
            for to_type in targets:
                if self.stores[to_type].collection.get(to_id) is None:
                    raise validation(f"{to_type} {to_id} does not exist; cannot associate",
                                     code="INVALID_OBJECT_IDS")
                out.append(((to_type, to_id), [t for t in type_ids
                                               if PAIR_OF_TYPE_ID[t][1] == to_type]))
        return out

    @staticmethod
    def _derive(store: ObjectStore, props: dict[str, str]) -> None:
        if store.type.name == "line_items" and props.get("price") and props.get("quantity"):
            total = Decimal(props["price"]) * Decimal(props["quantity"]) \
                - Decimal(props.get("discount") or "0")
            amount = normalise(store.properties["amount"], total)
            if isinstance(amount, str):
                props["amount"] = amount

    # ------------------------------------------------------------------ writes

    def create(self, store: ObjectStore, properties: Any, associations: Any = None, *,
               source: Source = None) -> dict[str, Any]:
        """Create one record (raises HubSpotError on invalid input); fires webhooks."""
        record_id = store.new_id()
        values, problems = self.prepare(store, properties, record_id, creating=True)
        links = self.parse_associations(store, associations)
        if problems:
            raise PropertyProblem.to_error(problems)
        now = iso_ms(self.clock.now())
        props = {k: v for k, v in values.items() if v}
        props.setdefault("createdate", now)
        props[store.type.modified] = now
        props["hs_object_id"] = record_id
        self._derive(store, props)
        record = {"id": record_id, "properties": props, "createdAt": props["createdate"],
                  "updatedAt": now, "archived": False}
        store.store(record, None)
        self.events.record(store.type, record_id, "creation", source=source)
        for name, value in sorted(props.items()):
            if name not in ("hs_object_id", store.type.modified):
                self.events.record(store.type, record_id, "propertyChange", name, value,
                                   source=source)
        for (to_type, to_id), type_ids in links:
            self.associate((store.type.name, record_id), (to_type, to_id), type_ids,
                           source=source)
        return record

    def update(self, store: ObjectStore, record: dict[str, Any], properties: Any, *,
               source: Source = None) -> dict[str, Any]:
        """Apply a PATCH to an existing record; stamps and fires only on real changes."""
        values, problems = self.prepare(store, properties, record["id"], creating=False)
        if problems:
            raise PropertyProblem.to_error(problems)
        props = dict(record["properties"])
        changed: dict[str, str] = {}
        for name, value in values.items():
            if props.get(name, "") != value:
                changed[name] = value
                if value:
                    props[name] = value
                else:
                    props.pop(name, None)
        if not changed:
            return record
        self._derive(store, props)
        now = iso_ms(self.clock.now())
        props[store.type.modified] = now
        updated = {**record, "properties": props, "updatedAt": now}
        store.store(updated, record)
        for name, value in changed.items():
            self.events.record(store.type, record["id"], "propertyChange", name, value,
                               source=source)
        return updated

    def archive(self, store: ObjectStore, record: dict[str, Any], *, source: Source = None,
                event: str = "deletion") -> None:
        """Archive (HubSpot's delete): the record moves to the recycle bin and loses its
        associations. `event` is "privacyDeletion" for a GDPR delete."""
        now = iso_ms(self.clock.now())
        store.remove(record)
        store.archived[record["id"]] = {**record, "archived": True, "archivedAt": now,
                                        "updatedAt": now}
        self.associations.drop_record((store.type.name, record["id"]))
        self.events.record(store.type, record["id"], event, source=source)

    def purge(self, store: ObjectStore, record: dict[str, Any], *,
              source: Source = None) -> None:
        """A GDPR delete: the record is gone for good (not restorable), with a
        `privacyDeletion` event for contacts."""
        self.archive(store, record, source=source, event="privacyDeletion")
        store.archived.pop(record["id"], None)

    def restore(self, store: ObjectStore, record_id: str, *,
                source: Source = None) -> dict[str, Any]:
        """Bring an archived record back (the UI's recycle bin); fires `restore`."""
        record = store.archived.pop(str(record_id), None)
        if record is None:
            raise not_found(str(record_id), store.type.name)
        now = iso_ms(self.clock.now())
        restored = {key: value for key, value in record.items() if key != "archivedAt"}
        restored.update(archived=False, updatedAt=now)
        restored["properties"] = {**record["properties"], store.type.modified: now}
        store.store(restored, None)
        self.events.record(store.type, restored["id"], "restore", source=source)
        return restored

    def merge(self, store: ObjectStore, primary: dict[str, Any], merged: dict[str, Any], *,
              source: Source = None) -> dict[str, Any]:
        """Merge `merged` into `primary` (POST .../merge): the primary keeps its id and
        its values; properties it lacks are moved over from the merged record, which is
        archived; its associations move to the primary. Fires one `merge` event."""
        if primary["id"] == merged["id"]:
            raise validation("An object cannot be merged into itself.", code="MERGE_SELF")
        moved = {name: value for name, value in merged["properties"].items()
                 if value and not primary["properties"].get(name)
                 and name not in ("hs_object_id", "createdate", store.type.modified)
                 and not store.properties.get(name, {}).get("modificationMetadata", {})
                 .get("readOnlyValue")}
        now = iso_ms(self.clock.now())
        store.remove(merged)
        store.archived[merged["id"]] = {**merged, "archived": True, "archivedAt": now,
                                        "updatedAt": now}
        a, b = (store.type.name, primary["id"]), (store.type.name, merged["id"])
        for other, type_ids in self.associations.of(*b).items():
            if other != a:
                self.associations.add(a, other, type_ids)
        self.associations.drop_record(b)
        props = {**primary["properties"], **moved, store.type.modified: now}
        updated = {**primary, "properties": props, "updatedAt": now}
        store.store(updated, primary)
        self.events.merge(store.type, primary["id"], [merged["id"]], primary["id"],
                          len(moved), source=source)
        return updated

    def associate(self, a: Pair, b: Pair, type_ids: list[int], *,
                  source: Source = None) -> None:
        """Associate two records; a new pair fires `associationChange` on both sides."""
        if self.associations.add(a, b, type_ids):
            self.events.association(a, b, type_ids[0] if type_ids else
                                    ASSOCIATION_TYPE_IDS[(a[0], b[0])], removed=False,
                                    source=source)

    def dissociate(self, a: Pair, b: Pair, *, source: Source = None) -> None:
        """Remove every association between two records (fires when there was one)."""
        type_ids = self.associations.of(*a).get(b, set())
        if self.associations.remove(a, b):
            self.events.association(a, b, min(type_ids) if type_ids else
                                    ASSOCIATION_TYPE_IDS[(a[0], b[0])], removed=True,
                                    source=source)
