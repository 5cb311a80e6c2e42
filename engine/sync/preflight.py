"""What `specsync check` and `specsync lock` find on the live systems before a run.

Two parts, each finding naming the spec line it is about:

1. The target metadata the spec refers to (engine/spec/references.py) exists: every
   pipeline, stage, currency, language, office, role and tag, through the vendor's
   `ReferenceSource`. A stage must belong to the pipeline the spec places it in. With a
   lock (spec.lock.json), what changed on the system since is drift.
2. A sample of each sync's source records (the first `SAMPLE` read) shows the
   troubleshooting cases of the seed documents before they hurt:
   - missing or incomplete data: a field the field table reads that no record has;
   - records not updating: the delta cursor field missing on records, or a key matched
     as the target's own id (`match: internal`) that is no id of the target;
   - new records in the wrong place: placement naming a pipeline or stage the target
     does not have (part 1, said in those words).
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.adapters.base import Referent
from engine.diagnostics import Location
from engine.rules import compile_rule, parse_rule
from engine.spec.lockfile import LockedReference, kind_word
from engine.spec.model import Spec, Sync
from engine.spec.references import SpecReference
from engine.spec.source import pointer_join
from engine.sync.runtime import Runtime
from engine.templates import compile_transform

__all__ = ["SAMPLE", "Finding", "Preflight", "check_references", "check_samples"]

SAMPLE = 20
_SHOWN = 12

Level = Literal["problem", "note", "drift"]
Locate = Callable[[str], Location]


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str
    location: Location | None = None
    case: str | None = None  # the troubleshooting case it answers, in the seed's words


@dataclass
class Preflight:
    findings: list[Finding] = field(default_factory=list)
    resolved: list[LockedReference] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level in ("problem", "drift")]


def _title(runtime: Runtime, connection: str) -> str:
    conn = runtime.spec.connections[connection]
    vendor = runtime.registry.find(conn.adapter)
    return vendor.title if vendor is not None else conn.adapter


def _listing(items: list[Referent]) -> str:
    shown = [f"{r.id} {r.name}".strip() if r.name != r.id else r.id for r in items[:_SHOWN]]
    more = f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(shown) + more or "none"


async def _referents(runtime: Runtime, refs: list[SpecReference], out: Preflight
                     ) -> dict[tuple[str, str], list[Referent] | None]:
    """Each (connection, kind) the references need, as the live system lists it (None:
    the vendor cannot say)."""
    found: dict[tuple[str, str], list[Referent] | None] = {}
    for connection, kind in dict.fromkeys((r.connection, r.kind) for r in refs):
        vendor = runtime.registry.find(runtime.spec.connections[connection].adapter)
        source = vendor.references if vendor is not None else None
        if source is None:
            found[(connection, kind)] = None
            continue
        try:
            found[(connection, kind)] = await source.referents(runtime.adapter(connection),
                                                               kind)
        except Exception as exc:  # reported as a finding, never a traceback
            found[(connection, kind)] = None
            out.findings.append(Finding("problem", runtime.redactor.text(
                f"{connection}: cannot list its {kind}: {exc}")))
    return found


def _missing(runtime: Runtime, ref: SpecReference, items: list[Referent],
             location: Location) -> Finding:
    title = _title(runtime, ref.connection)
    word = kind_word(ref.kind)
    if ref.kind == "pipeline_stages" and ref.parent is not None:
        pipeline = [r for r in items if r.parent == ref.parent]
        what = (f"which {title}'s pipeline {ref.parent} does not have; its stages: "
                f"{_listing(pipeline)}" if pipeline else
                f"and {title} has no pipeline {ref.parent} with stages")
    else:
        what = f"which {title} does not have; it has: {_listing(items)}"
    if ref.field.startswith("placement."):
        sync = runtime.spec.syncs[ref.sync]
        return Finding("problem", f"{ref.sync}: new {sync.target_object} would end up in "
                       f"the wrong place: {ref.where} is {word} {ref.value}, {what}",
                       location, "New records ending up in the wrong place")
    return Finding("problem", f"{ref.sync}: {ref.where} is {word} {ref.value}, {what}",
                   location)


async def check_references(runtime: Runtime, refs: list[SpecReference], locate: Locate,
                           locked: list[LockedReference] | None = None) -> Preflight:
    """Resolve every reference on the live system; compare with the lock, if any."""
    out = Preflight()
    lists = await _referents(runtime, refs, out)
    resolved: dict[tuple[str, str, str, str | None], LockedReference] = {}
    absent: dict[tuple[str, str, str], list[SpecReference]] = {}
    for ref in refs:
        items = lists.get((ref.connection, ref.kind))
        if items is None:
            continue
        hits = [r for r in items if r.id == ref.value and
                (ref.parent is None or r.parent == ref.parent)]
        vendor = runtime.registry.find(runtime.spec.connections[ref.connection].adapter)
        creatable = vendor is not None and vendor.references is not None and \
            ref.kind in vendor.references.created_on_write
        if hits:
            resolved[ref.key] = LockedReference(*ref.key, hits[0].name)
        elif creatable:
            resolved[ref.key] = LockedReference(*ref.key, "")
            absent.setdefault((ref.sync, ref.kind, ref.where), []).append(ref)
        else:
            out.findings.append(_missing(runtime, ref, items, locate(ref.pointer)))
    for (sync, kind, where), missing in absent.items():  # one note per setup entry
        names = ", ".join(repr(r.value) for r in missing)
        plural = f"{kind_word(kind)}s" if len(missing) > 1 else kind_word(kind)
        out.findings.append(Finding(
            "note", f"{sync}: {plural} {names} ({where}) not in "
            f"{_title(runtime, missing[0].connection)} yet: the first write creates "
            f"{'them' if len(missing) > 1 else 'it'}", locate(missing[0].pointer)))
    out.resolved = list(resolved.values())
    if locked is not None:
        out.findings.extend(_drift(runtime, locked, lists))
    return out


def _drift(runtime: Runtime, locked: list[LockedReference],
           lists: Mapping[tuple[str, str], list[Referent] | None]) -> list[Finding]:
    out = []
    for item in locked:
        items = lists.get((item.connection, item.kind))
        if items is None:
            continue
        live = [r for r in items if r.id == item.value and
                (item.parent is None or r.parent == item.parent)]
        word, title = kind_word(item.kind), _title(runtime, item.connection)
        if not live and item.name:
            out.append(Finding("drift", f"{word} {item.value} ({item.name}) was locked, but "
                               f"{title} no longer has it"))
        elif live and item.name and live[0].name != item.name:
            out.append(Finding("drift", f"{word} {item.value} was {item.name!r} when locked, "
                               f"{title} now calls it {live[0].name!r}: run specsync lock "
                               "if that is still the one meant"))
    return out


# --------------------------------------------------------------------- sampled records

def _source_fields(sync: Sync, catalog_fields: Mapping[str, Any]
                   ) -> dict[str, tuple[str, str]]:
    """Top-level source field -> (the target field reading it, its pointer)."""
    out: dict[str, tuple[str, str]] = {}
    for field_map in sync.fields:
        if not field_map.enabled:
            continue
        for path in compile_transform(field_map.transform).fields:
            name = path.split(".")[0]
            if name in catalog_fields:
                out.setdefault(name, (field_map.target, field_map.pointer))
    return out


async def _sample(runtime: Runtime, sync: Sync) -> list[dict[str, Any]]:
    adapter = runtime.adapter(sync.source_connection)
    records: list[dict[str, Any]] = []
    stream = adapter.read(sync.source_object)
    try:
        async for record in stream:
            records.append(record)
            if len(records) >= SAMPLE:
                break
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    return records


async def check_samples(runtime: Runtime, locate: Locate,
                        syncs: list[str] | None = None) -> list[Finding]:
    """The troubleshooting cases a sample of each sync's source records shows."""
    spec: Spec = runtime.spec
    out: list[Finding] = []
    for sync in spec.syncs.values():
        if syncs is not None and sync.name not in syncs:
            continue
        conn = spec.connections[sync.source_connection]
        vendor = runtime.registry.find(conn.adapter)
        info = vendor.catalog.objects.get(sync.source_object) if vendor else None
        if info is None or "read" not in info.operations:
            continue
        try:
            records = await _sample(runtime, sync)
        except Exception as exc:
            out.append(Finding("problem", runtime.redactor.text(
                f"{sync.name}: cannot read {sync.source_object} to check them: {exc}")))
            continue
        if not records:
            continue
        source = _title(runtime, sync.source_connection)
        out.extend(_incomplete(sync, records, info.fields, source, locate))
        out.extend(_cursor(sync, records, source, locate))
        out.extend(await _internal_keys(runtime, sync, records, source, locate))
    return out


