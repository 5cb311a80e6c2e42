"""Maconomy restrictions from sync filters (the `FilterPushdown` of this vendor).

    MaconomyPushdown().render(rule) -> "closed=false and (jobtype='T&M' or jobtype='Fixed')"

Restriction syntax: `field='value'`, `or` and parentheses are confirmed by real clients
(facts F-R-QUOTE, F-R-OR-PAREN in tests/contracts/maconomy/facts.json); what else this
renders is not: `and`/`not(...)`, numbers bare, `true`/`false` (F-R-EXTENDED), `''`
escaping (F-R-DOUBLING), dates as `date(YYYY, M, D)` (F-R-DATE: one public client passes
a zero-based month). The adapter sends none of these restrictions: reads apply sync
filters locally. No null tests, no substring tests, no datetimes: None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.rules.nodes import And, Compare, Expr, Is, Not, Or, Rule
from engine.rules.pushdown import NotExpressible, operand

__all__ = ["MaconomyPushdown", "to_restriction"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def to_restriction(rule: Rule, *, setup: Mapping[str, Any] | None = None,
                            now: datetime | None = None) -> str | None:
    """The rule as a Maconomy filter restriction, or None when it has no exact equivalent.

    `setup` and `now` let `setup.x` and now()/today() be filled in; without them
    a rule using them is not expressible.
    """
    try:
        return _maconomy(rule.expr, setup, now)
    except NotExpressible:
        return None


def _maconomy(expr: Expr, setup: Mapping[str, Any] | None, now: datetime | None) -> str:
    if isinstance(expr, (And, Or)):
        joiner = " and " if isinstance(expr, And) else " or "
        parts = []
        for item in expr.items:
            text = _maconomy(item, setup, now)
            parts.append(f"({text})" if isinstance(item, (And, Or)) else text)
        return joiner.join(parts)
    if isinstance(expr, Not):
        inner = _maconomy(expr.operand, setup, now)
        if isinstance(expr.operand, Compare) and expr.operand.op == "in" and inner[0] == "(":
            inner = inner[1:-1]  # `not x in [a, b]`: not((x=a or x=b)) reads badly
        return f"not({inner})"
    path = expr.field.path
    if len(path) != 1 or not _NAME.fullmatch(path[0]):
        raise NotExpressible
    name = path[0]
    if isinstance(expr, Is):
        if expr.test in ("true", "false"):
            return f"{name}={expr.test}"
        raise NotExpressible  # no null test in the restriction language we know of
    value = operand(expr, setup, now)
    if expr.op in ("in", "not in"):
        if not isinstance(value, tuple) or not value:
            raise NotExpressible
        alternatives = " or ".join(f"{name}={_maconomy_value(v)}" for v in value)
        inner = alternatives if len(value) == 1 else f"({alternatives})"
        return f"not({alternatives})" if expr.op == "not in" else inner
    if expr.op == "!=":
        return f"not({name}={_maconomy_value(value)})"
    if expr.op in ("=", "<", "<=", ">", ">="):
        if isinstance(value, bool) and expr.op != "=":
            raise NotExpressible
        return f"{name}{expr.op}{_maconomy_value(value)}"
    raise NotExpressible  # contains / starts with: wildcard syntax unconfirmed


def _maconomy_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotExpressible
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, datetime):
        raise NotExpressible  # timestamp literal syntax unconfirmed (apis.md 4.2)
    if isinstance(value, date):
        return f"date({value.year}, {value.month}, {value.day})"
    raise NotExpressible


class MaconomyPushdown:
    """Maconomy as a `FilterPushdown`."""

    def render(self, rule: Rule, *, setup: Mapping[str, Any] | None = None,
               now: datetime | None = None) -> str | None:
        return to_restriction(rule, setup=setup, now=now)
