"""Replay: a spec rendered over the records a recorded run read, compared field by field.

    result = replay_run(spec, "customers", run, reads, store)             # vs what it wrote
    result = replay_run(spec, "customers", run, reads, store, base=old)   # vs another spec

Each record's outcome is what the spec makes of it, offline: filtered out, failing (its
error code), or mapped (every field; placement aside), with the links of the state
store for `linked()`, and the clock at the time the run was recorded. The old side is
what the recorded run made of the record, or, with `base`, what the base spec makes of
the same record now. A record the recording masked an identity number in and that the
spec now fails on is not comparable (said so, never reported as a change).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.adapters.registry import default_registry
from engine.errors import RecordError
from engine.redact import PERSONNUMMER_MASK
from engine.rules import compile_rule, parse_rule
from engine.spec.model import Spec
from engine.state.base import StateStore
from engine.state.recordings import RecordedRead, RecordedRun
from engine.sync.mapping import Mapper
from engine.sync.recording import masked
from engine.sync.runtime import StoreLinks
from engine.templates import RenderContext
from engine.values import coerce_record

__all__ = ["FieldDiff", "RecordDiff", "ReplayResult", "replay_run"]

_MAPPED = ("create", "update", "adopt", "skip")


@dataclass(frozen=True)
class FieldDiff:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class RecordDiff:
    key: str
    change: str  # "update" (fields differ), "selected", "filtered", "fails", "recovers"
    fields: tuple[FieldDiff, ...] = ()
    detail: str = ""


@dataclass
class ReplayResult:
    integration: str
    sync: str
    object: str  # the target object, for "3 of 12 customers"
    run: RecordedRun
    base: str | None  # the base spec's name (a git ref), or None: the run itself
    records: int = 0
    diffs: list[RecordDiff] = field(default_factory=list)
    not_comparable: list[str] = field(default_factory=list)

    def field_counts(self) -> Counter[str]:
        return Counter(f.field for d in self.diffs for f in d.fields)


class _Renderer:
    """What one spec makes of a recorded record."""

    def __init__(self, spec: Spec, sync_name: str, store: StateStore, run: RecordedRun) -> None:
        sync = spec.syncs[sync_name]
        registry = default_registry()

        def info(connection: str, obj: str) -> Any:
            conn = spec.connections.get(connection)
            catalog = registry.catalog(conn.adapter) if conn else None
            return catalog.objects.get(obj) if catalog else None

        self.source = info(sync.source_connection, sync.source_object)
        self.mapper = Mapper(sync.fields, sync.placement,
                             target=info(sync.target_connection, sync.target_object),
                             source=self.source)
        now = run.recorded_at
        self.predicate = compile_rule(parse_rule(sync.filter), setup=spec.setup,
                                      clock=lambda: now) if sync.filter else None
        self.ctx = RenderContext(setup=spec.setup, links=StoreLinks(store, spec.integration),
                                 now=now)

    def outcome(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        record = coerce_record(dict(raw), self.source.fields if self.source else {})
        if self.predicate is not None and not self.predicate(record):
            return {"kind": "filtered"}
        try:
            update, create_only = self.mapper.map(record, self.ctx)
        except RecordError as exc:
            return {"kind": "error", "code": exc.code}
        return {"kind": "mapped", "payload": masked({**update, **create_only})}


def _plain(outcome: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(outcome.get("kind"))
    if kind in _MAPPED or kind == "mapped":
        return {"kind": "mapped", "payload": dict(outcome.get("payload") or {})}
    if kind == "error":
        return {"kind": "error", "code": outcome.get("code")}
    return {"kind": "filtered"}  # filtered, deactivate, delete: the filter left it out


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                      default=str)


def _masked_input(raw: Any) -> bool:
    return PERSONNUMMER_MASK in json.dumps(raw, default=str, ensure_ascii=False)


def _compare(key: str, old: dict[str, Any], new: dict[str, Any]) -> RecordDiff | None:
    if old["kind"] == new["kind"] == "mapped":
        before, after = old["payload"], new["payload"]
        fields = tuple(FieldDiff(name, before.get(name), after.get(name))
                       for name in sorted(set(before) | set(after))
                       if not _same(before.get(name), after.get(name)))
        return RecordDiff(key, "update", fields) if fields else None
    if old["kind"] == new["kind"]:
        if old["kind"] == "error" and old.get("code") != new.get("code"):
            return RecordDiff(key, "fails", detail=f"now fails with {new['code']} "
                              f"(was {old['code']})")
        return None
    if new["kind"] == "filtered":
        return RecordDiff(key, "filtered", detail="would now be filtered out")
    if new["kind"] == "error":
        return RecordDiff(key, "fails", detail=f"would now fail with {new['code']}")
    if old["kind"] == "filtered":
        return RecordDiff(key, "selected", detail="would now be selected")
    return RecordDiff(key, "recovers", detail=f"would now map (failed with {old['code']})")


def replay_run(spec: Spec, sync_name: str, run: RecordedRun, reads: Sequence[RecordedRead],
               store: StateStore, *, base: Spec | None = None,
               base_name: str | None = None) -> ReplayResult:
    """Field-by-field differences between the old side and `spec` over `reads`."""
    sync = spec.syncs[sync_name]
    result = ReplayResult(spec.integration, sync_name, sync.target_object, run, base_name)
    now = _Renderer(spec, sync_name, store, run)
    then = _Renderer(base, sync_name, store, run) \
        if base is not None and sync_name in base.syncs else None
    for read in reads:
        result.records += 1
        new = now.outcome(read.record)
        old = then.outcome(read.record) if then is not None else _plain(read.outcome)
        if read.outcome.get("kind") == "unread":
            continue
        if "error" in (new["kind"], old["kind"]) and old["kind"] != new["kind"] and \
                _masked_input(read.record):
            result.not_comparable.append(read.key)
            continue
        diff = _compare(read.key, old, new)
        if diff is not None:
            result.diffs.append(diff)
    return result
