"""CRM search (`POST /crm/v3/objects/{objectType}/search`, the SDK's `SearchApi.do_search`):
`PublicObjectSearchRequest {filterGroups, sorts, query, properties, limit, after}` ->
`CollectionResponseWithTotalSimplePublicObjectForwardPaging {total, results, paging}`.

Filter groups are OR-ed, the filters of a group AND-ed: at most 5 groups, 10 filters per
group and 25 in all; operators EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY
NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN, compared by the property's type.
`sorts` takes the documented `{propertyName, direction}` objects (the SDK types them as
strings, hubspot-api-python#236; names with an optional `-` are accepted too). `limit`
<= 200; no search ever returns more than 10,000 results (`after` at or past the cap is
400, and the last page before it has no `paging`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.errors import read_json, validation
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.objects import after_param, limit_param
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.store import ObjectStore
from engine.sandbox.hubspot.values import comparable

__all__ = ["SEARCH_CAP", "Search", "filter_matches"]

_MAX_GROUPS, _MAX_PER_GROUP, _MAX_FILTERS = 5, 10, 25
SEARCH_CAP = 10_000
_OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
                        "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                        "NOT_CONTAINS_TOKEN"})
_TOKEN_SPLIT = re.compile(r"[^\w*@.-]+", re.UNICODE)


def _token_match(stored: str, pattern: str) -> bool:
    tokens = [t for t in _TOKEN_SPLIT.split(stored.lower()) if t]
    regex = re.compile("^" + ".*".join(map(re.escape, pattern.lower().split("*"))) + "$")
    return any(regex.match(t) for t in tokens) or bool(regex.match(stored.lower()))


def filter_matches(flt: Mapping[str, Any], kind: str, stored: str | None) -> bool:
    """Whether one stored value (of property type `kind`) passes one filter."""
    op = flt["operator"]
    present = stored is not None and stored != ""
    if op == "HAS_PROPERTY":
        return present
    if op == "NOT_HAS_PROPERTY":
        return not present
    if not present:
        return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    assert stored is not None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = _token_match(stored, str(flt.get("value", "")))
        return hit if op == "CONTAINS_TOKEN" else not hit
    have = comparable(kind, stored)
    if op in ("IN", "NOT_IN"):
        wanted = {comparable(kind, v) for v in flt.get("values") or []}
        return (have in wanted) == (op == "IN")
    want = comparable(kind, flt.get("value"))
    if have is None or want is None:
        return op == "NEQ"
    if op == "EQ":
        return bool(have == want)
    if op == "NEQ":
        return bool(have != want)
    if op == "BETWEEN":
        high = comparable(kind, flt.get("highValue"))
        return high is not None and bool(want <= have <= high)
    return bool({"LT": have < want, "LTE": have <= want, "GT": have > want,
                 "GTE": have >= want}[op])


def _candidates(store: ObjectStore, groups: list[list[dict[str, Any]]],
                kinds: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The records one filter group can match, read from an index (None: scan them all).

    An EQ or IN filter reads the property's value index; a GT, GTE or BETWEEN filter the
    property's order from its low value on (a changed-since read). Every other filter is
    still checked on the candidates, which come back in the collection's order, so the
    answer is the scan's."""
    if len(groups) != 1:
        return None
    collection = store.collection
    for flt in groups[0]:
        name, op = flt["propertyName"], flt["operator"]
        kind = kinds[name]

        def extract(record: Mapping[str, Any], name: str = name) -> Any:
            value = record["properties"].get(name)
            return None if value in (None, "") else value

        if op in ("EQ", "IN"):
            index = collection.value_index(
                f"properties.{name}", partial(comparable, kind), extract)
            values = flt.get("values") or [] if op == "IN" else [flt.get("value")]
            ids = [i for v in values if v is not None for i in index.ids(v)]
            return collection.in_order(ids)
        if op in ("GT", "GTE", "BETWEEN") and kind in ("datetime", "date", "number"):
            low = comparable(kind, flt.get("value"))
            if low is None:
                continue
            ordered = collection.ordered_index(
                f"properties.{name}", partial(_ranked_value, kind), extract)
            return collection.in_order(ordered.ids_from((True, low)))
    return None


def _ranked(value: Any) -> tuple[bool, Any]:
    """A sort key where values no filter can pass (absent, unparseable) come first."""
    return (False, 0) if value is None else (True, value)


