"""HubSpot CRM search filter groups from sync filters (this vendor's `FilterPushdown`).

    HubSpotPushdown().render(rule) -> [{"filters": [{"propertyName": ..., "operator": "EQ", ...}]}]

CRM search: OR of ANDs, at most 5 groups, 10 filters per group and 25 in all
(`PublicObjectSearchRequest.filterGroups` in the SDK's crm models); values are strings,
dates and datetimes are epoch milliseconds (dates at midnight UTC). `not` is pushed down
to the conditions (`!=` -> NEQ, `not in` -> NOT_IN, `is null` -> NOT_HAS_PROPERTY); a
negated ordering (`not x < 3`) is None because our `not` also keeps records without the
property. Unconfirmed: HubSpot compares strings case-insensitively and its NEQ/NOT_IN
keep records without the property. So string values are only used with positive
operators (a superset that the local predicate narrows), IN values are lower-cased, and
`contains` becomes CONTAINS_TOKEN `*word*` only for a plain alphanumeric word; anything
else is None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.rules.nodes import And, Compare, Expr, Is, Not, Or, Rule
from engine.rules.pushdown import NotExpressible, operand

__all__ = ["MAX_FILTERS", "MAX_FILTERS_PER_GROUP", "MAX_GROUPS", "HubSpotPushdown",
           "to_filter_groups"]

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_WORD = re.compile(r"[A-Za-z0-9]+")


_Groups = list[list[dict[str, Any]]]
_POSITIVE = {"=": "EQ", "!=": "NEQ", "<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE",
             "in": "IN", "not in": "NOT_IN", "contains": "CONTAINS_TOKEN"}
_NEGATED = {"=": "NEQ", "!=": "EQ", "in": "NOT_IN", "not in": "IN"}
_EXCLUDING = frozenset({"NEQ", "NOT_IN"})


def to_filter_groups(rule: Rule, *, setup: Mapping[str, Any] | None = None,
                             now: datetime | None = None) -> list[dict[str, Any]] | None:
    """The rule as HubSpot search `filterGroups`, or None when it cannot be said there."""
    try:
        groups = _dnf(rule.expr, False, setup, now)
    except NotExpressible:
        return None
    if sum(len(g) for g in groups) > MAX_FILTERS:
        return None
    return [{"filters": group} for group in groups]


def _check_size(groups: _Groups) -> _Groups:
    if len(groups) > MAX_GROUPS or any(
            len(g) > MAX_FILTERS_PER_GROUP for g in groups):
        raise NotExpressible
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
    if len(path) != 1 or not _NAME.fullmatch(path[0]):
        raise NotExpressible
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
        raise NotExpressible  # starts with; a negated ordering
    value = operand(leaf, setup, now)
    if operator in ("IN", "NOT_IN"):
        if not isinstance(value, tuple) or not value:
            raise NotExpressible
        if operator == "NOT_IN" and any(isinstance(v, str) for v in value):
            raise NotExpressible  # case-insensitive exclusion could drop our matches
        return {"propertyName": name, "operator": operator,
                "values": [_hubspot_value(v).lower() if isinstance(v, str) else
                           _hubspot_value(v) for v in value]}
    if isinstance(value, tuple) or (isinstance(value, bool) and leaf.op not in ("=", "!=")):
        raise NotExpressible
    if operator in _EXCLUDING and isinstance(value, str):
        raise NotExpressible
    if operator == "CONTAINS_TOKEN":
        if not (isinstance(value, str) and _WORD.fullmatch(value)):
            raise NotExpressible
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
            raise NotExpressible
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, datetime):
        moment_ = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
        return str(int(moment_.timestamp() * 1000))
    if isinstance(value, date):
        return str(int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
                   * 1000)
    raise NotExpressible


class HubSpotPushdown:
    """HubSpot as a `FilterPushdown`."""

    def render(self, rule: Rule, *, setup: Mapping[str, Any] | None = None,
               now: datetime | None = None) -> list[dict[str, Any]] | None:
        return to_filter_groups(rule, setup=setup, now=now)
