"""`date` and `datetime`: parse what source systems send, format what targets want.

Inputs may be `date`/`datetime` objects or ISO 8601 text ("2024-05-01",
"2024-05-01T08:30:00Z"). Without a format the result is ISO text, which is what the
target APIs take; with one, `strftime` of it. A value that is not a date fails the record
with "date.invalid" (the value is not echoed: birth dates are personal data).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from engine.errors import RecordError

__all__ = ["date", "datetime", "parse_date", "parse_datetime"]


def parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    kind = type(value).__name__
    raise RecordError("date.invalid", f"expected an ISO 8601 date or time, got a {kind}")


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return parse_datetime(value).date()


# The same dates recur across records and strftime is slow. Shared by every thread:
# functools' cache stays consistent under concurrent calls (at worst two threads compute
# one entry), and its keys and values are immutable text.
@lru_cache(maxsize=4096)
def _format_date_text(value: str, fmt: str | None) -> str:
    day = parse_date(value)
    return day.isoformat() if fmt is None else day.strftime(fmt)


def date(value: Any, fmt: str | None = None) -> str:
    """`{{ start | date }}` -> "2024-05-01"; `{{ start | date('%d/%m/%Y') }}` -> "01/05/2024"."""
    if fmt is not None and type(fmt) is not str:
        fmt = str(fmt)
    if type(value) is str:
        return _format_date_text(value, fmt)
    day = parse_date(value)
    return day.isoformat() if fmt is None else day.strftime(fmt)


def datetime(value: Any, fmt: str | None = None) -> str:
    """ISO 8601 text of a date-time (offset kept as given), or `strftime(fmt)` of it."""
    moment = parse_datetime(value)
    return moment.isoformat() if fmt is None else moment.strftime(str(fmt))
