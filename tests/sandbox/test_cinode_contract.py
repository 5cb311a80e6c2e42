"""The Cinode sandbox is Cinode's contract: its routes are the contract's operations, and
every answer validates strictly against the operation's response model.

The route sweep calls every operation of tests/contracts/cinode/contract.json once with
a request the contract accepts (creations first, deletions last) and checks request and
answer with the contract checker; a second sweep sends what the real API refuses and
checks that the 400 answers are `ValidationModel`s.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.platform import ManualClock, SandboxConfig
from tests.contracts.cinode import checker
from tests.contracts.recording import ContractTransport, Ledger, violations

C = "/v0.1/companies/1"
BASIC = "Basic " + base64.b64encode(
    b"cinode-sandbox-access-id:cinode-sandbox-access-secret").decode()
PATCH_JSON = {"content-type": "application/json-patch+json"}
SAMPLE = {"int": "1", "str": "42a3a220-766c-eb11-8e13-000c29b4e92f"}


def _served(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path template) of every vendor route, control API aside."""
    for route in routes:
        if isinstance(route, Mount):
            if route.path == "/_sandbox":
                continue
            yield from _served(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path


def _concrete(template: str) -> str:
    return re.sub(r"\{\w+(?::(\w+))?\}", lambda m: SAMPLE.get(m.group(1) or "str", "x"),
                  template)


def _contract_operations() -> set[str]:
    return {f"{method.upper()} {path}" for path, item in checker.CONTRACT["paths"].items()
            for method in item if method in checker.METHODS}


def test_every_sandbox_route_is_a_contract_operation_and_every_operation_is_served() -> None:
    sandbox = CinodeSandbox(SandboxConfig(records=5))
    served = {}
    for method, template in _served(list(sandbox.app.routes)):
        route = checker.route_of(method, _concrete(template))
        assert route is not None, f"{method} {template} is not an operation of the contract"
        served[route] = template
    assert set(served) == _contract_operations()


@pytest.fixture
async def cinode() -> AsyncIterator[tuple[CinodeSandbox, httpx.AsyncClient, Ledger]]:
    sandbox = CinodeSandbox(SandboxConfig(records=12, clock=ManualClock(), rate_limits=False))
    ledger = Ledger()
    transport = ContractTransport(httpx.ASGITransport(app=sandbox.app), "cinode", ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://cinode.test") as client:
        token = (await client.get("/token", headers={"authorization": BASIC})).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        refreshed = await client.post("/token/refresh",
                                      json={"refreshToken": token["refresh_token"]},
                                      headers={"authorization": ""})
        assert refreshed.status_code == 200
        yield sandbox, client, ledger


async def _sweep(client: httpx.AsyncClient, sandbox: CinodeSandbox) -> None:
    """Every operation once, in an order where each finds what it needs."""
    users = list(sandbox.users)
    user, other = users[1]["id"], users[2]["id"]
    customer = next(iter(sandbox.customers))
    cid = customer["id"]
    project = next(iter(sandbox.projects))["id"]
    subcontractor = next(iter(sandbox.subcontractors))["id"]

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    # look-ups
    company = await call("GET", C)
    office = next(a for a in company["addresses"] if a["addressType"] == 3)["id"]
    await call("GET", "/v0.1/languages")
    await call("GET", f"{C}/currencies")
    tags = await call("GET", f"{C}/tags")
    await call("GET", f"{C}/tags/{tags[0]['id']}")
    await call("GET", f"{C}/projects/pipelines")
    # users
    created = await call("POST", f"{C}/users", json={
        "email": "new.person@example.se", "firstName": "Ny", "lastName": "Person",
        "gender": 2, "password": "Secret-123!", "confirmPassword": "Secret-123!",
        "languageId": 1, "locationId": office, "employmentStartDate": "2025-01-01T00:00:00Z",
        "status": 3})
    new_user = created["id"]
    await call("GET", f"{C}/users")
    await call("GET", f"{C}/users/extended")
    await call("POST", f"{C}/users/search", json={
        "term": "", "includeDisconnected": True,
        "pageAndSortBy": {"sortBy": 4, "sortOrder": 1, "page": 1, "itemsPerPage": 5}})
    await call("GET", f"{C}/users/{user}")
    await call("GET", f"{C}/users-full/{user}")
    await call("GET", f"{C}/users/{user}/roles")
    await call("GET", f"{C}/addresses/{office}/users")
    await call("PUT", f"{C}/users/{new_user}", json={
        "firstName": "Ny", "lastName": "Persson", "email": "new.person@example.se",
        "gender": 2, "status": 3, "availabilityPercent": 80, "baseSalary": 41000})
    await call("PATCH", f"{C}/users/{new_user}", headers=PATCH_JSON, content=(
        b'[{"op":"replace","path":"/internalIdentifier","value":"k-1"},'
        b'{"op":"replace","path":"/status","value":0}]'))
    await call("POST", f"{C}/users/{new_user}/tags", json=[{"name": "Java"}])
    await call("PUT", f"{C}/users/{new_user}/permissions", json={"permissions": [200, 270]})
    # subcontractors
    sub = await call("POST", f"{C}/subcontractors", json={
        "firstName": "Olle", "lastName": "Ek", "email": "olle@ek.se", "gender": 1,
        "languageId": 1, "password": "Secret-123!", "passwordConfirm": "Secret-123!",
        "companyAddressId": office, "currencyId": 1, "tariff": 950})
    await call("GET", f"{C}/subcontractors")
    await call("GET", f"{C}/subcontractors/{subcontractor}")
    # customers and their children
    new_customer = await call("POST", f"{C}/customers", json={
        "name": "Nordlys AB", "identification": "K-1", "countryId": 2,
        "turnOverCurrencyId": 4, "intermediator": False})
    ncid = new_customer["id"]
    await call("GET", f"{C}/customers")
    await call("GET", f"{C}/customers/extended")
    await call("POST", f"{C}/customers/search", json={
        "identification": "K-1", "identificationOperator": 3,
        "pageAndSortBy": {"sortBy": 0, "sortOrder": 0, "page": 1, "itemsPerPage": 10}})
    await call("GET", f"{C}/customers/{cid}")
    await call("PUT", f"{C}/customers/{ncid}", json={"name": "Nordlys Sverige AB",
                                                      "intermediator": False})
    await call("PATCH", f"{C}/customers/{ncid}", headers=PATCH_JSON, content=(
        b'[{"op":"replace","path":"/status","value":false},'
        b'{"op":"replace","path":"/countryid","value":1}]'))
    address = await call("POST", f"{C}/customers/{ncid}/addresses", json={
        "street1": "Storgatan 1", "zipCode": "111 22", "city": "Stockholm",
        "addressType": 2})
    await call("GET", f"{C}/customers/{ncid}/addresses/{address['id']}")
    await call("PUT", f"{C}/customers/{ncid}/addresses/{address['id']}", json={
        "street1": "Storgatan 9", "zipCode": "111 22", "city": "Stockholm",
        "addressType": 2})
    contact = await call("POST", f"{C}/customers/{ncid}/contacts", json={
        "firstName": "Anna", "lastName": "Berg", "phone1": "+46 8 1"})
    await call("GET", f"{C}/customers/{ncid}/contacts")
    await call("GET", f"{C}/customers/{ncid}/contacts/{contact['id']}")
    await call("PUT", f"{C}/customers/{ncid}/contacts/{contact['id']}", json={
        "firstName": "Anna", "lastName": "Berg-Ek"})
    await call("POST", f"{C}/customers/{ncid}/managers", json={"companyUserIds": [user, other]})
    await call("GET", f"{C}/customers/{ncid}/managers")
    await call("POST", f"{C}/customers/{ncid}/tags", json=[{"name": "BV=30"}])
    # projects
    new_project = await call("POST", f"{C}/projects", json={
        "title": "Datalager", "customerId": ncid, "identifier": "P-1", "pipelineId": 1,
        "pipelineStageId": 11, "estimatedValue": 250000,
        "estimatedCloseDate": "2025-12-31T00:00:00Z", "location": {"locationId": 7},
        "salesManagerIds": [user], "currencyId": 1, "priority": 5, "projectState": 0})
    npid = new_project["id"]
    await call("GET", f"{C}/projects")
    await call("POST", f"{C}/projects/search", json={
        "projectStates": [30], "pipelines": [1, 2],
        "pageAndSortBy": {"sortBy": 5, "sortOrder": 1, "page": 1, "itemsPerPage": 5}})
    await call("GET", f"{C}/projects/{project}")
    await call("PUT", f"{C}/projects/{npid}", json={
        "title": "Datalager 2", "customerId": ncid, "estimatedValue": 300000,
        "location": {"locationId": 7}, "projectState": 30, "priority": 8})
    await call("POST", f"{C}/projects/{npid}/tags", json=[{"name": "Maconomy"}])
    # webhooks
    hook = await call("POST", f"{C}/webhooks", json={
        "isActive": True, "endpointUrl": "http://receiver.test/hook",
        "configurations": [{"entityType": 6, "actionType": 1}],
        "credentials": [{"isBasicAuthentication": False, "headerName": "x-key",
                         "headerValue": "s3cret"}]})
    await call("POST", f"{C}/webhooks/manifest", json=[{
        "isActive": False, "endpointUrl": "http://receiver.test/other",
        "configurations": [{"entityType": 5, "actionType": 3}]}])
    await call("GET", f"{C}/webhooks")
    # deletions
    await call("DELETE", f"{C}/webhooks/{hook['id']}")
    await call("DELETE", f"{C}/projects/{npid}")
    await call("DELETE", f"{C}/customers/{ncid}/managers/{other}")
    await call("DELETE", f"{C}/customers/{ncid}/contacts/{contact['id']}")
    await call("DELETE", f"{C}/customers/{ncid}/addresses/{address['id']}")
    await call("DELETE", f"{C}/customers/{ncid}",
               json={"customerVerificationName": "Nordlys Sverige AB"})
    await call("DELETE", f"{C}/subcontractors/{sub['id']}",
               params={"firstName": "Olle", "lastName": "Ek"})
    await call("DELETE", f"{C}/users/{new_user}",
               params={"firstName": "Ny", "lastName": "Persson"})


async def test_route_sweep_every_answer_keeps_its_response_model(cinode: Any) -> None:
    sandbox, client, ledger = cinode
    await _sweep(client, sandbox)
    problems = [problem for _, problem in violations(ledger)]
    assert problems == []
    answered = {checker.route_of(e.method, e.path) for e in ledger.exchanges
                if 200 <= e.status < 300}
    assert answered == _contract_operations()


@pytest.mark.off_contract("sends what Cinode refuses, to check the 400 answers")
async def test_invalid_bodies_are_refused_with_validation_models(cinode: Any) -> None:
    sandbox, client, ledger = cinode
    customer = next(iter(sandbox.customers))["id"]
    refused = [
        ("POST", f"{C}/projects", {"json": {"title": "X", "customerId": customer,
                                            "estimatedValue": 3450000.0}},
         "estimatedValue", "System.Int32"),
        ("POST", f"{C}/projects", {"json": {"title": "X", "customerId": customer,
                                            "estimatedValue": 2**31}},
         "estimatedValue", "System.Int32"),
        ("PATCH", f"{C}/customers/{customer}", {
            "headers": PATCH_JSON,
            "content": b'[{"op":"replace","path":"/status","value":1}]'},
         "status", "System.Boolean"),
        ("POST", f"{C}/users", {"json": {"firstName": "A"}}, "email", "required"),
        ("POST", f"{C}/customers", {"json": {"name": None}}, "name", "required"),
        ("POST", f"{C}/users/search", {"json": {"pageAndSortBy": {"sortBy": 9}}},
         "pageAndSortBy.sortBy", "not valid"),
        ("PUT", f"{C}/users/1001/permissions", {"json": {"permissions": [201]}},
         "permissions", "not valid"),
    ]
    for method, path, kwargs, field, words in refused:
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 400, (method, path, response.text)
        assert words in " ".join(response.json()["errors"][field]), response.text
    answers = [problem for exchange, problem in violations(ledger)
               if problem.startswith("answer")]
    assert answers == []
