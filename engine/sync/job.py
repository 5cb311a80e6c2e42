"""One sync compiled for one run: its steps built once from the spec, the adapters and state.

    job = SyncJob(runtime, "customers")
    job.reader     read.SourceReader    records, the delta window, retries of failures
    job.decider    decide.Decider       filter, key, map, match: one Change per record
    job.writer     apply.Writer         writes and their outcomes

`plan_sync` and `run_sync` (pipeline.py) drive them; `specsync explain` and the
benchmarks use the compiled pieces (key, mapper, render context) on their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Container, Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.adapters.base import Adapter, Record
from engine.adapters.catalog import ObjectInfo
from engine.rules import compile_rule, parse_rule
from engine.spec.direction import opposite
from engine.spec.model import Spec, Sync
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import StateStore
from engine.sync.apply import Applied, Writer
from engine.sync.changes import Change
from engine.sync.decide import Decider
from engine.sync.mapping import Mapper
from engine.sync.match import TargetMatcher
from engine.sync.merge import Merger
from engine.sync.read import SourceReader
from engine.sync.runtime import Runtime, StoreLinks
from engine.templates import RenderContext

__all__ = ["SyncJob"]


class SyncJob:
    """One sync compiled for one run: filter, key, mapper, adapters and state."""

    def __init__(self, runtime: Runtime, sync_name: str, *,
                 links: StoreLinks | None = None) -> None:
        spec: Spec = runtime.spec
        if sync_name not in spec.syncs:
            raise KeyError(sync_name)
        self.runtime = runtime
        self.spec = spec
        self.sync: Sync = spec.syncs[sync_name]
        self.integration = spec.integration
        self.store: StateStore = runtime.store
        self.astore: AsyncStateStore = runtime.astore
        self.source: Adapter = runtime.adapter(self.sync.source_connection)
        self.target: Adapter = runtime.adapter(self.sync.target_connection)
        self.source_info: ObjectInfo | None = self.source.describe().objects.get(
            self.sync.source_object)
        self.target_info: ObjectInfo | None = self.target.describe().objects.get(
            self.sync.target_object)
        self.links = links or runtime.links()
        self.now = runtime.clock()
        self.ctx = RenderContext(setup=spec.setup, links=self.links, now=self.now)
        self.predicate = (compile_rule(parse_rule(self.sync.filter), setup=spec.setup,
                                       clock=runtime.clock) if self.sync.filter else None)
        self.mapper = Mapper(self.sync.fields, self.sync.placement, target=self.target_info,
                             source=self.source_info,
                             text=runtime.text_rules(self.sync.target_connection))
        self.fingerprint = self.sync.fingerprint(spec.setup)
        # Records are decided and checkpointed in batches of `batch_size`; the adapter
        # splits the writes of a batch into what one API call can carry.
        self.batch_size = max(1, self.sync.batch_size)

        self.reader = SourceReader(self.sync, self.source, self.source_info,
                                   integration=self.integration, store=self.astore)
        self.matcher = TargetMatcher(self.sync, self.target, self.target_info, self.mapper,
                                     self.ctx)
        self.decider = Decider(self.sync, integration=self.integration, mapper=self.mapper,
                               predicate=self.predicate, ctx=self.ctx, links=self.links,
                               matcher=self.matcher, store=self.astore,
                               source_info=self.source_info, target_info=self.target_info,
                               fingerprint=self.fingerprint, merger=self._merger())
        self.writer = Writer(self.sync, self.target, self.matcher)

    def _merger(self) -> Merger | None:
        """The field-level merge of a two-way sync's two-way fields (merge.py)."""
        sync = self.sync
        if not sync.merge:
            return None
        redactor = self.runtime.redactor
        return Merger(integration=self.integration, sync=sync.name, policies=sync.merge,
                      fields=self.mapper.fields,
                      source_object=f"{sync.source_connection}.{sync.source_object}",
                      target_object=f"{sync.target_connection}.{sync.target_object}",
                      source_info=self.source_info, target_info=self.target_info,
                      source_system=sync.source_connection,
                      target_system=sync.target_connection,
                      outbound=sync.direction == "outbound", redact=redactor.text,
                      at=self.now, opposite=opposite(self.spec.syncs, sync.name))

    def __repr__(self) -> str:
        return f"SyncJob({self.integration}/{self.sync.name})"

    # The steps, by the names callers know them by.
    def key_of(self, record: Mapping[str, Any]) -> str:
        return self.decider.key_of(record)

    def source_id_for(self, key: str) -> str | None:
        return self.reader.source_id_for(key)

    def records(self, since: datetime | None) -> AsyncIterator[Record]:
        return self.reader.records(since)

    def noting_keys(self, records: AsyncIterator[Record], seen: set[str],
                    only: Container[str] | None = None) -> AsyncIterator[Record]:
        return self.reader.noting_keys(records, seen, only)

    async def decide(self, batch: Sequence[Record], *, with_old: bool) -> list[Change]:
        return await self.decider.decide(batch, with_old=with_old)

    async def apply(self, changes: Sequence[Change]) -> Applied:
        return await self.writer.apply(changes)
