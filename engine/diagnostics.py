"""Located problems in specs, and how they are shown to people and to CI.

Every check in specsync yields `Diagnostic` values instead of raising, so one
`specsync validate` run reports every problem at once (the jsonschema style).
Only the CLI turns them into text, JSON or GitHub workflow annotations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Diagnostic", "Location", "Severity", "render_github", "render_json", "render_text"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file; `end_column` is exclusive, on the same line."""

    file: str
    line: int
    column: int
    end_column: int | None = None

    def shifted(self, line_offset: int, column: int, end_column: int | None = None) -> Location:
        return Location(self.file, self.line + line_offset, column, end_column)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    code: str  # stable dotted code, e.g. "rules.syntax"
    message: str
    location: Location
    hint: str | None = None
    severity: Severity = Severity.ERROR
    pointer: str = ""  # JSON pointer of the node in the spec document
    related: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.code)

    def to_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "end_column": loc.end_column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "pointer": self.pointer,
        }


def _excerpt(diag: Diagnostic, sources: Mapping[str, str]) -> list[str]:
    text = sources.get(diag.location.file)
    if text is None:
        return []
    lines = text.splitlines()
    n = diag.location.line
    if not 1 <= n <= len(lines):
        return []
    src = lines[n - 1]
    if len(src) > 200:  # a 10 MB one-liner must not flood the terminal
        start = max(0, diag.location.column - 80)
        src = ("…" if start else "") + src[start : start + 160] + "…"
        col = diag.location.column - start + (1 if start else 0)
    else:
        col = diag.location.column
    width = max(1, (diag.location.end_column or col + 1) - col)
    width = min(width, max(1, len(src) - col + 1))
    gutter = " " * len(str(n))
    return [
        f"{gutter} |",
        f"{n} | {src}",
        f"{gutter} | {' ' * (col - 1)}{'^' * width}",
    ]


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """GNU-style `file:line:col: error[code]: message`, the source line, a caret, a hint."""
    diags = sorted(diagnostics, key=lambda d: d.sort_key)
    out: list[str] = []
    for d in diags:
        out.append(f"{d.location}: {d.severity.value}[{d.code}]: {d.message}")
        out.extend(_excerpt(d, sources))
        if d.hint:
            out.append(f"{' ' * len(str(d.location.line))} = hint: {d.hint}")
        out.append("")
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    files = len({d.location.file for d in diags})
    warnings = len(diags) - errors
    if diags:
        noun = "error" if errors == 1 else "errors"
        counted = f"{errors} {noun}"
        if warnings:
            counted += f", {warnings} warning{'s' if warnings != 1 else ''}"
        out.append(f"{counted} in {files} file{'s' if files != 1 else ''}")
    return "\n".join(out)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps(
        [d.to_dict() for d in sorted(diagnostics, key=lambda d: d.sort_key)], indent=2
    )


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, one annotation per problem."""
    out = []
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        loc = d.location
        msg = f"[{d.code}] {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
        out.append(
            f"::{d.severity.value} file={loc.file},line={loc.line},col={loc.column},"
            f"title={d.code}::{_gh_escape(msg)}"
        )
    return "\n".join(out)
