"""Kleer's JSON read into catalog records: lists, wrappers, wrapped ids, joins.

Kleer's JSON is its XSD's elements (the contract's `json_mapping`): a list answer holds
its items under the element's plural (`{"users": [...]}`: toki2 kleer/src/types.rs:
104-107; najlen restclient.py:37,49), a wrapper holding only a repeated element is a bare
array (unconfirmed, apis.md 3.4: `array` also accepts the object form), and
client-project readables wrap their id (`{"id": {"id": n}}`, XSD
`client-project-reference`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.adapters.base import Record
from engine.adapters.catalog import ObjectInfo
from engine.values import coerce

__all__ = ["array", "categories", "items", "level", "plain", "rows_of", "shape",
           "subcontractor", "unwrap_id", "user"]


def _plural(name: str) -> str:
    if name.endswith("s"):
        return name
    return f"{name[:-1]}ies" if name.endswith("y") else f"{name}s"


def items(body: Any, element: str) -> list[Any]:
    """The items of a list answer (`{"users": [...]}`); the singular name is accepted."""
    if not isinstance(body, Mapping):
        return []
    for key in (_plural(element), element):
        found = body.get(key)
        if isinstance(found, list):
            return found
    return []


def array(value: Any, child: str) -> list[Any]:
    """A wrapper's items: a bare array, or `{"<child>": [...]}` / `{"<children>": [...]}`."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return items(value, child)
    return []


def unwrap_id(value: Any) -> Any:
    """Client-project readables wrap their own id: `{"id": {"id": n}}`."""
    while isinstance(value, Mapping) and "id" in value:
        value = value["id"]
    return value


def shape(info: ObjectInfo, raw: Mapping[str, Any], prefix: str = "") -> Record:
    """`raw` cut to the catalog's readable fields at `prefix`, typed; absent -> None."""
    out: Record = {}
    for path, field in info.fields.items():
        if field.write_only or not path.startswith(prefix):
            continue
        name = path[len(prefix):]
        if "." in name:
            continue
        value = raw.get(name)
        if field.type == "object":
            out[name] = (shape(info, value, f"{path}.")
                         if isinstance(value, Mapping) else None)
        elif field.type == "list":
            out[name] = list(value) if isinstance(value, list) else None
        else:
            out[name] = coerce(value, field.type)
    return out


def level(contract: Mapping[str, Any], levels: Mapping[int, float], today: str
          ) -> float | None:
    """The employment rate of the schedule in force `today` (else the latest started)."""
    current = None
    for item in array(contract.get("schedules"), "schedule"):
        start = item.get("start-date") or ""
        end = item.get("end-date") or ""
        if start and start > today:
            continue
        if not end or end >= today:
            current = item
            break
        if current is None or start > (current.get("start-date") or ""):
            current = item
    if current is None:
        return None
    return levels.get(int(unwrap_id(current.get("schedule"))))


def categories(raw: Mapping[str, Any], names: Mapping[int, str]) -> list[str]:
    """Names of a record's dimension entries: `dimension-entries`, and for a user its
    `dimension-entry` and `dimensions` distribution (kleer-v1.xsd `user`)."""
    entries = [*array(raw.get("dimension-entries"), "dimension-entry"),
               *array(raw.get("dimensions"), "dimension-entry")]
    if isinstance(raw.get("dimension-entry"), Mapping):
        entries = [raw["dimension-entry"], *entries]
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("id") is not None:
            name = names.get(int(entry["id"]))
            if name is not None and name not in out:
                out.append(name)
    return out


def user(info: ObjectInfo, raw: Mapping[str, Any], contract: Mapping[str, Any] | None,
         levels: Mapping[int, float], names: Mapping[int, str], today: str) -> Record:
    """A user with its payroll contract (and the current employment rate) joined."""
    payroll = None
    if contract is not None:
        payroll = {**contract, "level-of-employment": level(contract, levels, today)}
    record = shape(info, {**raw, "payroll": payroll})
    if "categories" in info.fields:
        record["categories"] = categories(raw, names)
    return record


def subcontractor(info: ObjectInfo, sub: Mapping[str, Any], user_raw: Mapping[str, Any],
                  contract: Mapping[str, Any] | None,
                  supplier: Mapping[str, Any] | None) -> Record:
    """One (subcontractor, user): the user's fields, its supplier joined."""
    raw = {**user_raw, "subcontractor-id": sub.get("id"), "payroll": contract,
           "supplier": supplier}
    return shape(info, raw)


def plain(info: ObjectInfo, raw: Mapping[str, Any], names: Mapping[int, str]) -> Record:
    raw = {**raw, "id": unwrap_id(raw.get("id"))}
    record = shape(info, raw)
    if "categories" in info.fields:
        record["categories"] = categories(raw, names)
    return record


def rows_of(info: ObjectInfo, parent: Mapping[str, Any], rows_key: str,
            parent_key: str) -> Iterable[Record]:
    """A parent's rows, each with id `<parent id>-<row number>` and its parent named."""
    parent_id = unwrap_id(parent.get("id"))
    for n, row in enumerate(array(parent.get(rows_key), "row"), start=1):
        yield shape(info, {**row, "id": f"{parent_id}-{n}", parent_key: {"id": parent_id}})
