"""Values written into Maconomy restrictions.

Confirmed (tests/contracts/maconomy/facts.json): values single-quoted and compared with
`=` (F-R-QUOTE), combined with `or` in parentheses (F-R-OR-PAREN), field names lower
case (F-R-LOWER). A quote inside a value is written twice only with the option
`quote_doubling` (F-R-DOUBLING: maconomy-cli does not escape at all); without it such a
value cannot be written, and callers match it locally instead. `timestamp(...)` and
`date(...)` literals are unconfirmed (F-R-TIMESTAMP, F-R-DATE); the month numbering is
`options.month_base` (one public client writes date() months zero-based).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

__all__ = ["any_of", "quoted", "restriction_literal"]


def quoted(value: Any, doubling: bool) -> str | None:
    """`'value'`, or None when the value holds a quote and doubling is not enabled."""
    text = str(value)
    if "'" in text:
        if not doubling:
            return None
        text = text.replace("'", "''")
    return f"'{text}'"


def any_of(field: str, literals: list[str]) -> str:
    """`field='a'` or `(field='a' or field='b' ...)`."""
    if len(literals) == 1:
        return f"{field}={literals[0]}"
    return "(" + " or ".join(f"{field}={literal}" for literal in literals) + ")"


def restriction_literal(value: Any, zone: tzinfo = UTC, month_base: int = 1) -> str:
    """A value as Maconomy restriction text: quoted strings (quotes doubled),
    timestamp(...) in the server's zone, date(...), true/false, numbers."""
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
        month = local.month - 1 + month_base
        return (f"timestamp({local.year}, {month}, {local.day}, {local.hour}, "
                f"{local.minute}, {local.second}, {local.microsecond // 1000})")
    if isinstance(value, date):
        return f"date({value.year}, {value.month - 1 + month_base}, {value.day})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    literal = quoted(value, doubling=True)
    assert literal is not None
    return literal
