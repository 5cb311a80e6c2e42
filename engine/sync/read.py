"""Read: the records a run decides, and how far its delta cursor may move.

A run reads everything (`full`, no cursor yet, or a spec change that changes what is
written) or what changed since the cursor minus the sync's overlap. A delta read is
followed by the records that failed before and were not read again, fetched one by one,
so a failure is retried even when its record does not change. Records may also be
handed in (a webhook's records): then there is no window and the cursor never moves.

The cursor a run reaches is the newest cursor value it read. A delta read comes in
ascending cursor order, so each checkpoint may carry it; a full read comes in the
source's own order, so its cursor is committed only once everything was read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.adapters.base import Adapter, Record
from engine.adapters.catalog import ObjectInfo
from engine.errors import RecordError
from engine.spec.model import Sync
from engine.state.asyncstore import AsyncStateStore
from engine.templates import build_key
from engine.values import coerce, parse_datetime

__all__ = ["DeltaCursor", "SourceReader", "batches", "chain", "page_batches"]


class SourceReader:
    """Where one sync's records come from (see the module docstring)."""

    def __init__(self, sync: Sync, source: Adapter, source_info: ObjectInfo | None, *,
                 integration: str, store: AsyncStateStore) -> None:
        self.sync = sync
        self.source = source
        self.source_info = source_info
        self.integration = integration
        self.store = store

    def window(self, full: bool, *, cursor: str | None, stored_fingerprint: str | None,
               fingerprint: str) -> datetime | None:
        """Read records changed since this (None: read everything)."""
        delta = self.sync.delta
        if full or delta is None:
            return None
        if stored_fingerprint != fingerprint:
            return None  # the spec changed what is written: reconcile everything
        if cursor is None:
            return None
        return parse_datetime(cursor) - delta.overlap

    def records(self, since: datetime | None) -> AsyncIterator[Record]:
        """The source's records (changed since `since`, or all): the adapter's own stream,
        not wrapped in another generator that every record would pass through."""
        delta = self.sync.delta
        return self.source.read(self.sync.source_object, since=since,
                                cursor_field=delta.cursor if delta and since else None)

    def pages(self) -> AsyncIterator[list[Record]] | None:
        """A full read a page at a time, where the adapter offers it (`PagedRead`);
        None where it does not (then `records(None)`)."""
        read_pages = getattr(self.source, "read_pages", None)
        return read_pages(self.sync.source_object) if read_pages is not None else None

    def stream(self, since: datetime | None, read_keys: set[str],
               failing: Container[str]) -> AsyncIterator[Record]:
        """`records(since)`; after a delta read, the failing records it did not read.

        `read_keys` collects the keys read that were `failing` (and whatever the caller
        adds, e.g. the keys that fail during the run): those are not fetched again.
        """
        records = self.records(since)
        if since is None:
            return records
        return chain(self.noting_keys(records, read_keys, only=failing),
                     self.retry_records(read_keys))

    async def noting_keys(self, records: AsyncIterator[Record], seen: set[str],
                          only: Container[str] | None = None) -> AsyncIterator[Record]:
        """Pass records through, remembering their keys as they are read.

        With `only` (the keys failing before the run), just those are remembered: the
        set then grows with the failures, not with the size of the source.
        """
        key = self.sync.key
        async for record in records:
            with contextlib.suppress(RecordError):
                text = build_key(key.components, key.separator, record)
                if only is None or text in only:
                    seen.add(text)
            yield record

    async def retry_records(self, seen: Container[str]) -> AsyncIterator[Record]:
        """Records that failed before and were not read again this run (delta reads).

        The failing keys are read when the stream gets here, so failures committed
        earlier in this run are among them (and in `seen`: not fetched twice).
        """
        for key in await self.store.failing_keys(self.integration, self.sync.name):
            if key in seen:
                continue
            source_id = self.source_id_for(key)
            if source_id is None:
                continue
            record = await self.source.get(self.sync.source_object, source_id)
            if record is not None:
                yield record

    def source_id_for(self, key: str) -> str | None:
        """The source record id behind a failing key, to fetch it again for a retry."""
        if key.startswith("#"):
            return key[1:]
        components = self.sync.key.components
        parts = key.split(self.sync.key.separator) if len(components) > 1 else [key]
        values = dict(zip(components, parts, strict=False))
        id_field = self.source_info.id_field if self.source_info else None
        return values.get(id_field) if id_field else None


def cursor_value(record: Mapping[str, Any], field: str) -> datetime | None:
    """A record's cursor value as an aware datetime; None when it has none."""
    value = record.get(field)
    if type(value) is datetime and value.tzinfo is not None:
        return value  # adapters already hand over aware datetimes: the common case
    value = coerce(value, "datetime")
    return value if isinstance(value, datetime) else None


