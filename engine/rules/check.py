"""Semantic checks of a parsed rule against the fields and setup a spec declares.

    problems = check_rule(rule, catalog.type_of, spec.setup, field_names=catalog.names)

A rule that parses can still never match, or match by accident: a misspelt
field, a date field compared with "2024" (a string), `flag = 1`, `x = null`.
These are CI failures, reported all at once, each pointing at the operand that is
wrong. Codes:

- rules.unknown-field   the field is not declared (hint: did you mean ...)
- rules.unknown-setup   `setup.x` is not configured
- rules.type-mismatch   the operand's type can never match the field's type
- rules.null-compare    `= null` and friends, which never hold; use `is null`
- rules.bad-list        an empty list, or a list mixing types or holding null
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.diagnostics import Diagnostic, Location, Severity
from engine.rules.errors import RuleSyntaxError, locate
from engine.rules.format import format_operand, format_value
from engine.rules.nodes import (
    Compare,
    Is,
    ListValue,
    Literal,
    Node,
    RelativeTime,
    Rule,
    SetupRef,
    iter_leaves,
)
from engine.rules.parse import parse_rule, syntax_errors

__all__ = ["FIELD_TYPES", "RuleProblem", "check_rule", "diagnose_rule"]

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "list", "object")
_ORDERED = ("<", "<=", ">", ">=")
_COMPATIBLE = {
    "string": {"string"},
    "integer": {"integer", "number"},
    "number": {"integer", "number"},
    "boolean": {"boolean"},
    "date": {"date", "datetime"},
    "datetime": {"date", "datetime"},
}
_HINTS = {
    "string": 'quote the value: {field} {op} "{text}"',
    "integer": "compare with a number without quotes, e.g. {field} {op} 3",
    "number": "compare with a number without quotes, e.g. {field} {op} 3.5",
    "boolean": "use `{field} is true` or `{field} is false`",
    "date": "write a date without quotes, e.g. {field} {op} 2024-01-31 or today() - 30d",
    "datetime": "write a moment without quotes, e.g. {field} {op} 2024-01-31T10:00:00Z "
                "or now() - 2h",
    "list": "test membership with `{field} contains ...`",
    "object": "compare one of its fields, e.g. {field}.name",
}


@dataclass(frozen=True)
class RuleProblem:
    """One semantic problem; positions are 1-based inside the filter text."""

    code: str
    message: str
    line: int
    column: int
    end_column: int
    hint: str | None = None

    def to_diagnostic(self, at: Location) -> Diagnostic:
        return Diagnostic(self.code, self.message,
                          locate(at, self.line, self.column, self.end_column), self.hint,
                          Severity.ERROR)


def check_rule(rule: Rule, resolve_field: Callable[[str], str | None],
               setup: Mapping[str, Any], *,
               field_names: Iterable[str] | None = None) -> list[RuleProblem]:
    """Every problem in `rule`, in text order; empty when the rule is sound.

    `resolve_field("address.city")` returns the declared type name (one of
    FIELD_TYPES) or None when there is no such field; unknown type names are not
    checked further. `field_names` feeds the did-you-mean hint.
    """
    names = sorted(set(field_names)) if field_names is not None else []
    checker = _Checker(resolve_field, setup, names)
    problems: list[RuleProblem] = []
    for leaf in iter_leaves(rule.expr):
        problems.extend(checker.leaf(leaf))
    return sorted(problems, key=lambda p: (p.line, p.column, p.code))


def diagnose_rule(text: str, at: Location, resolve_field: Callable[[str], str | None],
                  setup: Mapping[str, Any], *,
                  field_names: Iterable[str] | None = None) -> list[Diagnostic]:
    """Parse and check filter text found at `at` in a spec file: every Diagnostic, or []."""
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as e:
        return [error.to_diagnostic(at) for error in syntax_errors(text) or [e]]
    return [p.to_diagnostic(at)
            for p in check_rule(rule, resolve_field, setup, field_names=field_names)]


def _an(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _value_kind(value: object) -> str:
    """The kind name of a setup value, in the words the field types use."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


