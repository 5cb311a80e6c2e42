"""The HubSpot sandbox's own control calls, under `/_sandbox` (not HubSpot's API).

- `POST /records/{objectType}`, `GET|PATCH|DELETE /records/{objectType}/{objectId}`: a
  user in HubSpot's UI creates, reads, edits or deletes a record (`changeSource` CRM_UI,
  `sourceId` userId:1, so webhooks say who changed it).
- `POST /records/{objectType}/{objectId}/restore`: the user restores a deleted record
  from the recycle bin (`restore` event).
- `POST /records/{objectType}/{objectId}/merge` `{"objectIdToMerge": id}`: the user merges
  another record into this one (`merge` event).
- `POST /records/contacts/{objectId}/gdpr-delete`: the user permanently deletes a contact
  for privacy (`contact.privacyDeletion` event).
- `GET|POST|DELETE /webhooks/subscriptions`: list, add (`{eventType | subscriptionType,
  objectTypeId?, propertyName?, targetUrl?}`; a `targetUrl` registers the delivery
  target too) or clear the app's subscriptions.
- `POST /actions/definitions`: define a workflow action (as the developer API would);
  `POST /actions/{definitionId}/fire` `{objectId, objectType?, inputFields?,
  workflowId?}`: a workflow enrols a record and runs the action; `GET
  /actions/executions[/{callbackId}]`, `POST /actions/executions/{callbackId}/retry`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.hubspot.actions import Actions
from engine.sandbox.hubspot.errors import read_json, validation
from engine.sandbox.hubspot.gate import Gate
from engine.sandbox.hubspot.records import Records
from engine.sandbox.hubspot.webhooks import Subscriptions
from engine.sandbox.platform import WebhookDispatcher

__all__ = ["UI", "Control"]

#: Who a control call acts as: a user in HubSpot's UI.
UI = ("CRM_UI", "userId:1")


class Control:
    """The `/_sandbox` routes of the HubSpot sandbox."""

    def __init__(self, records: Records, subscriptions: Subscriptions, actions: Actions,
                 dispatcher: WebhookDispatcher) -> None:
        self.records = records
        self.subscriptions = subscriptions
        self.actions = actions
        self.dispatcher = dispatcher

    def routes(self, gate: Gate) -> list[BaseRoute]:
        c = gate.control
        return [
            Route("/records/{objectType}", c(self.create), methods=["POST"]),
            Route("/records/{objectType}/{objectId}", c(self.record),
                  methods=["GET", "PATCH", "DELETE"]),
            Route("/records/{objectType}/{objectId}/restore", c(self.restore),
                  methods=["POST"]),
            Route("/records/{objectType}/{objectId}/merge", c(self.merge), methods=["POST"]),
            Route("/records/contacts/{objectId}/gdpr-delete", c(self.gdpr_delete),
                  methods=["POST"]),
            Route("/webhooks/subscriptions", c(self.webhook_subscriptions),
                  methods=["GET", "POST", "DELETE"]),
            Route("/actions/definitions", c(self.define_action), methods=["POST"]),
            Route("/actions/executions", c(self.executions), methods=["GET"]),
            Route("/actions/executions/{callbackId}", c(self.execution), methods=["GET"]),
            Route("/actions/executions/{callbackId}/retry", c(self.retry), methods=["POST"]),
            Route("/actions/{definitionId}/fire", c(self.fire), methods=["POST"]),
        ]

    @staticmethod
    def _properties(body: Any) -> Any:
        return body.get("properties", body) if isinstance(body, dict) else None

    async def create(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        body = await read_json(request)
        record = self.records.create(store, self._properties(body),
                                     body.get("associations") if isinstance(body, dict)
                                     else None, source=UI)
        return JSONResponse(self.records.written(store, record), status_code=201)

    async def record(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        record = self.records.existing(store, request.path_params["objectId"])
        if request.method == "DELETE":
            self.records.archive(store, record, source=UI)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await read_json(request)
            record = self.records.update(store, record, self._properties(body), source=UI)
        return JSONResponse(self.records.written(store, record))

    async def restore(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        record = self.records.restore(store, request.path_params["objectId"], source=UI)
        return JSONResponse(self.records.written(store, record))

    async def merge(self, request: Request) -> Response:
        store = self.records.object_store(request.path_params["objectType"])
        body = await read_json(request)
        other = body.get("objectIdToMerge") if isinstance(body, dict) else None
        if not other:
            raise validation("expected {\"objectIdToMerge\": id}")
        primary = self.records.existing(store, request.path_params["objectId"])
        merged = self.records.existing(store, str(other))
        survivor = self.records.merge(store, primary, merged, source=UI)
        return JSONResponse(self.records.written(store, survivor))

    async def gdpr_delete(self, request: Request) -> Response:
        store = self.records.object_store("contacts")
        record = self.records.existing(store, request.path_params["objectId"])
        self.records.purge(store, record, source=UI)
        return Response(status_code=204)

    async def webhook_subscriptions(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.subscriptions.items.clear()
            return Response(status_code=204)
        if request.method == "POST":
            body = await read_json(request)
            body = dict(body) if isinstance(body, dict) else {}
            if body.get("targetUrl"):
                self.dispatcher.register(str(body["targetUrl"]))
            body.setdefault("eventType", body.get("subscriptionType"))
            sub = self.subscriptions.add(body)
            return JSONResponse(sub.to_json(), status_code=201)
        return JSONResponse({"targets": self.dispatcher.targets,
                             "results": [s.to_json()
                                         for s in self.subscriptions.items.values()]})

    async def define_action(self, request: Request) -> Response:
        return JSONResponse(self.actions.define(await read_json(request)), status_code=201)

    async def fire(self, request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict) or "objectId" not in body:
            raise validation("expected {objectId, objectType?, inputFields?, workflowId?}")
        execution = await self.actions.fire(
            request.path_params["definitionId"], str(body["objectId"]),
            object_type=body.get("objectType"), input_fields=body.get("inputFields"),
            workflow_id=int(body.get("workflowId", 1)))
        return JSONResponse(execution.to_json(), status_code=201)

    async def executions(self, request: Request) -> Response:
        return JSONResponse({"results": [e.to_json()
                                         for e in self.actions.executions.values()]})

    async def execution(self, request: Request) -> Response:
        return JSONResponse(self.actions.execution(request.path_params["callbackId"])
                            .to_json())

    async def retry(self, request: Request) -> Response:
        execution = self.actions.execution(request.path_params["callbackId"])
        await self.actions.send(execution)
        return JSONResponse(execution.to_json())
