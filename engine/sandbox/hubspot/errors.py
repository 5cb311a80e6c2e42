"""HubSpot's error envelope and the errors the sandbox's routes raise.

Every refusal is `{"status": "error", "message", "correlationId", "category", ...}` (with
`subCategory`, `errors[]` and `context` where HubSpot adds them). The SDK's `Error` model
does not declare `status`, but HubSpot sends it; error bodies are not held to a model.
Property problems are gathered first, so one answer names every bad property: a value
another record holds in a unique property is a 409 CONFLICT, anything else a 400
VALIDATION_ERROR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

__all__ = [
    "HubSpotError",
    "PropertyProblem",
    "not_found",
    "read_json",
    "standard_error",
    "validation",
]


class HubSpotError(Exception):
    """An answer in HubSpot's error envelope; raised by handlers, rendered by the gate."""

    def __init__(self, status: int, message: str, category: str, *,
                 errors: list[dict[str, Any]] | None = None,
                 context: dict[str, list[str]] | None = None,
                 sub_category: str | None = None, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": correlation_id, "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        out.update(self.extra)
        return out


def validation(message: str, *, code: str = "INVALID_INPUT", name: str | None = None,
               status: int = 400) -> HubSpotError:
    """A 400 VALIDATION_ERROR, naming the property when there is one."""
    detail: dict[str, Any] = {"message": message, "code": code}
    if name is not None:
        detail["context"] = {"propertyName": [name]}
    return HubSpotError(status, message, "VALIDATION_ERROR", errors=[detail])


def not_found(object_id: str, object_type: str = "") -> HubSpotError:
    return HubSpotError(404, f"Object not found.  objectId are usually numeric. "
                        f"{object_type} {object_id}".rstrip(), "OBJECT_NOT_FOUND",
                        context={"id": [object_id]})


def standard_error(message: str, category: str, context: dict[str, list[str]],
                   status: str = "error") -> dict[str, Any]:
    """One entry of a batch answer's `errors` (the SDK's `StandardError`)."""
    return {"status": status, "category": category, "message": message,
            "context": context, "links": {}, "errors": []}


@dataclass
class PropertyProblem:
    """One property that could not be written, before it becomes a 400 or 409."""

    name: str
    code: str
    message: str
    conflict: bool = False

    def detail(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.code,
                "name": self.name, "localizedErrorMessage": self.message}

    @staticmethod
    def to_error(problems: list[PropertyProblem]) -> HubSpotError:
        if any(p.conflict for p in problems):
            first = next(p for p in problems if p.conflict)
            return HubSpotError(409, first.message, "CONFLICT",
                                errors=[{"message": first.message, "code": first.code,
                                         "context": {"propertyName": [first.name]}}])
        details = json.dumps([p.detail() for p in problems], ensure_ascii=False)
        return HubSpotError(400, f"Property values were not valid: {details}",
                            "VALIDATION_ERROR",
                            errors=[{"message": p.message, "code": p.code,
                                     "context": {"propertyName": [p.name]}}
                                    for p in problems])


async def read_json(request: Request) -> Any:
    """The request's JSON (`{}` when empty); 400 in HubSpot's words when it is not JSON."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise HubSpotError(400, "Invalid input JSON on line 1: the request body is not "
                           "valid JSON", "VALIDATION_ERROR") from None
