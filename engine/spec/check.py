"""Semantic checks of a spec, run after JSON Schema: references, field names, rules, templates.

Each check is a generator of `Diagnostic`s (the jsonschema style), so `specsync validate`
reports every problem in one pass. Checks are defensive: a part the schema already
rejected is skipped rather than crashing the rest. The module is long because the
checks share one context and its helpers; each check is a short generator of its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter

from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.egress import url_problem
from engine.adapters.registry import AdapterRegistry, default_registry
from engine.diagnostics import Diagnostic, Location, Severity
from engine.spec.conflict import check_conflicts
from engine.spec.direction import check_directions
from engine.spec.environment import ENV_REF
from engine.spec.model import SETUP_REF
from engine.spec.source import LoadedDocument, pointer_join

__all__ = ["check_spec", "inner_offset"]

SCHEDULE_WORDS = ("never", "hourly", "daily")


def inner_offset(text: str, line: int, column: int) -> int:
    """Offset of a 1-based (line, column) inside `text`."""
    lines = text.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(part) + 1 for part in lines[: line - 1]) + max(column - 1, 0)


def did_you_mean(word: str, options: Iterable[str], what: str = "names") -> str:
    options = sorted(set(options))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    shown = options if len(options) <= 30 else [*options[:30], "…"]
    listing = ", ".join(shown)
    prefix = f"did you mean `{close[0]}`? " if close else ""
    return f"{prefix}{what.capitalize()}: {listing}" if options else prefix.strip()


@dataclass
class _Context:
    doc: LoadedDocument
    data: Mapping[str, Any]
    setup: Mapping[str, Any]
    catalogs: Mapping[str, Catalog | None]  # connection name -> adapter catalog
    sync_names: tuple[str, ...]
    vendors: AdapterRegistry

    def loc(self, pointer: str, *, key: bool = False) -> Location:
        return self.doc.location(pointer, key=key)

    def diag(self, code: str, message: str, pointer: str, hint: str | None = None, *,
             key: bool = False, location: Location | None = None,
             severity: Severity = Severity.ERROR) -> Diagnostic:
        if location is None and key:  # underline the whole key
            name = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
            location = self.doc.location(pointer, key=True, width=len(name))
        return Diagnostic(code, message, location or self.loc(pointer), hint=hint,
                          severity=severity, pointer=pointer)

    def object_of(self, ref: Any) -> tuple[str, str, ObjectInfo | None] | None:
        if not isinstance(ref, str) or "." not in ref:
            return None
        conn, obj = ref.split(".", 1)
        catalog = self.catalogs.get(conn)
        if catalog is None:
            return conn, obj, None
        return conn, obj, catalog.objects.get(obj)


def _setup_refs(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        match = SETUP_REF.match(value)
        if match:
            yield match.group(1), pointer
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _setup_refs(v, pointer_join(pointer, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _setup_refs(v, pointer_join(pointer, i))


def _check_base_url(ctx: _Context, pointer: str, url: Any) -> Iterator[Diagnostic]:
    """A literal base URL must be one specsync may send credentials to (egress policy)."""
    if not isinstance(url, str) or not url:
        return
    if ENV_REF.fullmatch(url.strip()):
        return  # resolved at run time, and checked then before any request
    literal = ENV_REF.sub("example", url)
    if ENV_REF.search(url) and literal.startswith("https://"):
        problem = None if urlsplit(literal).hostname else "the URL names no host"
    else:
        problem = url_problem(literal)
    if problem:
        yield ctx.diag("spec.base-url", f"this base_url is not allowed: {problem}", pointer,
                       "use the vendor's public https address, or an ${ENV} reference "
                       "(local sandboxes: `specsync sandbox up` prints one)")


def _check_connections(ctx: _Context) -> Iterator[Diagnostic]:
    for name, raw in (ctx.data.get("connections") or {}).items():
        if isinstance(raw, dict) and "base_url" in raw:
            yield from _check_base_url(ctx, pointer_join(pointer_join("/connections", name),
                                                         "base_url"), raw["base_url"])
        if not isinstance(raw, dict) or not isinstance(raw.get("adapter"), str):
            continue
        if ctx.catalogs.get(name) is None:
            known = ctx.vendors.names()
            yield ctx.diag(
                "spec.unknown-adapter", f"no adapter named `{raw['adapter']}` is installed",
                pointer_join(pointer_join("/connections", name), "adapter"),
                did_you_mean(raw["adapter"], known, "installed adapters"),
            )


def _check_setup_refs(ctx: _Context) -> Iterator[Diagnostic]:
    for section in ("syncs", "actions"):
        for name, raw in (ctx.data.get(section) or {}).items():
            for ref, pointer in _setup_refs(raw, pointer_join(f"/{section}", name)):
                if ref not in ctx.setup:
                    yield ctx.diag("spec.unknown-setup", f"`setup.{ref}` is not a setup value",
                                   pointer, did_you_mean(ref, ctx.setup, "setup values"))


def _check_schedule(ctx: _Context, pointer: str, value: Any) -> Iterator[Diagnostic]:
    if isinstance(value, str):
        match = SETUP_REF.match(value)
        if match:
            value = ctx.setup.get(match.group(1))
            if value is None:
                return
    if not isinstance(value, str):
        yield ctx.diag("spec.schedule", f"the schedule must be text, not {value!r}", pointer)
        return
    if value in SCHEDULE_WORDS or value.startswith("every "):
        parts = value.split()
        if value.startswith("every ") and (len(parts) != 2 or not parts[1][:-1].isdigit()
                                           or parts[1][-1] not in "smhd"
                                           or int(parts[1][:-1]) == 0):
            yield ctx.diag("spec.schedule", f"`{value}` is not a schedule", pointer,
                           "write every <number><s|m|h|d>, e.g. every 5m")
        return
    if value.startswith("cron "):
        expression = value[5:]
        if not croniter.is_valid(expression):
            yield ctx.diag("spec.schedule", f"`{expression}` is not a valid cron expression",
                           pointer, "five fields: minute hour day-of-month month day-of-week, "
                           "e.g. cron 0 6 * * 1-5")
        return
    yield ctx.diag("spec.schedule", f"`{value}` is not a schedule", pointer,
                   "never, hourly, daily, every 5m, or cron 0 6 * * 1-5")


def _object_ref(ctx: _Context, pointer: str, ref: Any, need: Iterable[str]) -> Iterator[Diagnostic]:
    resolved = ctx.object_of(ref)
    if resolved is None:
        return
    conn, obj, info = resolved
    if conn not in (ctx.data.get("connections") or {}):
        yield ctx.diag("spec.unknown-connection", f"no connection named `{conn}`", pointer,
                       did_you_mean(conn, ctx.data.get("connections") or {}, "connections"))
        return
    catalog = ctx.catalogs.get(conn)
    if catalog is None:
        return
    if info is None:
        yield ctx.diag("spec.unknown-object",
                       f"the {catalog.adapter} adapter has no object `{obj}`", pointer,
                       did_you_mean(obj, catalog.objects, "objects"))
        return
    for op in need:
        if op not in info.operations:
            action = op.replace("_", " ")
            yield ctx.diag("spec.unsupported", f"{catalog.adapter} `{obj}` cannot {action}",
                           pointer, "supported: " + ", ".join(sorted(info.operations)))


def _resolver(info: ObjectInfo | None) -> Callable[[str], str | None]:
    if info is None:  # the object itself is unknown (reported once): check nothing more
        return lambda _path: "any"
    return lambda path: info.field_type(path) if path in info.fields and \
        not info.fields[path].write_only else None


def _check_rule(ctx: _Context, pointer: str, text: Any,
                info: ObjectInfo | None) -> Iterator[Diagnostic]:
    if not isinstance(text, str):
        return
    from engine.rules import RuleSyntaxError, check_rule, parse_rule
    from engine.rules.parse import syntax_errors

    try:
        rule = parse_rule(text)
    except RuleSyntaxError as first:
        for exc in syntax_errors(text) or [first]:  # every one, not only the first
            offset = inner_offset(text, exc.line, exc.column)
            width = (exc.end_column - exc.column) if exc.end_column else 1
            yield ctx.diag("rules.syntax", exc.message, pointer, exc.hint,
                           location=ctx.doc.inner_location(pointer, offset, max(width, 1)))
        return
    names = info.readable() if info else []
    for problem in check_rule(rule, _resolver(info), ctx.setup, field_names=names):
        offset = inner_offset(text, problem.line, problem.column)
        width = (problem.end_column - problem.column) if problem.end_column else 1
        yield ctx.diag(problem.code, problem.message, pointer, problem.hint,
                       location=ctx.doc.inner_location(pointer, offset, max(width, 1)))


def _template_text(transform: Any) -> str | None:
    if isinstance(transform, str):
        return transform
    if isinstance(transform, dict) and isinstance(transform.get("template"), str):
        template: str = transform["template"]
        return template
    return None


def _check_transform(ctx: _Context, pointer: str, transform: Any, info: ObjectInfo | None,
                     extra_names: Iterable[str] = ()) -> Iterator[Diagnostic]:
    from engine.templates import check_transform

    names = [*(info.readable() if info else []), *extra_names]
    resolve = _resolver(info)
    extra = set(extra_names)

    def resolve_with_extra(path: str) -> str | None:
        return "object" if path.split(".")[0] in extra else resolve(path)

    text = _template_text(transform)
    # a positional template's names are its `from` items: a problem names one of them
    sources = transform.get("from") if isinstance(transform, dict) else None
    items = {f"`{v}`": i for i, v in enumerate(sources) if isinstance(v, str)} \
        if isinstance(sources, list) else {}
    for problem in check_transform(transform, resolve_with_extra, names, ctx.setup,
                                   ctx.sync_names):
        named = next((i for shown, i in items.items()
                      if problem.message.startswith(shown)), None)
        if named is not None and pointer.endswith("/template"):
            location = ctx.loc(pointer_join(pointer.rsplit("/", 1)[0] + "/from", named))
        elif text is not None and problem.line:
            offset = inner_offset(text, problem.line, problem.column)
            width = (problem.end_column - problem.column) if problem.end_column else 1
            location = ctx.doc.inner_location(pointer, offset, max(width, 1))
        else:
            location = ctx.loc(pointer)
        yield ctx.diag(problem.code, problem.message, pointer, problem.hint, location=location)


def _target_field(ctx: _Context, pointer: str, name: str, info: ObjectInfo,
                  catalog: str) -> Iterator[Diagnostic]:
    field = info.field(name)
    if field is None:
        yield ctx.diag("spec.unknown-target-field",
                       f"`{name}` is not a field of {catalog} `{info.name}`", pointer,
                       did_you_mean(name, info.writable(nested=False), "writable fields"), key=True)
    elif field.read_only:
        yield ctx.diag("spec.read-only-field",
                       f"`{name}` of {catalog} `{info.name}` is read-only and cannot be written",
                       pointer, did_you_mean(name, info.writable(nested=False), "writable fields"),
                       key=True)


def _create_only(ctx: _Context, row: str, name: str, raw: Any, target: ObjectInfo,
                 catalog: str) -> Iterator[Diagnostic]:
    """A field the vendor's API can set only at creation, mapped as if it stayed in step."""
    field = target.field(name)
    if field is None or not field.create_only:
        return
    if isinstance(raw, dict) and raw.get("on") == "create":
        return
    system = ctx.vendors.title(catalog)
    yield ctx.diag("spec.create-only",
                   f"`{name}` of {catalog} `{target.name}` can only be set when the record is "
                   f"created ({system}'s API cannot change it): later changes are not written",
                   row, "say so with `on: create` on this field", key=True,
                   severity=Severity.WARNING)


