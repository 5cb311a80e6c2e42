"""Request bodies as ASP.NET binds them: typed reads that collect every field error.

What the real API refuses, the sandbox refuses (400 `ValidationModel`): a JSON number
with a fraction, or outside the int32 range, for an int32 field (`3450000.0` is not a
`System.Int32`); anything but `true`/`false` for a boolean (1 and 0 included); a string
that is not a date for a date-time; a required property missing. What it accepts, the
sandbox accepts: properties a model does not declare, and `readOnly` ones, are ignored
(System.Text.Json skips unknown members), and date-times bind with or without an offset
(a value with an offset is stored in UTC).

JSON Patch (`application/json-patch+json`) applies to the flat patch document of a model;
paths match case-insensitively, as ASP.NET's JsonPatch does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request

from engine.sandbox.cinode.errors import Problem, invalid

__all__ = ["INT32", "Body", "apply_patch", "require_patch_type"]

INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_MALFORMED = "The JSON patch document was malformed and could not be parsed."


def _title(field: str) -> str:
    return field[:1].upper() + field[1:]


class Body:
    """Typed reads of a JSON object with ASP.NET-style field errors, collected together."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise invalid("", "A non-empty request body is required.")
        self.data: dict[str, Any] = data
        self.errors: dict[str, list[str]] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def _not_converted(self, field: str, clr_type: str) -> None:
        self.fail(field, f"The JSON value could not be converted to {clr_type}. "
                         f"Path: $.{field}")

    def has(self, field: str) -> bool:
        return field in self.data

    def text(self, field: str, *, required: bool = False, max_length: int = 500) -> str | None:
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip() and required):
            if required:
                self.fail(field, f"The {_title(field)} field is required.")
            return None
        if not isinstance(value, str):
            self._not_converted(field, "System.String")
            return None
        if len(value) > max_length:
            self.fail(field, f"The field {_title(field)} must be a string with a maximum "
                             f"length of {max_length}.")
        return value

    def integer(self, field: str, *, required: bool = False,
                allowed: Iterable[int] | None = None, int64: bool = False) -> int | None:
        """An int32 (or int64): a JSON integer token in range, never 1.0 or true."""
        value = self.data.get(field)
        if value is None:
            if required:
                self.fail(field, f"The {_title(field)} field is required.")
            return None
        low, high = _INT64 if int64 else INT32
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self._not_converted(field, "System.Int64" if int64 else "System.Int32")
            return None
        if allowed is not None and value not in set(allowed):
            self.fail(field, f"The value '{value}' is not valid for {_title(field)}.")
            return None
        return value

    def boolean(self, field: str) -> bool | None:
        value = self.data.get(field)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._not_converted(field, "System.Boolean")
            return None
        return value

    def moment(self, field: str) -> str | None:
        """A date-time, stored as Cinode prints it (`2025-01-31T00:00:00`, UTC, no zone)."""
        value = self.data.get(field)
        if value is None or value == "":
            return None
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            if len(value) == 10:
                return f"{date.fromisoformat(value)}T00:00:00"
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z",
                                                                                 "+00:00"))
        except ValueError:
            self._not_converted(field, "System.DateTime")
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed.isoformat()

    def int_list(self, field: str, *, allowed: Iterable[int] | None = None
                 ) -> list[int] | None:
        value = self.data.get(field)
        if value is None:
            return None
        low, high = INT32
        if not isinstance(value, list) or any(
                isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high
                for v in value):
            self._not_converted(field, "System.Collections.Generic.List`1[System.Int32]")
            return None
        if allowed is not None:
            wrong = [v for v in value if v not in set(allowed)]
            if wrong:
                self.fail(field, f"The value '{wrong[0]}' is not valid for {_title(field)}.")
                return None
        return list(value)

    def obj(self, field: str, clr_type: str) -> Body | None:
        """A nested object (e.g. `location`), as its own Body sharing this one's errors."""
        value = self.data.get(field)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._not_converted(field, clr_type)
            return None
        nested = Body(value)
        nested.errors = self.errors
        return nested

    def check(self) -> None:
        if self.errors:
            raise Problem(400, self.errors)


def require_patch_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json-patch+json":
        raise Problem(415)


def apply_patch(document: Mapping[str, Any], operations: Any, fields: Iterable[str]
                ) -> dict[str, Any]:
    """Apply a JSON Patch to a flat patch document; unknown paths are a 400."""
    if not isinstance(operations, list):
        raise invalid("", _MALFORMED)
    names = {name.lower(): name for name in fields}
    patched = dict(document)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise invalid("", _MALFORMED)
        kind = str(op.get("op", "")).lower()
        segment = op["path"].strip("/")
        name = names.get(segment.lower())
        if name is None or "/" in segment:
            raise invalid("", f"The target location specified by path segment '{segment}' "
                              "was not found.")
        if kind in ("replace", "add"):
            if "value" not in op:
                raise invalid("", f"The 'value' of the '{kind}' operation is missing.")
            patched[name] = op["value"]
        elif kind == "remove":
            patched[name] = None
        elif kind == "test":
            if patched.get(name) != op.get("value"):
                raise invalid("", f"The current value '{patched.get(name)}' at path "
                                  f"'{segment}' is not equal to the test value "
                                  f"'{op.get('value')}'.")
        else:
            raise invalid("", f"Invalid JsonPatch operation '{kind}'.")
    return patched
