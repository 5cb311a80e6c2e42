"""Toy Desk webhooks: signed deliveries of one or more change events.

A delivery is::

    {"delivery": "dlv_7", "events": [
        {"id": "evt_12", "topic": "ticket.updated", "data": {"id": 3},
         "occurred_at": "2025-01-02T10:00:00Z"}]}

Each event names the record (`data.id`) but not what changed, so the engine re-reads
the record; the event id stays the same when Toy Desk redelivers, which makes it the
inbox's dedup key. Topics are `<kind>.<verb>`; kinds map to catalog objects below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.adapters.base import InboundRequest, WebhookEvent
from engine.errors import MalformedRequestError
from toyvendor.signing import HEADER, check

__all__ = ["OBJECTS", "ToyWebhooks", "parse_events"]

OBJECTS = {"ticket": "tickets", "note": "notes"}  # topic kind -> catalog object


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The delivery's events; MalformedRequestError when it is not Toy Desk's shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequestError("the body is not JSON") from exc
    raw_events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(raw_events, list):
        raise MalformedRequestError("expected {\"delivery\": ..., \"events\": [...]}")
    events = []
    for i, raw in enumerate(raw_events):
        record = raw.get("data") if isinstance(raw, dict) else None
        topic = raw.get("topic") if isinstance(raw, dict) else None
        if not isinstance(record, dict) or not isinstance(topic, str) or "." not in topic \
                or not raw.get("id") or record.get("id") in (None, ""):
            raise MalformedRequestError(f"event {i} needs id, topic <kind>.<verb> and data.id")
        kind, _, verb = topic.partition(".")
        events.append(WebhookEvent(
            provider="toy", event_id=str(raw["id"]), name=topic,
            object=OBJECTS.get(kind, kind), object_id=str(record["id"]), action=verb,
            occurred_at=raw.get("occurred_at")))
    return events


class ToyWebhooks:
    """Toy Desk as a `WebhookSource`. Its events do not say which field changed."""

    property_changes = False

    def verify(self, secret: str, request: InboundRequest,
               options: Mapping[str, Any]) -> str | None:
        return check(secret, request.body, request.headers.get(HEADER.lower()),
                     request.received_at)

    def parse(self, body: bytes) -> list[WebhookEvent]:
        return parse_events(body)
