"""Rules as server-side filters, so a read can ask the source for fewer records.

    to_maconomy_restriction(rule)   -> "closed=false and (jobtype='T&M' or jobtype='Fixed')"
    to_hubspot_filter_groups(rule)  -> [{"filters": [{"propertyName": ..., "operator": "EQ", ...}]}]

Both are optimisations: they return None when the rule (or a part of it) has no
faithful translation, and the reader then fetches everything and filters
locally. Readers should still run the compiled predicate on what comes back:
vendor comparisons (collation, null handling) are not ours.

Maconomy restriction syntax (apis.md 4.2): `field='value'` with `''` escaping,
`and`/`or`/`not(...)`, numbers bare, `true`/`false`, dates as `date(YYYY, M, D)`
(one-based month as written; one public client passes a zero-based month, verify
on a real server). No null tests, no substring tests, no datetimes: None.

HubSpot CRM search: OR of ANDs, at most 5 groups, 10 filters per group and 25 in
all (apis.md 2.4); values are strings, dates and datetimes are epoch
milliseconds (dates at midnight UTC). `not` is pushed down to the conditions
(`!=` -> NEQ, `not in` -> NOT_IN, `is null` -> NOT_HAS_PROPERTY); a negated
ordering (`not x < 3`) is None because our `not` also keeps records without the
property. Assumed (unverified): HubSpot compares strings case-insensitively and
its NEQ/NOT_IN keep records without the property. So string values are only used
with positive operators (a superset that the local predicate narrows), IN values
are lower-cased, and `contains` becomes CONTAINS_TOKEN `*word*` only for a plain
alphanumeric word; anything else is None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.rules.errors import RuleSetupError
from engine.rules.evaluate import moment, operand_value
from engine.rules.nodes import And, Compare, Expr, Is, Not, Or, RelativeTime, Rule

__all__ = [
    "HUBSPOT_MAX_FILTERS",
    "HUBSPOT_MAX_FILTERS_PER_GROUP",
    "HUBSPOT_MAX_GROUPS",
    "to_hubspot_filter_groups",
    "to_maconomy_restriction",
]

HUBSPOT_MAX_GROUPS = 5
HUBSPOT_MAX_FILTERS_PER_GROUP = 10
HUBSPOT_MAX_FILTERS = 25

_MACONOMY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HUBSPOT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_WORD = re.compile(r"[A-Za-z0-9]+")


class _NotExpressible(Exception):
    """Raised inside the renderers; the public functions turn it into None."""


def _operand(leaf: Compare, setup: Mapping[str, Any] | None, now: datetime | None) -> Any:
    if isinstance(leaf.value, RelativeTime):
        if now is None:
            raise _NotExpressible
        return operand_value(leaf.value, {}, moment(lambda: now))
    try:
        return operand_value(leaf.value, setup or {})
    except RuleSetupError:
        raise _NotExpressible from None


# ---------------------------------------------------------------------------
# Maconomy


def to_maconomy_restriction(rule: Rule, *, setup: Mapping[str, Any] | None = None,
                            now: datetime | None = None) -> str | None:
    """The rule as a Maconomy filter restriction, or None when it has no exact equivalent.

    `setup` and `now` let `setup.x` and now()/today() be filled in; without them
    a rule using them is not expressible.
    """
    try:
        return _maconomy(rule.expr, setup, now)
    except _NotExpressible:
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
    if len(path) != 1 or not _MACONOMY_NAME.fullmatch(path[0]):
        raise _NotExpressible
    name = path[0]
    if isinstance(expr, Is):
        if expr.test in ("true", "false"):
            return f"{name}={expr.test}"
        raise _NotExpressible  # no null test in the restriction language we know of
    value = _operand(expr, setup, now)
    if expr.op in ("in", "not in"):
        if not isinstance(value, tuple) or not value:
            raise _NotExpressible
        alternatives = " or ".join(f"{name}={_maconomy_value(v)}" for v in value)
        inner = alternatives if len(value) == 1 else f"({alternatives})"
        return f"not({alternatives})" if expr.op == "not in" else inner
    if expr.op == "!=":
        return f"not({name}={_maconomy_value(value)})"
    if expr.op in ("=", "<", "<=", ">", ">="):
        if isinstance(value, bool) and expr.op != "=":
            raise _NotExpressible
        return f"{name}{expr.op}{_maconomy_value(value)}"
    raise _NotExpressible  # contains / starts with: wildcard syntax unconfirmed


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
            raise _NotExpressible
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, datetime):
        raise _NotExpressible  # timestamp literal syntax unconfirmed (apis.md 4.2)
    if isinstance(value, date):
        return f"date({value.year}, {value.month}, {value.day})"
    raise _NotExpressible


# ---------------------------------------------------------------------------
# HubSpot

_Groups = list[list[dict[str, Any]]]
_POSITIVE = {"=": "EQ", "!=": "NEQ", "<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE",
             "in": "IN", "not in": "NOT_IN", "contains": "CONTAINS_TOKEN"}
_NEGATED = {"=": "NEQ", "!=": "EQ", "in": "NOT_IN", "not in": "IN"}
_EXCLUDING = frozenset({"NEQ", "NOT_IN"})


def to_hubspot_filter_groups(rule: Rule, *, setup: Mapping[str, Any] | None = None,
                             now: datetime | None = None) -> list[dict[str, Any]] | None:
    """The rule as HubSpot search `filterGroups`, or None when it cannot be said there."""
    try:
        groups = _dnf(rule.expr, False, setup, now)
    except _NotExpressible:
        return None
    if sum(len(g) for g in groups) > HUBSPOT_MAX_FILTERS:
        return None
    return [{"filters": group} for group in groups]


def _check_size(groups: _Groups) -> _Groups:
    if len(groups) > HUBSPOT_MAX_GROUPS or any(
            len(g) > HUBSPOT_MAX_FILTERS_PER_GROUP for g in groups):
        raise _NotExpressible
    return groups


def _dnf(expr: Expr, negated: bool, setup: Mapping[str, Any] | None,
         now: datetime | None) -> _Groups:
    """Disjunctive normal form with `not` pushed down to the conditions."""
    if isinstance(expr, Not):
        return _dnf(expr.operand, not negated, setup, now)
    if isinstance(expr, (And, Or)):
        conjunction = isinstance(expr, And) != negated  # De Morgan
        parts = [_dnf(item, negated, setup, now) for item in expr.items]
        if not conjunction:
            return _check_size([group for part in parts for group in part])
        groups: _Groups = [[]]
        for part in parts:
            groups = _check_size([a + b for a in groups for b in part])
        return groups
    return [[_hubspot_filter(expr, negated, setup, now)]]


def _hubspot_filter(leaf: Compare | Is, negated: bool, setup: Mapping[str, Any] | None,
                    now: datetime | None) -> dict[str, Any]:
    path = leaf.field.path
    if len(path) != 1 or not _HUBSPOT_NAME.fullmatch(path[0]):
        raise _NotExpressible
    name = path[0]
    if isinstance(leaf, Is):
        if leaf.test in ("null", "not null"):
            has = (leaf.test == "not null") != negated
            return {"propertyName": name,
                    "operator": "HAS_PROPERTY" if has else "NOT_HAS_PROPERTY"}
        return {"propertyName": name, "operator": "NEQ" if negated else "EQ",
                "value": leaf.test}
    table = _NEGATED if negated else _POSITIVE
    operator = table.get(leaf.op)
    if operator is None:
        raise _NotExpressible  # starts with; a negated ordering
    value = _operand(leaf, setup, now)
    if operator in ("IN", "NOT_IN"):
        if not isinstance(value, tuple) or not value:
            raise _NotExpressible
        if operator == "NOT_IN" and any(isinstance(v, str) for v in value):
            raise _NotExpressible  # case-insensitive exclusion could drop our matches
        return {"propertyName": name, "operator": operator,
                "values": [_hubspot_value(v).lower() if isinstance(v, str) else
                           _hubspot_value(v) for v in value]}
    if isinstance(value, tuple) or (isinstance(value, bool) and leaf.op not in ("=", "!=")):
        raise _NotExpressible
    if operator in _EXCLUDING and isinstance(value, str):
        raise _NotExpressible
    if operator == "CONTAINS_TOKEN":
        if not (isinstance(value, str) and _WORD.fullmatch(value)):
            raise _NotExpressible
        return {"propertyName": name, "operator": operator, "value": f"*{value}*"}
    return {"propertyName": name, "operator": operator, "value": _hubspot_value(value)}


def _hubspot_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotExpressible
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, datetime):
        moment_ = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
        return str(int(moment_.timestamp() * 1000))
    if isinstance(value, date):
        return str(int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
                   * 1000)
    raise _NotExpressible
