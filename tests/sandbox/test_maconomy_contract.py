"""The Maconomy simulator is the contract: every route it serves is one real clients use,
and every answer it gives validates against the answer models in
tests/contracts/maconomy/checker.py (`check_response`).

The routes outside the confirmed contract (the current API's filter resource and
specification path) are served only when `MaconomySettings` says the tenant has them,
and each is the route of the connection option of the same name.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from engine.sandbox.maconomy import MaconomySandbox, MaconomySettings, seed
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from tests.contracts.maconomy import checker
from tests.contracts.recording import ContractTransport, Ledger

BASIC = "Basic " + base64.b64encode(b"sandbox:sandbox-password").decode()
LOGIN = {"Authorization": BASIC, "Maconomy-Authentication": "X-Reconnect"}
V1 = "/containers/v1/sandbox"
CURRENT = "/maconomy-api/containers/sandbox"
CONTAINERS_ACCEPT = "application/vnd.deltek.maconomy.containers+json; version=5.0"
EVERYTHING = MaconomySettings(filter_endpoint=True, specification_path=True)

# A concrete request for each route template the simulator serves.
SAMPLES = {
    "/maconomy-api/auth/{shortname}": "/maconomy-api/auth/sandbox",
    "/containers/v1/{shortname}/{container}": f"{V1}/jobs",
    "/containers/v1/{shortname}/{container}/specification": f"{V1}/jobs/specification",
    "/containers/v1/{shortname}/{container}/filter": f"{V1}/jobs/filter",
    "/maconomy-api/containers/{shortname}/{container}/filter": f"{CURRENT}/jobs/filter",
    "/maconomy-api/containers/{shortname}/{container}": f"{CURRENT}/jobs",
}


def served(sandbox: MaconomySandbox) -> list[tuple[str, str]]:
    """(method, route template) of every Maconomy route (not the catch-all, not HEAD)."""
    return [(method, route.path) for route in sandbox.routes()
            if isinstance(route, Route) and route.path != "/{path:path}"
            for method in sorted(route.methods or ()) if method != "HEAD"]


def test_every_served_route_is_in_the_contract() -> None:
    for tenant, unconfirmed in ((MaconomySettings(), set()),
                                (EVERYTHING, {"filter_endpoint", "specification_path"})):
        options_of_routes = set()
        for method, template in served(MaconomySandbox(settings=tenant)):
            found = checker._match(SAMPLES[template])
            assert found is not None, template
            route, _ = found
            assert method in route.methods, (method, template)
            if route.option:
                options_of_routes.add(route.option)
                assert getattr(tenant, route.option) is True
            else:
                assert checker.route_of(method, SAMPLES[template]) == route.name
        assert options_of_routes == unconfirmed


def _problems(ledger: Ledger) -> list[str]:
    return [f"{e.method} {e.path} -> {e.status}: {p}" for e in ledger.exchanges
            for p in checker.check_response(e)]


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, Ledger, MaconomySandbox]]:
    sandbox = MaconomySandbox(SandboxConfig(records=60, clock=ManualClock(), defect_rate=0.1),
                              settings=EVERYTHING)
    ledger = Ledger()
    transport = ContractTransport(httpx.ASGITransport(app=sandbox.app), "maconomy", ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://maconomy.test") as c:
        yield c, ledger, sandbox


async def test_every_route_answers_with_the_real_models(client) -> None:
    http, ledger, sandbox = client
    login = await http.get("/maconomy-api/auth/sandbox", headers=LOGIN)
    token = {"Authorization": f"X-Reconnect {login.headers['maconomy-reconnect']}"}
    v1 = {**token, "Accept": "application/json"}
    current = {**token, "Accept": CONTAINERS_ACCEPT, "Content-Type": CONTAINERS_ACCEPT}
    for container in ("customercard", "jobs"):
        resource = (await http.get(f"{V1}/{container}", headers=v1)).json()
        links = resource["links"]
        await http.get(links["specification"]["href"], headers=v1)
        await http.get(links["data:filter"]["href"], headers=v1)
        await http.get(links["data:filter"]["href"], headers=v1, params={
            "restriction": "region='north'", "limit": 3, "offset": 2,
            "fields": "region,transactiontimestamp", "orderby": "-transactiontimestamp"})
        await http.get(f"{CURRENT}/{container}", headers=current)
        await http.post(f"{CURRENT}/{container}/filter", headers=current,
                        json={"restriction": "region='south'", "limit": 4, "offset": 1,
                              "fields": ["region"]})
    # Errors, each in the envelope.
    await http.get(f"{V1}/jobs/filter", headers=v1, params={"restriction": "nmae1='x'"})
    await http.get(f"{V1}/jobs/filter", headers={"Accept": "application/json"})
    await http.get(f"{V1}/invoices", headers=v1)
    await http.get("/containers/v1/elsewhere/jobs", headers=v1)
    await http.get(f"{CURRENT}/jobs", headers={
        **current, "Accept": "application/vnd.deltek.maconomy.containers+json; version=9.0"})
    await http.post(f"{V1}/jobs/filter", headers=v1)
    await http.get("/maconomy-api/nowhere", headers=v1)
    sandbox.set_faults(Faults(burst_429=1))
    await http.get(f"{V1}/jobs", headers=v1)
    sandbox.set_faults(Faults(error_rate=1.0))
    await http.get(f"{V1}/jobs", headers=v1)
    statuses = {e.status for e in ledger.exchanges}
    assert {200, 204, 400, 401, 404, 405, 406, 429} <= statuses
    assert statuses & {500, 502, 503}
    assert _problems(ledger) == []


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(restriction=st.sampled_from([None, "region='north'", "(jobtype='T&M' or jobtype='Fixed')",
                                    "true", "jobtype='None'"]),
       limit=st.integers(0, 30), offset=st.integers(0, 70),
       fields=st.none() | st.lists(st.sampled_from(seed.JOB_FIELDS), min_size=1, max_size=4,
                                   unique=True),
       orderby=st.sampled_from([None, "+jobnumber", "-transactiontimestamp,+jobnumber"]))
async def test_filter_answers_keep_the_model_whatever_is_asked(
        client, restriction: str | None, limit: int, offset: int, fields: list[str] | None,
        orderby: str | None) -> None:
    http, ledger, _ = client
    ledger.clear()
    params: dict[str, object] = {"limit": limit, "offset": offset}
    if restriction:
        params["restriction"] = restriction
    if fields:
        params["fields"] = ",".join(fields)
    if orderby:
        params["orderby"] = orderby
    response = await http.get(f"{V1}/jobs/filter", params=params,
                              headers={"Authorization": BASIC, "Accept": "application/json"})
    assert response.status_code == 200
    meta = response.json()["panes"]["filter"]["meta"]
    assert meta["rowOffset"] == offset and meta["rowCount"] <= limit
    assert _problems(ledger) == []
