"""Paged search (`POST .../search`): `pageAndSortBy` parsing, sorting and string matching.

`pageAndSortBy` is `{sortBy, sortOrder, page, itemsPerPage}` with 1-based pages
(`*PageAndSortByModel`, defaults page 1 and 15 per page); `sortOrder` 0 is Ascending, 1
Descending (`SortOrder`). String filters compare with `StringComparisonOperator`: 0
Contains, 1 StartsWith, 2 EndsWith, 3 Equals, case-insensitively [assumed].
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.sandbox.cinode.errors import invalid
from engine.sandbox.cinode.store import Record
from engine.sandbox.platform import Collection

__all__ = ["indexed_search", "matches", "page_and_sort", "search"]


def page_and_sort(body: Mapping[str, Any], default_sort: int, sorts: Mapping[int, str],
                  max_items: int) -> tuple[int, int, int, int]:
    """(sortBy, sortOrder, page, itemsPerPage) from `pageAndSortBy`; a 400 when wrong."""
    raw = body.get("pageAndSortBy") or {}
    if not isinstance(raw, dict):
        raise invalid("pageAndSortBy", "The JSON value could not be converted.")
    values = {k.lower(): v for k, v in raw.items()}
    wanted = {"sortby": default_sort, "sortorder": 0, "page": 1, "itemsperpage": 15}
    for name, default in wanted.items():
        value = values.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(f"pageAndSortBy.{name}", "The JSON value could not be converted "
                                                   "to System.Int32.")
        wanted[name] = value
    sort_by, order, page, per_page = (wanted["sortby"], wanted["sortorder"], wanted["page"],
                                      wanted["itemsperpage"])
    if sort_by not in sorts:
        raise invalid("pageAndSortBy.sortBy", f"The value '{sort_by}' is not valid.")
    if order not in (0, 1):
        raise invalid("pageAndSortBy.sortOrder", "The value must be 0 (asc) or 1 (desc).")
    if page < 0 or per_page < 0:
        raise invalid("pageAndSortBy", "Page and itemsPerPage must not be negative.")
    return sort_by, order, max(page, 1), min(max(per_page, 1), max_items)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, str):
        return (0, value.casefold())
    return (0, value)


def search(records: Iterable[Record], keep: Callable[[Record], bool], sort_field: str,
           order: int, page: int, per_page: int) -> tuple[list[Record], int]:
    """One page of the matches, sorted, plus the number of matches.

    A heap keeps only the first `page * per_page` matches, so paging the newest changes of
    a million records is one pass rather than a full sort.
    """
    count = 0

    def matching() -> Iterable[tuple[tuple[int, Any], int, Record]]:
        nonlocal count
        for record in records:
            if keep(record):
                count += 1
                yield _sort_key(record.get(sort_field)), record["id"], record

    wanted = page * per_page
    if order == 1:
        top = heapq.nlargest(wanted, matching(), key=lambda t: (t[0], t[1]))
    else:
        top = heapq.nsmallest(wanted, matching(), key=lambda t: (t[0], t[1]))
    return [record for _, _, record in top[wanted - per_page:]], count


def matches(value: Any, wanted: str | None, operator: int) -> bool:
    """`value` against a search string under a `StringComparisonOperator`."""
    if wanted is None or wanted == "":
        return True
    if value is None:
        return False
    text, needle = str(value).casefold(), wanted.casefold()
    if operator == 1:
        return text.startswith(needle)
    if operator == 2:
        return text.endswith(needle)
    if operator == 3:
        return text == needle
    return needle in text


def _folded(value: Any) -> str:
    return str(value).casefold()


def indexed_search(collection: Collection, keep: Callable[[Record], bool], sort_field: str,
                   order: int, page: int, per_page: int, *,
                   exact: Mapping[str, str | None] | None = None,
                   filtered: bool = True,
                   partial: Callable[[int], Record] | None = None
                   ) -> tuple[list[Record], int]:
    """`search` through the collection's indexes where the query allows it.

    An Equals filter on a field (`exact`, field -> wanted) reads that field's value index
    and checks only its records; a query without filters pages the sort order's index.
    Either is O(log n) plus the page, where a scan of 100,000 records takes seconds.
    Results are the same as `search` over every record. `partial` builds the indexed
    fields of a generated record alone (see `Collection.value_index`).
    """
    for field, wanted in (exact or {}).items():
        if wanted not in (None, ""):
            candidates = collection.value_index(field, _folded, partial=partial).ids(wanted)
            found = (collection.get(record_id) for record_id in sorted(candidates))
            return search((r for r in found if r is not None), keep, sort_field, order,
                          page, per_page)
    if not filtered:
        ordered = collection.ordered_index(sort_field, _sort_key, partial=partial)
        ids = ordered.page((page - 1) * per_page, per_page, descending=order == 1)
        records = [r for r in (collection.get(i) for i in ids) if r is not None]
        return records, len(collection)
    return search(collection.iter(), keep, sort_field, order, page, per_page)