def _field_rows(ctx: _Context, pointer: str, fields: Any, source: ObjectInfo | None,
                target: ObjectInfo | None, target_catalog: str,
                extra_names: Iterable[str] = (), *, updates: bool = True
                ) -> Iterator[Diagnostic]:
    if not isinstance(fields, dict):
        return
    extra_names = tuple(extra_names)
    for name, raw in fields.items():
        row = pointer_join(pointer, name)
        if target is not None:
            yield from _target_field(ctx, row, name, target, target_catalog)
            if updates:
                yield from _create_only(ctx, row, name, raw, target, target_catalog)
        if isinstance(raw, dict) and ("value" in raw or "template" in raw):
            if "template" in raw:
                transform: Any = {"template": raw.get("template"), "from": raw.get("from", [])}
                where = pointer_join(row, "template")
            else:
                transform, where = raw["value"], pointer_join(row, "value")
        elif isinstance(raw, dict):
            yield ctx.diag("spec.missing-value", f"field `{name}` says nothing about its value",
                           row, "add `value:` (a template or constant) or `template:` with `from:`",
                           key=True)
            continue
        else:
            transform, where = raw, row
        yield from _check_transform(ctx, where, transform, source, extra_names)


def _check_required_targets(ctx: _Context, pointer: str, raw: Mapping[str, Any],
                            target: ObjectInfo, catalog: str) -> Iterator[Diagnostic]:
    key = raw.get("key") or {}
    if "create" not in target.operations or key.get("match") == "internal":
        return  # internal matching only updates the record the key names: nothing is made
    written = set((raw.get("fields") or {}).keys()) | set((raw.get("placement") or {}).keys())
    if key.get("target_field"):
        written.add(key["target_field"])
    missing = [f for f in target.required_fields() if f not in written]
    if missing:
        listing = ", ".join(f"`{m}`" for m in missing)
        yield ctx.diag("spec.missing-required-field",
                       f"{catalog} `{target.name}` needs {listing} to create a record, "
                       "and this sync does not map it", pointer_join(pointer, "fields"),
                       "map every required target field (the seed's 'Required' rows)", key=True)


