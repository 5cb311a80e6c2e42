"""Positional multi-field templates: `{template: "{0} - {1}", from: [jobnumber, jobname]}`.

The Maconomy seed's form: placeholders `{0}`, `{1}`, ... stand for the fields listed in
`from`, in order. Only `{N}` is a placeholder; `{{` and `}}` write a literal brace; no
format specs or names (a `{0:>5}` or `{name}` is a compile-time problem, as is an index
past the end of `from`).

Values print as Jinja text templates print them: `str(value)`, and null prints as
nothing, so "{0} - {1}" with a null name gives "1234 - ". A field the record does not
have at all fails the record with "templates.undefined-value": absence usually means a
spec/source mismatch, and writing a half-empty text silently would hide it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.errors import RecordError
from engine.templates.environment import check_text
from engine.templates.failures import record_error
from engine.templates.problems import TemplateProblem, TransformError

__all__ = ["compile_positional"]

_TOKEN = re.compile(r"\{\{|\}\}|\{(\d+)\}|\{[^{}]*\}?|\}")


def _parse(template: str, count: int) -> list[str | int]:
    parts: list[str | int] = []
    problems: list[TemplateProblem] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            parts.append(template[pos : match.start()])
        pos = match.end()
        text = match.group(0)
        if text in ("{{", "}}"):
            parts.append(text[0])
        elif match.group(1) is not None:
            index = int(match.group(1))
            if index >= count:
                problems.append(TemplateProblem(
                    "templates.positional",
                    f"`{text}` has no field: `from` lists {count} field(s), so {{0}}"
                    + (f" to {{{count - 1}}}" if count > 1 else "") + " are available",
                    1, match.start() + 1, match.end() + 1,
                    "add the field to `from`, or fix the number",
                ))
            parts.append(index)
        else:
            problems.append(TemplateProblem(
                "templates.positional",
                f"`{text}` is not a placeholder; only {{0}}, {{1}}, ... are",
                1, match.start() + 1, match.end() + 1, "write a literal brace as {{ or }}",
            ))
    if pos < len(template):
        parts.append(template[pos:])
    if problems:
        raise TransformError(problems)
    return parts


def compile_positional(
    template: Any, fields: Any
) -> tuple[Callable[[Mapping[str, Any], Any], str], tuple[str, ...]]:
    """The render function and the fields it reads."""
    if not isinstance(template, str) or "\n" in template:
        raise TransformError([TemplateProblem(
            "templates.positional", "a positional template is one line of text", 0, 0, None,
            'e.g. {template: "{0} - {1}", from: [jobnumber, jobname]}',
        )])
    if not isinstance(fields, Sequence) or isinstance(fields, str) or not fields \
            or not all(isinstance(f, str) and f for f in fields):
        raise TransformError([TemplateProblem(
            "templates.positional", "`from` must list one or more field names", 0, 0, None,
            "e.g. from: [jobnumber, jobname]",
        )])
    names = tuple(fields)
    parts = _parse(template, len(names))
    missing = object()

    def render(record: Mapping[str, Any], ctx: Any) -> str:
        out: list[str] = []
        for part in parts:
            if part.__class__ is str:
                out.append(part)  # type: ignore[arg-type]
                continue
            name = names[part]  # type: ignore[index]
            value = record.get(name, missing)
            if value is missing:
                raise RecordError("templates.undefined-value",
                                  f"the record has no field {name!r}", field=name)
            try:
                out.append("" if value is None else str(value))
            except Exception as exc:
                raise record_error(exc) from None
        try:
            return check_text("".join(out))
        except Exception as exc:
            raise record_error(exc) from None

    return render, tuple(dict.fromkeys(names))