class Search:
    """The search route."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def routes(self, gate: Gate) -> list[BaseRoute]:
        return [Route("/crm/v3/objects/{objectType}/search", gate.search(self.search),
                      methods=["POST"])]

    @staticmethod
    def _filters(store: ObjectStore, groups: Any) -> list[list[dict[str, Any]]]:
        if groups is None:
            return []
        if not isinstance(groups, list):
            raise validation("filterGroups must be a list")
        if len(groups) > _MAX_GROUPS:
            raise validation(f"Too many filter groups: {len(groups)}; the maximum is "
                             f"{_MAX_GROUPS}.", code="TOO_MANY_FILTER_GROUPS")
        out: list[list[dict[str, Any]]] = []
        total = 0
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > _MAX_PER_GROUP:
                raise validation(f"Too many filters in a filter group: {len(filters)}; the "
                                 f"maximum is {_MAX_PER_GROUP}.", code="TOO_MANY_FILTERS")
            total += len(filters)
            for flt in filters:
                op = flt.get("operator")
                name = flt.get("propertyName")
                if op not in _OPERATORS:
                    raise validation(f"Unknown operator {op!r}; expected one of "
                                     f"{', '.join(sorted(_OPERATORS))}.",
                                     code="INVALID_OPERATOR")
                if name not in store.properties:
                    raise validation(f"Property {name!r} does not exist on "
                                     f"{store.type.name}.", code="PROPERTY_DOESNT_EXIST",
                                     name=str(name))
                if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
                    raise validation(f"{op} needs `values` (a list).", name=name)
                if op == "BETWEEN" and flt.get("highValue") is None:
                    raise validation("BETWEEN needs `value` and `highValue`.", name=name)
            out.append(filters)
        if total > _MAX_FILTERS:
            raise validation(f"Too many filters: {total}; the maximum is {_MAX_FILTERS} "
                             "across all filter groups.", code="TOO_MANY_FILTERS")
        return out

    @staticmethod
    def _sorts(store: ObjectStore, sorts: Any) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for sort in sorts or []:
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            elif isinstance(sort, dict):
                name = str(sort.get("propertyName"))
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            else:
                raise validation("sorts must be property names or {propertyName, direction}")
            if name not in store.properties:
                raise validation(f"Cannot sort by {name!r}: no such property.", name=name)
            out.append((name, descending))
        return out

    async def search(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        body = await read_json(request)
        if not isinstance(body, dict):
            raise validation("expected a search request object")
        groups = self._filters(store, body.get("filterGroups"))
        limit = limit_param(body.get("limit"), 10, 200)
        after = after_param(body.get("after"))
        if after >= SEARCH_CAP:
            raise validation(f"Search results are capped at {SEARCH_CAP}; `after` {after} is "
                             "past the cap. Narrow the query instead (e.g. by "
                             "hs_lastmodifieddate).", code="SEARCH_LIMIT_EXCEEDED")
        query = str(body.get("query") or "").strip()
        kinds = {n: p["type"] for n, p in store.properties.items()}

        def matches(record: Mapping[str, Any]) -> bool:
            props = record["properties"]
            if query and not any(isinstance(v, str) and _token_match(v, query + "*")
                                 for v in props.values()):
                return False
            if not groups:
                return True
            return any(all(filter_matches(f, kinds[f["propertyName"]],
                                          props.get(f["propertyName"])) for f in group)
                       for group in groups)

        sorts = self._sorts(store, body.get("sorts"))
        if not groups and not query and not sorts:
            # Nothing to filter or sort: page the store directly (cheap for big portals).
            total, page = len(store.collection), store.collection.page(after, limit)
            return self._page(store, body, total, page, after, limit)
        candidates = None if query else _candidates(store, groups, kinds)
        source = store.collection.iter() if candidates is None else candidates
        hits = [r for r in source if matches(r)]
        for name, descending in reversed(sorts):
            kind = kinds[name]
            present = [r for r in hits if r["properties"].get(name) not in (None, "")]
            absent = [r for r in hits if r["properties"].get(name) in (None, "")]
            present.sort(key=partial(_sort_value, kind, name), reverse=descending)
            hits = present + absent
        return self._page(store, body, len(hits), hits[after:after + limit], after, limit)

    def _page(self, store: ObjectStore, body: Mapping[str, Any], total: int,
              page: list[dict[str, Any]], after: int, limit: int) -> Response:
        result: dict[str, Any] = {
            "total": total,
            "results": [self.records.render(store, r, body.get("properties") or None)
                        for r in page]}
        nxt = after + limit
        if nxt < total and nxt < SEARCH_CAP:
            result["paging"] = {"next": {"after": str(nxt)}}
        return JSONResponse(result)


def _sort_value(kind: str, name: str, record: Mapping[str, Any]) -> Any:
    """A search hit's comparable value of one sort property (hits without it sort apart)."""
    return comparable(kind, record["properties"][name])


def _ranked_value(kind: str, value: Any) -> Any:
    """A property value's place in an ordered index of its kind."""
    return _ranked(comparable(kind, value))