def _check_syncs(ctx: _Context) -> Iterator[Diagnostic]:
    from engine.spec.check_keys import check_adopt_by, check_create, check_key

    connections = ctx.data.get("connections") or {}
    for name, raw in (ctx.data.get("syncs") or {}).items():
        if not isinstance(raw, dict):
            continue
        pointer = pointer_join("/syncs", name)
        src = ctx.object_of(raw.get("source"))
        tgt = ctx.object_of(raw.get("target"))
        need_src = ["read"] + (["read_changed"] if raw.get("delta") else [])
        yield from _object_ref(ctx, pointer_join(pointer, "source"), raw.get("source"), need_src)
        deletes = "delete" in (raw.get("on_unmatched"), raw.get("on_source_delete"))
        yield from _object_ref(ctx, pointer_join(pointer, "target"), raw.get("target"),
                               ["create", "delete"] if deletes else ["create"])
        source = src[2] if src else None
        target = tgt[2] if tgt else None
        target_catalog = _adapter_of(ctx, tgt)
        if "schedule" in raw:
            yield from _check_schedule(ctx, pointer_join(pointer, "schedule"), raw["schedule"])
        elif "trigger" not in raw:
            yield ctx.diag("spec.never-runs", f"sync `{name}` has neither a schedule nor a trigger",
                           pointer, "add `schedule: hourly` (or never while testing) or a "
                           "webhook `trigger:`", key=True)
        trigger = raw.get("trigger")
        if isinstance(trigger, dict) and isinstance(trigger.get("webhook"), str):
            tp = pointer_join(pointer, "trigger")
            hook = trigger["webhook"]
            if hook not in connections:
                yield ctx.diag("spec.unknown-connection", f"no connection named `{hook}`",
                               pointer_join(tp, "webhook"), did_you_mean(hook, connections,
                                                                         "connections"))
            else:
                catalog = ctx.catalogs.get(hook)
                events = catalog.webhook_events if catalog else ()
                for i, event in enumerate(trigger.get("events") or []):
                    if catalog and event not in events:
                        yield ctx.diag("spec.unknown-event",
                                       f"{catalog.adapter} sends no `{event}` webhook",
                                       pointer_join(pointer_join(tp, "events"), i),
                                       did_you_mean(event, events, "events"))
                for i, prop in enumerate(trigger.get("properties") or []):
                    if source is not None and source.field(prop) is None:
                        yield ctx.diag("spec.unknown-field",
                                       f"triggering property `{prop}` is not a field of "
                                       f"`{source.name}`",
                                       pointer_join(pointer_join(tp, "properties"), i),
                                       did_you_mean(prop, source.readable(), "fields"))
        delta = raw.get("delta")
        if isinstance(delta, dict) and source is not None and isinstance(delta.get("cursor"), str):
            cursor = delta["cursor"]
            if cursor not in source.cursor_fields:
                yield ctx.diag("spec.delta-cursor",
                               f"`{cursor}` cannot drive delta sync of `{source.name}`",
                               pointer_join(pointer_join(pointer, "delta"), "cursor"),
                               did_you_mean(cursor, source.cursor_fields, "change-tracking fields")
                               if source.cursor_fields else
                               "this object has no change-tracking field: remove `delta` and "
                               "every run compares content hashes")
        yield from check_key(ctx, pointer_join(pointer, "key"), raw.get("key"), source, target,
                              target_catalog)
        yield from check_create(ctx, pointer, raw, source)
        yield from check_adopt_by(ctx, pointer_join(pointer, "key"), raw.get("key"), source,
                                   target, target_catalog)
        if "filter" in raw:
            yield from _check_rule(ctx, pointer_join(pointer, "filter"), raw["filter"], source)
        updatable = target is None or "update" in target.operations
        yield from _field_rows(ctx, pointer_join(pointer, "fields"), raw.get("fields"), source,
                               target, target_catalog, updates=updatable)
        if not updatable and target is not None and "create" in target.operations and \
                isinstance(raw.get("fields"), dict) and any(
                not (isinstance(v, dict) and v.get("on") == "create")
                for v in raw["fields"].values()):
            system = ctx.vendors.title(target_catalog)
            yield ctx.diag("spec.create-only",
                           f"{system} cannot update a `{target.name}` record (its API has no "
                           "update): records are created once, later changes are not written",
                           pointer_join(pointer, "target"),
                           "mark each field `on: create` to say so", severity=Severity.WARNING)
        for section in ("placement", "deactivate"):
            block = raw.get(section)
            if isinstance(block, dict):
                for fname, value in block.items():
                    fp = pointer_join(pointer_join(pointer, section), fname)
                    if target is not None:
                        yield from _target_field(ctx, fp, fname, target, target_catalog)
                    yield from _check_transform(ctx, fp, value, source)
        for option in ("on_unmatched", "on_source_delete"):
            if raw.get(option) == "deactivate" and not raw.get("deactivate"):
                yield ctx.diag("spec.deactivate", f"{option} is deactivate but no "
                               "`deactivate:` fields say how", pointer_join(pointer, option),
                               "e.g. deactivate: {status: 0}")
        if target is not None:
            yield from _check_required_targets(ctx, pointer, raw, target, target_catalog)