class _Checker:
    def __init__(self, resolve_field: Callable[[str], str | None], setup: Mapping[str, Any],
                 names: list[str]):
        self.resolve_field = resolve_field
        self.setup = setup
        self.names = names

    def problem(self, code: str, node: Node, message: str, hint: str | None) -> RuleProblem:
        end = node.end_column if node.end_line == node.line else node.column + 1
        return RuleProblem(code, message, node.line, node.column, max(end, node.column + 1), hint)

    def leaf(self, leaf: Compare | Is) -> Iterator[RuleProblem]:
        field = leaf.field.name
        ftype = self.resolve_field(field)
        if ftype is None:
            yield self.unknown_field(leaf)
        if isinstance(leaf, Compare):
            kinds = list(self.operand_kinds(leaf.value))
            for problem in kinds:
                if isinstance(problem, RuleProblem):
                    yield problem
            if all(not isinstance(k, RuleProblem) for k in kinds):
                yield from self.compare(leaf, ftype, [k for k in kinds if isinstance(k, tuple)])
        elif ftype in FIELD_TYPES and leaf.test in ("true", "false") and ftype != "boolean":
            yield self.problem(
                "rules.type-mismatch", leaf,
                f"`{field}` is {_an(ftype)}; `is {leaf.test}` needs a boolean field",
                _HINTS[ftype].format(field=field, op="=", text=leaf.test)
                if ftype not in ("list", "object") else _HINTS[ftype].format(field=field))

    def unknown_field(self, leaf: Compare | Is) -> RuleProblem:
        field = leaf.field.name
        hint_parts = []
        close = difflib.get_close_matches(field, self.names, n=3, cutoff=0.6)
        if close:
            hint_parts.append("did you mean " + " or ".join(f"`{c}`" for c in close) + "?")
        if self.names:
            shown = ", ".join(self.names[:30]) + (", ..." if len(self.names) > 30 else "")
            hint_parts.append(f"fields: {shown}")
        return self.problem("rules.unknown-field", leaf.field,
                            f"`{field}` is not a field of this source",
                            " ".join(hint_parts) or None)

    def operand_kinds(self, operand: Any) -> Iterator[tuple[str, Node, str] | RuleProblem]:
        """(kind, node, shown text) per value the operand stands for, or the problems."""
        if isinstance(operand, Literal):
            yield operand.kind, operand, format_operand(operand)
        elif isinstance(operand, RelativeTime):
            yield ("datetime" if operand.base == "now" else "date"), operand, \
                format_operand(operand)
        elif isinstance(operand, ListValue):
            yield "list", operand, format_operand(operand)
            for item in operand.items:
                yield item.kind, item, format_operand(item)
        elif isinstance(operand, SetupRef):
            value, found = self.setup_value(operand.path)
            if not found:
                close = difflib.get_close_matches(operand.name, self.setup_names(), n=3)
                hint = ("did you mean " + " or ".join(f"setup.{c}" for c in close) + "?"
                        if close else "add it under `setup:` in the spec")
                yield self.problem("rules.unknown-setup", operand,
                                   f"setup.{operand.name} is not configured", hint)
                return
            kind = _value_kind(value)
            yield kind, operand, f"setup.{operand.name}"
            if kind == "list":
                for item in value:
                    yield _value_kind(item), operand, _show_value(item)

    def setup_names(self) -> list[str]:
        out: list[str] = []
        stack: list[tuple[str, Any]] = [("", self.setup)]
        while stack:
            prefix, value = stack.pop()
            for key, sub in value.items():
                name = f"{prefix}{key}"
                out.append(name)
                if isinstance(sub, Mapping) and len(out) < 500:
                    stack.append((name + ".", sub))
        return out

    def setup_value(self, path: tuple[str, ...]) -> tuple[Any, bool]:
        value: Any = self.setup
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return None, False
            value = value[key]
        return value, True

    def compare(self, leaf: Compare, ftype: str | None,
                kinds: list[tuple[str, Node, str]]) -> Iterator[RuleProblem]:
        field, op = leaf.field.name, leaf.op
        head_kind, head_node, head_text = kinds[0]
        items = kinds[1:]
        membership = op in ("in", "not in")
        if membership:
            if head_kind != "list":
                yield self.problem("rules.type-mismatch", head_node,
                                   f"`{op}` needs a list, but {head_text} is {_an(head_kind)}",
                                   f'write {field} {op} ["a", "b"], or make the setup value '
                                   "a list")
                return
            yield from self.list_shape(head_node, items)
        elif head_kind == "list":
            yield self.problem("rules.type-mismatch", head_node,
                               f"`{op}` compares with one value, but {head_text} is a list",
                               f"test membership with `{field} in {head_text}`")
            return
        elif head_kind == "null":
            yield self.problem("rules.null-compare", head_node,
                               f"`{field} {op} null` compares with null, which equals nothing",
                               f"use `{field} is null` or `{field} is not null`")
            return
        if ftype not in FIELD_TYPES:
            return  # unknown field (already reported) or a type we do not judge
        values = items if membership else [kinds[0]]
        for kind, node, text in values:
            if kind == "null":
                continue  # reported by list_shape
            yield from self.value_fits(field, ftype, op, kind, node, text)

    def list_shape(self, node: Node, items: list[tuple[str, Node, str]]) -> Iterator[RuleProblem]:
        if not items:
            yield self.problem("rules.bad-list", node, "the list is empty, so it never matches",
                               'list the values, e.g. ["1000", "1001"]')
            return
        families = {("number" if k == "integer" else k) for k, _, _ in items if k != "null"}
        for kind, item, text in items:
            if kind == "null":
                yield self.problem("rules.bad-list", item,
                                   "null in a list never matches: null equals nothing",
                                   "remove it and add `or field is null`")
            elif kind in ("list", "object"):
                yield self.problem("rules.bad-list", item, f"{text} is {_an(kind)}; "
                                   "list items must be single values", None)
        if len(families) > 1:
            *rest, last = sorted(families)
            yield self.problem("rules.bad-list", node,
                               f"the list mixes {', '.join(rest)} and {last} values",
                               "use one type per list, e.g. all quoted strings")

    def value_fits(self, field: str, ftype: str, op: str, kind: str, node: Node,
                   text: str) -> Iterator[RuleProblem]:
        hint_text = text.strip('"')
        if op == "contains":
            if ftype == "string" and kind != "string":
                yield self.mismatch(field, ftype, op, kind, node, text, hint_text)
            elif ftype not in ("string", "list"):
                yield self.problem("rules.type-mismatch", node,
                                   f"`contains` needs a string or list field, but `{field}` is "
                                   f"{_an(ftype)}", "use `=` or `in [...]`")
            return
        if op == "starts with":
            if ftype != "string":
                yield self.problem("rules.type-mismatch", node,
                                   f"`starts with` needs a string field, but `{field}` is "
                                   f"{_an(ftype)}", "use `=`, `<` or `>`")
            elif kind != "string":
                yield self.mismatch(field, ftype, op, kind, node, text, hint_text)
            return
        if ftype in ("list", "object"):
            yield self.problem("rules.type-mismatch", node,
                               f"`{field}` is {_an(ftype)}, so `{op}` never holds",
                               _HINTS[ftype].format(field=field))
            return
        if ftype == "boolean" and op in _ORDERED:
            yield self.problem("rules.type-mismatch", node,
                               f"`{field}` is a boolean and booleans have no order",
                               "use `is true` or `is false`")
            return
        if kind not in _COMPATIBLE[ftype]:
            yield self.mismatch(field, ftype, op, kind, node, text, hint_text)

    def mismatch(self, field: str, ftype: str, op: str, kind: str, node: Node, text: str,
                 hint_text: str) -> RuleProblem:
        hint = _HINTS[ftype].format(field=field, op="=" if op in ("in", "not in") else op,
                                    text=hint_text)
        return self.problem("rules.type-mismatch", node,
                            f"`{field}` is {_an(ftype)}, but {text} is {_an(kind)}", hint)


def _show_value(value: object) -> str:
    try:
        return format_value(value)
    except (TypeError, ValueError):
        return repr(value)
