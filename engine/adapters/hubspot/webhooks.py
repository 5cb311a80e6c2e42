"""HubSpot webhook deliveries: v3-signed JSON arrays of events.

Each event has `eventId` (the dedup key), `subscriptionType` (`company.propertyChange`,
`object.creation` with `objectTypeId`, `company.associationChange`, ...), `occurredAt`,
`changeSource`, `sourceId`, and either `objectId` or, for association changes,
`fromObjectId`/`toObjectId`. An event that names no object (a privacy deletion without
one, say) can start no sync and is left out; it never makes the batch refused, since a
refused batch is redelivered and refused again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.adapters.base import InboundRequest, WebhookEvent
from engine.adapters.hubspot.signatures import check_v3
from engine.errors import MalformedRequestError

__all__ = ["OBJECTS", "HubSpotWebhooks", "parse_events"]

# Subscription prefixes and object type ids -> catalog object names.
OBJECTS = {
    "contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
    "product": "products", "line_item": "line_items",
    "0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets",
    "0-7": "products", "0-8": "line_items", "0-53": "invoices", "0-970": "projects",
}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The delivery's events; MalformedRequestError when it is not HubSpot's shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequestError("the body is not JSON") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise MalformedRequestError("expected a JSON array of events")
    events = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise MalformedRequestError(f"event {i} is not an object")
        event_id = _text(raw.get("eventId"))
        kind = raw.get("subscriptionType")
        if event_id is None or not isinstance(kind, str) or "." not in kind:
            raise MalformedRequestError(f"event {i} lacks eventId or subscriptionType")
        object_id = _text(raw.get("objectId")) or _text(raw.get("fromObjectId"))
        if object_id is None:
            continue  # names no object: nothing to re-read, no sync to start
        prefix, _, action = kind.partition(".")
        type_key = str(raw.get("objectTypeId") or "") if prefix == "object" else prefix
        obj = OBJECTS.get(type_key, type_key or prefix)
        events.append(WebhookEvent(
            "hubspot", event_id, kind, obj, object_id, action,
            _text(raw.get("propertyName")), _text(raw.get("occurredAt")),
            _text(raw.get("changeSource")), _text(raw.get("sourceId"))))
    return events


class HubSpotWebhooks:
    """HubSpot as a `WebhookSource`: v3 signatures, events that name their property."""

    property_changes = True

    def verify(self, secret: str, request: InboundRequest,
               options: Mapping[str, Any]) -> str | None:
        return check_v3(secret, request.method, request.uri, request.body, request.headers,
                        request.received_at)

    def parse(self, body: bytes) -> list[WebhookEvent]:
        return parse_events(body)
