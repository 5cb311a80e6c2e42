"""One object type's store: lazily generated base records plus an overlay of changes, so
a million-record sandbox never holds a million dicts."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from engine.sandbox.platform.clock import Clock
from engine.sandbox.platform.indexes import OrderedIndex, ValueIndex

Record = dict[str, Any]


class Collection:
    """The store of one object type: generated base records plus an overlay of changes.

    Base record `i` (0 <= i < size) is `factory(i)`, produced only when read. Changes go
    to an overlay (`put`, `patch`, `delete`); records created through `put` follow the
    base ones in iteration order. `stamp(record, now, previous)` runs on every write so
    vendors maintain their own modification fields (timestamps, version numbers);
    `modified_at(id)` is tracked here too. Reads return shallow copies.
    """

    def __init__(
        self,
        name: str,
        *,
        key: str,
        size: int,
        factory: Callable[[int], Record],
        clock: Clock,
        index_of: Callable[[Any], int | None] | None = None,
        stamp: Callable[[Record, datetime, Record | None], None] | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.size = size
        self.factory = factory
        self.clock = clock
        self._index_of = index_of
        self._stamp = stamp
        self._overlay: dict[Any, Record] = {}
        self._created: dict[Any, None] = {}  # ids not in the base, in creation order
        self._deleted_ids: set[Any] = set()
        self._deleted_index: list[int] = []  # sorted base indices that were deleted
        self._modified: dict[Any, datetime] = {}
        self._scan_index: dict[Any, int] | None = None
        self._value_indexes: dict[str, ValueIndex] = {}
        self._ordered_indexes: dict[str, OrderedIndex] = {}
        self._lock = threading.RLock()
        #: Bumped on every write, so callers can cache query results per version.
        self.version = 0

    # -- lookups

    def index_of(self, record_id: Any) -> int | None:
        """Base index of `record_id`, or None when it is not a generated record."""
        if self._index_of is not None:
            index = self._index_of(record_id)
            return index if index is not None and 0 <= index < self.size else None
        if self._scan_index is None:
            # No inverse given: learn it once by generating every base record.
            self._scan_index = {self.factory(i)[self.key]: i for i in range(self.size)}
        return self._scan_index.get(record_id)

    def get(self, record_id: Any) -> Record | None:
        with self._lock:
            if record_id in self._deleted_ids:
                return None
            found = self._overlay.get(record_id)
            if found is not None:
                return dict(found)
        index = self.index_of(record_id)
        return None if index is None else self.factory(index)

    def __contains__(self, record_id: object) -> bool:
        return self.get(record_id) is not None

    def __len__(self) -> int:
        return self.size - len(self._deleted_index) + len(self._created)

    def modified_at(self, record_id: Any) -> datetime | None:
        """When the sandbox last changed this record (None: untouched since generated)."""
        return self._modified.get(record_id)

    # -- secondary indexes (indexes.py): learned on first use, kept current by writes

    def value_index(self, field: str,
                    normalize: Callable[[Any], Any] = lambda value: value,
                    extract: Callable[[Record], Any] | None = None,
                    partial: Callable[[int], Record] | None = None) -> ValueIndex:
        """The index of `field`'s values (the first call's `normalize` stays); `extract`
        reads the value where it is not `record[field]` (a nested property); `partial`
        builds only the key and this field of a base record, to learn the index fast."""
        with self._lock:
            index = self._value_indexes.get(field)
            if index is None:
                index = ValueIndex(field, normalize, extract)
                index.build(self.iter(partial), self.key)
                self._value_indexes[field] = index
            return index

    def ordered_index(self, field: str, sort_key: Callable[[Any], Any],
                      extract: Callable[[Record], Any] | None = None,
                      partial: Callable[[int], Record] | None = None) -> OrderedIndex:
        """The records in the order of `sort_key(record[field])` (first call's key);
        `extract` and `partial` as for `value_index`."""
        with self._lock:
            index = self._ordered_indexes.get(field)
            if index is None:
                index = OrderedIndex(field, sort_key, extract)
                index.build(self.iter(partial), self.key)
                self._ordered_indexes[field] = index
            return index

    def find(self, field: str, value: Any) -> list[Record]:
        """The live records whose `field` equals `value` (as the field's index normalises)."""
        found = (self.get(record_id) for record_id in self.value_index(field).ids(value))
        return [record for record in found if record is not None]

    def in_order(self, ids: Iterable[Any]) -> list[Record]:
        """The live records of `ids` in `iter()` order (base by index, then created)."""
        created: dict[Any, int] | None = None
        ranked: list[tuple[int, Record]] = []
        for record_id in set(ids):
            record = self.get(record_id)
            if record is None:
                continue
            index = self.index_of(record_id)
            if index is None:
                if created is None:
                    created = {rid: n for n, rid in enumerate(self._created)}
                index = self.size + created.get(record_id, len(created))
            ranked.append((index, record))
        ranked.sort(key=lambda pair: pair[0])
        return [record for _, record in ranked]

    def _reindex(self, record_id: Any, previous: Record | None, current: Record | None
                 ) -> None:
        indexes: list[ValueIndex | OrderedIndex] = [*self._value_indexes.values(),
                                                    *self._ordered_indexes.values()]
        for index in indexes:
            if current is None:
                index.remove(record_id, previous)
            else:
                index.replace(record_id, previous, current)

    # -- writes

    def put(self, record: Record) -> Record:
        """Create or replace the record with `record[key]`; returns the stored copy."""
        record_id = record[self.key]
        with self._lock:
            previous = self.get(record_id)
            stored = dict(record)
            now = self.clock.now()
            if self._stamp is not None:
                self._stamp(stored, now, previous)
            if previous is None:
                if record_id in self._deleted_ids:
                    self._undelete(record_id)
                if self.index_of(record_id) is None:
                    self._created[record_id] = None
            self._overlay[record_id] = stored
            self._modified[record_id] = now
            self.version += 1
            if self._value_indexes or self._ordered_indexes:
                self._reindex(record_id, previous, stored)
            return dict(stored)

    def patch(self, record_id: Any, changes: Mapping[str, Any]) -> Record | None:
        """Apply `changes` to an existing record; None when there is no such record."""
        with self._lock:
            current = self.get(record_id)
            if current is None:
                return None
            current.update(changes)
            current[self.key] = record_id
            return self.put(current)

    def delete(self, record_id: Any) -> bool:
        with self._lock:
            current = self.get(record_id)
            if current is None:
                return False
            if self._value_indexes or self._ordered_indexes:
                self._reindex(record_id, current, None)
            self._overlay.pop(record_id, None)
            self._modified[record_id] = self.clock.now()
            self.version += 1
            if record_id in self._created:
                del self._created[record_id]
                return True
            self._deleted_ids.add(record_id)
            index = self.index_of(record_id)
            assert index is not None
            pos = bisect_right(self._deleted_index, index)
            self._deleted_index.insert(pos, index)
            return True

    def _undelete(self, record_id: Any) -> None:
        self._deleted_ids.discard(record_id)
        index = self.index_of(record_id)
        if index is not None:
            self._deleted_index.remove(index)

    # -- reads in order

    def iter(self, factory: Callable[[int], Record] | None = None) -> Iterator[Record]:
        """Every live record: base records by index, then created ones.

        `factory` may replace the base factory for this scan, e.g. with one that builds
        only the fields a query looks at; changed records still come from the overlay.
        Records from a replacement factory must carry the key field.
        """
        return self._records_from(0, factory)

    def __iter__(self) -> Iterator[Record]:
        return self.iter()

    def page(self, offset: int, limit: int) -> list[Record]:
        """Records `offset .. offset+limit` of `iter()`, generating only those."""
        if offset < 0 or limit < 0:
            raise ValueError(f"page needs offset >= 0 and limit >= 0, got {offset}, {limit}")
        out: list[Record] = []
        if limit == 0:
            return out
        for record in self._records_from(offset):
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def _records_from(self, offset: int,
                      factory: Callable[[int], Record] | None = None) -> Iterator[Record]:
        deleted = self._deleted_index
        live_base = self.size - len(deleted)
        if offset < live_base:
            # The offset-th live base index b is the least fixed point of
            # b = offset + (number of deleted indices <= b).
            index = offset
            while True:
                candidate = offset + bisect_right(deleted, index)
                if candidate == index:
                    break
                index = candidate
            overlay = self._overlay
            deleted_set = set(deleted)
            factory = factory or self.factory
            key = self.key
            for i in range(index, self.size):
                if i in deleted_set:
                    continue
                if overlay:
                    record = factory(i)
                    changed = overlay.get(record[key])
                    yield dict(changed) if changed is not None else record
                else:
                    yield factory(i)
            offset = live_base
        for record_id in list(self._created)[offset - live_base:]:
            created = self._overlay.get(record_id)
            if created is not None:
                yield dict(created)
