"""One object type's store: lazily generated base records plus an overlay of changes, so
a million-record sandbox never holds a million dicts."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from engine.sandbox.platform.clock import Clock

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
            if self.get(record_id) is None:
                return False
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
