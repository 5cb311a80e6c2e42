"""Strict `int` and `float` filters.

Jinja's own `int` turns anything it cannot read into 0, which in a data integration is a
silent wrong write. These raise RecordError("number.invalid") instead, unless the template
gives a `default`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.errors import RecordError
from engine.templates.functions.money import to_decimal

__all__ = ["to_float", "to_int"]

_RAISE: Any = object()


def to_int(value: Any, default: Any = _RAISE) -> Any:
    """`{{ "42" | int }}` -> 42; "4.7" -> 4 (truncated, as Python's int does)."""
    if type(value) is int:
        return value
    try:
        return int(value if isinstance(value, (int, float, Decimal)) else to_decimal(value))
    except (RecordError, ValueError, OverflowError):
        if default is not _RAISE:
            return default
        raise RecordError("number.invalid", "expected a whole number") from None


def to_float(value: Any, default: Any = _RAISE) -> Any:
    """`{{ "4,5" | float }}` -> 4.5."""
    if isinstance(value, float):
        return value
    try:
        return float(to_decimal(value))
    except (RecordError, OverflowError):
        if default is not _RAISE:
            return default
        raise RecordError("number.invalid", "expected a number") from None
