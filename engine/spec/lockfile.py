"""`spec.lock.json`: the target metadata a spec refers to, as resolved on the live system.

`specsync lock` writes it beside the spec once `check` found every reference (the
pipeline, stage, currency, office, role and tag ids the spec names, with the names the
system gave them then). `specsync validate` reads it offline: CI, which has no
credentials, still fails a spec that refers to something nobody checked against the
live system. `specsync check` compares it with the live system (drift: renamed or
removed metadata).

    {"specsync_lock": 1, "integration": "maconomy-cinode",
     "references": [{"connection": "cinode", "kind": "pipeline_stages", "value": "11",
                     "parent": "1", "name": "Lead"}, ...]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.diagnostics import Diagnostic, Location, Severity
from engine.spec.references import SpecReference

__all__ = ["LOCK_NAME", "LockedReference", "lock_diagnostics", "lock_path", "read_lock",
           "write_lock"]

LOCK_NAME = "spec.lock.json"
FORMAT = 1

#: How people call each kind, in messages.
KIND_WORDS = {"pipelines": "pipeline", "pipeline_stages": "pipeline stage",
              "currencies": "currency", "languages": "language", "offices": "office",
              "roles": "role", "tags": "tag"}


def kind_word(kind: str) -> str:
    if kind.startswith("options:"):  # options:<object>.<property>
        return f"{kind.rsplit('.', 1)[-1]} option"
    return KIND_WORDS.get(kind, kind.rstrip("s"))


@dataclass(frozen=True)
class LockedReference:
    connection: str
    kind: str
    value: str
    parent: str | None
    name: str  # what the live system called it when locked ("" when it does not exist yet)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.connection, self.kind, self.value, self.parent)


def lock_path(spec_path: str | Path) -> Path:
    return Path(spec_path).with_name(LOCK_NAME)


def read_lock(spec_path: str | Path) -> list[LockedReference] | None:
    """The lock beside the spec; None when there is none. ValueError when unreadable."""
    path = lock_path(spec_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("specsync_lock") != FORMAT:
            raise ValueError(f"format {data.get('specsync_lock')!r}, expected {FORMAT}")
        return [LockedReference(str(r["connection"]), str(r["kind"]), str(r["value"]),
                                None if r.get("parent") is None else str(r["parent"]),
                                str(r.get("name") or ""))
                for r in data["references"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path.name} cannot be read ({exc}); run specsync lock again") \
            from exc


def write_lock(spec_path: str | Path, integration: str,
               references: Iterable[LockedReference]) -> Path:
    path = lock_path(spec_path)
    rows = sorted({r.key: r for r in references}.values(),
                  key=lambda r: (r.connection, r.kind, r.parent or "", r.value))
    data: dict[str, Any] = {
        "specsync_lock": FORMAT, "integration": integration,
        "note": "written by `specsync lock`: the target metadata the spec refers to, as "
                "the live system named it; `specsync validate` checks the spec against it",
        "references": [{"connection": r.connection, "kind": r.kind, "value": r.value,
                        "parent": r.parent, "name": r.name} for r in rows]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def lock_diagnostics(spec_file: str, references: list[SpecReference],
                     locate: Any) -> list[Diagnostic]:
    """The spec against its lock, offline: a reference the lock lacks is an error at
    the line that sets it; a locked one the spec no longer makes is a warning.
    `locate(pointer)` gives a Location. No lock, no diagnostics."""
    try:
        locked = read_lock(spec_file)
    except ValueError as exc:
        return [Diagnostic("lock.unreadable", str(exc), Location(spec_file, 1, 1),
                           hint="run `specsync lock SPEC` where the credentials are")]
    if locked is None:
        return []
    keys = {r.key for r in locked}
    out = []
    for ref in references:
        if ref.key in keys:
            continue
        parent = f" of pipeline {ref.parent}" if ref.parent else ""
        out.append(Diagnostic(
            "lock.unlocked",
            f"{kind_word(ref.kind)} {ref.value}{parent} ({ref.where}) is not in {LOCK_NAME}: "
            "it was never checked against the live system",
            locate(ref.pointer), pointer=ref.pointer,
            hint=f"run `specsync lock {Path(spec_file).parent}` where the credentials are, "
                 f"and commit {LOCK_NAME}"))
    used = {ref.key for ref in references}
    for item in locked:
        if item.key not in used:
            out.append(Diagnostic(
                "lock.stale", f"{LOCK_NAME} holds {kind_word(item.kind)} {item.value} "
                f"({item.name or 'unnamed'}), which the spec no longer refers to",
                Location(spec_file, 1, 1), severity=Severity.WARNING,
                hint="run `specsync lock` again"))
    return out
