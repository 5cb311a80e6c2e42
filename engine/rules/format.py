"""Canonical filter text: `format_rule(parse_rule(t))` parses back to the same tree.

Used to show a rule in plans and explanations, and by `specsync fmt`-style tools.
One space around operators, `and`/`or`/`not` in lower case, strings in double
quotes, parentheses only where precedence needs them, field names in backticks
only when they are not plain names or read like keywords.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from engine.rules.nodes import (
    And,
    Expr,
    Is,
    ListValue,
    Literal,
    Not,
    Operand,
    Or,
    RelativeTime,
    Rule,
    SetupRef,
)

__all__ = ["format_expr", "format_name", "format_operand", "format_rule", "format_value"]

_PLAIN_NAME = re.compile(r"[^\W\d]\w*(?:-\w+)*")
_KEYWORDS = frozenset({"or", "and", "not", "in", "is", "contains", "starts", "with", "true",
                       "false", "null", "now", "today", "setup"})
_ESCAPE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def format_rule(rule: Rule) -> str:
    """The canonical text of a rule (positions are not kept)."""
    return format_expr(rule.expr)


def format_expr(expr: Expr) -> str:
    if isinstance(expr, Or):
        return " or ".join(_wrap(item, isinstance(item, Or)) for item in expr.items)
    if isinstance(expr, And):
        return " and ".join(_wrap(item, isinstance(item, (And, Or))) for item in expr.items)
    if isinstance(expr, Not):
        return "not " + _wrap(expr.operand, isinstance(expr.operand, (And, Or)))
    field = ".".join(format_name(p) for p in expr.field.path)
    if isinstance(expr, Is):
        return f"{field} is {expr.test}"
    return f"{field} {expr.op} {format_operand(expr.value)}"


def _wrap(expr: Expr, needed: bool) -> str:
    text = format_expr(expr)
    return f"({text})" if needed else text


def format_name(name: str) -> str:
    """A field or setup name: bare when it lexes as a plain name, else in backticks."""
    if _PLAIN_NAME.fullmatch(name) and name.lower() not in _KEYWORDS:
        return name
    if not name or "`" in name or "\n" in name:
        raise ValueError(f"the name {name!r} cannot be written in a filter")
    return f"`{name}`"


def format_operand(operand: Operand) -> str:
    if isinstance(operand, Literal):
        return format_value(operand.value)
    if isinstance(operand, ListValue):
        return "[" + ", ".join(format_value(item.value) for item in operand.items) + "]"
    if isinstance(operand, SetupRef):
        return "setup." + ".".join(format_name(p) for p in operand.path)
    if isinstance(operand, RelativeTime):
        text = f"{operand.base}()"
        if operand.unit is None:
            return text
        sign = "-" if operand.amount < 0 else "+"
        return f"{text} {sign} {abs(operand.amount)}{operand.unit}"
    raise TypeError(f"not an operand: {operand!r}")


def format_value(value: object) -> str:
    """A literal as filter text (the same spelling the grammar reads)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + "".join(_escape(ch) for ch in value) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} cannot be written in a filter")
        text = format(Decimal(repr(value)), "f")  # never an exponent: the grammar has none
        return text if "." in text else text + ".0"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not a filter value: {value!r}")


def _escape(ch: str) -> str:
    if ch in _ESCAPE:
        return _ESCAPE[ch]
    if ch < " " or "\x7f" <= ch <= "\x9f":
        return f"\\u{ord(ch):04x}"
    return ch
