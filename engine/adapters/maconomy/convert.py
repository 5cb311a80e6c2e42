"""Maconomy rows -> catalog records: per-field converters, planned once per read.

Values arrive as Maconomy writes them (F-RESP-VALUES in tests/contracts/maconomy/facts.json):
dates `yyyy-MM-dd`, `transactiontimestamp` `yyyy-MM-dd HH:mm:ss.SSS` in the server's
local time (a space, no zone; `options.timezone`, default UTC), an empty value as `''`
(read as None). JSON booleans and numbers pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from engine.adapters.base import Record
from engine.adapters.catalog import ObjectInfo

__all__ = ["WIRE_NAMES", "Plan"]

Converter = Callable[[Any], Any]
# Catalog name -> wire names to try, in order (tenant-specific field names).
WIRE_NAMES = {"budget": ("budget", "budgetamount")}


# ---------------------------------------------------------------------- converters
# Each takes a non-None wire value and returns the catalog type; values already of the
# right JSON type pass through untouched (the common case costs one type check).


def _date_converter() -> Converter:
    cache: dict[str, date | None] = {}  # a few thousand distinct days at most

    def convert(value: Any) -> Any:
        if type(value) is not str:
            return value
        found = cache.get(value, cache)
        if found is cache:
            try:
                found = date.fromisoformat(value[:10]) if value else None
            except ValueError:
                return value  # unconvertible: left as is, a filter on it is false
            if len(cache) < 100_000:
                cache[value] = found
        return found

    return convert


def _datetime_converter(zone: tzinfo) -> Converter:
    from_iso = datetime.fromisoformat
    # Appending the offset and parsing once is several times faster than parsing and
    # then `replace(tzinfo=...)`; values that already carry an offset take the slow path.
    suffix = "+00:00" if zone is UTC else ""

    def slow(value: str) -> Any:
        try:
            moment = from_iso(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # unconvertible: left as is, a filter on it is false
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    def convert(value: Any) -> Any:
        if type(value) is not str:
            return value
        if not value:
            return None
        if suffix:
            try:
                return from_iso(value + suffix)
            except ValueError:
                pass
        return slow(value)

    return convert


def _integer(value: Any) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _number(value: Any) -> Any:
    if type(value) in (int, float):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if type(value) is int:
        return bool(value)
    return value


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


_GUARDS: dict[str, Converter] = {"string": _string, "integer": _integer, "number": _number,
                                 "boolean": _boolean}
# Container specification types whose JSON values already have the catalog's type.
_NATIVE: dict[str, frozenset[str]] = {
    "string": frozenset({"string"}), "integer": frozenset({"integer"}),
    "number": frozenset({"integer", "real", "amount"}), "boolean": frozenset({"boolean"}),
}


class Plan:
    """How to turn one container's rows into catalog records, computed once per read.

    Dates and timestamps are text on the wire and are parsed on every row. Strings,
    numbers and booleans arrive as JSON types when the container's specification
    declares them so; only fields declared otherwise (or when the specification is
    unknown) get a converter that checks each value.
    """

    def __init__(self, info: ObjectInfo, available: Mapping[str, str] | None,
                 zone: tzinfo) -> None:
        self.renames: list[tuple[str, str]] = []  # (wire, catalog) where they differ
        self.parsed: list[tuple[str, Converter]] = []
        self.guarded: list[tuple[str, Converter]] = []
        wire_fields: list[str] = []
        for name, field in info.fields.items():
            if "." in name or field.write_only:
                continue
            candidates = WIRE_NAMES.get(name, (name,))
            wire = next((c for c in candidates if available is None or c in available), None)
            if wire is None:
                continue  # this tenant's container has no such field
            wire_fields.append(wire)
            if wire != name:
                self.renames.append((wire, name))
            if field.type == "date":
                self.parsed.append((name, _date_converter()))
            elif field.type == "datetime":
                self.parsed.append((name, _datetime_converter(zone)))
            elif field.type in _GUARDS and (
                    available is None or available[wire] not in _NATIVE[field.type]):
                self.guarded.append((name, _GUARDS[field.type]))
        self.catalog_fields = frozenset(n for n in info.fields if "." not in n)
        # Ask for named fields only when the container has more than we want; when we
        # want all of them, the server's default (every field) is the same and cheaper.
        if available is None or set(available) <= set(wire_fields):
            self.wire_fields: list[str] | None = None
        else:
            self.wire_fields = wire_fields
        # With the container's fields known, every key a row carries maps to the catalog.
        self.trusted_keys = available is not None

    def records(self, rows: list[dict[str, Any]]) -> list[Record]:
        """Convert one page's row `data` dicts in place (the decoded page owns them)."""
        if self.renames:
            for data in rows:
                for wire, name in self.renames:
                    if wire in data:
                        data[name] = data.pop(wire)
        if not self.trusted_keys:
            keep = self.catalog_fields
            for data in rows:
                for key in [k for k in data if k not in keep]:
                    del data[key]
        for name, convert in self.parsed:
            for data in rows:
                value = data.get(name)
                if value is not None:
                    data[name] = convert(value)
        for name, convert in self.guarded:
            for data in rows:
                value = data.get(name)
                if value is not None:
                    data[name] = convert(value)
        return rows
