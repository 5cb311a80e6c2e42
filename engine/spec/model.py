"""The spec as frozen dataclasses: what the engine runs, built once a spec is valid.

Every part remembers the JSON pointer it came from, so a runtime error about a sync
or a field can point back at the spec line that made it. Settings written as
`"{{ setup.name }}"` (schedules, key components, separator, match, field switches)
are resolved here from the spec's setup values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.spec.safeguards import BreakerSettings, Safeguards, breaker_settings, safeguards

__all__ = [
    "SETUP_REF",
    "Action",
    "Connection",
    "Delta",
    "FieldMap",
    "KeySpec",
    "Replay",
    "Spec",
    "Sync",
    "Trigger",
    "parse_duration",
    "resolve_setup_ref",
]

SETUP_REF = re.compile(r"^\{\{\s*setup\.([a-z][a-z0-9_]*)\s*\}\}$")
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def resolve_setup_ref(value: Any, setup: Mapping[str, Any]) -> Any:
    """`"{{ setup.x }}"` -> setup["x"]; anything else unchanged. KeyError if x is unknown."""
    if isinstance(value, str):
        match = SETUP_REF.match(value)
        if match:
            return setup[match.group(1)]
    return value


@dataclass(frozen=True)
class Connection:
    name: str
    adapter: str
    base_url: str | None
    auth: Mapping[str, str]  # values are ${ENV} references, never secrets
    options: Mapping[str, Any]
    rate_limit: tuple[int, timedelta] | None
    webhooks: Mapping[str, Any]
    pointer: str
    record_url: str | None = None  # the record in the system's web app: {object}, {id}
    circuit_breaker: BreakerSettings = field(default_factory=BreakerSettings)


@dataclass(frozen=True)
class KeySpec:
    components: tuple[str, ...]
    separator: str
    match: str  # "external" | "internal"
    target_field: str | None
    adopt_by: Mapping[str, Any] = field(default_factory=dict)  # target field -> template
    verify: bool = False  # full runs report targets whose target_field was changed there


@dataclass(frozen=True)
class Delta:
    cursor: str
    overlap: timedelta


@dataclass(frozen=True)
class Trigger:
    webhook: str
    events: tuple[str, ...]
    properties: tuple[str, ...]


@dataclass(frozen=True)
class Replay:
    """How many recorded runs a sync keeps for `specsync replay`, and for how long."""

    keep: int
    max_age: timedelta


@dataclass(frozen=True)
class FieldMap:
    """One row of a field table: target field <- transform."""

    target: str
    transform: Any  # what engine.templates.compile_transform takes
    required: bool
    enabled: bool
    on: str  # "always" | "create"
    source: str | None
    comment: str | None
    pointer: str  # of the transform's text in the spec
    # two-way pairs (engine/spec/direction.py): both | outbound | inbound
    direction: str = "both"
    # set when this field would carry back a one-way field of the opposite sync: the
    # field is then never written ("sync.field" of the one-way field)
    held_back: str | None = None
    # two-way fields (engine/spec/conflict.py): who keeps a field both sides changed
    conflict: str | None = None  # source_wins | target_wins | newest, as declared


@dataclass(frozen=True)
class Sync:
    name: str
    title: str | None
    description: str | None
    source_connection: str
    source_object: str
    target_connection: str
    target_object: str
    schedule: str
    trigger: Trigger | None
    delta: Delta | None
    key: KeySpec
    filter: str | None
    on_unmatched: str
    deactivate: Mapping[str, Any]
    placement: Mapping[str, Any]
    fields: tuple[FieldMap, ...]
    ignore_echo: bool
    batch_size: int
    pointer: str
    # Webhook records with an empty key: created in the target by this action (mode
    # create), when the `create_when` filter (if any) selects them.
    create_action: str | None = None
    create_when: str | None = None
    direction: str | None = None  # outbound | inbound: its side of a two-way pair
    replay: Replay | None = None  # runs keep what they read (engine/sync/recording.py)
    safeguards: Safeguards = field(default_factory=Safeguards)  # not in the fingerprint
    # A linked record a full read no longer lists (engine/sync/source_deletes.py):
    # report | deactivate | delete | ignore. Not in the fingerprint either.
    on_source_delete: str = "report"
    conflict: str | None = None  # the sync's declared policy for its two-way fields
    # Its two-way fields, merged field by field (engine/sync/merge.py): target field ->
    # who wins when both sides changed it ("source", "target" or "newest")
    merge: Mapping[str, str] = field(default_factory=dict)

    def fingerprint(self, setup: Mapping[str, Any]) -> str:
        """Hash of everything that shapes this sync's output: a change forces a full reconcile."""
        shape = {
            "key": [list(self.key.components), self.key.separator, self.key.match,
                    self.key.target_field, dict(self.key.adopt_by)],
            "filter": self.filter,
            "fields": [[f.target, f.transform, f.enabled, f.on] for f in self.fields],
            "placement": dict(self.placement),
            "on_unmatched": self.on_unmatched,
            "deactivate": dict(self.deactivate),
            "setup": {k: setup[k] for k in sorted(setup)},
        }
        blob = json.dumps(shape, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Action:
    name: str
    title: str | None
    description: str | None
    workflow_connection: str
    object_type: str | None
    source_connection: str | None
    source_object: str | None
    target_connection: str
    target_object: str
    mode: str
    inputs: Mapping[str, str]
    fields: tuple[FieldMap, ...]
    outputs: Mapping[str, Any]
    then_sync: tuple[str, ...]
    pointer: str
    find_id: Any = None  # mode update: a transform rendering the target id (`find.id`)
    find_linked: tuple[str, ...] = ()  # actions or syncs whose links name it (`find.linked`)


@dataclass(frozen=True)
class Spec:
    path: str
    integration: str
    version: str
    format: int
    title: str | None
    description: str | None
    source_document: str | None
    connections: Mapping[str, Connection]
    setup: Mapping[str, Any]
    syncs: Mapping[str, Sync]
    actions: Mapping[str, Action]
    content_hash: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)