def _check_actions(ctx: _Context) -> Iterator[Diagnostic]:
    connections = ctx.data.get("connections") or {}
    syncs = ctx.data.get("syncs") or {}
    for name, raw in (ctx.data.get("actions") or {}).items():
        if not isinstance(raw, dict):
            continue
        pointer = pointer_join("/actions", name)
        trigger = raw.get("trigger") or {}
        hook = trigger.get("workflow")
        if isinstance(hook, str) and hook not in connections:
            yield ctx.diag("spec.unknown-connection", f"no connection named `{hook}`",
                           pointer_join(pointer_join(pointer, "trigger"), "workflow"),
                           did_you_mean(hook, connections, "connections"))
        mode = raw.get("mode", "create")
        yield from _object_ref(ctx, pointer_join(pointer, "target"), raw.get("target"),
                               ["create"] if mode == "create" else ["update"])
        if "source" in raw:
            yield from _object_ref(ctx, pointer_join(pointer, "source"), raw.get("source"), [])
        src = ctx.object_of(raw.get("source"))
        tgt = ctx.object_of(raw.get("target"))
        source = src[2] if src else None
        target = tgt[2] if tgt else None
        target_catalog = _adapter_of(ctx, tgt)
        inputs = tuple((raw.get("inputs") or {}).keys())
        yield from _field_rows(ctx, pointer_join(pointer, "fields"), raw.get("fields"), source,
                               target, target_catalog, extra_names=("inputs", "object", *inputs),
                               updates=mode == "update")
        for out, value in (raw.get("outputs") or {}).items():
            yield from _check_transform(ctx, pointer_join(pointer_join(pointer, "outputs"), out),
                                        value, target, extra_names=("target", "inputs", "object"))
        yield from _check_find(ctx, pointer, raw, mode, source, inputs)
        for i, sync in enumerate(raw.get("then_sync") or []):
            if sync not in syncs:
                yield ctx.diag("spec.unknown-sync", f"no sync named `{sync}`",
                               pointer_join(pointer_join(pointer, "then_sync"), i),
                               did_you_mean(sync, syncs, "syncs"))


