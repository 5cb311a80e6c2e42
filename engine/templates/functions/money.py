"""Money in cents (Kleer stores öre in integers) and back, as `Decimal`.

Decimal, not float, so 1999 cents is exactly 19.99 and sums do not drift; writers
serialise it as a JSON number.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.errors import RecordError

__all__ = ["cents", "to_cents", "to_decimal"]

_CENT = Decimal("0.01")


def to_decimal(value: Any) -> Decimal:
    """A number from int, float, Decimal or text such as "45 000,50" or "45000.50"."""
    if isinstance(value, bool) or value is None:
        raise RecordError("number.invalid", f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = re.sub(r"[\s\u00a0_]", "", str(value))
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise RecordError("number.invalid", "expected a number") from None
    if not number.is_finite():
        raise RecordError("number.invalid", "expected a finite number")
    return number


def cents(value: Any) -> Decimal:
    """Integer cents to units: 1999 -> Decimal("19.99")."""
    return (to_decimal(value) / 100).quantize(_CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Any) -> int:
    """Units to integer cents, rounding half up: "45 000,50" -> 4500050."""
    return int((to_decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
