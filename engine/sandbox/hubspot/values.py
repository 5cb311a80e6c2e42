"""Property values the way HubSpot stores and compares them: every value is a string.

Numbers are canonical decimals (`"12"`, `"12.5"`), booleans `"true"`/`"false"`,
datetimes ISO 8601 with milliseconds and `Z`, dates `YYYY-MM-DD` (written as a date or as
epoch milliseconds at midnight UTC), enumerations one of their options. `""` clears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.sandbox.hubspot.errors import PropertyProblem
from engine.sandbox.hubspot.seed import iso_ms

__all__ = ["comparable", "normalise", "parse_instant"]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(value: Any) -> datetime | None:
    """Epoch milliseconds (number or numeric text) or ISO 8601 -> aware UTC, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_RE.match(text):
                return datetime.fromisoformat(text).replace(tzinfo=UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def normalise(definition: Mapping[str, Any], value: Any) -> str | PropertyProblem:
    """A written value -> the string HubSpot stores ("" clears), or the problem."""
    name = definition["name"]
    kind = definition["type"]
    if value is None or value == "":
        return ""
    if isinstance(value, dict | list):
        return PropertyProblem(name, "INVALID_VALUE", f"{value!r} is not a valid value for "
                               f"property {name!r}")
    if kind == "number":
        try:
            number = Decimal(str(value).strip())
            if not number.is_finite() or isinstance(value, bool):
                raise InvalidOperation
        except InvalidOperation:
            return PropertyProblem(name, "INVALID_DOUBLE", f"{value!r} was not a valid number.")
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    if kind == "bool":
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            return PropertyProblem(name, "INVALID_BOOLEAN", f"{value!r} is not a valid "
                                   "boolean; expected true or false.")
        return text
    if kind == "datetime":
        moment = parse_instant(value)
        if moment is None:
            return PropertyProblem(name, "INVALID_DATETIME", f"{value!r} is not a valid "
                                   "datetime; use epoch milliseconds or ISO 8601.")
        return iso_ms(moment)
    if kind == "date":
        moment = parse_instant(value)
        if moment is None:
            return PropertyProblem(name, "INVALID_DATE", f"{value!r} is not a valid date; "
                                   "use YYYY-MM-DD or epoch milliseconds at midnight UTC.")
        if moment.time() != datetime.min.time():
            return PropertyProblem(name, "INVALID_DATE", f"{value!r} is not midnight UTC; "
                                   "date properties need a timestamp at midnight UTC.")
        return moment.date().isoformat()
    text = "true" if value is True else "false" if value is False else str(value)
    if kind == "enumeration":
        allowed = [o["value"] for o in definition.get("options", [])]
        if allowed and text not in allowed:
            return PropertyProblem(name, "INVALID_OPTION", f"{text!r} was not one of the "
                                   f"allowed options: {allowed}")
    return text


def comparable(kind: str, value: Any) -> Any:
    """A stored or filter value -> something ordered the way HubSpot compares that type."""
    if value is None:
        return None
    if kind == "number":
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return None
    if kind in ("datetime", "date"):
        moment = parse_instant(value)
        return None if moment is None else moment.timestamp()
    return str(value).lower()
