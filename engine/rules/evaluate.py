"""What a filter means, value by value: the reference interpreter.

This module is the definition of the semantics (see engine/rules/compile.py for
the summary). `compile_rule` generates faster code for the common shapes but
falls back to `match` for every value outside its fast paths, and to `evaluate`
for a whole record when the fast path meets a TypeError, so the two can never
disagree. Nothing here raises on record data: a value of the wrong type simply
does not match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.rules.errors import RuleSetupError
from engine.rules.nodes import (
    And,
    Compare,
    Expr,
    Is,
    ListValue,
    Literal,
    Not,
    Operand,
    Or,
    RelativeTime,
    SetupRef,
)

__all__ = [
    "MATCHERS",
    "aware",
    "evaluate",
    "lookup",
    "match",
    "moment",
    "operand_value",
    "relative_value",
    "test",
]

_MISSING = object()
_SEQUENCES = (list, tuple, set, frozenset)
_STEP = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1),
         "w": timedelta(weeks=1)}


def lookup(record: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at a dotted path; None when any step is missing or not a mapping."""
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return None
    return value


def aware(value: datetime) -> datetime:
    """Naive datetimes in records are taken as UTC."""
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _pair(value: object, operand: object) -> tuple[Any, Any] | None:
    """Both sides in one comparable form, or None when their types do not meet.

    A date against a datetime compares calendar dates: the datetime is cut to its
    date in its own UTC offset (so `created = 2024-01-31` holds all that day).
    """
    if isinstance(operand, bool):
        return (value, operand) if isinstance(value, bool) else None
    if isinstance(operand, str):
        return (value, operand) if isinstance(value, str) else None
    if _is_number(operand):
        return (value, operand) if _is_number(value) else None
    if isinstance(operand, datetime):
        if isinstance(value, datetime):
            return aware(value), aware(operand)
        if isinstance(value, date):
            return value, operand.date()
        return None
    if isinstance(operand, date):
        if isinstance(value, datetime):
            return value.date(), operand
        if isinstance(value, date):
            return value, operand
    return None


def _equal(value: object, operand: object) -> bool:
    pair = _pair(value, operand)
    return pair is not None and bool(pair[0] == pair[1])


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[object, object], bool]:
    def matcher(value: object, operand: object) -> bool:
        if isinstance(operand, bool):
            return False  # booleans have no order
        pair = _pair(value, operand)
        return pair is not None and bool(compare(pair[0], pair[1]))

    return matcher


def _member(value: object, operand: object) -> bool:
    items = operand if isinstance(operand, tuple) else (operand,)
    return any(_equal(value, item) for item in items)


def _contains(value: object, operand: object) -> bool:
    if isinstance(value, str):
        return isinstance(operand, str) and operand in value
    if isinstance(value, _SEQUENCES):
        return any(_equal(item, operand) for item in value)
    return False


def _starts_with(value: object, operand: object) -> bool:
    return isinstance(value, str) and isinstance(operand, str) and value.startswith(operand)


MATCHERS: dict[str, Callable[[object, object], bool]] = {
    "=": _equal,
    "!=": lambda v, c: not _equal(v, c),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "in": _member,
    "not in": lambda v, c: not _member(v, c),
    "contains": _contains,
    "starts with": _starts_with,
}


def match(op: str, value: object, operand: object) -> bool:
    """`value <op> operand` under two-valued logic; never raises on odd values."""
    try:
        return MATCHERS[op](value, operand)
    except Exception:  # e.g. Decimal('sNaN') < 1, a tzinfo that raises: no match
        return op in ("!=", "not in")


def test(kind: str, value: object) -> bool:
    """`is true|false|null|not null`: only the booleans themselves are true/false."""
    if kind == "true":
        return value is True
    if kind == "false":
        return value is False
    if kind == "null":
        return value is None
    return value is not None


def moment(clock: Callable[[], datetime]) -> datetime:
    """The clock's reading, made aware (naive readings are UTC)."""
    return aware(clock())


def relative_value(node: RelativeTime, now: datetime) -> date | datetime:
    """now() is the clock reading; today() is its calendar date in the clock's own zone."""
    step = _STEP[node.unit] * node.amount if node.unit else timedelta(0)
    if node.base == "now":
        return now + step
    return now.date() + step


def operand_value(node: Operand, setup: Mapping[str, Any], now: datetime | None = None) -> Any:
    """The Python value an operand stands for; lists become tuples."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListValue):
        return tuple(item.value for item in node.items)
    if isinstance(node, SetupRef):
        value = lookup(setup, node.path) if _has_path(setup, node.path) else _MISSING
        if value is _MISSING:
            raise RuleSetupError(f"setup.{node.name} is not configured")
        if isinstance(value, (list, tuple)):
            return tuple(value)
        if isinstance(value, (Mapping, set, frozenset)):
            raise RuleSetupError(f"setup.{node.name} is a {type(value).__name__}, "
                                 "not a value or a list")
        return value
    if now is None:
        raise ValueError("relative times need the clock's reading")
    return relative_value(node, now)


def _has_path(setup: Mapping[str, Any], path: Sequence[str]) -> bool:
    value: Any = setup
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True


def evaluate(expr: Expr, record: Mapping[str, Any], operand: Callable[[Compare], Any]) -> bool:
    """Interpret `expr` on one record; `operand(leaf)` gives each comparison's bound value."""
    if isinstance(expr, And):
        return all(evaluate(item, record, operand) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, record, operand) for item in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.operand, record, operand)
    if isinstance(expr, Is):
        return test(expr.test, lookup(record, expr.field.path))
    return match(expr.op, lookup(record, expr.field.path), operand(expr))
