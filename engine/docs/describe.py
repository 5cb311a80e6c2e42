"""A spec described for people: every sync's field table and every action, in words.

Everything here is derived from the spec and the adapters' catalogs (field labels,
required fields), so the docs cannot drift from what runs. Comments use the seed
documents' phrases: "Required", "Configured during setup", "Can be disabled during
setup", "Required and must not be modified", "Synced tags are configured during
setup", "Only synced when set to Active in Kleer", "One-way".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import default_registry
from engine.docs.model import ActionDoc, IntegrationDoc, Row, SyncDoc
from engine.docs.safeguards import safeguard_words
from engine.docs.words import (
    filter_words,
    join_words,
    schedule_words,
    setup_table_words,
    setup_value_words,
    system_name,
    trigger_words,
)
from engine.rules import parse_rule
from engine.rules.nodes import iter_leaves
from engine.spec.model import SETUP_REF, Action, FieldMap, Spec, Sync
from engine.templates import compile_transform

__all__ = ["creation_only_note", "describe_spec"]

REQUIRED = "Required"
SETUP = "Configured during setup"
SWITCH = "Can be disabled during setup"
FIXED = "Required and must not be modified"
TAGS = "Synced tags are configured during setup"
_ENUM_MEANING = re.compile(r"(?:^|,)\s*(-?[0-9]+)\s+([A-Za-z][A-Za-z -]*?)\s*(?=,|$)")
_TAG_SETS = re.compile(r"select_tags\(\s*setup\.([a-z][a-z0-9_]*)")
CREATE_ONLY = ("Set when the record is created only: {system}'s API cannot change it later "
               "(a later change is reported by plan and status, not written)")
ONE_WAY = "One-way: editing it in {system} does not start a sync on its own"


class _Object:
    """One side of a sync: its system's name and its object's labels."""

    def __init__(self, spec: Spec, connection: str | None, obj: str | None) -> None:
        adapter = spec.connections[connection].adapter if connection else ""
        self.adapter = adapter
        self.system = _system_label(spec, connection) if connection else ""
        catalog = default_registry().catalog(adapter) if adapter else None
        self.info: ObjectInfo | None = catalog.objects.get(obj) if catalog and obj else None
        self.name = obj or ""

    @property
    def title(self) -> str:
        label = self.info.label if self.info else self.name
        return f"{self.system} {label}".strip()

    def create_only(self, path: str) -> bool:
        """The vendor's API can set this field at creation only (or update nothing)."""
        if self.info is None:
            return False
        field = self.info.field(path)
        return "update" not in self.info.operations or bool(field and field.create_only)

    def label(self, path: str) -> str:
        info = self.info.field(path) if self.info else None
        if info and info.label:
            return info.label
        parent, _, leaf = path.rpartition(".")
        if parent and leaf == "id":  # `user.id` is the id of the labelled `user`
            return self.label(parent)
        return path

    def shown(self, path: str) -> str:
        """A field in a table: its catalog label and its name in the spec, or the name
        alone when the catalog has no label for it."""
        label = self.label(path)
        return f"`{path}`" if label == path else f"{label} (`{path}`)"

    def value_name(self, path: str, value: Any) -> str | None:
        """What an enum code means, when the catalog's description lists "30 won, ..."."""
        info = self.info.field(path) if self.info else None
        if not info or not info.enum or not info.description:
            return None
        meanings = dict(_ENUM_MEANING.findall(info.description))
        return meanings.get(str(value))

    def required(self, path: str) -> bool:
        info = self.info.field(path) if self.info else None
        return bool(info and info.required)

    def external_id(self, path: str) -> bool:
        return bool(self.info and path in self.info.external_id_fields)


def _system_label(spec: Spec, connection: str) -> str:
    """The system's name; with its connection when two connections share a vendor."""
    adapter = spec.connections[connection].adapter
    shared = sum(1 for c in spec.connections.values() if c.adapter == adapter) > 1
    return f"{system_name(adapter)} ({connection})" if shared else system_name(adapter)