class DeltaCursor:
    """The newest cursor value a run has read, and how many records had none.

    `advance=False` (records handed in, not read from the source) only counts.
    """

    def __init__(self, sync: Sync, start: str | None, *, advance: bool) -> None:
        self.delta = sync.delta
        self.field = sync.delta.cursor if sync.delta is not None else None
        self.value = start
        self.advance = advance
        self.missing = 0

    def scan(self, batch: Sequence[Record]) -> datetime | None:
        """The newest cursor value of a batch (records without one are counted)."""
        field = self.field
        if field is None:
            return None
        newest: datetime | None = None
        for record in batch:
            value = record.get(field)
            if type(value) is not datetime or value.tzinfo is None:
                value = cursor_value(record, field)  # not an aware datetime yet
            if value is None:
                self.missing += 1
            elif newest is None or value > newest:
                newest = value
        return newest

    def reach(self, newest: datetime | None) -> None:
        """Move the cursor to a batch's newest value once the batch is decided and written."""
        if newest is not None and self.advance and (
                self.value is None or parse_datetime(self.value) < newest):
            self.value = newest.isoformat()

    def warning(self) -> str | None:
        """What to tell the operator about records without a cursor value, if any."""
        if not self.missing or self.field is None:
            return None
        return (f"{self.missing} record(s) have no {self.field}: delta sync cannot see their "
                "changes, so they are synced only on full runs (check that the field exists "
                "and updates whenever the record changes)")


async def batches(records: AsyncIterator[Record], size: int, *,
                  ahead: Callable[[list[Record]], Awaitable[None]] | None = None,
                  window: int = 1, stopped: Callable[[], bool] | None = None,
                  ) -> AsyncIterator[list[Record]]:
    """Records in lists of `size`. Between batches the event loop gets a turn, so I/O
    started in the background (an adapter fetching its next page) proceeds while
    records of the current page are decided: a page already in memory never suspends.

    With `ahead`, `window` batches are read at a time and `ahead(records)` is awaited
    once for all of them before the first is handed out (the decider loads their links
    in one trip to the store instead of one per batch). Once `stopped()` says so, no
    further batch of a window is handed out: a stop still ends at the batch in hand.
    """
    if ahead is None or window <= 1:
        batch: list[Record] = []
        async for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
                await asyncio.sleep(0)
        if batch:
            yield batch
        return
    read: list[Record] = []
    failed: Exception | None = None
    try:
        async for record in records:
            read.append(record)
            if len(read) >= size * window:
                await ahead(read)
                for start in range(0, len(read), size):
                    if start and stopped is not None and stopped():
                        return
                    yield read[start:start + size]
                    await asyncio.sleep(0)
                read = []
    except Exception as exc:  # a page refused mid-window: the whole batches before it are
        failed = exc  # decided and committed first, as they were one by one
        del read[len(read) // size * size:]
    if read:
        await ahead(read)
        for start in range(0, len(read), size):
            if start and stopped is not None and stopped():
                break
            yield read[start:start + size]
    if failed is not None:
        raise failed


async def page_batches(pages: AsyncIterator[list[Record]], size: int, *,
                       ahead: Callable[[list[Record]], Awaitable[None]], window: int,
                       stopped: Callable[[], bool]) -> AsyncIterator[list[Record]]:
    """`batches` of a paged read (`SourceReader.pages`), with the stop of
    `StopRequest.guard` (stop.py): the same batches as
    `batches(stop.guard(records), size, ahead=ahead, window=window, stopped=stopped)`
    over the same records, without a generator step per record.

    The guard ends the read at the first record asked for after a stop was requested,
    after handing on the record being read when it came (a stop during a page's fetch
    lets the next record through); a stop never fetches a page after that.
    """
    span = size * max(1, window)
    look = ahead if window > 1 else None  # as `batches`: one batch, no read-ahead
    read: list[Record] = []
    failed: Exception | None = None
    if stopped():
        return
    try:
        async for page in pages:
            if stopped():  # requested while the page was fetched: its first record
                if not page:  # (the guard checks after handing one on)
                    continue
                read.append(page[0])
                break
            read.extend(page)
            while len(read) >= span:
                full, read = read[:span], read[span:]
                if look is not None:
                    await look(full)
                for start in range(0, span, size):
                    if start and stopped():
                        return
                    yield full[start:start + size]
                    await asyncio.sleep(0)
                if stopped():
                    return
    except Exception as exc:  # as `batches`: the whole batches before a refused page
        failed = exc
        del read[len(read) // size * size:]
    if read:
        if look is not None:
            await look(read)
        for start in range(0, len(read), size):
            if start and stopped():
                break
            yield read[start:start + size]
    if failed is not None:
        raise failed


async def chain(*sources: AsyncIterator[Record]) -> AsyncIterator[Record]:
    for source in sources:
        async for record in source:
            yield record
