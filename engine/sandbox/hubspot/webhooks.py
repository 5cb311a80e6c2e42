"""Webhooks: the app's subscriptions, the events writes fire, their signed deliveries, and
the webhooks API (`/webhooks/v3/{appId}/settings` and `/subscriptions`, the SDK's
`hubspot.webhooks` SettingsApi and SubscriptionsApi, developer `hapikey` auth).

Subscription types are exactly the SDK's `SubscriptionCreateRequest.event_type` enum
(`company.propertyChange`, `contact.privacyDeletion`, `object.creation` with
`objectTypeId`, ...). A `propertyChange` subscription without `propertyName` fires for
every property [assumed: a sandbox convenience]. Events carry the fields HubSpot's
webhooks guide documents per kind (checked in tests against
`tests/contracts/hubspot/checker.py`):

- every event: `eventId, subscriptionId, portalId, appId, occurredAt, subscriptionType,
  attemptNumber, changeSource, sourceId`;
- creation, deletion, restore, privacyDeletion: `objectId` (`object.*`: `objectTypeId`);
- propertyChange: `objectId, propertyName, propertyValue`;
- merge: `objectId, primaryObjectId, mergedObjectIds, newObjectId,
  numberOfPropertiesMoved`;
- associationChange: `fromObjectId, toObjectId, associationRemoved,
  isPrimaryAssociation` and `associationType` (`COMPANY_TO_DEAL`), or for `object.*`
  `fromObjectTypeId, toObjectTypeId, associationTypeId, associationCategory`. It fires
  on both sides of the pair, each side for its own subscriptions.

Deliveries are JSON arrays of at most `settings.max_events_per_delivery` (100) events per
POST, one POST per request that fired them, signed v1 and v3; a retry re-signs and
increments `attemptNumber`; 4xx other than 429 is not retried.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.adapters.hubspot.signatures import sign_v1, sign_v3
from engine.sandbox.hubspot import seed
from engine.sandbox.hubspot.catalog import (
    ASSOCIATION_TYPE_IDS,
    OBJECT_TYPES,
    PAIR_OF_TYPE_ID,
    PRIMARY_ASSOCIATIONS,
    ObjectType,
    inverse_type_id,
    resolve,
)
from engine.sandbox.hubspot.errors import HubSpotError, read_json, validation
from engine.sandbox.hubspot.seed import iso_ms
from engine.sandbox.platform import Clock, Faults, WebhookDelivery, WebhookDispatcher

__all__ = ["EVENT_TYPES", "Events", "Subscription", "Subscriptions", "WebhooksApi"]

Handler = Callable[[Request], Awaitable[Response]]
Pair = tuple[str, str]

#: The subscription types HubSpot offers: the SDK's SubscriptionCreateRequest.event_type.
EVENT_TYPES: frozenset[str] = frozenset({
    "contact.propertyChange", "company.propertyChange", "deal.propertyChange",
    "ticket.propertyChange", "product.propertyChange", "line_item.propertyChange",
    "contact.creation", "contact.deletion", "contact.privacyDeletion", "company.creation",
    "company.deletion", "deal.creation", "deal.deletion", "ticket.creation",
    "ticket.deletion", "product.creation", "product.deletion", "line_item.creation",
    "line_item.deletion", "conversation.creation", "conversation.deletion",
    "conversation.newMessage", "conversation.privacyDeletion",
    "conversation.propertyChange", "contact.merge", "company.merge", "deal.merge",
    "ticket.merge", "product.merge", "line_item.merge", "contact.restore",
    "company.restore", "deal.restore", "ticket.restore", "product.restore",
    "line_item.restore", "contact.associationChange", "company.associationChange",
    "deal.associationChange", "ticket.associationChange", "line_item.associationChange",
    "object.propertyChange", "object.creation", "object.deletion", "object.merge",
    "object.restore", "object.associationChange",
})


@dataclass
class Subscription:
    """One subscription of the app (`SubscriptionResponse`)."""

    id: int
    event_type: str  # "company.propertyChange", "object.creation", ...
    object_type_id: str | None
    property_name: str | None
    active: bool
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self.id), "eventType": self.event_type,
                               "active": self.active, "createdAt": self.created_at,
                               "updatedAt": self.updated_at}
        if self.property_name:
            out["propertyName"] = self.property_name
        if self.object_type_id:
            out["objectTypeId"] = self.object_type_id
        return out

    def matches(self, otype: ObjectType, event: str, prop: str | None = None) -> bool:
        if not self.active:
            return False
        prefix, _, kind = self.event_type.partition(".")
        if kind != event:
            return False
        if prefix == "object":
            if self.object_type_id != otype.type_id:
                return False
        elif not (otype.legacy_webhooks and prefix == otype.singular):
            return False
        return event != "propertyChange" or self.property_name in (None, prop)


class Subscriptions:
    """The app's subscriptions, seeded with the Kleer app's (`seed.DEFAULT_SUBSCRIPTIONS`)."""

    def __init__(self, clock: Clock, portal_id: int) -> None:
        self.clock = clock
        self.portal_id = portal_id
        self._ids = itertools.count(1000)
        self.items: dict[int, Subscription] = {}
        for kind, type_id, prop in seed.DEFAULT_SUBSCRIPTIONS:
            self.add({"eventType": kind, "objectTypeId": type_id, "propertyName": prop})

    def add(self, body: Mapping[str, Any]) -> Subscription:
        """Create from a `SubscriptionCreateRequest` body (400 when HubSpot would refuse)."""
        kind = body.get("eventType")
        if not isinstance(kind, str) or not kind:
            raise validation("eventType is required, e.g. company.propertyChange")
        if kind not in EVENT_TYPES:
            raise validation(f"{kind!r} is not a subscription type HubSpot offers",
                             code="INVALID_EVENT_TYPE")
        prefix = kind.partition(".")[0]
        type_id = body.get("objectTypeId") if prefix == "object" else None
        if prefix == "object":
            if not type_id:
                raise validation("object.* subscriptions need objectTypeId, e.g. 0-970")
            otype = resolve(str(type_id), self.portal_id)
            if otype is None:
                raise HubSpotError(400, f"Unable to infer object type from: {type_id}",
                                   "VALIDATION_ERROR")
            type_id = otype.type_id
        now = iso_ms(self.clock.now())
        sub = Subscription(next(self._ids), kind, str(type_id) if type_id else None,
                           body.get("propertyName") or None, bool(body.get("active", True)),
                           now, now)
        self.items[sub.id] = sub
        return sub

    def find(self, raw: Any) -> Subscription:
        try:
            sub = self.items.get(int(raw))
        except (TypeError, ValueError):
            sub = None
        if sub is None:
            raise HubSpotError(404, f"Subscription {raw} not found", "OBJECT_NOT_FOUND")
        return sub

    def set_active(self, sub: Subscription, active: bool) -> None:
        if sub.active != active:
            sub.active = active
            sub.updated_at = iso_ms(self.clock.now())


class Dispatcher(WebhookDispatcher):
    """The shared dispatcher, with HubSpot's retry rules: each attempt rewrites
    `attemptNumber` in every event and is signed afresh; 429 is retried as well."""

    async def _deliver(self, item: Any, faults: Faults) -> None:
        client = self._client or await self._default_client()
        events = json.loads(item.body)
        for attempt in range(1, self.max_attempts + 1):
            if faults.webhook_delay_ms:
                await asyncio.sleep(faults.webhook_delay_ms / 1000.0)
            for event in events:
                event["attemptNumber"] = attempt - 1
            body = json.dumps(events, separators=(",", ":")).encode()
            headers = dict(item.headers(item.url, body) if callable(item.headers)
                           else item.headers)
            status: int | None = None
            error: str | None = None
            try:
                response = await client.post(item.url, content=body, headers=headers,
                                             timeout=self.timeout_seconds)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.log.append(WebhookDelivery(item.url, body, headers, attempt, status, error,
                                            item.duplicate, self.clock.now()))
            if status is not None and status < 500 and status != 429:
                return  # delivered, or refused for good (HubSpot drops 4xx)
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))


class Events:
    """The events writes fire, kept per request and delivered when it ends (`flush`)."""

    def __init__(self, dispatcher: Dispatcher, subscriptions: Subscriptions, *,
                 portal_id: int, app_id: int, secret: str, clock: Clock, seed_value: int,
                 max_per_delivery: int) -> None:
        self.dispatcher = dispatcher
        self.subscriptions = subscriptions
        self.portal_id = portal_id
        self.app_id = app_id
        self.secret = secret
        self.clock = clock
        self.max_per_delivery = max_per_delivery
        self._ids = itertools.count(5_000_000_000 + seed_value * 1_000_000)
        self._outbox: list[dict[str, Any]] = []

    def _base(self, sub: Subscription, source: tuple[str, str] | None) -> dict[str, Any]:
        change_source, source_id = source or ("INTEGRATION", str(self.app_id))
        return {"eventId": next(self._ids), "subscriptionId": sub.id,
                "portalId": self.portal_id, "appId": self.app_id,
                "occurredAt": int(self.clock.now().timestamp() * 1000),
                "subscriptionType": sub.event_type, "attemptNumber": 0,
                "changeSource": change_source, "sourceId": source_id}

    def _matching(self, otype: ObjectType, event: str,
                  prop: str | None = None) -> list[Subscription]:
        if not self.dispatcher.targets:
            return []
        return [s for s in self.subscriptions.items.values() if s.matches(otype, event, prop)]

    def record(self, otype: ObjectType, object_id: str, event: str, prop: str | None = None,
               value: str | None = None, *, source: tuple[str, str] | None = None) -> None:
        """creation, deletion, restore, privacyDeletion or propertyChange of one record."""
        for sub in self._matching(otype, event, prop):
            payload = {**self._base(sub, source), "objectId": int(object_id)}
            if sub.event_type.startswith("object."):
                payload["objectTypeId"] = otype.type_id
            if event == "propertyChange":
                payload["propertyName"] = prop
                payload["propertyValue"] = value or ""
            self._outbox.append(payload)

    def merge(self, otype: ObjectType, primary_id: str, merged_ids: list[str], new_id: str,
              moved: int, *, source: tuple[str, str] | None = None) -> None:
        for sub in self._matching(otype, "merge"):
            payload = {**self._base(sub, source), "objectId": int(primary_id),
                       "primaryObjectId": int(primary_id),
                       "mergedObjectIds": [int(i) for i in merged_ids],
                       "newObjectId": int(new_id), "numberOfPropertiesMoved": moved}
            if sub.event_type.startswith("object."):
                payload["objectTypeId"] = otype.type_id
            self._outbox.append(payload)

    def association(self, a: Pair, b: Pair, type_id: int, *, removed: bool,
                    source: tuple[str, str] | None = None) -> None:
        """An association added or removed between a and b: one event per side."""
        pair = PAIR_OF_TYPE_ID.get(type_id)
        for (x, y), tid in (((a, b), type_id), ((b, a), _inverse_or_default(type_id, pair,
                                                                           b[0], a[0]))):
            from_type, to_type = OBJECT_TYPES[x[0]], OBJECT_TYPES[y[0]]
            primary = tid in PRIMARY_ASSOCIATIONS.values()
            for sub in self._matching(from_type, "associationChange"):
                payload = {**self._base(sub, source), "fromObjectId": int(x[1]),
                           "toObjectId": int(y[1]), "associationRemoved": removed,
                           "isPrimaryAssociation": primary}
                if sub.event_type.startswith("object."):
                    payload.update(fromObjectTypeId=from_type.type_id,
                                   toObjectTypeId=to_type.type_id, associationTypeId=tid,
                                   associationCategory="HUBSPOT_DEFINED")
                else:
                    payload["associationType"] = \
                        f"{from_type.singular}_TO_{to_type.singular}".upper()
                self._outbox.append(payload)

    def flush(self) -> None:
        """Deliver this request's events: one batch (<= 100 events) per POST per target."""
        if not self._outbox:
            return
        events, self._outbox = self._outbox, []
        step = self.max_per_delivery
        for url in self.dispatcher.targets:
            for start in range(0, len(events), step):
                body = json.dumps(events[start:start + step], separators=(",", ":")).encode()
                self.dispatcher.enqueue(url, body, self._headers)

    def _headers(self, url: str, body: bytes) -> dict[str, str]:
        timestamp = int(self.clock.now().timestamp() * 1000)
        return {
            "content-type": "application/json",
            "user-agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            "x-hubspot-signature": sign_v1(self.secret, body),
            "x-hubspot-signature-version": "v1",
            "x-hubspot-signature-v3": sign_v3(self.secret, "POST", url, body, timestamp),
            "x-hubspot-request-timestamp": str(timestamp),
        }


