"""Cinode's error answers and the JSON plumbing every route shares.

- 400 is `ValidationModel` `{"errors": {field: [messages]}}`, every problem of a body at
  once (ASP.NET model binding); 401, 403 and 404 have no body; 415 answers a PATCH that
  is not `application/json-patch+json`.
- 500 (the sandbox's error fault) is `ErrorModel` `{correlationId, status, description,
  code, moreInfo}`; 429 is the README's `{description, moreInfo, status}` (contract
  `x-rateLimitResponse`, `RateLimitErrorModel`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

__all__ = [
    "ERROR_MORE_INFO",
    "JSON_TYPE",
    "RATE_LIMIT_BODY",
    "Problem",
    "dumps",
    "invalid",
    "read_json",
    "stream_array",
]

RATE_LIMIT_BODY = {
    "description": "Request limit was exceeded, please try again after 2 seconds from now",
    "moreInfo": "https://github.com/Cinode-Labs/api#rate-limiting",
    "status": 429,
}
ERROR_MORE_INFO = "https://github.com/Cinode-Labs/api/blob/master/ERROR.md"
JSON_TYPE = "application/json; charset=utf-8"


class Problem(Exception):
    """Raised by handlers; becomes the vendor's error answer."""

    def __init__(self, status: int, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.errors = dict(errors or {})

    def response(self) -> Response:
        if self.status == 400:
            return JSONResponse({"errors": self.errors}, status_code=400)
        return Response(status_code=self.status)


def invalid(field: str, message: str) -> Problem:
    """A 400 naming one field."""
    return Problem(400, {field: [message]})


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def read_json(request: Request) -> Any:
    """The request body as JSON; None when empty; a 400 when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid("$", "The JSON value could not be parsed.") from None


def stream_array(items: Iterable[Any]) -> StreamingResponse:
    """A JSON array written item by item (Cinode's plain lists are not paginated, and a
    million customers should not sit in memory as one string)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        first = True
        buffer: list[bytes] = []
        for item in items:
            buffer.append(dumps(item) if first else b"," + dumps(item))
            first = False
            if len(buffer) >= 500:
                yield b"".join(buffer)
                buffer.clear()
        buffer.append(b"]")
        yield b"".join(buffer)

    return StreamingResponse(chunks(), media_type=JSON_TYPE)
