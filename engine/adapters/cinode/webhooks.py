"""Cinode company webhooks: one PascalCase object per delivery, a configured credential.

What is documented, and where:

- Configuration is in Cinode's OpenAPI document (tests/contracts/cinode): `POST webhooks`
  with `WebhookAddModel {endpointUrl, configurations: [{entityType, actionType}],
  credentials: [{isBasicAuthentication, headerName, headerValue}]}`; `WebhookEntityType`
  (1 All, 2 CompanyCandidate, 3 CompanyEmployee, 4 CompanySubcontractor, 5
  CompanyCustomer, 6 CompanyProject, 7 Role, 8 PublicAnnouncement, 9 Absence, 10
  CompanyCustomerContact) and `ActionType` (1 All, 2 Created, 3 Updated, 4 Deleted).
- The delivery is not in the document. A real receiver (Thomas-Red/Cinode-AWS-Slack,
  python_code/lambdaSQS.py and lambdaSlack.py) reads a top-level `WebhookId` and a
  PascalCase `Payload` (`Title`, `Customer.Name`, `CurrentState.StateTitle`, ...), and
  authenticates with HTTP Basic (lambdaAuth.py). `EntityType`, `ActionType`,
  `Timestamp` and `Payload.Id` are unconfirmed: entity and action are accepted as the
  enums' names or their numbers, and camelCase spellings are accepted too.

A delivery has no event id, so the key hashes WebhookId + Timestamp + payload id +
action + a digest of the payload: a retried delivery hashes the same, and two changes
within the one-second Timestamp resolution do not. The event is only a trigger: the
runner re-reads the record (`GET projects/{id}`) for its values.

Cinode sends the credential configured on the webhook: either a fixed header
(`webhooks: {header: X-Webhook-Token}`, value = the secret), or HTTP Basic where Cinode
sends base64(headerName:headerValue) (`basic_auth: true`): the password must be the
secret and, when a header name is configured, the user name must be that name. No
signature is documented.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from engine.adapters.base import InboundRequest, WebhookEvent
from engine.errors import MalformedRequestError

__all__ = ["ENTITIES", "CinodeWebhooks", "check_credentials", "parse_event"]

# EntityType (WebhookEntityType name) -> (event prefix, catalog object).
ENTITIES = {
    "CompanyProject": ("project", "projects"), "CompanyCustomer": ("customer", "customers"),
    "CompanyEmployee": ("user", "users"), "CompanySubcontractor": ("subcontractor",
                                                                   "subcontractors"),
    "CompanyCandidate": ("candidate", "candidates"), "Role": ("role", "roles"),
    "Absence": ("absence", "absences"),
    "CompanyCustomerContact": ("customer_contact", "customer_contacts"),
}
# `WebhookEntityType` and `ActionType` numbers, for deliveries that send them as such.
_ENTITY_NAMES = {1: "All", 2: "CompanyCandidate", 3: "CompanyEmployee",
                 4: "CompanySubcontractor", 5: "CompanyCustomer", 6: "CompanyProject",
                 7: "Role", 8: "PublicAnnouncement", 9: "Absence",
                 10: "CompanyCustomerContact"}
_ACTION_NAMES = {1: "All", 2: "Created", 3: "Updated", 4: "Deleted"}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def parse_event(body: bytes) -> list[WebhookEvent]:
    """The delivery as one event; MalformedRequestError when it is not Cinode's shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequestError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedRequestError("expected a JSON object")
    entity = data.get("EntityType", data.get("entityType"))
    action = data.get("ActionType", data.get("actionType"))
    if isinstance(entity, int) and not isinstance(entity, bool):
        entity = _ENTITY_NAMES.get(entity, str(entity))
    if isinstance(action, int) and not isinstance(action, bool):
        action = _ACTION_NAMES.get(action, str(action))
    payload = data.get("Payload", data.get("payload", data.get("data")))
    if not isinstance(payload, dict) or not isinstance(entity, str) or \
            not isinstance(action, str):
        raise MalformedRequestError("expected EntityType, ActionType and a Payload object")
    object_id = _text(payload.get("Id", payload.get("id")))
    if object_id is None:
        raise MalformedRequestError("the Payload has no Id")
    prefix, obj = ENTITIES.get(entity, (entity.lower(), entity.lower()))
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


def check_credentials(headers: Mapping[str, str], secret: str, *,
                      header: str | None, basic_auth: bool) -> str | None:
    """None when the delivery carries the configured credential, else why not."""
    if basic_auth:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token:
            return "missing Basic credentials"
        try:
            pair = base64.b64decode(token, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "malformed Basic credentials"
        user, sep, password = pair.partition(":")
        ok = _equal(secret, password) & bool(sep)
        if header:  # a header name, so compared without regard to case
            ok &= _equal(header.lower(), user.lower())
        return None if ok else "the Basic credentials do not match"
    if not header:
        return "the connection names no webhook credential header"
    given = headers.get(header.lower())
    if given is None:
        return f"missing the {header} header"
    return None if _equal(secret, given) else f"the {header} header does not match"


class CinodeWebhooks:
    """Cinode as a `WebhookSource`: events do not say which property changed."""

    property_changes = False

    def verify(self, secret: str, request: InboundRequest,
               options: Mapping[str, Any]) -> str | None:
        return check_credentials(request.headers, secret, header=options.get("header"),
                                 basic_auth=bool(options.get("basic_auth")))

    def parse(self, body: bytes) -> list[WebhookEvent]:
        return parse_event(body)
