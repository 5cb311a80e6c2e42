"""Semantic checks of a sync's key (components, matching, `verify`), `adopt_by`, and the
`create` action that makes the records an inbound sync has no counterpart for. Part of
`check_spec` (check.py), which calls these for every sync."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.diagnostics import Diagnostic
from engine.spec.check import _check_rule, _check_transform, _Context, did_you_mean
from engine.spec.model import SETUP_REF
from engine.spec.source import pointer_join

__all__ = ["check_adopt_by", "check_create", "check_key"]


def check_key(ctx: _Context, pointer: str, key: Any, source: ObjectInfo | None,
               target: ObjectInfo | None, target_catalog: str) -> Iterator[Diagnostic]:
    if not isinstance(key, dict):
        return
    components = key.get("components")
    comp_pointer = pointer_join(pointer, "components")
    if isinstance(components, str):
        match = SETUP_REF.match(components)
        components = ctx.setup.get(match.group(1)) if match else None
        if components is not None and (not isinstance(components, list) or not components):
            yield ctx.diag("spec.key", "the setup value for key components must be a list of "
                           "source fields", comp_pointer)
            return
    if source is not None and isinstance(components, list):
        for i, comp in enumerate(components):
            if isinstance(comp, str) and source.field(comp) is None:
                yield ctx.diag("spec.unknown-field",
                               f"key component `{comp}` is not a field of `{source.name}`",
                               pointer_join(comp_pointer, i)
                               if not isinstance(key.get("components"), str) else comp_pointer,
                               did_you_mean(comp, source.readable(), "fields"))
    match_value = key.get("match", "external")
    if isinstance(match_value, str) and SETUP_REF.match(match_value):
        ref = SETUP_REF.match(match_value)
        match_value = ctx.setup.get(ref.group(1)) if ref else match_value
        if match_value not in ("external", "internal", None):
            yield ctx.diag("spec.key", f"key match `{match_value}` must be external or internal",
                           pointer_join(pointer, "match"))
    target_field = key.get("target_field")
    if target is not None and match_value == "external":
        if not target_field:
            yield ctx.diag("spec.key", "external matching needs `target_field`: the target "
                           "field that stores the key", pointer, "one of " + ", ".join(
                               target.external_id_fields or ("(none: this object has no "
                                                            "external-id field)",)), key=True)
        elif target_field not in target.external_id_fields:
            yield ctx.diag("spec.key-target",
                           f"`{target_field}` of {target_catalog} `{target.name}` cannot hold "
                           "an external id", pointer_join(pointer, "target_field"),
                           did_you_mean(target_field, target.external_id_fields,
                                        "external-id fields"))
    if key.get("verify") and target is not None:
        if match_value != "external":
            yield ctx.diag("spec.key-verify", "`verify` checks the target field that holds "
                           "the key, which only external matching has",
                           pointer_join(pointer, "verify"), "remove `verify`, or set "
                           "match: external with a target_field")
        elif "read" not in target.operations:
            yield ctx.diag("spec.key-verify", f"`verify` reads every {target.name} record, "
                           f"which {target_catalog} cannot list",
                           pointer_join(pointer, "verify"), "remove `verify`")


def check_adopt_by(ctx: _Context, pointer: str, key: Any, source: ObjectInfo | None,
                    target: ObjectInfo | None, target_catalog: str) -> Iterator[Diagnostic]:
    adopt_by = key.get("adopt_by") if isinstance(key, dict) else None
    if not isinstance(adopt_by, dict):
        return
    block = pointer_join(pointer, "adopt_by")
    if key.get("match", "external") != "external" or not key.get("target_field"):
        yield ctx.diag("spec.adopt-by", "adopt_by needs external matching with a "
                       "`target_field`: the adopted record is given the key", block,
                       "set match: external and target_field", key=True)
    for name, value in adopt_by.items():
        at = pointer_join(block, name)
        if target is not None and name not in target.external_id_fields:
            yield ctx.diag("spec.adopt-by", f"{target_catalog} `{target.name}` cannot be looked "
                           f"up by `{name}`", at,
                           did_you_mean(name, target.external_id_fields, "lookup fields"),
                           key=True)
        yield from _check_transform(ctx, at, value, source)


def check_create(ctx: _Context, pointer: str, raw: Mapping[str, Any],
                  source: ObjectInfo | None) -> Iterator[Diagnostic]:
    """`create:` names a create action between the sync's own source and target."""
    create = raw.get("create")
    if not isinstance(create, dict) or not isinstance(create.get("action"), str):
        return
    at = pointer_join(pointer, "create")
    actions = ctx.data.get("actions") or {}
    name = create["action"]
    action = actions.get(name)
    if not isinstance(action, dict):
        yield ctx.diag("spec.create-action", f"no action named `{name}`",
                       pointer_join(at, "action"), did_you_mean(name, actions, "actions"))
    elif action.get("mode", "create") != "create" or \
            (action.get("source"), action.get("target")) != (raw.get("source"), raw.get("target")):
        yield ctx.diag("spec.create-action",
                       f"action `{name}` must create {raw.get('target')} records from "
                       f"{raw.get('source')} records to create this sync's missing ones",
                       pointer_join(at, "action"),
                       "name a `mode: create` action with the same source and target")
    if not raw.get("trigger"):
        yield ctx.diag("spec.create-action", "`create` works on webhook-triggered records "
                       "only, and this sync has no `trigger`", at, "add a webhook `trigger:`")
    if "when" in create:
        yield from _check_rule(ctx, pointer_join(at, "when"), create["when"], source)
