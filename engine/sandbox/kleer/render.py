"""What a Kleer handler answers, and how: JSON for JSON clients, else Kleer's XML.

Kleer's canonical format is XML. The sandbox answers JSON when the request's
`Content-Type` is `application/json` and its `Accept` allows JSON (`application/json`,
`*/*` or absent); otherwise a minimal XML rendering of the same elements (the real API
answered XML when only `Accept` was sent, toki2 .docs/kleer.md:31).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.kleer import schema

__all__ = ["Fail", "Reply", "error", "render", "wants_json"]


class Fail(Exception):
    """Answer with Kleer's error body `{"message": ...}` and `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reply:
    """A handler's answer: `body` is the root element's content (the JSON answer).

    `root` names the element for the XML rendering; `attributes` (paged lists) are JSON
    members beside the list and XML attributes of the root.
    """

    root: str
    body: Any
    status: int = 200
    attributes: dict[str, Any] | None = None


def error(status: int, message: str) -> Reply:
    return Reply("error", {"message": message}, status)


def wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return False
    accept = request.headers.get("accept", "").lower()
    return not accept.strip() or "application/json" in accept or "*/*" in accept


def render(reply: Reply, as_json: bool) -> Response:
    if as_json:
        body = reply.body
        if reply.attributes:
            body = {**body, **reply.attributes}
        return JSONResponse(body, status_code=reply.status)
    return Response(_render_xml(reply), status_code=reply.status,
                    media_type="application/xml")


def _xml(name: str, type_key: str | None, value: Any, out: list[str],
         attributes: str = "") -> None:
    """`value` as element `name` of XSD type `type_key` (None: a leaf or unknown)."""
    if value is None:
        return
    if isinstance(value, dict):
        children = schema.children(type_key) if type_key else {}
        out.append(f"<{name}{attributes}>")
        for key, item in value.items():
            element, child_type, wrapped = children.get(key, (key, None, None))
            if isinstance(item, list):
                if wrapped is not None:  # a wrapper: <recurring-rows><row/>...</...>
                    out.append(f"<{element}>")
                    for one in item:
                        _xml(wrapped[0], wrapped[1], one, out)
                    out.append(f"</{element}>")
                else:  # a repeated element: one per item
                    for one in item:
                        _xml(element, child_type, one, out)
            else:
                _xml(element, child_type, item, out)
        out.append(f"</{name}>")
    elif isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def _render_xml(reply: Reply) -> bytes:
    attributes = "".join(f" {k}={quoteattr(str(v))}"
                         for k, v in (reply.attributes or {}).items())
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    try:
        type_key: str | None = schema.element_type(reply.root)
    except KeyError:
        type_key = None
    _xml(reply.root, type_key, reply.body, out, attributes)
    return "".join(out).encode()
