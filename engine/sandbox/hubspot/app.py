"""A faithful local HubSpot portal, built from HubSpot's own contract: the official SDK
(`hubspot-api-client`, whose routes and models tests/contracts/hubspot holds).

It serves only operations of the SDK's API classes, with their real methods, and answers
with exactly the fields of their response models (record ids in v4 associations are
strings, statuses are the documented ones); every other path is 404, every other method
on a known path 405. `/_sandbox/...` is the sandbox's own control API. Split by concept:

- `auth`: private-app tokens, OAuth (`/oauth/v1/token`, access-token introspection), the
  developer `hapikey`; `gate`: auth, rate limits and the error envelope around every route;
- `objects`, `batch`, `search`: CRM objects v3; `associations`: v4; `metadata`:
  properties, custom object schemas (`/crm-object-schemas/v3/schemas`), pipelines;
- `webhooks`: subscriptions, the events writes fire, signed deliveries, the webhooks
  API; `actions`: workflow custom actions v4 (definitions, executions, callbacks);
- `records`: every write (and the events it fires); `store`: the data; `catalog`:
  object types and association type ids; `values`: how values are stored; `errors`:
  HubSpot's error envelope; `control`: `/_sandbox` calls; `seed`: generated data;
- `settings` (`HubSpotSettings`): limits and timings; `credentials`: the public account.

Objects: `contacts companies deals products line_items invoices subscriptions`,
`projects` (`0-970`) and the custom object `agreements` (`p{portalId}_agreements`,
`2-7000001`), addressed by name, type id or fully qualified name.

Assumed ([assumed] in apis.md, implemented as described there): the projects object's
type id 0-970 and `hs_*` names, the agreements custom object, list `limit` max 100,
search `limit` max 200, 409 on duplicate unique values, the 429 body, association type
ids for pairs apis.md does not list (numbered from 1000), and that a `propertyChange`
subscription without `propertyName` fires for every property.

Usage::

    sandbox = HubSpotSandbox(SandboxConfig(clock=ManualClock()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://hubspot.test",
                                 headers={"authorization": "Bearer pat-sandbox-token"}) as c:
        page = (await c.get("/crm/v3/objects/companies", params={"limit": 100})).json()
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.sandbox.hubspot.actions import Actions, Execution
from engine.sandbox.hubspot.associations import AssociationsApi
from engine.sandbox.hubspot.auth import Auth
from engine.sandbox.hubspot.batch import Batch
from engine.sandbox.hubspot.control import Control
from engine.sandbox.hubspot.credentials import CURL_EXAMPLE, HubSpotCredentials
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.metadata import Metadata
from engine.sandbox.hubspot.objects import Objects
from engine.sandbox.hubspot.records import Records, Source
from engine.sandbox.hubspot.search import Search
from engine.sandbox.hubspot.settings import HubSpotSettings
from engine.sandbox.hubspot.store import Associations, ObjectStore
from engine.sandbox.hubspot.webhooks import (
    Dispatcher,
    Events,
    Subscription,
    Subscriptions,
    WebhooksApi,
)
from engine.sandbox.platform import RateDecision, Sandbox, SandboxConfig

__all__ = ["HubSpotSandbox"]


class HubSpotSandbox(Sandbox):
    """The HubSpot CRM simulator: see the module docstring for what it covers."""

    vendor = "hubspot"

    credentials_type = HubSpotCredentials
    curl_example = CURL_EXAMPLE
    credentials: HubSpotCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: HubSpotCredentials | None = None,
                 settings: HubSpotSettings | None = None) -> None:
        super().__init__(config, credentials)
        self.settings = settings or HubSpotSettings()
        cfg, s = self.config, self.settings
        self.portal_id = self.credentials.portal_id
        self.app_id = self.credentials.app_id
        self.webhooks = Dispatcher(self.clock, client=cfg.webhook_client,
                                   faults=lambda: self.faults,
                                   max_attempts=s.webhook_attempts,
                                   backoff_seconds=s.webhook_backoff_seconds)
        self.auth = Auth(self.credentials, s, self.clock, random.Random(cfg.seed))
        self._subscriptions = Subscriptions(self.clock, self.portal_id)
        self.events = Events(self.webhooks, self._subscriptions, portal_id=self.portal_id,
                             app_id=self.app_id, secret=self.credentials.client_secret,
                             clock=self.clock, seed_value=cfg.seed,
                             max_per_delivery=s.max_events_per_delivery)
        self.crm = Records(cfg, self.portal_id, self.events)
        self.gate = Gate(self.auth, s, self.clock, rate_limits=cfg.rate_limits,
                         app_id=self.app_id, after=self.events.flush)
        self.actions = Actions(self.crm, cfg, portal_id=self.portal_id, app_id=self.app_id,
                               secret=self.credentials.client_secret,
                               timeout=s.action_timeout_seconds)
        self._apis = (Objects(self.crm), Batch(self.crm), Search(self.crm),
                      Metadata(self.crm, self.portal_id), AssociationsApi(self.crm),
                      self.actions)
        self._webhooks_api = WebhooksApi(self.app_id, self._subscriptions, self.webhooks,
                                         self.clock)
        self._control = Control(self.crm, self._subscriptions, self.actions, self.webhooks)

    # ------------------------------------------------------------------ base hooks

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The credentials' variables, and the app's id and developer API key that
        `specsync connect` registers webhooks and workflow actions with."""
        return [*self.credentials.environment(url), ("HUBSPOT_APP_ID", str(self.app_id)),
                ("HUBSPOT_DEVELOPER_KEY", self.settings.developer_api_key)]

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = [*self.auth.routes()]
        for api in self._apis:
            out.extend(api.routes(self.gate))
        out.extend(self._webhooks_api.routes(self.gate.developer))
        return out

    def control_routes(self) -> list[BaseRoute]:
        return self._control.routes(self.gate)

    def error_response(self, status: int, message: str) -> Response:
        return self.gate.server_error(status, message)

    def too_many_requests_response(self, decision: RateDecision,
                                   policy: str = "TEN_SECONDLY_ROLLING") -> Response:
        return self.gate.too_many(decision, policy)

    def health(self) -> dict[str, Any]:
        return {"portalId": self.portal_id,
                "objects": {name: len(s.collection) for name, s in self.stores.items()},
                "subscriptions": len(self.subscriptions)}

    # ------------------------------------------------------------------ for tests and demo

    @property
    def stores(self) -> dict[str, ObjectStore]:
        return self.crm.stores

    @property
    def associations(self) -> Associations:
        return self.crm.associations

    @property
    def subscriptions(self) -> dict[int, Subscription]:
        return self._subscriptions.items

    @property
    def executions(self) -> dict[str, Execution]:
        return self.actions.executions

    @property
    def action_definitions(self) -> dict[str, dict[str, Any]]:
        return self.actions.definitions

    @property
    def max_events_per_delivery(self) -> int:
        return self.events.max_per_delivery

    @max_events_per_delivery.setter
    def max_events_per_delivery(self, value: int) -> None:
        self.events.max_per_delivery = value

    def object_store(self, name: str) -> ObjectStore:
        """The store for an object type named any way HubSpot accepts (400 otherwise)."""
        return self.crm.object_store(name)

    def create_record(self, store: ObjectStore, properties: Any, associations: Any = None,
                      *, source: Source = None) -> dict[str, Any]:
        return self.crm.create(store, properties, associations, source=source)

    def update_record(self, store: ObjectStore, record: dict[str, Any], properties: Any,
                      *, source: Source = None) -> dict[str, Any]:
        return self.crm.update(store, record, properties, source=source)

    def archive_record(self, store: ObjectStore, record: dict[str, Any], *,
                       source: Source = None) -> None:
        self.crm.archive(store, record, source=source)

    def define_action(self, body: Any) -> dict[str, Any]:
        """Store a custom action definition (`actionUrl`, `objectTypes`, ...); returns it."""
        return self.actions.define(body)

    async def fire_action(self, definition_id: str, object_id: str, *,
                          object_type: str | None = None,
                          input_fields: Mapping[str, Any] | None = None,
                          workflow_id: int = 1) -> Execution:
        """Run one workflow action execution against its action URL (as HubSpot does)."""
        return await self.actions.fire(definition_id, object_id, object_type=object_type,
                                       input_fields=input_fields, workflow_id=workflow_id)

    def records(self, object_type: str) -> Iterator[dict[str, Any]]:
        """Every live record of a type, for tests and the demo."""
        return self.crm.iter(object_type)
