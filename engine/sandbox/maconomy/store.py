"""The Maconomy simulator's containers: records, ordering, paging and the fast paths.

A `Container` is one Maconomy container (`customercard`, `jobs`) over a platform
`Collection` of generated records. `select` answers a filter read: the records a
restriction keeps, in the order asked for, from an offset. Order items are
`(field, descending)`; the v1 `orderby` parameter writes them `+field`/`-field`
(F-V1-FILTER-QUERY, `parse_orderby`). Without an order the natural order is by key.

Speed [sandbox only]: a delta read (`transactiontimestamp >= t`, ordered by it then the
key) bisects an index of the generated records built once, plus the few records written
since, instead of scanning and sorting everything per query; matching ids are cached
per (restriction, order) until the next write.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.sandbox.maconomy.restriction import (
    Dialect,
    Restriction,
    RestrictionError,
    always,
    compile_restriction,
)
from engine.sandbox.platform import Collection

__all__ = ["Container", "Order", "parse_orderby"]

Order = tuple[tuple[str, bool], ...]


@dataclass
class Container:
    name: str
    collection: Collection
    fields: tuple[str, ...]
    light_fields: frozenset[str]
    light_factory: Callable[[int], dict[str, Any]]
    required: tuple[str, ...]
    defaults: Callable[[str], dict[str, Any]]
    dialect: Dialect
    restrictions: OrderedDict[str, Restriction] = field(default_factory=OrderedDict)
    matches: OrderedDict[tuple[str, Order], tuple[int, list[Any]]] = field(
        default_factory=OrderedDict)
    #: Ids written through the sandbox (changed or created): they leave the base index.
    touched: set[Any] = field(default_factory=set)
    cursor: str = "transactiontimestamp"
    _cursor_index: tuple[list[str], list[Any], list[int]] | None = None

    @property
    def key(self) -> str:
        return self.collection.key

    def cursor_index(self) -> tuple[list[str], list[Any], list[int]]:
        """The generated (base) records sorted by (cursor, key): their cursor values, ids
        and base indices. Base records never change, so it is built once; records
        written later are looked at separately (`touched`)."""
        if self._cursor_index is None:
            key, cursor, light = self.collection.key, self.cursor, self.light_factory
            rows = []
            for index in range(self.collection.size):
                record = light(index)
                value = record.get(cursor)
                if isinstance(value, str) and len(value) > 10:  # canonical timestamps
                    rows.append((value, record[key], index))
            rows.sort()
            self._cursor_index = ([r[0] for r in rows], [r[1] for r in rows],
                                  [r[2] for r in rows])
        return self._cursor_index

    def restriction(self, text: str) -> Restriction:
        found = self.restrictions.get(text)
        if found is None:
            found = compile_restriction(text, self.fields, self.dialect)
            self.restrictions[text] = found
            if len(self.restrictions) > 64:
                self.restrictions.popitem(last=False)
        return found

    # -- reads

    def select(self, restriction: Restriction, order: Order, offset: int,
               limit: int) -> list[dict[str, Any]]:
        store = self.collection
        natural = not order or (order == ((store.key, False),) and self._key_ordered())
        # (`_matching_ids` sorts when `natural` is false; without an order the store's
        # own order is the answer's.)
        if restriction.matches is always and natural:
            return store.page(offset, limit)
        cache_key = (restriction.text, order)
        cached = self.matches.get(cache_key)
        if cached is not None and cached[0] == store.version:
            ids = cached[1]
        else:
            indexed = self._indexed_ids(restriction, order)
            ids = indexed if indexed is not None else \
                self._matching_ids(restriction, order, natural)
            self.matches[cache_key] = (store.version, ids)
            if len(self.matches) > 16:
                self.matches.popitem(last=False)
        return [r for r in map(store.get, ids[offset:offset + limit]) if r is not None]

    def _key_ordered(self) -> bool:
        """Whether the store's own order (generated records by number, then created
        ones) is key order: true unless a created record sorts before a generated one."""
        store = self.collection
        if not store.size:
            return True
        last = self.light_factory(store.size - 1)[store.key]
        return all(sort_key(record_id) > sort_key(last) for record_id in self.touched
                   if store.index_of(record_id) is None)

    def _indexed_ids(self, restriction: Restriction, order: Order) -> list[Any] | None:
        """A delta read (`cursor >= t`, ordered by cursor then key) from the cursor index:
        a bisection instead of a scan and sort of every record. None when the query has
        another shape; the general scan answers it the same way."""
        store = self.collection
        cursor = self.cursor
        if order != ((cursor, False), (store.key, False)):
            return None
        bounds = [b for b in restriction.lower if b[0] == cursor]
        if not bounds:
            return None
        _, op, literal = max(bounds, key=lambda b: (b[2], b[1] == ">"))
        stamps, ids, indices = self.cursor_index()
        start = bisect_left(stamps, literal) if op == ">=" else bisect_right(stamps, literal)
        changed = store.modified_at  # changed, created or deleted through the sandbox
        matches = restriction.matches
        factory = self.light_factory if restriction.fields <= self.light_fields \
            else store.factory
        every = restriction.lower_only  # past the bound, every record matches
        found = [(stamps[pos], ids[pos]) for pos in range(start, len(ids))
                 if changed(ids[pos]) is None
                 and (every or matches(factory(indices[pos])))]
        extra = [(record[cursor], record[store.key])
                 for record in map(store.get, self.touched)
                 if record is not None and matches(record)]
        if extra:
            found.extend(extra)
            found.sort(key=lambda pair: (sort_key(pair[0]), sort_key(pair[1])))
        return [record_id for _, record_id in found]

    def _matching_ids(self, restriction: Restriction, order: Order,
                      natural: bool) -> list[Any]:
        store = self.collection
        key = store.key
        needed = restriction.fields | {name for name, _ in order}
        factory = self.light_factory if needed <= self.light_fields else None
        matches = restriction.matches
        if natural:
            return [r[key] for r in store.iter(factory) if matches(r)]
        rows = [r for r in store.iter(factory) if matches(r)]
        # Stable sorts from the last key to the first; missing values sort first.
        for name, descending in reversed(order):
            rows.sort(key=_by_field(name), reverse=descending)
        return [r[key] for r in rows]


def parse_orderby(value: Any, fields: tuple[str, ...]) -> Order:
    """`"+transactiontimestamp,-customernumber"` -> ((field, descending), ...).

    The v1 form (F-V1-FILTER-QUERY): comma-separated, each `+field` or `-field`; a bare
    field is ascending. A `+` sent unencoded in a query string arrives as a space, which
    is read as `+`.
    """
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise RestrictionError("'orderby' must be text such as '+field,-field'", 0)
    order = []
    for part in value.split(","):
        item = part.strip()
        descending = item.startswith("-")
        name = item[1:] if item[:1] in "+-" and item else item
        name = name.strip().lower()
        if not name or not name.replace("_", "a").isalnum():
            raise RestrictionError(f"invalid orderby item {part!r}; write +field or -field",
                                   0)
        if name not in fields:
            raise RestrictionError(f"unknown field {name!r} in orderby", 0, name)
        order.append((name, descending))
    return tuple(order)


def _by_field(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """The sort key of a row by one field (a closure per field, bound now, not late)."""
    return lambda row: sort_key(row.get(name))


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))