def _inverse_or_default(type_id: int, pair: Pair | None, a: str, b: str) -> int:
    return inverse_type_id(type_id, pair) if pair else ASSOCIATION_TYPE_IDS[(a, b)]


class WebhooksApi:
    """`/webhooks/v3/{appId}/settings` and `/subscriptions` (SettingsApi, SubscriptionsApi)."""

    def __init__(self, app_id: int, subscriptions: Subscriptions, dispatcher: Dispatcher,
                 clock: Clock) -> None:
        self.app_id = app_id
        self.subscriptions = subscriptions
        self.dispatcher = dispatcher
        self.clock = clock
        self._settings: dict[str, Any] | None = None

    def routes(self, developer: Callable[[Handler], Handler]) -> list[BaseRoute]:
        base = "/webhooks/v3/{appId}"
        return [
            Route(base + "/settings", developer(self.settings),
                  methods=["GET", "PUT", "DELETE"]),
            Route(base + "/subscriptions", developer(self.subscriptions_root),
                  methods=["GET", "POST"]),
            Route(base + "/subscriptions/batch/update", developer(self.batch_update),
                  methods=["POST"]),
            Route(base + "/subscriptions/{subscriptionId}", developer(self.subscription),
                  methods=["GET", "PATCH", "DELETE"]),
        ]

    def _check_app(self, request: Request) -> None:
        if str(request.path_params["appId"]) != str(self.app_id):
            raise HubSpotError(404, f"App {request.path_params['appId']} not found",
                               "OBJECT_NOT_FOUND")

    async def settings(self, request: Request) -> Response:
        """GET, PUT (`SettingsChangeRequest {targetUrl, throttling}`), DELETE."""
        self._check_app(request)
        now = iso_ms(self.clock.now())
        if request.method == "DELETE":
            for url in list(self.dispatcher.targets):
                self.dispatcher.unregister(url)
            self._settings = None
            return Response(status_code=204)
        if request.method == "PUT":
            body = await read_json(request)
            target = body.get("targetUrl") if isinstance(body, dict) else None
            if not isinstance(target, str) or not target.startswith(("http://", "https://")):
                raise validation("targetUrl must be an http(s) URL")
            throttling = body.get("throttling")
            concurrent = throttling.get("maxConcurrentRequests") \
                if isinstance(throttling, dict) else None
            if not isinstance(concurrent, int) or isinstance(concurrent, bool) or \
                    concurrent < 1:
                raise validation("throttling.maxConcurrentRequests must be a positive whole "
                                 "number", code="INVALID_THROTTLING")
            for old in list(self.dispatcher.targets):
                self.dispatcher.unregister(old)
            self.dispatcher.register(target)
            created = self._settings["createdAt"] if self._settings else now
            self._settings = {"targetUrl": target,
                              "throttling": {"maxConcurrentRequests": concurrent},
                              "createdAt": created, "updatedAt": now}
        if not self.dispatcher.targets:
            raise HubSpotError(404, "No webhook settings for this app", "OBJECT_NOT_FOUND")
        if self._settings is None or self._settings["targetUrl"] != \
                self.dispatcher.targets[0]:
            # Registered through the control API: default throttling.
            self._settings = {"targetUrl": self.dispatcher.targets[0],
                              "throttling": {"maxConcurrentRequests": 10},
                              "createdAt": now, "updatedAt": now}
        return JSONResponse(self._settings)

    async def subscriptions_root(self, request: Request) -> Response:
        self._check_app(request)
        if request.method == "POST":
            body = await read_json(request)
            sub = self.subscriptions.add(body if isinstance(body, dict) else {})
            return JSONResponse(sub.to_json(), status_code=201)
        return JSONResponse({"results": [s.to_json()
                                         for s in self.subscriptions.items.values()]})

    async def subscription(self, request: Request) -> Response:
        self._check_app(request)
        sub = self.subscriptions.find(request.path_params["subscriptionId"])
        if request.method == "DELETE":
            del self.subscriptions.items[sub.id]
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await read_json(request)
            if isinstance(body, dict) and isinstance(body.get("active"), bool):
                self.subscriptions.set_active(sub, body["active"])
        return JSONResponse(sub.to_json())

    async def batch_update(self, request: Request) -> Response:
        """`BatchInputSubscriptionBatchUpdateRequest {inputs: [{id, active}]}`."""
        self._check_app(request)
        body = await read_json(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise validation("expected {\"inputs\": [{id, active}]}")
        started = iso_ms(self.clock.now())
        results = []
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("active"), bool):
                raise validation("each input needs id and active")
            sub = self.subscriptions.find(item.get("id"))
            self.subscriptions.set_active(sub, item["active"])
            results.append(sub.to_json())
        return JSONResponse({"status": "COMPLETE", "results": results, "startedAt": started,
                             "completedAt": iso_ms(self.clock.now())})

