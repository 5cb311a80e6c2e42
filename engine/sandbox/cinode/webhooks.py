"""Company webhooks: their configuration (`/webhooks`) and the deliveries Cinode makes.

Configuration (contract): `WebhookAddModel {isActive, endpointUrl, configurations:
[{entityType, actionType}], credentials: [{isBasicAuthentication, headerName,
headerValue}]}` for `POST /webhooks` (one) and `POST /webhooks/manifest` (a list), both
201; `GET /webhooks` -> `WebhookModel[]`, which echoes credential names, never values;
`DELETE /webhooks/{id}` (a UUID) -> 200. `WebhookEntityType`: 1 All, 2 CompanyCandidate,
3 CompanyEmployee, 4 CompanySubcontractor, 5 CompanyCustomer, 6 CompanyProject, 7 Role,
8 PublicAnnouncement, 9 Absence, 10 CompanyCustomerContact; `ActionType`: 1 All,
2 Created, 3 Updated, 4 Deleted.

Deliveries are not in Cinode's document. What a real receiver confirms
(Thomas-Red/Cinode-AWS-Slack, python_code/lambdaSQS.py, lambdaSlack.py, lambdaAuth.py): a
JSON object with `WebhookId` and a PascalCase `Payload` (for projects `Title`,
`SalesManagers[].Fullname`, `Customer.Name`, `EstimatedValue`, `Currency.CurrencyCode`,
`CurrentState.StateTitle`), authenticated by the configured credential (HTTP Basic when
`isBasicAuthentication`: base64(headerName:headerValue)). The rest is [assumed]:
`CompanyId`, `EntityType` and `ActionType` as enum names, `Timestamp`, and
`Payload.Id`. No signature. Targets registered through `POST /_sandbox/webhooks/register`
receive every event (WebhookId all zeros).
"""

from __future__ import annotations

import base64
import random
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import Problem, dumps, invalid
from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.seed import PIPELINES, STATE_TITLES
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body
from engine.sandbox.platform import isoformat_z

if TYPE_CHECKING:
    from engine.sandbox.cinode.app import CinodeSandbox

__all__ = ["ACTION_TYPES", "ENTITY_TYPES", "Deliveries", "Webhooks"]

ENTITY_TYPES = {1: "All", 2: "CompanyCandidate", 3: "CompanyEmployee",
                4: "CompanySubcontractor", 5: "CompanyCustomer", 6: "CompanyProject", 7: "Role",
                8: "PublicAnnouncement", 9: "Absence", 10: "CompanyCustomerContact"}
ACTION_TYPES = {1: "All", 2: "Created", 3: "Updated", 4: "Deleted"}
_NO_WEBHOOK = "00000000-0000-0000-0000-000000000000"


class Webhooks(Resource):
    """`/webhooks`, `/webhooks/manifest`, `/webhooks/{id}`."""

    def __init__(self, sandbox: CinodeSandbox) -> None:
        super().__init__(sandbox)
        self._rng = random.Random(f"cinode-webhooks:{sandbox.config.seed}")

    def routes(self) -> list[RouteSpec]:
        return [
            ("/webhooks", self.list_all, ["GET"]),
            ("/webhooks", self.add, ["POST"]),
            ("/webhooks/manifest", self.add_manifest, ["POST"]),
            ("/webhooks/{hook}", self.delete, ["DELETE"]),
        ]

    def _from(self, data: Any) -> Record:
        body = Body(data)
        url = body.text("endpointUrl", required=True, max_length=2000)
        if url and not url.startswith(("http://", "https://")):
            body.fail("endpointUrl", "The EndpointUrl field is not a valid fully-qualified "
                                     "http or https URL.")
        configurations = body.data.get("configurations")
        if not isinstance(configurations, list) or not configurations:
            body.fail("configurations", "At least one configuration is required.")
            configurations = []
        configs = []
        for item in configurations:
            entity = item.get("entityType") if isinstance(item, dict) else None
            action = item.get("actionType") if isinstance(item, dict) else None
            if entity not in ENTITY_TYPES or action not in ACTION_TYPES or \
                    isinstance(entity, bool) or isinstance(action, bool):
                body.fail("configurations", "Each configuration needs an entityType (1-10) "
                                            "and an actionType (1-4).")
                continue
            configs.append({"entityType": entity, "actionType": action})
        credentials = []
        for item in body.data.get("credentials") or []:
            if not isinstance(item, dict) or not isinstance(item.get("headerName"), str) \
                    or not isinstance(item.get("headerValue"), str):
                body.fail("credentials", "Each credential needs a headerName and a "
                                         "headerValue.")
                continue
            credentials.append({"isBasicAuthentication": item.get("isBasicAuthentication")
                                is True, "headerName": item["headerName"],
                                "headerValue": item["headerValue"]})
        active = body.boolean("isActive")
        body.check()
        return {"id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "isActive": True if active is None else active, "endpointUrl": url,
                "configurations": configs, "credentials": credentials}

    async def list_all(self, request: Request) -> Response:
        return JSONResponse([self.views.webhook(h) for h in self.store.webhooks.values()])

    async def add(self, request: Request) -> Response:
        hook = self._from(await self.json(request))
        self.store.webhooks[hook["id"]] = hook
        return JSONResponse(self.views.webhook(hook), status_code=201)

    async def add_manifest(self, request: Request) -> Response:
        data = await self.json(request)
        if not isinstance(data, list):
            raise invalid("", "A list of webhooks is required.")
        hooks = [self._from(item) for item in data]
        for hook in hooks:
            self.store.webhooks[hook["id"]] = hook
        return JSONResponse([self.views.webhook(h) for h in hooks], status_code=201)

    async def delete(self, request: Request) -> Response:
        if self.store.webhooks.pop(request.path_params["hook"], None) is None:
            raise Problem(404)
        return self.deleted()


