"""Retry failing records now, one or all, without waiting for the next run.

Each failing key is turned back into its source record's id and fetched again, and the
records found go through `run_sync` as handed-in records: decided, written and
checkpointed like any run (a written record's failure is cleared in the same commit),
while the delta cursor stays where it is. A record the source no longer has stays
failing and is counted as `missing`.

    records = FailingRecords(runtime, "customers", keys=["10042"])
    report = await run_sync(runtime, "customers", trigger="retry", records=records.read())
    records.missing     # keys whose record the source no longer returns
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from engine.adapters.base import Record
from engine.sync.read import SourceReader
from engine.sync.runtime import Runtime

__all__ = ["FailingRecords"]


class FailingRecords:
    """The source records behind a sync's failing keys (all of them, or `keys`)."""

    def __init__(self, runtime: Runtime, sync_name: str,
                 keys: Sequence[str] | None = None) -> None:
        self.runtime = runtime
        self.sync = runtime.spec.syncs[sync_name]
        self.keys = None if keys is None else list(keys)
        self.missing: list[str] = []
        self.found = 0

    async def read(self) -> AsyncIterator[Record]:
        runtime, sync = self.runtime, self.sync
        source = runtime.adapter(sync.source_connection)
        reader = SourceReader(sync, source, source.describe().objects.get(sync.source_object),
                              integration=runtime.spec.integration, store=runtime.astore)
        failing = set(await runtime.astore.failing_keys(runtime.spec.integration, sync.name))
        wanted = sorted(failing) if self.keys is None else [k for k in self.keys
                                                            if k in failing]
        for key in wanted:
            source_id = reader.source_id_for(key)
            record = None if source_id is None else await source.get(sync.source_object,
                                                                     source_id)
            if record is None:
                self.missing.append(key)
                continue
            self.found += 1
            yield record
