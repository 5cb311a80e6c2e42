"""`rows_total`: the value of a list of invoice or agreement rows, in cents.

Kleer keeps rows as `{quantity, price}` with the price in integer cents; HubSpot wants
an agreement's value as one number. Jinja has no way to multiply inside a `sum`, so the
sum of quantity x price lives here. Each row is rounded half up to whole cents, as
Kleer rounds a row's amount, so the total equals the sum of the amounts Kleer shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.errors import RecordError
from engine.templates.functions.money import to_decimal

__all__ = ["rows_total"]


def rows_total(rows: Iterable[Any] | None, quantity: str = "quantity",
               price: str = "price") -> int:
    """Sum of round(quantity x price) over `rows`; no rows (or none) is 0.

    A row without a quantity counts once; a row without a price is a record error,
    because a total that silently skips a row would be a wrong amount in the CRM.
    """
    if rows is None:
        return 0
    if isinstance(rows, str | bytes | Mapping):
        raise RecordError("rows.invalid", "rows_total needs a list of rows")
    total = 0
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise RecordError("rows.invalid", f"row {n} is not a mapping")
        if row.get(price) is None:
            raise RecordError("rows.invalid", f"row {n} has no {price}")
        amount = to_decimal(row[price])
        if row.get(quantity) is not None:
            amount *= to_decimal(row[quantity])
        total += int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return total
