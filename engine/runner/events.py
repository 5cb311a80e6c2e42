"""Webhook deliveries as events: one per thing that changed, with a stable id for dedup.

Only references are kept (object, id, what changed, when, who): the payload's values
are never written anywhere, because a webhook is a trigger and the source record is
re-read for truth (reliability.md I6). That also keeps personal data in deliveries out
of the inbox table.

- HubSpot posts a JSON array of events, each with `eventId` (dedup key), `objectId`,
  `subscriptionType` (`company.propertyChange`, `object.creation` + `objectTypeId`),
  `propertyName`, `occurredAt`, `changeSource`, `sourceId`.
- Cinode posts one PascalCase object (`WebhookId, EntityType, ActionType, Timestamp,
  Payload.Id`). It has no event id, so the key hashes WebhookId + Timestamp + payload id
  + action + a digest of the payload: a retried delivery hashes the same, and two
  changes within the one-second Timestamp resolution do not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["HUBSPOT_OBJECTS", "MalformedEventError", "WebhookEvent", "parse_cinode",
           "parse_hubspot"]

# HubSpot subscription prefixes and object type ids -> catalog object names.
HUBSPOT_OBJECTS = {
    "contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
    "product": "products", "line_item": "line_items",
    "0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets",
    "0-7": "products", "0-8": "line_items", "0-53": "invoices", "0-970": "projects",
}
# Cinode EntityType -> (event prefix, catalog object).
CINODE_ENTITIES = {
    "CompanyProject": ("project", "projects"), "CompanyCustomer": ("customer", "customers"),
    "CompanyEmployee": ("user", "users"), "CompanySubcontractor": ("subcontractor",
                                                                   "subcontractors"),
    "CompanyCandidate": ("candidate", "candidates"), "Role": ("role", "roles"),
    "Absence": ("absence", "absences"),
    "CompanyCustomerContact": ("customer_contact", "customer_contacts"),
}


class MalformedEventError(ValueError):
    """The delivery is not the vendor's shape: answered 400, never retried."""


@dataclass(frozen=True)
class WebhookEvent:
    provider: str  # "hubspot" | "cinode"
    event_id: str
    name: str  # as specs write it: "company.propertyChange", "project.updated"
    object: str  # the catalog object: "companies", "projects"
    object_id: str
    action: str  # "creation" | "propertyChange" | "deletion" | "created" | "updated" | ...
    property_name: str | None = None
    occurred_at: str | None = None  # epoch ms (HubSpot) or ISO text (Cinode)
    change_source: str | None = None
    source_id: str | None = None

    @property
    def is_deletion(self) -> bool:
        return self.action in ("deletion", "deleted")

    @property
    def is_creation(self) -> bool:
        return self.action in ("creation", "created")

    def to_bytes(self) -> bytes:
        # Plain attribute reads: dataclasses.asdict deep-copies every value, which made
        # this the most expensive step of receiving a delivery.
        return json.dumps({name: getattr(self, name) for name in _FIELD_NAMES},
                          separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> WebhookEvent:
        return cls(**json.loads(data))


_FIELD_NAMES = tuple(f.name for f in fields(WebhookEvent))


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEventError("the body is not JSON") from exc


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_hubspot(body: bytes) -> list[WebhookEvent]:
    data = _load(body)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise MalformedEventError("expected a JSON array of events")
    events = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise MalformedEventError(f"event {i} is not an object")
        event_id = _text(raw.get("eventId"))
        object_id = _text(raw.get("objectId"))
        kind = raw.get("subscriptionType")
        if event_id is None or object_id is None or not isinstance(kind, str) or "." not in kind:
            raise MalformedEventError(f"event {i} lacks eventId, objectId or subscriptionType")
        prefix, _, action = kind.partition(".")
        type_key = str(raw.get("objectTypeId") or "") if prefix == "object" else prefix
        obj = HUBSPOT_OBJECTS.get(type_key, type_key or prefix)
        events.append(WebhookEvent(
            "hubspot", event_id, kind, obj, object_id, action,
            _text(raw.get("propertyName")), _text(raw.get("occurredAt")),
            _text(raw.get("changeSource")), _text(raw.get("sourceId"))))
    return events


def parse_cinode(body: bytes) -> list[WebhookEvent]:
    data = _load(body)
    if not isinstance(data, dict):
        raise MalformedEventError("expected a JSON object")
    entity = data.get("EntityType", data.get("entityType"))
    action = data.get("ActionType", data.get("actionType"))
    payload = data.get("Payload", data.get("payload", data.get("data")))
    if not isinstance(payload, dict) or not isinstance(entity, str) or \
            not isinstance(action, str):
        raise MalformedEventError("expected EntityType, ActionType and a Payload object")
    object_id = _text(payload.get("Id", payload.get("id")))
    if object_id is None:
        raise MalformedEventError("the Payload has no Id")
    prefix, obj = CINODE_ENTITIES.get(entity, (entity.lower(), entity.lower()))
    verb = action.lower()
    timestamp = _text(data.get("Timestamp", data.get("timestamp")))
    hook = _text(data.get("WebhookId", data.get("webhookId"))) or ""
    # The payload's own digest joins the key: Timestamp has one-second resolution, and two
    # changes to one record within a second must not collapse into one "duplicate".
    content = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    digest = hashlib.sha256("\x1f".join((hook, timestamp or "", entity, object_id, verb,
                                         content.hexdigest())).encode()).hexdigest()[:32]
    return [WebhookEvent("cinode", digest, f"{prefix}.{verb}", obj, object_id, verb,
                         occurred_at=timestamp)]