def _limits(spec: Spec) -> tuple[tuple[str, str], ...]:
    """What each system's real API cannot do, as its vendor package says."""
    out: list[tuple[str, str]] = []
    for adapter in dict.fromkeys(c.adapter for c in spec.connections.values()):
        vendor = default_registry().find(adapter)
        if vendor is not None:
            out.extend((vendor.title, note) for note in vendor.notes)
    return tuple(out)


def describe_spec(spec: Spec) -> IntegrationDoc:
    """The documentation model of a valid spec."""
    systems: list[str] = []
    for connection in spec.connections:
        name = _system_label(spec, connection)
        if name not in systems:
            systems.append(name)
    setup = tuple((name, setup_value_words(value) or setup_table_words(value))
                  for name, value in spec.setup.items())
    return IntegrationDoc(
        integration=spec.integration,
        version=spec.version,
        title=spec.title or spec.integration,
        description=spec.description,
        source_document=spec.source_document,
        systems=tuple(systems),
        setup=setup,
        syncs=tuple(_sync(spec, sync) for sync in spec.syncs.values()),
        actions=tuple(_action(spec, action) for action in spec.actions.values()),
        limits=_limits(spec),
    )


def creation_only_note(spec: Spec, sync_name: str) -> str | None:
    """A sentence for `specsync plan`: the fields a sync maps that the target's API can set
    only when a record is created (catalog `create_only`, or an object with no update),
    so later changes to them never show up as updates. None when there are none."""
    sync = spec.syncs.get(sync_name)
    if sync is None:
        return None
    target = _Object(spec, sync.target_connection, sync.target_object)
    names = [f.target for f in sync.fields if f.enabled and target.create_only(f.target)]
    if not names:
        return None
    return (f"set when a record is created only ({target.system}'s API cannot change "
            f"them later): {', '.join(names)}")


def _raw(node: Any, *path: str) -> Any:
    """The spec text's value at `path` (None when absent): settings before setup resolution."""
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _setup_note(spec: Spec, raw: Any) -> str | None:
    """`"{{ setup.x }}"` -> "configured during setup: setup.x = value"; else None."""
    match = SETUP_REF.match(raw) if isinstance(raw, str) else None
    if not match:
        return None
    name = match.group(1)
    shown = setup_value_words(spec.setup.get(name))
    return f"configured during setup: setup.{name}" + (f" = {shown}" if shown else "")


def _sync(spec: Spec, sync: Sync) -> SyncDoc:
    source = _Object(spec, sync.source_connection, sync.source_object)
    target = _Object(spec, sync.target_connection, sync.target_object)
    raw = _raw(spec.raw, "syncs", sync.name) or {}
    rows: list[Row] = []
    if sync.filter:
        rows.append(_filter_row(spec, sync.filter, source))
    one_way = _one_way_check(spec, sync, source, target)
    rows.extend(_field_row(spec, f, source, target, _raw(raw, "fields", f.target), one_way)
                for f in sync.fields)
    key_row = _key_row(spec, sync, source, target, raw.get("key") or {})
    mapped = {f.target for f in sync.fields}
    if key_row.target_field in mapped:
        # The key's field is also mapped: one row, carrying the key's comments too.
        rows = [_merge_key(r, key_row) if r.target_field == key_row.target_field and
                r.kind == "field" else r for r in rows]
    else:
        rows.append(key_row)
    for name, value in sync.placement.items():
        rows.append(_placement_row(spec, name, value, source, target))
    return SyncDoc(
        name=sync.name,
        title=sync.title or sync.name.replace("_", " ").capitalize(),
        description=sync.description,
        source_system=source.system,
        source_object=source.title,
        target_system=target.system,
        target_object=target.title,
        schedule=_schedule(spec, sync, raw),
        trigger=_trigger(spec, sync),
        delta=_delta(sync, source),
        unmatched=_unmatched(sync, target),
        rows=tuple(_with_names(r, source, target) for r in rows),
        safeguards=safeguard_words(spec, sync, raw),
        source_delete=_source_delete(sync, target),
        merge=_merge(sync, source, target),
    )


def _schedule(spec: Spec, sync: Sync, raw: Mapping[str, Any]) -> str | None:
    if sync.schedule == "never" and sync.trigger is not None:
        return None
    text = schedule_words(sync.schedule)
    note = _setup_note(spec, raw.get("schedule"))
    return f"{text} ({note})" if note else text


