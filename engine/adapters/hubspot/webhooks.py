"""HubSpot webhook deliveries: v3-signed JSON arrays of at most 100 events.

Event kinds are the SDK's `hubspot.webhooks.models.SubscriptionCreateRequest.event_type`
enum; their fields are HubSpot's webhooks guide ("Webhook payloads"), the generic
webhooks guide for `object.*` and the changelog "New subscription types for Webhooks"
for merge and associationChange (the checker's `EVENT_FIELDS` in
tests/contracts/hubspot). Every event has `eventId` (the dedup key),
`subscriptionType`, `occurredAt`, `changeSource` and `sourceId`; the record it is about
is, by kind:

- creation, deletion, restore, propertyChange, privacyDeletion: `objectId` (for
  `object.*` events the type is `objectTypeId`, e.g. `0-970`);
- merge: the record that survives, `newObjectId` (a merge may create a new record),
  else `primaryObjectId`; the merged-away ids are gone. Re-reading the survivor is what
  a sync needs;
- associationChange: no `objectId`; the event is about `fromObjectId` (of type
  `fromObjectTypeId` for `object.associationChange`), associated with `toObjectId`.

A privacy deletion (`contact.privacyDeletion`) counts as a deletion: it starts no sync
(nothing may be re-read, and none of its values is kept). An event that names no
object, or another kind's event we cannot use, is left out; it never makes the delivery
refused, since HubSpot does not redeliver a 4xx and the delivery's other events would
be lost. Only a body that is not a JSON array of events, or an event without `eventId`
or `subscriptionType`, refuses the delivery.
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


def _subject(raw: dict[str, Any], action: str) -> tuple[str | None, str | None]:
    """The id and (generic events) type id of the record an event is about."""
    if action == "merge":
        survivor = _text(raw.get("newObjectId")) or _text(raw.get("primaryObjectId")) or \
            _text(raw.get("objectId"))
        return survivor, _text(raw.get("objectTypeId"))
    if action == "associationChange":
        return _text(raw.get("fromObjectId")), _text(raw.get("fromObjectTypeId"))
    return _text(raw.get("objectId")), _text(raw.get("objectTypeId"))


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
        prefix, _, action = kind.partition(".")
        object_id, type_id = _subject(raw, action)
        if object_id is None:
            continue  # names no object: nothing to re-read, no sync to start
        type_key = (type_id or "") if prefix == "object" else prefix
        obj = OBJECTS.get(type_key, type_key or prefix)
        if action == "privacyDeletion":
            action = "deletion"  # gone for privacy: never re-read, never synced
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
