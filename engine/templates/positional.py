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
from engine.templates.limits import MAX_RESULT_SIZE
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
    return _compile(_parse(template, len(names)), names), tuple(dict.fromkeys(names))


def _missing(name: str) -> RecordError:
    return RecordError("templates.undefined-value", f"the record has no field {name!r}",
                       field=name)


def _compile(parts: list[str | int], names: tuple[str, ...]) -> Callable[..., str]:
    """One Python function for the template, as in `fastpath.py`: field by field, in order,
    each value printed as `str(value)` (null as nothing), then the length cap.

    No template text or field name is pasted into the source: they are bound as `c<N>`.
    """
    ns: dict[str, Any] = {
        "__builtins__": {}, "str": str, "len": len, "Exception": Exception,
        "M": object(), "MISSING": _missing, "ERR": record_error, "CHECK_TEXT": check_text,
        "MAXR": MAX_RESULT_SIZE,
    }
    lines: list[str] = []
    pieces: list[str] = []
    for n, part in enumerate(parts):
        const = f"c{n}"
        if isinstance(part, str):
            ns[const] = part
            pieces.append("{" + const + "}")
            continue
        ns[const] = names[part]
        lines += [f"p{n} = rec.get({const}, M)",
                  f"if p{n} is M: raise MISSING({const})",
                  f"p{n} = '' if p{n} is None else str(p{n})"]
        pieces.append("{p" + str(n) + "}")
    lines += ['r = f"' + "".join(pieces) + '"', "if len(r) > MAXR: r = CHECK_TEXT(r)"]
    source = "def render(rec, ctx):\n    try:\n" + "".join(
        f"        {line}\n" for line in lines
    ) + "    except Exception as exc:\n        raise ERR(exc) from None\n    return r\n"
    exec(compile(source, "<specsync positional template>", "exec"), ns)
    render: Callable[..., str] = ns["render"]
    render.specsync_source = source  # type: ignore[attr-defined]  # for debugging and tests
    return render