def _trigger(spec: Spec, sync: Sync) -> str | None:
    if sync.trigger is None:
        return None
    connection = spec.connections.get(sync.trigger.webhook)
    system = system_name(connection.adapter) if connection else sync.trigger.webhook
    words = trigger_words(system, sync.trigger.events, sync.trigger.properties)
    action = spec.actions.get(sync.create_action or "")
    if action is None:
        return words
    title = action.title or action.name
    when = f" and `{sync.create_when}`" if sync.create_when else ""
    return (f"{words}; a record that names no target record yet (new in {system}{when}) is "
            f"created by the action \"{title}\", which writes the new id back (webhooks "
            "only: scheduled runs never create)")


def _delta(sync: Sync, source: _Object) -> str | None:
    if sync.delta is None:
        return None
    minutes = int(sync.delta.overlap.total_seconds() // 60)
    overlap = f", with a {minutes}-minute overlap" if minutes else ""
    return (f"Only records changed in {source.system} since the previous run are read "
            f"(by {source.label(sync.delta.cursor)}{overlap})")


def _source_delete(sync: Sync, target: _Object) -> str | None:
    """What a record deleted in the source becomes; said when the spec chose (the
    default, report, is the README's)."""
    if sync.on_source_delete == "deactivate":
        fields = ", ".join(f"{target.label(k)} = {v}" for k, v in sync.deactivate.items())
        return (f"Deactivated in {target.system}" + (f" ({fields})" if fields else "")
                + " once a full read no longer lists it")
    if sync.on_source_delete == "delete":
        return f"Deleted in {target.system} once a full read no longer lists it"
    if sync.on_source_delete == "ignore":
        return "Not looked for"
    return None


_WINNER = {"source": "{source}'s value is kept", "target": "{target}'s value is kept",
           "newest": "the later change is kept (by each system's own modification time)"}


def _merge(sync: Sync, source: _Object, target: _Object) -> str | None:
    """Two-way fields merged field by field (S28): which they are, and who wins when
    both systems changed one since the last sync."""
    if not sync.merge:
        return None
    by_winner: dict[str, list[str]] = {}
    for field, winner in sync.merge.items():
        by_winner.setdefault(winner, []).append(target.label(field))
    said = "; ".join(
        _WINNER.get(winner, winner).format(source=source.system, target=target.system)
        + f" ({', '.join(fields)})" for winner, fields in by_winner.items())
    return ("Merged field by field: each side's own change survives. When both changed "
            f"the same field since the last sync, {said}; the conflict is recorded "
            "(`specsync status`)")


def _unmatched(sync: Sync, target: _Object) -> str | None:
    if not sync.filter:
        return None
    if sync.on_unmatched == "deactivate":
        fields = ", ".join(f"{target.label(k)} = {v}" for k, v in sync.deactivate.items())
        return (f"A synced record that stops matching is deactivated in {target.system}"
                + (f" ({fields})" if fields else ""))
    if sync.on_unmatched == "delete":
        return f"A synced record that stops matching is deleted in {target.system}"
    return f"A synced record that stops matching is left as it is in {target.system}"


def _with_names(row: Row, source: _Object, target: _Object) -> Row:
    """The row with its table cells: each field as "Label (`name`)", or "`name`" when
    the catalog has no label, so a table never mixes labels with bare names."""
    cells = list(dict.fromkeys(source.shown(name) for name in row.source_fields))
    target_cell = target.shown(row.target_field) if row.target_field and row.target else ""
    if row.kind == "key" and row.target == "ID":
        target_cell = "ID"
    return replace(row, source_cell=", ".join(cells) if cells else row.source,
                   target_cell=target_cell or row.target)


def _labels(source: _Object, names: Sequence[str]) -> str:
    out: list[str] = []
    for name in names:
        label = source.label(name)
        if label not in out:
            out.append(label)
    return ", ".join(out)


def _setup_comment(spec: Spec, names: Sequence[str]) -> str:
    shown = []
    for name in names:
        value = setup_value_words(spec.setup.get(name))
        shown.append(f"setup.{name}" + (f" = {value}" if value is not None else ""))
    return f"{SETUP} ({'; '.join(shown)})"


def _filter_row(spec: Spec, text: str, source: _Object) -> Row:
    expr = parse_rule(text).expr
    fields: list[str] = []
    for leaf in iter_leaves(expr):
        if leaf.field.name not in fields:
            fields.append(leaf.field.name)
    sentence = filter_words(expr, source.label, source.system, spec.setup, source.value_name)
    return Row(_labels(source, fields), "", sentence, "filter", tuple(fields))


def _one_way_check(spec: Spec, sync: Sync, source: _Object, target: _Object) -> Any:
    """For a sync with triggering properties: which mapped property is one-way, i.e.
    not in the list of properties whose change starts a sync. The list belongs to the
    trigger's connection, the source (inbound) or the target (outbound) of the sync."""
    if sync.trigger is None or not sync.trigger.properties:
        return None
    listed = set(sync.trigger.properties)
    if sync.trigger.webhook == sync.source_connection:
        return lambda fields, target_field: (
            ONE_WAY.format(system=source.system)
            if fields and not listed & set(fields) else None)
    if sync.trigger.webhook == sync.target_connection:
        return lambda fields, target_field: (
            ONE_WAY.format(system=target.system) if target_field not in listed else None)
    return None


def _field_row(spec: Spec, f: FieldMap, source: _Object, target: _Object, raw: Any,
               one_way: Any, *, updates: bool = True) -> Row:
    transform = compile_transform(f.transform)
    if f.source is not None:
        names = tuple(part.strip() for part in f.source.split(",") if part.strip())
    else:
        names = transform.fields
    comments: list[str] = []
    required = f.required or target.required(f.target)
    if updates and target.create_only(f.target):
        comments.append(CREATE_ONLY.format(system=target.system))
        if required:
            comments.append(REQUIRED)
    elif f.on == "create":
        if required or target.external_id(f.target):
            comments.append(FIXED)
        else:
            comments.append("Written when the record is created; must not be modified (a "
                            "later change is reported by plan and status, not written)")
    elif required:
        comments.append(REQUIRED)
    setup_names = list(transform.setup_names)
    if "select_tags" in transform.functions:
        comments.append(TAGS)
        tag_sets = set(_TAG_SETS.findall(str(f.transform)))
        setup_names = [n for n in setup_names if n not in tag_sets]
    if setup_names:
        comments.append(_setup_comment(spec, setup_names))
    if transform.kind == "positional":
        comments.append(f'Combined as "{f.transform["template"]}"')
    if transform.kind == "constant" or (transform.kind == "text" and "{" not in f.transform):
        comments.append(f"Always {_constant_words(f.transform)}")
    enabled = raw.get("enabled") if isinstance(raw, Mapping) else None
    if isinstance(enabled, str) and SETUP_REF.match(enabled):
        note = _setup_note(spec, enabled)
        comments.append(SWITCH + (f" ({note})" if note else ""))
    if f.held_back:
        comments.append(f"Never written: it would carry back `{f.held_back}`, which "
                        f"flows {target.system} → {source.system} only")
    elif not f.enabled:
        comments.append("Disabled in this setup")
    if f.direction != "both":
        comments.append(f"Flows {source.system} → {target.system} only (edits in "
                        f"{target.system} are never written back)")
    badge = one_way(transform.fields, f.target) if one_way is not None else None
    if badge:
        comments.append(badge)
    if f.comment and not any(_says_already(c, f.comment) for c in comments):
        comments.append(f.comment)
    return Row(_labels(source, names), target.label(f.target), "; ".join(comments), "field",
               tuple(names), f.target)


def _constant_words(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 60 else "the same text"
    return setup_value_words(value) or "the same value"


def _says_already(text: str, prefix: str) -> bool:
    """`text` already says `prefix` (a spec comment repeating a derived one is dropped)."""
    return text.lower().startswith(prefix.strip().lower())


def _key_comment(spec: Spec, sync: Sync, source: _Object, target: _Object,
                 raw: Mapping[str, Any]) -> list[str]:
    key = sync.key
    comments = [f"{FIXED} in either {target.system} or {source.system}"]
    parts = [source.label(c) for c in key.components]
    note = _setup_note(spec, raw.get("components"))
    if len(parts) > 1:
        comments.append(f"Key: {join_words(parts)} joined by \"{key.separator}\""
                        + (" (separator " + sep + ")" if (sep := _setup_note(
                            spec, raw.get("separator"))) else ""))
    if note:
        comments.append(f"ID components {note}")
    match_note = _setup_note(spec, raw.get("match"))
    if key.match == "external":
        field = target.label(key.target_field or "")
        text = (f"External matching: the {source.system} ID is stored in {target.system}'s "
                f"{field} and used to find records that already exist")
    else:
        text = (f"Internal matching: the key is {target.system}'s own ID; a record whose "
                f"key names no existing {target.system} record is not created but reported "
                "(key.not-found)")
    comments.append(text + (f" ({match_note})" if match_note else ""))
    if key.verify and key.match == "external":
        comments.append(f"Every full run checks it in {target.system}: a record whose ID was "
                        "changed there is reported (key.modified) until it is set back")
    return comments


def _key_row(spec: Spec, sync: Sync, source: _Object, target: _Object,
             raw: Mapping[str, Any]) -> Row:
    key = sync.key
    if key.match == "external" and key.target_field:
        target_field = key.target_field
        target_label = target.label(target_field)
    else:
        target_field = target.info.id_field if target.info else "id"
        label = target.label(target_field)
        target_label = "ID" if label == target_field else label
    return Row(_labels(source, key.components), target_label,
               "; ".join(_key_comment(spec, sync, source, target, raw)), "key",
               key.components, target_field)


def _merge_key(row: Row, key: Row) -> Row:
    comments = [c for c in row.comment.split("; ") if c and c not in (REQUIRED, FIXED)]
    return Row(row.source or key.source, row.target, "; ".join([key.comment, *comments]),
               "key", row.source_fields or key.source_fields, row.target_field)


def _placement_row(spec: Spec, name: str, value: Any, source: _Object, target: _Object) -> Row:
    transform = compile_transform(value)
    comments = ["New records only; later changes in " + target.system + " are kept"]
    if transform.setup_names:
        comments.append(_setup_comment(spec, transform.setup_names))
    return Row(_labels(source, transform.fields), target.label(name), "; ".join(comments),
               "placement", transform.fields, name)


def _action(spec: Spec, action: Action) -> ActionDoc:
    source = _Object(spec, action.source_connection, action.source_object)
    target = _Object(spec, action.target_connection, action.target_object)
    workflow_conn = spec.connections.get(action.workflow_connection)
    workflow_system = system_name(workflow_conn.adapter) if workflow_conn else ""
    kind = (action.object_type or "").lower()
    workflow = f"{workflow_system} {kind} workflows".replace("  ", " ").strip()
    if action.object_type:
        workflow += f" (object type {action.object_type})"
    verb = "Updates the linked" if action.mode == "update" else "Creates a"
    effect = f"{verb} {target.title}"
    raw = _raw(spec.raw, "actions", action.name) or {}
    rows = tuple(_field_row(spec, f, source, target, _raw(raw, "fields", f.target), None,
                            updates=action.mode == "update")
                 for f in action.fields)
    outputs = tuple((name, _output_words(value, target)) for name, value in action.outputs.items())
    pushed_back = None
    if action.then_sync:
        parts = []
        for name in action.then_sync:
            sync = spec.syncs.get(name)
            if sync is None:
                parts.append(name)
                continue
            tgt = _Object(spec, sync.target_connection, sync.target_object)
            parts.append(f"{name} (to {tgt.title})")
        pushed_back = ("After success the record is pushed back at once by "
                       + join_words(parts) + ", without waiting for the next scheduled sync")
    return ActionDoc(
        name=action.name,
        title=action.title or action.name.replace("_", " ").capitalize(),
        description=action.description,
        workflow=workflow,
        effect=effect,
        inputs=tuple(action.inputs.items()),
        rows=tuple(_with_names(r, source, target) for r in rows),
        outputs=outputs,
        pushed_back=pushed_back,
    )


def _output_words(value: Any, target: _Object) -> str:
    transform = compile_transform(value)
    names = [f.removeprefix("target.") for f in transform.fields]
    if names:
        return "the written record's " + join_words([target.label(n) for n in names])
    return str(value)

