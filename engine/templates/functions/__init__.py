"""The functions templates may call, by the name templates use.

Each is small, pure (or `@contextual`: needs the render context) and documented in its
own module. `FILTERS` are used as `value | name(args)`; `FUNCTIONS` as `name(args)`.
The Jinja builtins we allow are added by `engine.templates.environment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from engine.templates.functions.base import contextual, is_contextual
from engine.templates.functions.dates import date, datetime
from engine.templates.functions.identity import (
    orgno,
    parse_personnummer,
    ssn,
    ssn_birth_date,
    ssn_gender,
    vat_number,
)
from engine.templates.functions.links import linked, linked_source
from engine.templates.functions.lookup import lookup, select_tags
from engine.templates.functions.money import cents, to_cents
from engine.templates.functions.names import first_name, last_name, split_name
from engine.templates.functions.numbers import to_float, to_int
from engine.templates.functions.rows import rows_total
from engine.templates.functions.text import replace

__all__ = [
    "FILTERS",
    "FUNCTIONS",
    "contextual",
    "is_contextual",
    "parse_personnummer",
]

FILTERS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "cents": cents,
        "date": date,
        "datetime": datetime,
        "first_name": first_name,
        "float": to_float,
        "int": to_int,
        "last_name": last_name,
        "linked": linked,
        "linked_source": linked_source,
        "lookup": lookup,
        "orgno": orgno,
        "replace": replace,
        "rows_total": rows_total,
        "select_tags": select_tags,
        "split_name": split_name,
        "ssn": ssn,
        "ssn_birth_date": ssn_birth_date,
        "ssn_gender": ssn_gender,
        "to_cents": to_cents,
        "vat_number": vat_number,
    }
)

# Callable by name as well; `linked` keeps its filter argument order: linked(key, sync).
FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        name: FILTERS[name]
        for name in (
            "cents", "first_name", "last_name", "lookup", "orgno", "rows_total",
            "select_tags", "split_name", "ssn_birth_date", "ssn_gender", "to_cents",
            "vat_number",
        )
    }
)
