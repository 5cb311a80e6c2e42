"""Point the sandboxes' webhooks and workflow actions at the runner, as an admin would.

- Cinode: a company webhook (`POST /v0.1/companies/{id}/webhooks`, the vendor API) for
  project events, carrying the credential header the spec's `webhooks` config expects.
- HubSpot: the app's subscriptions, replaced by exactly those the spec's inbound
  triggers name, delivered to the runner (`/_sandbox/webhooks/subscriptions`).
- HubSpot: one custom workflow action definition per spec action, whose actionUrl is
  the runner's `/actions/{integration}/{action}`.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, cast

import httpx

from engine.demo.world import DemoError, DemoWorld
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.hubspot import OBJECT_TYPES
from engine.spec.model import Spec

__all__ = ["define_actions", "subscribe_cinode", "subscribe_hubspot"]

# Cinode's webhook entity type of projects, and "every action" (created, updated, ...).
_CINODE_PROJECT, _CINODE_ALL_ACTIONS = 6, 1
_ATTEMPTS = 6
# Spec input types -> HubSpot action input field types.
_INPUT_TYPES = {"string": "string", "number": "number", "date": "date", "boolean": "bool"}


async def _polite(world: DemoWorld, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One Cinode call that waits out a 429, as any good client does.

    The scheduled runs just before may have used the whole 2-second window; Cinode's
    429 carries `x-ratelimit-reset` (seconds left in the window), not Retry-After.
    """
    for _ in range(_ATTEMPTS):
        response = await world.client.request(method, url, **kwargs)
        if response.status_code != 429:
            return response
        reset = response.headers.get("x-ratelimit-reset") or \
            response.headers.get("retry-after") or "2"
        try:
            wait = min(max(float(reset), 0.1), 10.0)
        except ValueError:
            wait = 2.0
        await asyncio.sleep(wait)
    return response


async def subscribe_cinode(world: DemoWorld, integration: str = "kleer-cinode") -> str:
    """Register the runner's Cinode endpoint for project events; returns its URL."""
    spec = world.specs[integration]
    options = dict(spec.connections["cinode"].webhooks)
    url = f"{world.runner_url}/webhooks/{integration}/cinode"
    credentials = cast("CinodeCredentials", world.sandboxes["cinode"].credentials)
    basic = base64.b64encode(
        f"{credentials.access_id}:{credentials.access_secret}".encode()).decode()
    base = world.urls["cinode"]
    response = await _polite(world, "GET", f"{base}/token",
                             headers={"authorization": f"Basic {basic}"})
    if response.status_code != 200:
        raise DemoError(f"Cinode refused the token request ({response.status_code})")
    token = response.json()["access_token"]
    credential = {"isBasicAuthentication": bool(options.get("basic_auth")),
                  "headerName": options.get("header") or "Authorization",
                  "headerValue": world.webhook_secret}
    response = await _polite(
        world, "POST", f"{base}/v0.1/companies/{credentials.company_id}/webhooks",
        headers={"authorization": f"Bearer {token}"},
        json={"endpointUrl": url, "isActive": True,
              "configurations": [{"entityType": _CINODE_PROJECT,
                                  "actionType": _CINODE_ALL_ACTIONS}],
              "credentials": [credential]})
    if response.status_code != 201:
        raise DemoError(f"Cinode refused the webhook registration ({response.status_code}): "
                        f"{world.redactor.text(response.text[:300])}")
    return url


def _hubspot_subscriptions(spec: Spec) -> list[dict[str, str]]:
    """One propertyChange subscription per triggering property of each inbound sync."""
    out: list[dict[str, str]] = []
    for sync in spec.syncs.values():
        trigger = sync.trigger
        if trigger is None or spec.connections[trigger.webhook].adapter != "hubspot":
            continue
        otype = OBJECT_TYPES.get(sync.source_object)
        if otype is None:
            raise DemoError(f"the HubSpot sandbox has no object {sync.source_object!r} "
                            f"(sync {sync.name})")
        for prop in trigger.properties:
            if otype.legacy_webhooks:
                out.append({"subscriptionType": f"{otype.singular}.propertyChange",
                            "propertyName": prop})
            else:
                out.append({"subscriptionType": "object.propertyChange",
                            "objectTypeId": otype.type_id, "propertyName": prop})
    return out


async def subscribe_hubspot(world: DemoWorld, integration: str = "kleer-hubspot") -> str:
    """Replace the app's subscriptions with the spec's triggers, sent to the runner."""
    url = f"{world.runner_url}/webhooks/{integration}/hubspot"
    wanted = _hubspot_subscriptions(world.specs[integration])
    if not wanted:
        raise DemoError(f"{integration} has no HubSpot-triggered sync to subscribe to")
    await world.control("hubspot", "DELETE", "webhooks/subscriptions")
    for n, body in enumerate(wanted):
        await world.control("hubspot", "POST", "webhooks/subscriptions",
                            {**body, **({"targetUrl": url} if n == 0 else {})})
    return url


async def define_actions(world: DemoWorld, integration: str = "kleer-hubspot"
                         ) -> dict[str, str]:
    """Define every workflow action of the spec in HubSpot; action name -> definition id."""
    spec = world.specs[integration]
    ids: dict[str, str] = {}
    for name, action in spec.actions.items():
        definition = await world.control("hubspot", "POST", "actions/definitions", {
            "actionUrl": f"{world.runner_url}/actions/{integration}/{name}",
            "objectTypes": [action.object_type] if action.object_type else [],
            "published": True,
            "inputFields": [{"typeDefinition": {"name": field, "type": _INPUT_TYPES.get(
                kind, "string")}, "isRequired": False} for field, kind in action.inputs.items()],
            "labels": {"en": {"actionName": action.title or name}},
        })
        ids[name] = str(definition["id"])
    return ids
