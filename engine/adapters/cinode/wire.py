"""Values as Cinode's JSON wants them, and the enums the adapter names.

- Dates and date-times (`format: date-time` throughout Cinode's document, e.g.
  `CompanyUserAddModel.employmentStartDate`, `ProjectAddEditModel.estimatedCloseDate`)
  go out as RFC 3339 with an offset: UTC with `Z`; a date is midnight UTC
  (`2025-06-30T00:00:00Z`). Cinode prints its own dates without a zone; echoed back they
  get the `Z` too. That Cinode keeps the calendar day of a midnight-UTC value in its own
  time zone is unconfirmed (a Nordic tenant is UTC+1/+2, so the day holds).
- Whole numbers: int32 properties (`ProjectAddEditModel.estimatedValue`, `.contractValue`,
  every id) must be JSON integer tokens; ASP.NET refuses `3450000.0`. A float with no
  fraction is sent as an integer; one with a fraction, or outside the int32 range, fails
  the record instead of being rounded here.
- `AccessLevel` (x-enumNames): what `PUT users/{companyUserId}/permissions` takes and
  `RoleModel.level` reads back; specs name the levels (`CompanyUser`, `TeamManager`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from engine.errors import RecordError

__all__ = [
    "ACCESS_LEVELS",
    "INT32",
    "access_levels",
    "level_names",
    "parse_country_ids",
    "whole_number",
    "wire_moment",
]

INT32 = (-(2**31), 2**31 - 1)

#: `AccessLevel` of Cinode's document: value -> name (x-enumNames).
ACCESS_LEVELS: Mapping[int, str] = {
    0: "NoAccess", 50: "Anonymous", 100: "Read", 110: "Subcontractor", 115: "Candidate",
    150: "RestrictedCompanyUser", 180: "CompanyApiUser", 200: "CompanyUser",
    240: "PartnerManager", 250: "CompanyRecruiter", 270: "TeamManager",
    300: "CompanyManager", 400: "CompanyAdmin", 500: "Owner"}
_LEVELS_BY_NAME = {name.casefold(): value for value, name in ACCESS_LEVELS.items()}


def wire_moment(value: Any) -> Any:
    """A date or date-time as RFC 3339 UTC (`...Z`); other values unchanged.

    Strings are taken as Cinode prints them (naive means UTC) and given their `Z`.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if len(text) == 10:
                return f"{date.fromisoformat(text).isoformat()}T00:00:00Z"
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value
        return wire_moment(parsed)
    return value


def whole_number(value: Any, field: str) -> Any:
    """An int32 value as a JSON integer; a RecordError when it is not a whole int32."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError("value.not-whole",
                              f"Cinode stores {field} as a whole number (int32), not "
                              f"{value}; round it in the spec, e.g. `| round | int`",
                              field=field)
        value = int(value)
    if isinstance(value, int) and not INT32[0] <= value <= INT32[1]:
        raise RecordError("value.out-of-range",
                          f"{field} {value} is outside Cinode's int32 range "
                          f"({INT32[0]}..{INT32[1]})", field=field)
    return value


def access_levels(names: Any, field: str = "roles") -> list[int]:
    """Access-level names (or values) -> `AccessLevel` values; unknown ones fail the record."""
    levels: list[int] = []
    for name in names or []:
        if isinstance(name, int) and not isinstance(name, bool) and name in ACCESS_LEVELS:
            level = name
        else:
            found = _LEVELS_BY_NAME.get(str(name).strip().casefold())
            if found is None:
                raise RecordError(
                    "value.unknown",
                    f"{name!r} is not a Cinode access level; use one of "
                    f"{', '.join(ACCESS_LEVELS.values())}", field=field)
            level = found
        if level not in levels:
            levels.append(level)
    return levels


def level_names(roles: Sequence[Any]) -> list[str]:
    """`RoleModel[]` -> the access-level names a spec writes."""
    names = []
    for role in roles or []:
        level = role.get("level") if isinstance(role, Mapping) else role
        name = ACCESS_LEVELS.get(level) if isinstance(level, int) else None
        if name is not None and name not in names:
            names.append(name)
    return names


def parse_country_ids(text: Any) -> dict[str, int]:
    """`"SE=1, NO=2"` (the connection option `country_ids`) -> `{"SE": 1, "NO": 2}`."""
    table: dict[str, int] = {}
    if text in (None, ""):
        return table
    for part in str(text).replace(";", ",").split(","):
        if not part.strip():
            continue
        code, sep, number = part.partition("=")
        if not sep or not number.strip().isdigit() or not code.strip():
            raise ValueError(f"options.country_ids: {part.strip()!r} is not CODE=id "
                             "(e.g. SE=1)")
        table[code.strip().upper()] = int(number.strip())
    return table