def _incomplete(sync: Sync, records: list[dict[str, Any]], fields: Mapping[str, Any],
                source: str, locate: Locate) -> list[Finding]:
    out = []
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        for name in record:
            counts[name] += 1
    for name, (target, pointer) in _source_fields(sync, fields).items():
        if counts.get(name):
            continue
        out.append(Finding(
            "problem", f"{sync.name}: missing or incomplete {sync.source_object} data: none "
            f"of the {len(records)} {source} {sync.source_object} read has {name}, which "
            f"{target} is mapped from; add {name} to the fields {source} returns",
            locate(pointer), "Missing or incomplete customer data"))
    return out


def _cursor(sync: Sync, records: list[dict[str, Any]], source: str,
            locate: Locate) -> list[Finding]:
    if sync.delta is None:
        return []
    cursor = sync.delta.cursor
    missing = sum(1 for r in records if r.get(cursor) in (None, ""))
    if not missing:
        return []
    return [Finding(
        "problem", f"{sync.name}: {sync.source_object} not updating: {cursor} is missing on "
        f"{missing} of the {len(records)} {source} {sync.source_object} read, so delta runs "
        f"never see their changes; confirm that {cursor} exists on the record and updates "
        "whenever the record changes", locate(pointer_join(sync.pointer, "delta")),
        "Customers not updating")]