def _check_find(ctx: _Context, pointer: str, raw: Mapping[str, Any], mode: Any,
                source: ObjectInfo | None, inputs: tuple[str, ...]) -> Iterator[Diagnostic]:
    """`find:` of an update action: its id template, and links that can name the record
    (an action writing the same target, or a sync from the action's source to it)."""
    find = raw.get("find")
    if not isinstance(find, dict):
        return
    at = pointer_join(pointer, "find")
    if mode != "update":
        yield ctx.diag("spec.action-find", "`find` says which record an update changes, but "
                       "this action creates one", at, "set mode: update, or remove find",
                       key=True)
    if "id" in find:
        yield from _check_transform(ctx, pointer_join(at, "id"), find["id"], source,
                                    extra_names=("inputs", "object", *inputs))
    actions = ctx.data.get("actions") or {}
    syncs = ctx.data.get("syncs") or {}
    source_ref, target_ref = raw.get("source"), raw.get("target")
    for i, name in enumerate(find.get("linked") or []):
        where = pointer_join(pointer_join(at, "linked"), i)
        other = actions.get(name) if isinstance(actions.get(name), dict) else None
        sync = syncs.get(name) if isinstance(syncs.get(name), dict) else None
        if other is not None:
            if other.get("target") != target_ref:
                yield ctx.diag("spec.action-find", f"action `{name}` writes "
                               f"{other.get('target')}, not {target_ref}", where,
                               f"name an action or sync that writes {target_ref}")
        elif sync is not None:
            if (sync.get("source"), sync.get("target")) != (source_ref, target_ref):
                yield ctx.diag("spec.action-find", f"sync `{name}` links {sync.get('source')} "
                               f"to {sync.get('target')}, not {source_ref} to {target_ref}",
                               where, f"name a sync from {source_ref} to {target_ref}, or an "
                               "action that writes it")
        else:
            yield ctx.diag("spec.action-find", f"no action or sync named `{name}`", where,
                           did_you_mean(str(name), [*actions, *syncs], "actions and syncs"))