def _field_map(target: str, raw: Any, pointer: str, setup: Mapping[str, Any]) -> FieldMap:
    if isinstance(raw, dict) and ("value" in raw or "template" in raw):
        if "template" in raw:
            transform: Any = {"template": raw["template"], "from": list(raw.get("from", []))}
            transform_pointer = f"{pointer}/template"
        else:
            transform = raw["value"]
            transform_pointer = f"{pointer}/value"
        enabled = resolve_setup_ref(raw.get("enabled", True), setup)
        return FieldMap(target, transform, bool(raw.get("required", False)),
                        bool(enabled), raw.get("on", "always"), raw.get("source"),
                        raw.get("comment"), transform_pointer,
                        direction=str(raw.get("direction", "both")),
                        conflict=raw.get("conflict"))
    return FieldMap(target, raw, False, True, "always", None, None, pointer)


def _fields(raw: Mapping[str, Any], pointer: str, setup: Mapping[str, Any]) -> tuple[FieldMap, ...]:
    from engine.spec.source import pointer_join

    return tuple(
        _field_map(name, value, pointer_join(pointer, name), setup) for name, value in raw.items()
    )


def build_spec(path: str, data: Mapping[str, Any], content_hash: str) -> Spec:
    """Build the model from a document that passed the schema and the semantic checks."""
    from engine.spec.conflict import with_merge
    from engine.spec.direction import hold_back_one_way
    from engine.spec.source import pointer_join

    setup = dict(data.get("setup") or {})
    connections = {}
    for name, raw in (data.get("connections") or {}).items():
        rl = raw.get("rate_limit")
        connections[name] = Connection(
            name=name,
            adapter=raw["adapter"],
            base_url=raw.get("base_url"),
            auth=dict(raw.get("auth") or {}),
            options=dict(raw.get("options") or {}),
            rate_limit=(rl["requests"], parse_duration(rl["per"])) if rl else None,
            webhooks=dict(raw.get("webhooks") or {}),
            pointer=pointer_join("/connections", name),
            record_url=raw.get("record_url"),
            circuit_breaker=breaker_settings(raw.get("circuit_breaker")),
        )
    syncs = {}
    for name, raw in (data.get("syncs") or {}).items():
        pointer = pointer_join("/syncs", name)
        src_conn, src_obj = raw["source"].split(".", 1)
        tgt_conn, tgt_obj = raw["target"].split(".", 1)
        key = raw["key"]
        components = resolve_setup_ref(key["components"], setup)
        delta = raw.get("delta")
        trigger = raw.get("trigger")
        syncs[name] = Sync(
            name=name,
            title=raw.get("title"),
            description=raw.get("description"),
            source_connection=src_conn,
            source_object=src_obj,
            target_connection=tgt_conn,
            target_object=tgt_obj,
            schedule=str(resolve_setup_ref(raw.get("schedule", "never"), setup)),
            trigger=Trigger(trigger["webhook"], tuple(trigger.get("events", ())),
                            tuple(trigger.get("properties", ()))) if trigger else None,
            delta=Delta(delta["cursor"], parse_duration(delta.get("overlap", "0s")))
            if delta else None,
            key=KeySpec(
                components=tuple(str(c) for c in components),
                separator=str(resolve_setup_ref(key.get("separator", "-"), setup)),
                match=str(resolve_setup_ref(key.get("match", "external"), setup)),
                target_field=key.get("target_field"),
                adopt_by=dict(key.get("adopt_by") or {}),
                verify=bool(key.get("verify", False)),
            ),
            filter=raw.get("filter"),
            on_unmatched=raw.get("on_unmatched", "ignore"),
            deactivate=dict(raw.get("deactivate") or {}),
            placement=dict(raw.get("placement") or {}),
            fields=_fields(raw["fields"], f"{pointer}/fields", setup),
            ignore_echo=bool(raw.get("ignore_echo", True)),
            batch_size=int(raw.get("batch_size", 100)),
            pointer=pointer,
            create_action=(raw.get("create") or {}).get("action"),
            create_when=(raw.get("create") or {}).get("when"),
            direction=raw.get("direction"),
            replay=Replay(int(raw["replay"]["keep"]),
                          parse_duration(raw["replay"].get("max_age", "30d")))
            if raw.get("replay") else None,
            safeguards=safeguards(raw.get("safeguards")),
            on_source_delete=str(raw.get("on_source_delete", "report")),
            conflict=raw.get("conflict"),
        )
    syncs = with_merge(hold_back_one_way(syncs))
    actions = {}
    for name, raw in (data.get("actions") or {}).items():
        pointer = pointer_join("/actions", name)
        src = raw.get("source")
        tgt_conn, tgt_obj = raw["target"].split(".", 1)
        actions[name] = Action(
            name=name,
            title=raw.get("title"),
            description=raw.get("description"),
            workflow_connection=raw["trigger"]["workflow"],
            object_type=raw["trigger"].get("object_type"),
            source_connection=src.split(".", 1)[0] if src else None,
            source_object=src.split(".", 1)[1] if src else None,
            target_connection=tgt_conn,
            target_object=tgt_obj,
            mode=raw.get("mode", "create"),
            inputs=dict(raw.get("inputs") or {}),
            fields=_fields(raw["fields"], f"{pointer}/fields", setup),
            outputs=dict(raw.get("outputs") or {}),
            then_sync=tuple(raw.get("then_sync", ())),
            pointer=pointer,
            find_id=(raw.get("find") or {}).get("id"),
            find_linked=tuple((raw.get("find") or {}).get("linked", ())),
        )
    return Spec(
        path=path,
        integration=data["integration"],
        version=data["version"],
        format=data["specsync"],
        title=data.get("title"),
        description=data.get("description"),
        source_document=data.get("source_document"),
        connections=connections,
        setup=setup,
        syncs=syncs,
        actions=actions,
        content_hash=content_hash,
        raw=data,
    )