class Deliveries:
    """Queues a delivery to every active webhook configured for a change."""

    def __init__(self, sandbox: CinodeSandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store

    def notify(self, entity: int, action: int, record: Record) -> None:
        payload = self.payload(entity, record)
        timestamp = isoformat_z(self.sandbox.clock.now())
        company = self.store.company_id

        def body_for(hook_id: str) -> bytes:
            return dumps({"WebhookId": hook_id, "CompanyId": company,
                          "EntityType": ENTITY_TYPES[entity],
                          "ActionType": ACTION_TYPES[action], "Timestamp": timestamp,
                          "Payload": payload})

        dispatcher = self.sandbox.webhooks
        for hook in self.store.webhooks.values():
            if hook["isActive"] and any(
                    c["entityType"] in (1, entity) and c["actionType"] in (1, action)
                    for c in hook["configurations"]):
                dispatcher.enqueue(hook["endpointUrl"], body_for(hook["id"]),
                                   credential_headers(hook))
        for url in dispatcher.targets:
            dispatcher.enqueue(url, body_for(_NO_WEBHOOK))

    def payload(self, entity: int, record: Record) -> Record:
        """The PascalCase `Payload` of a delivery (projects as a real receiver reads them;
        the other entities' keys are [assumed])."""
        if entity == 6:
            return self._project(record)
        if entity == 5:
            keys: tuple[str, ...] = ("id", "name", "description", "identification",
                                     "corporateIdentityNumber", "vatNumber", "status")
        elif entity == 10:
            keys = ("id", "customerId", "firstName", "lastName", "email")
        elif entity == 4:
            keys = ("id", "firstName", "lastName", "email", "status", "companyName",
                    "companyIdentifier", "internalIdentifier")
        else:
            keys = ("id", "firstName", "lastName", "companyUserEmail", "status",
                    "employmentNumber", "internalIdentifier", "updatedDateTime")
        return {key[0].upper() + key[1:]: record.get(key) for key in keys}

    def _project(self, record: Record) -> Record:
        store = self.store
        customer = store.customers.get(record.get("customerId"))
        stage = next((s for p in PIPELINES for s in p["stages"]
                      if s["id"] == record.get("currentStageId")), None)
        currency = store.currency(record.get("currencyId")) or {}
        managers = [store.users.get(uid) for uid in record.get("salesManagerIds") or []]
        state = record.get("currentState", 0)
        return {
            "Id": record["id"], "CompanyId": store.company_id, "Title": record.get("title"),
            "Description": record.get("description"), "Identifier": record.get("identifier"),
            "CustomerIdentifier": record.get("customerIdentifier"),
            "Customer": ({"Id": customer["id"], "Name": customer.get("name")}
                         if customer else None),
            "PipelineId": record.get("pipelineId"),
            "CurrentStage": {"Id": stage["id"], "Title": stage["title"]} if stage else None,
            "CurrentState": {"State": state, "StateTitle": STATE_TITLES.get(state)},
            "EstimatedValue": record.get("estimatedValue"),
            "Currency": {"CurrencyCode": currency.get("currencyCode")},
            "SalesManagers": [{"Id": u["id"],
                               "Fullname": f"{u.get('firstName')} {u.get('lastName')}"}
                              for u in managers if u is not None],
            "UpdatedDateTime": record.get("updatedDateTime"),
        }


def credential_headers(hook: Record) -> dict[str, str]:
    """Each configured credential as a header, or HTTP Basic of headerName:headerValue."""
    headers: dict[str, str] = {}
    for credential in hook["credentials"]:
        if credential["isBasicAuthentication"]:
            pair = f"{credential['headerName']}:{credential['headerValue']}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            headers[credential["headerName"]] = credential["headerValue"]
    return headers