CHECKS: tuple[Callable[[_Context], Iterator[Diagnostic]], ...] = (
    _check_connections,
    _check_setup_refs,
    _check_syncs,
    _check_actions,
    check_directions,  # two-way pairs: engine/spec/direction.py
    check_conflicts,  # their two-way fields' conflict policy: engine/spec/conflict.py
)


def check_spec(doc: LoadedDocument,
               vendors: AdapterRegistry | None = None) -> Iterator[Diagnostic]:
    """Every semantic problem of a spec that is a mapping (schema errors are separate).

    Field names are checked against the catalogs of `vendors` (the installed ones by
    default).
    """
    vendors = vendors or default_registry()
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_setup, raw_syncs = data.get("setup"), data.get("syncs")
    setup = raw_setup if isinstance(raw_setup, dict) else {}
    catalogs: dict[str, Catalog | None] = {}
    for name, raw in (data.get("connections") or {}).items():
        adapter = raw.get("adapter") if isinstance(raw, dict) else None
        catalogs[name] = vendors.catalog(adapter) if isinstance(adapter, str) else None
    syncs = raw_syncs if isinstance(raw_syncs, dict) else {}
    ctx = _Context(doc, data, setup, catalogs, tuple(syncs), vendors)
    for check in CHECKS:
        yield from check(ctx)


def _adapter_of(ctx: _Context, found: tuple[str, Any, Any] | None) -> str:
    """The adapter name of the connection an object reference resolved to, else ""."""
    catalog = ctx.catalogs.get(found[0]) if found else None
    return catalog.adapter if catalog is not None else ""