async def _internal_keys(runtime: Runtime, sync: Sync, records: list[dict[str, Any]],
                         source: str, locate: Locate) -> list[Finding]:
    if sync.key.match != "internal":
        return []
    if sync.filter:  # only the records the sync would write
        keep = compile_rule(parse_rule(sync.filter), setup=runtime.spec.setup,
                            clock=runtime.clock)
        records = [r for r in records if keep(r)]
    keys = [key for r in records
            if (key := sync.key.separator.join(str(r.get(c) or "")
                                               for c in sync.key.components))][:3]
    if not keys:
        return []
    target = runtime.adapter(sync.target_connection)
    for key in keys:
        with contextlib.suppress(Exception):  # an id of the wrong shape is no id
            if await target.get(sync.target_object, key) is not None:
                return []
    title = _title(runtime, sync.target_connection)
    return [Finding(
        "problem", f"{sync.name}: {sync.source_object} not updating: the key is matched as "
        f"{title}'s own id (match: internal), but no key of the {source} "
        f"{sync.source_object} read (e.g. {keys[0]}) is the id of a {title} "
        f"{sync.target_object}; when the id comes from {source}, use match: external",
        locate(_setting(runtime.spec, sync, "key", "match")), "Customers not updating")]


def _setting(spec: Spec, sync: Sync, *path: str) -> str:
    """Where a sync setting is set: the setup entry it names, else the setting."""
    raw: object = (spec.raw.get("syncs") or {}).get(sync.name)
    for part in path:
        raw = raw.get(part) if isinstance(raw, Mapping) else None
    if isinstance(raw, str):
        named = re.fullmatch(r"\{\{\s*setup\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", raw.strip())
        if named and named.group(1) in spec.setup:
            return f"/setup/{named.group(1)}"
    pointer = sync.pointer
    for part in path:
        pointer = pointer_join(pointer, part)
    return pointer
