"""Secondary indexes of a `Collection`: exact values and sort orders.

A sandbox of 100,000 records must answer a search by identifier, or a page of the newest
changes, without generating every record per request (a scan costs seconds there). An
index is learned once, on first use, by one pass over the collection, then kept current
by the collection's writes: a lookup is a dict read, a page of an order a bisect and a
slice.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["OrderedIndex", "ValueIndex"]

Record = dict[str, Any]


class ValueIndex:
    """Record ids by the (normalised) value of one field, e.g. an identifier."""

    def __init__(self, field: str, normalize: Callable[[Any], Any],
                 extract: Callable[[Record], Any] | None = None) -> None:
        self.field = field
        self.normalize = normalize
        self.extract = extract or (lambda record: record.get(field))
        self._ids: dict[Any, dict[Any, None]] = {}  # value -> ids, in insertion order

    def _value(self, record: Record | None) -> Any:
        if record is None:
            return None
        value = self.extract(record)
        return None if value is None else self.normalize(value)

    def build(self, records: Iterable[Record], key: str) -> None:
        for record in records:
            self.add(record[key], record)

    def add(self, record_id: Any, record: Record) -> None:
        value = self._value(record)
        if value is not None:
            self._ids.setdefault(value, {})[record_id] = None

    def remove(self, record_id: Any, record: Record | None) -> None:
        value = self._value(record)
        ids = self._ids.get(value) if value is not None else None
        if ids is not None:
            ids.pop(record_id, None)
            if not ids:
                del self._ids[value]

    def replace(self, record_id: Any, previous: Record | None, current: Record) -> None:
        if self._value(previous) != self._value(current):
            self.remove(record_id, previous)
        self.add(record_id, current)

    def ids(self, value: Any) -> list[Any]:
        """The ids of the records holding `value` (normalised like the index)."""
        if value is None:
            return []
        return list(self._ids.get(self.normalize(value), ()))


class OrderedIndex:
    """Record ids sorted by `sort_key(record[field])`, ties by id."""

    def __init__(self, field: str, sort_key: Callable[[Any], Any],
                 extract: Callable[[Record], Any] | None = None) -> None:
        self.field = field
        self.sort_key = sort_key
        self.extract = extract or (lambda record: record.get(field))
        self._entries: list[tuple[Any, Any]] = []

    def _entry(self, record_id: Any, record: Record) -> tuple[Any, Any]:
        return (self.sort_key(self.extract(record)), record_id)

    def build(self, records: Iterable[Record], key: str) -> None:
        self._entries = sorted(self._entry(r[key], r) for r in records)

    def add(self, record_id: Any, record: Record) -> None:
        insort(self._entries, self._entry(record_id, record))

    def remove(self, record_id: Any, record: Record | None) -> None:
        if record is None:
            return
        entry = self._entry(record_id, record)
        position = bisect_left(self._entries, entry)
        if position < len(self._entries) and self._entries[position] == entry:
            del self._entries[position]

    def replace(self, record_id: Any, previous: Record | None, current: Record) -> None:
        entry = self._entry(record_id, current)
        if previous is not None and self._entry(record_id, previous) == entry:
            return
        self.remove(record_id, previous)
        insort(self._entries, entry)

    def __len__(self) -> int:
        return len(self._entries)

    def page(self, offset: int, limit: int, *, descending: bool = False) -> list[Any]:
        """Ids `offset .. offset+limit` in this order (or its reverse)."""
        entries = self._entries
        if descending:
            end = len(entries) - offset
            start = max(end - limit, 0)
            return [record_id for _, record_id in reversed(entries[start:max(end, 0)])]
        return [record_id for _, record_id in entries[offset:offset + limit]]

    def ids_from(self, low: Any) -> list[Any]:
        """Ids whose sort key is `low` or later, in ascending order."""
        start = bisect_left(self._entries, (low,))
        return [record_id for _, record_id in self._entries[start:]]
