"""Spec settings in plain words: schedules, triggers, filters, setup values.

Generated docs are read by people who set an integration up, not by the engineers who
wrote its spec, so every setting is said the way the vendor documents say it
("every 5 minutes", "Only synced when set to Active in Kleer").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from engine.adapters.registry import default_registry
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
    "filter_words",
    "join_words",
    "schedule_words",
    "setup_table_words",
    "setup_value_words",
    "system_name",
    "trigger_words",
]

_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_EVERY = re.compile(r"^every ([0-9]+)(s|m|h|d)$")
_OPS = {
    "=": "is", "!=": "is not", "<": "is less than", "<=": "is at most",
    ">": "is greater than", ">=": "is at least", "in": "is one of", "not in": "is not one of",
    "contains": "contains", "starts with": "starts with",
}
_NEGATED = {"=": "!=", "!=": "=", "in": "not in", "not in": "in", "<": ">=", ">=": "<",
            ">": "<=", "<=": ">"}
_SHORT = 60  # setup values longer than this are named, not shown


def system_name(adapter: str) -> str:
    """The product name of an adapter's system, as its vendor package titles it."""
    vendor = default_registry().find(adapter)
    return vendor.title if vendor is not None else adapter.replace("_", " ").title()


def join_words(items: Sequence[str], last: str = "and") -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def setup_value_words(value: Any) -> str | None:
    """A setup value short enough to show inline, or None when it is better only named."""
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (list, dict)) for v in value):
        text = ", ".join(_scalar(v) for v in value)
    elif isinstance(value, (str, int, float, bool)) or value is None:
        text = _scalar(value)
    else:
        return None
    return text if len(text) <= _SHORT else None


def setup_table_words(value: Any, *, shown: int = 8) -> str:
    """A table (or long list) of setup values, entry by entry: `sweden → SE, norway → NO`,
    the first `shown` of them and how many more the spec has."""
    if isinstance(value, dict):
        entries = [f"{k} → {_scalar(v) if not isinstance(v, (dict, list)) else '(nested)'}"
                   for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        entries = [_scalar(v) if not isinstance(v, (dict, list)) else "(nested)"
                   for v in value]
    else:
        return _scalar(value)
    if not entries:
        return "empty"
    more = len(entries) - shown
    return ", ".join(entries[:shown]) + (f" and {more} more (see the spec)" if more > 0 else "")


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "empty"
    return str(value)


def schedule_words(schedule: str) -> str:
    """`every 5m` -> "every 5 minutes"; `cron 0 6 * * 1-5` -> "on a cron schedule: ..."."""
    if schedule == "never":
        return "never on a schedule"
    if schedule in ("hourly", "daily"):
        return schedule
    match = _EVERY.match(schedule)
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return f"every {unit}" if amount == 1 else f"every {amount} {unit}s"
    if schedule.startswith("cron "):
        return f"on a cron schedule: {schedule[5:].strip()}"
    return schedule


def trigger_words(system: str, events: Sequence[str], properties: Sequence[str]) -> str:
    """Say when a webhook starts a sync: "when Cinode sends project.created or ..."."""
    if events:
        text = f"when {system} sends {join_words(list(events), 'or')}"
    else:
        text = f"when {system} sends a webhook"
    if properties:
        text += (f", if one of these {system} properties changed: {', '.join(properties)} "
                 "(then every mapped field is synced, not just the one that changed)")
    return text


Label = Callable[[str], str]
ValueName = Callable[[str, Any], "str | None"]


def filter_words(expr: Expr, label: Label, system: str, setup: Mapping[str, Any],
                 value_name: ValueName | None = None) -> str:
    """A filter as a sentence: "Only synced when set to Active in Kleer and ...".

    `value_name(field, value)` names a coded value ("30" -> "won") where it can.
    """
    return "Only synced when " + _expr(expr, _Say(label, system, setup, value_name))


class _Say:
    """What saying a filter needs: labels, the system's name, setup values, code names."""

    def __init__(self, label: Label, system: str, setup: Mapping[str, Any],
                 value_name: ValueName | None) -> None:
        self.label, self.system, self.setup = label, system, setup
        self.value_name = value_name or (lambda field, value: None)


def _expr(expr: Expr, say: _Say) -> str:
    if isinstance(expr, And):
        return join_words([_nested(e, say) for e in expr.items])
    if isinstance(expr, Or):
        return "either " + join_words([_nested(e, say) for e in expr.items], "or")
    if isinstance(expr, Not):
        return _negate(expr.operand, say)
    name = say.label(expr.field.name)
    if isinstance(expr, Is):
        return {
            "true": f"set to {name} in {say.system}",
            "false": f"not set to {name} in {say.system}",
            "null": f"{name} is empty",
            "not null": f"{name} is filled in",
        }[expr.test]
    return f"{name} {_OPS[expr.op]} {_operand(expr.value, expr.field.name, say)}"


def _nested(expr: Expr, say: _Say) -> str:
    text = _expr(expr, say)
    return f"({text})" if isinstance(expr, (And, Or)) else text


def _negate(expr: Expr, say: _Say) -> str:
    if isinstance(expr, Not):
        return _expr(expr.operand, say)
    if isinstance(expr, Is):
        flipped = {"true": "false", "false": "true", "null": "not null", "not null": "null"}
        return _expr(Is(expr.field, flipped[expr.test]), say)
    if isinstance(expr, Compare) and expr.op in _NEGATED:
        return _expr(Compare(expr.field, _NEGATED[expr.op], expr.value), say)
    if isinstance(expr, Compare):
        name = say.label(expr.field.name)
        verb = "does not contain" if expr.op == "contains" else "does not start with"
        return f"{name} {verb} {_operand(expr.value, expr.field.name, say)}"
    return f"not ({_expr(expr, say)})"


def _operand(operand: Operand, field: str, say: _Say) -> str:
    if isinstance(operand, Literal):
        return _literal(operand.value, field, say)
    if isinstance(operand, ListValue):
        return join_words([_literal(item.value, field, say) for item in operand.items], "or")
    if isinstance(operand, SetupRef):
        value = say.setup.get(operand.path[0]) if operand.path else None
        for part in operand.path[1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        named = f"setup.{operand.name}"
        if isinstance(value, (list, tuple)) and all(not isinstance(v, (list, dict))
                                                    for v in value):
            joined = ", ".join(_literal(v, field, say, quote=False) for v in value)
            shown: str | None = joined if len(joined) <= _SHORT else None
        else:
            shown = setup_value_words(value)
        if shown is None:
            return f"the values configured during setup ({named})"
        return f"{shown} (configured during setup: {named})"
    if isinstance(operand, RelativeTime):
        if operand.unit is None or operand.amount == 0:
            return operand.base
        unit = _UNITS.get(operand.unit, operand.unit)
        amount = abs(operand.amount)
        plural = unit if amount == 1 else unit + "s"
        way = "ago" if operand.amount < 0 else "from now"
        base = "" if operand.base == "now" else f" ({operand.base})"
        return f"{amount} {plural} {way}{base}"
    raise TypeError(f"not an operand: {operand!r}")


def _literal(value: Any, field: str, say: _Say, *, quote: bool = True) -> str:
    if isinstance(value, str):
        text = f'"{value}"' if quote else value
    elif isinstance(value, (date, datetime)):
        text = value.isoformat()
    else:
        text = _scalar(value)
    meaning = say.value_name(field, value)
    return f"{text} ({meaning})" if meaning else text
