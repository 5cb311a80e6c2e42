"""How plans and runs read for people: a plan field by field, a run's failures grouped by
reason, and what a plan says up front about records internal matching cannot match.
Used by `specsync plan` and `specsync run` (engine/cli/sync.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.sync.changes import Change, Plan
    from engine.sync.runtime import Runtime

__all__ = ["failure_lines", "internal_matching_note", "render_plan"]


def _show(value: object) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


_WRITES = ("create", "update", "adopt", "deactivate", "delete")
_UNREADABLE = "(not readable)"  # engine.sync.decide's old value of a write-only field
_MARKS = {"create": "+", "update": "~", "adopt": "=", "deactivate": "-", "delete": "-",
          "error": "!"}


def render_plan(plan: Plan) -> str:
    """A plan for people: counts, then each change field by field."""
    from engine.redact import Redactor

    redact = Redactor()
    counts = plan.counts
    head = ", ".join(f"{counts.get(k, 0)} to {k}" for k in _WRITES)
    held = (f", {plan.held} with changes the target cannot take (set at creation only)"
            if plan.held else "")
    lines = [f"{plan.integration}/{plan.sync}: {head}; {counts.get('skip', 0)} unchanged, "
             f"{counts.get('filtered', 0)} filtered out, {counts.get('error', 0)} failing"
             + held]
    for change in sorted(plan.changes, key=lambda c: (c.kind, c.key)):
        if change.kind in ("skip", "filtered") and not change.held:
            continue
        target = f" -> {change.target_id}" if change.target_id else ""
        kind = "unchanged" if change.kind == "skip" else change.kind
        lines.append(f"  {_MARKS.get(change.kind, '!')} {kind} {change.key}{target}")
        for f in change.held:
            lines.append(f"      {f.field}: {redact.text(_show(f.old))} -> "
                         f"{redact.text(_show(f.new))} (not written: set at creation only)")
        if change.kind == "error":
            lines.append(f"      [{change.code}] {redact.text(change.reason)}")
        # A field the target cannot read back is sent with every update and cannot be
        # compared: one line for those, so they do not bury the change that caused it.
        fields = [f for f in change.fields if f.old != _UNREADABLE]
        unreadable = [f.field for f in change.fields if f.old == _UNREADABLE]
        if not fields:
            fields, unreadable = list(change.fields), []
        for f in fields:
            old = "" if change.kind == "create" else f"{redact.text(_show(f.old))} -> "
            lines.append(f"      {f.field}: {old}{redact.text(_show(f.new))}")
        if unreadable:
            lines.append(f"      also sent (the target cannot read it back to compare): "
                         f"{', '.join(unreadable)}")
    if plan.truncated:
        lines.append("  (more changes than shown; the counts cover every record)")
    lines.extend(f"  warning: {redact.text(w)}" for w in plan.warnings)
    return "\n".join(lines)


def internal_matching_note(runtime: Runtime, plan: Plan) -> str | None:
    """Internal matching: how many planned records name no existing target record."""
    from engine.sync.match import unmatched_note

    sync = runtime.spec.syncs[plan.sync]
    if sync.key.match != "internal":
        return None
    from engine.adapters.registry import default_registry

    adapter = runtime.adapter(sync.target_connection)
    info = adapter.describe().objects.get(sync.target_object)
    obj = (info.label if info else sync.target_object).lower()
    missing = sum(1 for c in plan.changes if c.kind == "error" and c.code == "key.not-found")
    selected = sum(n for kind, n in plan.counts.items()
                   if kind not in ("filtered", "deactivate", "delete"))
    if not missing:
        return None  # the docs say what would happen; nothing to warn about here
    return unmatched_note(default_registry().title(adapter.name), obj, sync.key.components,
                          missing=missing, selected=selected, at_least=plan.truncated)


_SHOWN_ALONE = 3  # failures of one code listed one by one; more share one line


def failure_lines(failures: list[Change], *, total: int) -> list[str]:
    """The failures of a run for people: up to three of a code each with its message; a
    code shared by more is one line (the first message, then the other keys), so 30
    records failing for one reason read as one reason, not a wall of 30."""
    by_code: dict[str, list[Change]] = {}
    for failure in failures:
        by_code.setdefault(failure.code, []).append(failure)
    lines: list[str] = []
    for code, group in by_code.items():
        if len(group) <= _SHOWN_ALONE:
            lines.extend(f"{c.key}: [{code}] {c.reason}" for c in group)
            continue
        others = [c.key for c in group[1:11]]
        more = len(group) - 1 - len(others)
        lines.append(f"{len(group)} records [{code}], e.g. {group[0].key}: {group[0].reason}"
                     f" (also {', '.join(others)}{f' and {more} more' if more else ''})")
    if total > len(failures):
        lines.append(f"{total - len(failures)} more failing records: `specsync status` "
                     "lists them")
    return lines
