"""Decide: what to do with each record of a batch. Reads state and target, never writes.

For every record, in order: its key (one record per key per batch), the filter, the
mapped payload and its hash, then against the sync's links:

- linked, the source record's hash as on the link         -> skip, without mapping it
  (only where the mapping reads the record alone: no `linked()`, no clock)
- linked, same hash as last written                       -> skip
- linked, payload changed                                 -> update
- not linked, found in the target (external id, adopt_by) -> adopt
- not linked, not found                                   -> create
- not selected by the filter, linked                      -> deactivate, delete or filtered
  (as `on_unmatched` says); not linked                    -> filtered
- no key, a field that cannot be mapped, a lookup error   -> error (recorded, retried)

Most records of a reconcile are decided at once (a skip needs only the link). Those that
need the target (a lookup, or the old record a plan shows) wait as a `Decision` until the
batch's lookups are done; the changes still come out in the records' order.

Templates that call `linked()` read other syncs' links. Those are loaded for the whole
batch before deciding, in one trip to the store (see `StoreLinks.probing`), so no
template waits for the store on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from engine.adapters.base import Record
from engine.adapters.catalog import ObjectInfo
from engine.errors import RecordError
from engine.spec.model import Sync
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import CreatedValues, Link, LinkState, StateStore
from engine.sync.changes import (
    Change,
    ChangeKind,
    FieldChange,
    diff_fields,
    payload_hash,
    source_hasher,
)
from engine.sync.created import created_values, observe
from engine.sync.mapping import Mapper
from engine.sync.match import TargetMatcher
from engine.sync.merge import MergeOutcome, Merger
from engine.sync.runtime import StoreLinks
from engine.templates import RenderContext, Transform, compile_transform, key_function

__all__ = ["Decider", "Decision", "Keyed"]

Keyed = tuple[str | RecordError, Record]  # a record with its key, or why it has none

_PROBE_ROUNDS = 8  # a link read from a link: each round may uncover the next one


@dataclass(frozen=True, slots=True)
class Decision:
    """A selected record whose change needs the target first.

    The record is mapped and hashed; what it becomes waits for the batch's target
    lookups (no link yet: adopt or create) or, in a plan, for the target's current record
    (an update shown old -> new). `Decider.decide` turns each into a `Change`.
    """

    key: str
    record: Record
    source_id: str | None
    update: dict[str, Any]
    create_only: dict[str, Any]
    hash: str
    link: Link | None = None  # the link of an update; None while unlinked
    held: tuple[FieldChange, ...] = ()  # create-only fields the source changed since
    created: CreatedValues | None = None
    source_hash: str | None = None


def _uses_links(transform: Transform) -> bool:
    return "linked" in transform.functions or "linked_source" in transform.functions


_CLOCK = re.compile(r"\b(now|today)\b")


def _pure(transform: Transform) -> bool:
    """Whether the output depends on the record (and the spec) alone: no other sync's
    links, no clock. Only then may an unchanged source record skip its mapping."""
    return not _uses_links(transform) and not _CLOCK.search(str(transform.source))


class Decider:
    """Decides the batches of one sync (see the module docstring)."""

    def __init__(self, sync: Sync, *, integration: str, mapper: Mapper,
                 predicate: Callable[[Mapping[str, Any]], bool] | None, ctx: RenderContext,
                 links: StoreLinks, matcher: TargetMatcher, store: AsyncStateStore,
                 source_info: ObjectInfo | None, target_info: ObjectInfo | None,
                 fingerprint: str | None = None, merger: Merger | None = None) -> None:
        self.sync = sync
        self.integration = integration
        self.mapper = mapper
        self.predicate = predicate
        self.ctx = ctx
        self.links = links
        self.matcher = matcher
        self.store = store
        self.target_info = target_info
        self.id_field = source_info.id_field if source_info else None
        self._key_of = key_function(sync.key.components, sync.key.separator)
        self.external_field = matcher.external_field
        self.deactivate: dict[str, Transform] = {
            name: compile_transform(value) for name, value in sync.deactivate.items()}
        # The templates that read links, by the records they render for.
        self._linked_fields = [f.transform for f in (*mapper.fields, *mapper.placement)
                               if _uses_links(f.transform)] + \
            [t for t in matcher.adopt_by.values() if _uses_links(t)]
        self._linked_deactivate = [t for t in self.deactivate.values() if _uses_links(t)]
        # Fields written at creation only: their source changes are watched (created.py).
        self.watch_created = any(f.create_only for f in mapper.fields)
        # Linked keys whose key field was changed in the target (verify.py): they fail.
        self.modified: Mapping[str, RecordError] = {}
        # A record whose source hash is the one on its link maps to what was last
        # written: skipped without mapping, when the mapping is the record's alone.
        pure = all(_pure(f.transform) for f in (*mapper.fields, *mapper.placement))
        self._salt = fingerprint.encode() if pure and fingerprint else None
        self._source_hash = source_hasher(self._salt) if self._salt is not None else None
        self._refreshed: list[Link] = []
        # Two-way fields merged against what both sides last agreed on (merge.py): a
        # changed linked record waits for the target's current values.
        self.merger = merger
        # Links read ahead for the batches to come (`prefetch`), None where there is none;
        # each is taken by the first batch that decides its key.
        self._ahead: dict[str, LinkState | None] = {}
        # The window `prefetch` read ahead, its records' keys (or why a record has none)
        # and where its next batch starts: a batch of it is not keyed twice.
        self._window: Sequence[Record] = ()
        self._keyed: list[str | RecordError] = []
        self._next = self._last = 0
        # Whether every change of the last batch was a plain skip (nothing to write,
        # hold, count per change or report): run_sync then takes its short way.
        self.quiet = False

    # -- keys ---------------------------------------------------------------------------
    def key_of(self, record: Mapping[str, Any]) -> str:
        return self._key_of(record)

    def last_per_key(self, batch: Sequence[Record]) -> list[Keyed]:
        """Each record with its key (or why it has none), one record per key in a batch
        (the last read): two writes of one key in one batch would both see "no link
        yet" and create twice."""
        keys = self._window_keys(batch)
        if keys is not None:  # keyed once, by `prefetch`
            pairs: list[Keyed] = list(zip(keys, batch, strict=True))
            if len(dict(pairs)) == len(batch):  # an error is its own key: never twice
                return pairs
        key_of = self._key_of
        pairs = []
        by_key: dict[str, Record] = {}
        keyless = 0
        for record in batch:
            try:
                text = key_of(record)
            except RecordError as exc:
                pairs.append((exc, record))
                keyless += 1
                continue
            pairs.append((text, record))
            by_key[text] = record
        if len(by_key) + keyless == len(batch):
            return pairs  # no key twice: the read order
        return [*by_key.items(), *[p for p in pairs if isinstance(p[0], RecordError)]]

    # -- deciding -----------------------------------------------------------------------
    async def prefetch(self, records: Sequence[Record]) -> None:
        """Read the links of the records of several batches to come, in one trip to the
        store (pipeline.py hands over a window of batches, read.py `batches`).

        Each link read ahead serves once: a key that comes again in a later batch is read
        again then, after the commit of the batch that wrote it."""
        key_of = self._key_of
        keyed: list[str | RecordError] = []
        keys: list[str] = []
        for record in records:
            try:
                key = key_of(record)
            except RecordError as exc:
                keyed.append(exc)
                continue
            keyed.append(key)
            keys.append(key)
        found = await self.store.link_states(self.integration, self.sync.name, keys)
        ahead = self._ahead = dict.fromkeys(keys)
        ahead.update(found)
        # The keys serve again when the window's batches are decided (`last_per_key`).
        self._window, self._keyed, self._next, self._last = records, keyed, 0, 0

    def _window_keys(self, batch: Sequence[Record]) -> list[str | RecordError] | None:
        """The keys `prefetch` made for this batch, when it is the window's next slice
        (or the last one again, as recording.py asks); None for any other batch."""
        window, size = self._window, len(batch)
        if not size:
            return None
        for start in (self._next, self._last):
            end = start + size
            if end <= len(window) and window[start] is batch[0] and \
                    window[end - 1] is batch[-1]:
                self._last, self._next = start, end
                return self._keyed[start:end]
        return None

    async def _states(self, keys: list[str]) -> dict[str, LinkState]:
        """The links of a batch's keys: those read ahead, the others from the store."""
        ahead = self._ahead
        if not ahead:
            return await self.store.link_states(self.integration, self.sync.name, keys)
        states: dict[str, LinkState] = {}
        missing: list[str] = []
        take = ahead.pop
        for key in keys:
            if key not in ahead:
                missing.append(key)
            elif (state := take(key)) is not None:
                states[key] = state
        if missing:
            states.update(await self.store.link_states(self.integration, self.sync.name,
                                                       missing))
        return states

    async def decide(self, batch: Sequence[Record], *, with_old: bool) -> list[Change]:
        """One change per record (per key) of the batch: errors of records without a key
        or payload first, then the others, each in read order."""
        keyed = self.last_per_key(batch)
        if self._linked_fields or self._linked_deactivate:
            await self._load_links(keyed)
        keys = [k for k, _ in keyed if isinstance(k, str)]
        # Plain tuples (LinkState): most records of a reconcile need no more than a look
        # at one; a `Link` is made only for a record that needs more (of_state).
        states = await self._states(keys)
        watch = self.watch_created
        stored = await self.store.get_created(self.integration, self.sync.name, keys) \
            if watch and states else {}
        early: list[Change] = []  # no key, or no payload
        later: list[Change | Decision] = []
        unlinked: list[Decision] = []
        waiting = False
        id_field, predicate, ctx = self.id_field, self.predicate, self.ctx
        map_record = self.mapper.map
        skip, of_state, get_state = Change.skip, Link.of_state, states.get
        hash_source = self._source_hash
        modified = self.modified
        refreshed = self._refreshed = []
        plain = 0  # plain skips
        self.quiet = False
        for key, record in keyed:
            source_id = record.get(id_field) if id_field else None
            if source_id is not None:  # id_text, inline: once per record
                source_id = str(source_id)
            if isinstance(key, RecordError):
                # A record the filter rejects needs no key: it is not synced at all.
                if predicate is not None and not predicate(record):
                    early.append(Change(ChangeKind.FILTERED, f"#{source_id}", None,
                                        source_id=source_id,
                                        reason="the filter does not select it"))
                else:
                    early.append(Change.failure(f"#{source_id}", key, source_id))
                continue
            state = get_state(key)
            if predicate is not None and not predicate(record):
                later.append(self._unmatched(record, key, None if state is None
                                             else of_state(state), source_id))
                continue
            if modified and state is not None and key in modified:
                early.append(Change.failure(key, modified[key], source_id))
                continue
            seen = hash_source(record) if hash_source is not None else None
            # state: (source_key, target_id, hash, active, source_hash, origin)
            if state is not None and seen is not None and state[4] == seen and state[3]:
                later.append(skip(key, state[1], source_id))  # not even mapped
                plain += 1
                continue
            try:
                update, create_only = map_record(record, ctx)
            except RecordError as exc:
                early.append(Change.failure(key, exc, source_id))
                continue
            new_hash = payload_hash(update)
            if state is not None:
                held: tuple[FieldChange, ...] = ()
                created: CreatedValues | None = None
                if watch:
                    held, created = observe(key, create_only, stored.get(key))
                if state[3] and state[2] == new_hash:
                    if held or created:
                        later.append(Change(ChangeKind.SKIP, key, state[1],
                                            source_id=source_id, held=held, created=created))
                    else:
                        later.append(skip(key, state[1], source_id))
                        plain += 1
                    if seen is not None and not held and created is None:
                        # Next time skipped without mapping (a held change is reported
                        # every run, so a record that has one keeps being mapped).
                        if state[4] != seen:
                            refreshed.append(replace(of_state(state), source_hash=seen))
                    elif state[4] is not None:
                        # Mapped until its held change is gone: even a source set back to
                        # what the link's hash says must clear it (created.py).
                        refreshed.append(replace(of_state(state), source_hash=None))
                    continue
                link = of_state(state)
                if with_old or self.merger is not None:
                    later.append(Decision(key, record, source_id, update, create_only,
                                          new_hash, link, held, created,
                                          None if held or created else seen))
                    waiting = True
                else:
                    later.append(Change(ChangeKind.UPDATE, key, link.target_id, update,
                                        diff_fields({}, update), source_id=source_id,
                                        hash=new_hash, held=held, created=created,
                                        source_hash=None if held or created else seen))
                continue
            decision = Decision(key, record, source_id, update, create_only, new_hash,
                                source_hash=seen)
            later.append(decision)
            unlinked.append(decision)
            waiting = True
        if waiting:
            early.extend(await self._settle(later, unlinked))
        else:
            early.extend(cast(list[Change], later))  # nothing waits: all are changes
        self.quiet = plain == len(early)
        return early

    async def _settle(self, items: list[Change | Decision], unlinked: list[Decision]
                      ) -> list[Change]:
        """The changes of the records that waited for the target, in their places."""
        keys = [d.key for d in unlinked]
        existing = await self.matcher.lookup(keys) if keys else {}
        if self.matcher.adopt_by and keys:
            missing = {key for key in keys if existing.get(key) is None}
            existing.update(await self.matcher.adopt_lookup(
                [(d.key, d.record) for d in unlinked if d.key in missing]))
        owners = await self._owners(existing)
        bases = await self._bases(items)
        currents = await self._currents(items)
        settled: list[Change] = []
        for item in items:
            if isinstance(item, Change):
                settled.append(item)
            elif item.link is not None:
                old = currents[item.key] if item.key in currents else \
                    await self.matcher.current(item.link.target_id)
                if self.merger is not None and old is not None and item.link.active:
                    # (a deactivated record matched again is written whole, as before)
                    settled.append(self._merged(item, item.link, old, bases))
                    continue
                settled.append(Change(ChangeKind.UPDATE, item.key, item.link.target_id,
                                      item.update, self._diff(old, item.update),
                                      source_id=item.source_id, hash=item.hash,
                                      held=item.held, created=item.created,
                                      source_hash=item.source_hash))
            else:
                settled.append(self._match(item, existing.get(item.key), owners))
        return settled

    async def _bases(self, items: Sequence[Change | Decision]) -> dict[str, dict[str, str]]:
        """What the linked targets' two-way fields last agreed on, in one trip."""
        merger = self.merger
        ids = [item.link.target_id for item in items
               if isinstance(item, Decision) and item.link is not None]
        if merger is None or not ids:
            return {}
        return await self.store.get_bases(self.integration, merger.target_object, ids)

    async def _currents(self, items: Sequence[Change | Decision]) -> dict[str, Record]:
        """The merged records' targets as they are now, read a batch at a time by external
        id where the target can (HubSpot: 100 a call); the others are read one by one."""
        linked = {item.key: item.link.target_id for item in items
                  if isinstance(item, Decision) and item.link is not None}
        if self.merger is None or not self.external_field or not linked:
            return {}
        found = await self.matcher.lookup(list(linked))
        return {key: record for key, record in found.items()
                if isinstance(record, dict) and self.matcher.target_id(record) == linked[key]}

    def _merged(self, item: Decision, link: Link, current: Record,
                bases: Mapping[str, Mapping[str, str]]) -> Change:
        """A linked record's two-way fields merged with what its target holds now."""
        assert self.merger is not None
        merged = self.merger.merge(item.key, item.record, item.update, current,
                                   bases.get(link.target_id), item.source_id, link.target_id)
        outcome = merged.outcome if merged.outcome.bases or merged.outcome.conflicts \
            else None
        if not merged.payload:
            # Nothing to write: both sides agree, or the target keeps its own change.
            self._refreshed.append(replace(link, hash=item.hash, updated_at=None,
                                           source_hash=item.source_hash, active=True))
            return Change(ChangeKind.SKIP, item.key, link.target_id,
                          source_id=item.source_id, held=item.held, created=item.created,
                          merge=outcome)
        return Change(ChangeKind.UPDATE, item.key, link.target_id, merged.payload,
                      merged.fields, source_id=item.source_id, hash=item.hash,
                      held=item.held, created=item.created, source_hash=item.source_hash,
                      merge=outcome)

    async def _owners(self, existing: Mapping[str, Record | RecordError]) -> dict[str, Link]:
        """The links already pointing at the target records found, in one trip."""
        ids = sorted({target_id for found in existing.values()
                      if found is not None and not isinstance(found, RecordError)
                      and (target_id := self.matcher.target_id(found))})
        if not ids:
            return {}
        integration, sync = self.integration, self.sync.name

        def owners(state: StateStore) -> dict[str, Link]:
            found = {tid: state.link_for_target(integration, sync, tid) for tid in ids}
            return {tid: link for tid, link in found.items() if link is not None}

        return await self.store.run(owners)

    def _match(self, item: Decision, found: Record | RecordError | None,
               owners: Mapping[str, Link]) -> Change:
        """An unlinked record: adopt what the lookup found, else create it."""
        key, source_id, update = item.key, item.source_id, item.update
        if isinstance(found, RecordError):
            return Change.failure(key, found, source_id)
        if found is not None:
            target_id = self.matcher.target_id(found)
            owner = owners.get(target_id) if target_id else None
            if owner is not None and owner.source_key != key:
                return Change(
                    ChangeKind.ERROR, key, target_id, code="key.adopt-conflict",
                    source_id=source_id,
                    reason=f"the {self.sync.target_object} record {target_id} that matches "
                    f"it already belongs to {owner.source_key}; two source records share "
                    "the lookup value, so neither is adopted twice (fix the data)")
            if self.external_field and self.matcher.adopt_by:
                # Adopted by another field: the target learns our key too.
                update = {**update, self.external_field: key}
            fields = self._diff(found, update)
            return Change(ChangeKind.ADOPT, key, target_id, update if fields else {}, fields,
                          source_id=source_id, hash=item.hash,
                          created=self._created(key, item.create_only),
                          source_hash=item.source_hash,
                          merge=self._agreed(item, target_id))
        try:
            payload = self.mapper.create_from(item.record, self.ctx, update, item.create_only)
        except RecordError as exc:
            return Change.failure(key, exc, source_id)
        if self.external_field:
            payload[self.external_field] = key
        return Change(ChangeKind.CREATE, key, None, payload, diff_fields(None, payload),
                      source_id=source_id, hash=item.hash,
                      created=self._created(key, item.create_only),
                      source_hash=item.source_hash, merge=self._agreed(item, None))

    def _agreed(self, item: Decision, target_id: str | None) -> MergeOutcome | None:
        """A created or adopted record's two-way fields: agreed as written."""
        if self.merger is None:
            return None
        merger = self.merger
        bases = merger.agreed(item.record, item.update, item.source_id, target_id)
        return MergeOutcome(bases, stale=merger.stale(item.source_id)) if bases else None

    def _created(self, key: str, create_only: Mapping[str, Any]) -> CreatedValues | None:
        return created_values(key, create_only) if self.watch_created else None

    def source_hash_of(self, record: Record) -> str | None:
        """The hash an unchanged record is skipped by; None where the mapping reads
        more than the record (no skipping without mapping then)."""
        return self._source_hash(record) if self._source_hash is not None else None

    def take_refreshed(self) -> list[Link]:
        """Links of the last batch's unchanged records that learn their source hash
        (committed with the batch, so the next run skips them without mapping)."""
        refreshed, self._refreshed = self._refreshed, []
        return refreshed

    def _unmatched(self, record: Record, key: str, link: Link | None,
                   source_id: str | None) -> Change:
        """A record the filter does not select: undo its link as `on_unmatched` says."""
        behaviour = self.sync.on_unmatched
        if link is None or not link.active or behaviour == "ignore":
            return Change(ChangeKind.FILTERED, key, link.target_id if link else None,
                          source_id=source_id, reason="the filter does not select it")
        if behaviour == "delete":
            return Change(ChangeKind.DELETE, key, link.target_id, source_id=source_id,
                          reason="it stopped matching the filter")
        try:
            payload = {name: t.render(record, self.ctx) for name, t in self.deactivate.items()}
        except RecordError as exc:
            return Change.failure(key, exc, source_id)
        return Change(ChangeKind.DEACTIVATE, key, link.target_id, payload,
                      diff_fields({}, payload), source_id=source_id,
                      reason="it stopped matching the filter")

    def _diff(self, old: Record | None, new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
        """Field changes against the target's current record; fields the target cannot
        read back (write-only, resolved by the adapter) show their old value as unknown."""
        changes = diff_fields(old, new)
        if old is None or self.target_info is None:
            return changes
        info = self.target_info
        unreadable = {c.field for c in changes if c.field not in old and
                      (field := info.field(c.field)) is not None and field.write_only}
        return tuple(FieldChange(c.field, "(not readable)", c.new) if c.field in unreadable
                     else c for c in changes)

    # -- links other syncs wrote ----------------------------------------------------------
    async def _load_links(self, keyed: Sequence[Keyed]) -> None:
        """Load the links the batch's templates will ask for, a trip to the store per round.

        Each round renders the templates that call `linked()` with the links known so far;
        the ones it asked for and did not find are read. A link whose key comes from
        another link needs a second round; a record is then decided from cache alone.
        """
        complete, ctx, predicate = self.mapper.complete, self.ctx, self.predicate
        for _ in range(_PROBE_ROUNDS):
            with self.links.probing():
                for key, record in keyed:
                    if isinstance(key, RecordError):
                        continue
                    selected = predicate is None or predicate(record)
                    renders = self._linked_fields if selected else self._linked_deactivate
                    full = complete(record) if selected else record
                    for transform in renders:
                        try:  # noqa: SIM105 (per record: cheaper than contextlib.suppress)
                            transform.render(full, ctx)
                        except RecordError:
                            pass  # a link read as None may fail the render: no matter
            if not await self.links.load_missing(self.store):
                return
