"""The HubSpot sandbox is the contract: every route it serves is an operation of the SDK's
API classes (tests/contracts/hubspot/routes.json) with the same method, and every answer
it gives to an SDK-valid request validates against the SDK's response model for its
status. The events it delivers and the workflow-action executions it posts pass the
checker's documented shapes.

The sweep goes through `contract_transport`, so the suite's contract fixture checks each
exchange as well; here the ledger is also asserted directly, with every route hit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from engine.sandbox.hubspot import HubSpotSandbox, seed
from engine.sandbox.platform import ManualClock, SandboxConfig
from tests.contracts.hubspot import checker
from tests.contracts.recording import contract_transport, current_ledger, violations

TOKEN = {"authorization": "Bearer pat-sandbox-token"}
KEY = {"hapikey": "hubspot-sandbox-developer-key"}
HOOK_URL = "http://receiver.test/hubspot/webhooks"
ACTION_URL = "http://receiver.test/hubspot/actions/create-kleer-client"


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _sandbox_routes(sandbox: HubSpotSandbox) -> set[tuple[str, str]]:
    out = set()
    for route in sandbox.routes():
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                out.add((method, _template(route.path)))
    return out


def test_every_sandbox_route_is_an_sdk_operation_with_its_method() -> None:
    contract = {(op["method"], _template(op["path"])) for op in checker.routes()["operations"]}
    served = _sandbox_routes(HubSpotSandbox(SandboxConfig(clock=ManualClock())))
    assert sorted(served - contract) == []
    assert len(served) == 48


@pytest.fixture
def sandbox(clock: ManualClock, receiver_client: httpx.AsyncClient) -> HubSpotSandbox:
    return HubSpotSandbox(SandboxConfig(clock=clock, records=20, rate_limits=False,
                                        webhook_client=receiver_client))


async def _sweep(hs: httpx.AsyncClient, sandbox: HubSpotSandbox) -> None:
    """One SDK-valid request per sandbox route (and method)."""
    company, deal = seed.base_id("companies", 1), seed.base_id("deals", 1)
    # OAuth
    await hs.post("/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": "hubspot-sandbox-client-id",
        "client_secret": "hubspot-sandbox-secret",
        "refresh_token": "hubspot-sandbox-refresh-token"})
    token = next(iter(sandbox.auth.access_tokens))
    await hs.get(f"/oauth/v1/access-tokens/{token}")
    # Webhooks API: settings and a subscription of every kind the sandbox fires.
    await hs.put("/webhooks/v3/1/settings", params=KEY, json={
        "targetUrl": HOOK_URL, "throttling": {"maxConcurrentRequests": 10}})
    await hs.get("/webhooks/v3/1/settings", params=KEY)
    for kind in ("creation", "deletion", "propertyChange", "merge", "restore",
                 "associationChange"):
        for prefix in ("company", "deal"):
            await hs.post("/webhooks/v3/1/subscriptions", params=KEY,
                          json={"eventType": f"{prefix}.{kind}", "active": True})
        await hs.post("/webhooks/v3/1/subscriptions", params=KEY, json={
            "eventType": f"object.{kind}", "objectTypeId": "0-970"})
    await hs.post("/webhooks/v3/1/subscriptions", params=KEY,
                  json={"eventType": "contact.privacyDeletion"})
    listed = (await hs.get("/webhooks/v3/1/subscriptions", params=KEY)).json()["results"]
    first = listed[0]["id"]
    await hs.get(f"/webhooks/v3/1/subscriptions/{first}", params=KEY)
    await hs.patch(f"/webhooks/v3/1/subscriptions/{first}", params=KEY, json={"active": True})
    await hs.post("/webhooks/v3/1/subscriptions/batch/update", params=KEY,
                  json={"inputs": [{"id": int(first), "active": True}]})
    # Objects
    await hs.get("/crm/v3/objects/companies", params=[
        ("limit", "2"), ("properties", "name"), ("properties", "orgno"),
        ("propertiesWithHistory", "name"), ("associations", "deals")])
    await hs.get(f"/crm/v3/objects/companies/{company}",
                 params={"properties": "name", "associations": "deals",
                         "propertiesWithHistory": "name"})
    created = (await hs.post("/crm/v3/objects/companies", json={
        "properties": {"name": "Svep AB", "kleer_client_id": "sweep-1"},
        "associations": [{"to": {"id": deal}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 342}]}]})).json()
    await hs.patch(f"/crm/v3/objects/companies/{created['id']}",
                   json={"properties": {"city": "Lund"}})
    await hs.patch("/crm/v3/objects/companies/sweep-1", params={"idProperty": "kleer_client_id"},
                   json={"properties": {"city": "Malmö"}})
    await hs.post("/crm/v3/objects/companies/search", json={
        "filterGroups": [{"filters": [{"propertyName": "city", "operator": "EQ",
                                       "value": "Malmö"}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["name"], "limit": 5})
    other = (await hs.post("/crm/v3/objects/companies", json={
        "properties": {"name": "Dubblett AB", "phone": "08-1"}})).json()
    await hs.post("/crm/v3/objects/companies/merge", json={
        "primaryObjectId": created["id"], "objectIdToMerge": other["id"]})
    deal_two = (await hs.post("/crm/v3/objects/deals", json={
        "properties": {"dealname": "Andra"}})).json()
    await hs.post("/crm/v3/objects/deals/merge", json={
        "primaryObjectId": deal, "objectIdToMerge": deal_two["id"]})
    contact = (await hs.post("/crm/v3/objects/contacts", json={
        "properties": {"email": "sweep@example.com"}})).json()
    await hs.post("/crm/v3/objects/contacts/merge", json={
        "primaryObjectId": seed.base_id("contacts", 0), "objectIdToMerge": contact["id"]})
    await hs.post("/crm/v3/objects/contacts/gdpr-delete",
                  json={"objectId": seed.base_id("contacts", 1)})
    # Batches
    made = (await hs.post("/crm/v3/objects/projects/batch/create", json={"inputs": [
        {"properties": {"hs_name": f"P{i}", "kleer_project_id": f"kp-{i}"},
         "objectWriteTraceId": str(i), "associations": []} for i in range(2)]})).json()
    await hs.post("/crm/v3/objects/projects/batch/create", json={"inputs": [
        {"properties": {"hs_name": "P9", "kleer_project_id": "kp-0"},
         "objectWriteTraceId": "9"}]})  # 207: the unique value is taken
    await hs.post("/crm/v3/objects/0-970/batch/read", json={
        "idProperty": "kleer_project_id", "properties": ["hs_name"],
        "propertiesWithHistory": ["hs_name"], "inputs": [{"id": "kp-0"}, {"id": "kp-404"}]})
    await hs.post("/crm/v3/objects/projects/batch/read", json={
        "properties": ["hs_name"], "propertiesWithHistory": [],
        "inputs": [{"id": made["results"][0]["id"]}]})
    await hs.post("/crm/v3/objects/projects/batch/update", json={"inputs": [
        {"id": r["id"], "properties": {"hs_status": "IN_PROGRESS"}}
        for r in made["results"]]})
    await hs.post("/crm/v3/objects/projects/batch/update", json={"inputs": [
        {"id": "kp-1", "idProperty": "kleer_project_id", "properties": {"hs_name": "P1b"}},
        {"id": "9000000404", "properties": {"hs_name": "x"}}]})
    await hs.post("/crm/v3/objects/products/batch/upsert", json={"inputs": [
        {"idProperty": "kleer_product_id", "id": "kp-1", "properties": {"name": "Timme"}}]})
    await hs.post("/crm/v3/objects/projects/batch/archive",
                  json={"inputs": [{"id": made["results"][1]["id"]}]})
    await hs.delete(f"/crm/v3/objects/deals/{seed.base_id('deals', 3)}")
    # Properties, schemas, pipelines
    await hs.get("/crm/v3/properties/companies")
    await hs.post("/crm/v3/properties/companies", json={
        "name": "sweep_prop", "label": "Sweep", "type": "string", "fieldType": "text",
        "groupName": "companyinformation", "hasUniqueValue": False})
    await hs.get("/crm/v3/properties/companies/sweep_prop")
    await hs.get("/crm-object-schemas/v3/schemas")
    await hs.get("/crm-object-schemas/v3/schemas/p1_agreements")
    await hs.get("/crm/v3/pipelines/deals")
    # Associations v4
    one = f"/crm/v4/objects/deals/{deal}/associations"
    await hs.put(f"{one}/default/companies/{created['id']}")
    await hs.put(f"{one}/companies/{company}", json=[
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    await hs.get(f"{one}/companies", params={"limit": 10})
    await hs.delete(f"{one}/companies/{company}")
    batch = "/crm/v4/associations/deals/companies/batch"
    await hs.post(f"{batch}/create", json={"inputs": [
        {"from": {"id": deal}, "to": {"id": company}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]},
        {"from": {"id": deal}, "to": {"id": "2000000404"}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})
    await hs.post(f"{batch}/associate/default", json={"inputs": [
        {"from": {"id": deal}, "to": {"id": company}}]})
    await hs.post(f"{batch}/read", json={"inputs": [{"id": deal}, {"id": "3000000404"}]})
    await hs.post(f"{batch}/labels/archive", json={"inputs": [
        {"from": {"id": deal}, "to": {"id": company}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})
    await hs.post(f"{batch}/archive", json={"inputs": [
        {"from": {"id": deal}, "to": [{"id": company}]}]})
    # Workflow actions
    definition = (await hs.post("/automation/v4/actions/1", params=KEY, json={
        "actionUrl": ACTION_URL, "published": True, "objectTypes": ["COMPANY"],
        "objectRequestOptions": {"properties": ["name"]},
        "inputFields": [{"typeDefinition": {"name": "template", "type": "string",
                                            "fieldType": "text", "options": [],
                                            "externalOptions": False},
                         "supportedValueTypes": ["STATIC_VALUE"], "isRequired": False}],
        "outputFields": [{"typeDefinition": {"name": "kleer_client_id", "type": "string",
                                             "options": [], "externalOptions": False}}],
        "functions": [], "labels": {"en": {"actionName": "Create Kleer client"}}})).json()
    await hs.get("/automation/v4/actions/1", params={**KEY, "limit": "10"})
    await hs.get(f"/automation/v4/actions/1/{definition['id']}", params=KEY)
    await hs.patch(f"/automation/v4/actions/1/{definition['id']}", params=KEY,
                   json={"published": True})
    executions = [await sandbox.fire_action(definition["id"], company) for _ in range(2)]
    await hs.post(f"/automation/v4/actions/callbacks/{executions[0].callback_id}/complete",
                  json={"outputFields": {"hs_execution_state": "SUCCESS",
                                         "kleer_client_id": "77"}})
    await hs.post("/automation/v4/actions/callbacks/complete", json={"inputs": [
        {"callbackId": executions[1].callback_id,
         "outputFields": {"hs_execution_state": "FAIL_CONTINUE"}}]})
    await hs.delete(f"/automation/v4/actions/1/{definition['id']}", params=KEY)
    # Tear down the webhook configuration the same way an app would.
    await hs.delete(f"/webhooks/v3/1/subscriptions/{first}", params=KEY)
    await hs.delete("/webhooks/v3/1/settings", params=KEY)


async def test_every_route_answers_as_the_sdk_models_say(sandbox: HubSpotSandbox,
                                                         receiver: Any) -> None:
    async with httpx.AsyncClient(transport=contract_transport(sandbox),
                                 base_url="http://hubspot.test", headers=TOKEN) as hs:
        await _sweep(hs, sandbox)
        await sandbox.webhooks.drain()
    ledger = current_ledger()
    assert [f"{e.method} {e.path} -> {e.status}" for e in ledger.exchanges
            if e.status >= 400] == []
    assert [problem for _, problem in violations(ledger)] == []
    hit = {(e.method, _template(route)) for e in ledger.exchanges
           for route in [_route_of(sandbox, e.method, e.path)]}
    assert sorted(_sandbox_routes(sandbox) - hit) == []
    # Every delivery the writes fired is in HubSpot's documented event shapes.
    deliveries = [json.loads(body) for path, _, body in receiver.received
                  if path == "/hubspot/webhooks"]
    kinds = {event["subscriptionType"] for body in deliveries for event in body}
    assert {"company.creation", "company.propertyChange", "company.merge",
            "company.associationChange", "deal.associationChange", "deal.merge",
            "deal.deletion", "object.creation", "object.propertyChange",
            "object.deletion", "contact.privacyDeletion"} <= kinds
    assert [p for body in deliveries for p in checker.check_webhook_events(body)] == []
    # And so is every execution the portal posted to the action URL.
    for execution in sandbox.executions.values():
        assert checker.check_action_execution(execution.payload) == []


def _route_of(sandbox: HubSpotSandbox, method: str, path: str) -> str:
    for route in sandbox.routes():
        assert isinstance(route, Route)
        match = route.path_regex.fullmatch(path)
        if match and method in (route.methods or ()):
            return route.path
    raise AssertionError(f"{method} {path} is no sandbox route")


async def test_a_route_outside_the_sdk_is_404(sandbox: HubSpotSandbox) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://hubspot.test", headers=TOKEN) as hs:
        assert (await hs.get("/crm/v3/schemas")).status_code == 404
        assert (await hs.put("/crm/v3/objects/companies/batch/read",
                             json={"inputs": []})).status_code == 405


async def test_restore_and_associations_fire_documented_events(
        sandbox: HubSpotSandbox, receiver: Any) -> None:
    async with httpx.AsyncClient(transport=contract_transport(sandbox),
                                 base_url="http://hubspot.test", headers=TOKEN) as hs:
        await hs.put("/webhooks/v3/1/settings", params=KEY, json={
            "targetUrl": HOOK_URL, "throttling": {"maxConcurrentRequests": 10}})
        for kind in ("company.restore", "company.associationChange"):
            await hs.post("/webhooks/v3/1/subscriptions", params=KEY, json={"eventType": kind})
        await hs.post("/webhooks/v3/1/subscriptions", params=KEY, json={
            "eventType": "object.associationChange", "objectTypeId": "0-3"})
        company, deal = seed.base_id("companies", 2), seed.base_id("deals", 2)
        await hs.delete(f"/crm/v3/objects/companies/{company}")
        restored = await hs.post(f"/_sandbox/records/companies/{company}/restore")
        assert restored.status_code == 200
        await hs.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{company}", json=[
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}])
        await sandbox.webhooks.drain()
    events = [e for body in receiver.bodies() for e in body]
    assert checker.check_webhook_events(events) == []
    shapes = sorted((e["subscriptionType"], e.get("objectId"), e.get("fromObjectId"),
                     e.get("associationType") or e.get("associationTypeId"))
                    for e in events)
    assert shapes == [
        ("company.associationChange", None, int(company), "COMPANY_TO_DEAL"),
        ("company.deletion", int(company), None, None),
        ("company.restore", int(company), None, None),
        ("object.associationChange", None, int(deal), 341),
    ]
