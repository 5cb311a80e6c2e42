"""Typed values: turning vendor text into the declared field types and back.

Adapters yield records whose values have the types their catalog declares (dates are
`datetime.date`, datetimes are aware `datetime`), whatever the wire format was (HubSpot
sends every property as a string). Spec test records written in YAML go through the
same conversion, so a test sees what a real run sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["coerce", "coerce_record", "parse_datetime", "to_wire_text"]


def parse_datetime(text: str) -> datetime:
    """ISO 8601, with Z or offset; naive values (Cinode, Maconomy) are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def coerce(value: Any, type_name: str | None) -> Any:
    """Convert `value` to `type_name`; values that do not convert are returned unchanged.

    Unconvertible values stay as they are so that a filter comparing them is false and
    a template using them fails for that record, rather than the whole read failing.
    """
    if value is None or type_name is None:
        return value
    try:
        if type_name == "date":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, str) and value.strip():
                return date.fromisoformat(value.strip()[:10])
        elif type_name == "datetime":
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            if isinstance(value, date):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return datetime.fromtimestamp(value / 1000, tz=UTC)  # epoch ms (HubSpot)
            if isinstance(value, str) and value.strip():
                text = value.strip()
                if text.isdigit():
                    return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
                return parse_datetime(text)
        elif type_name == "integer":
            if isinstance(value, str) and value.strip():
                return int(Decimal(value.strip()))
            if isinstance(value, float) and value.is_integer():
                return int(value)
        elif type_name == "number":
            if isinstance(value, str) and value.strip():
                number = Decimal(value.strip())
                return int(number) if number == number.to_integral_value() else float(number)
        elif type_name == "boolean":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "1", "yes"):
                    return True
                if lowered in ("false", "0", "no"):
                    return False
        elif type_name == "string" and isinstance(value, int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        elif type_name == "string" and isinstance(value, date):
            return value.isoformat()
    except (ValueError, ArithmeticError):
        return value
    if type_name in ("integer", "number", "date", "datetime") and isinstance(value, str) \
            and not value.strip():
        return None
    return value


def coerce_record(record: Mapping[str, Any], fields: Mapping[str, Any],
                  prefix: str = "") -> dict[str, Any]:
    """Coerce every declared field of `record` (nested objects too); others pass through.

    `fields` maps dotted paths to objects with a `.type` (a catalog's ObjectInfo.fields).
    """
    out: dict[str, Any] = {}
    for name, value in record.items():
        path = f"{prefix}{name}"
        info = fields.get(path)
        if isinstance(value, Mapping):
            out[name] = coerce_record(value, fields, f"{path}.")
        elif info is not None:
            out[name] = coerce(value, info.type)
        else:
            out[name] = value
    return out


def to_wire_text(value: Any) -> str:
    """HubSpot-style text for any value: dates ISO, datetimes epoch ms, booleans lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(aware.timestamp() * 1000))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
