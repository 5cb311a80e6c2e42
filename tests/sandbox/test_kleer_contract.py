"""The Kleer sandbox is Kleer's contract: its routes are the contract's, with the same
verbs and elements, and every answer it gives validates against the contract's answer
element (tests/contracts/kleer/checker.py: no undeclared member, every required one,
right JSON types). Traffic goes through `contract_transport`, so the suite-wide check
enforces the same on every request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from engine.sandbox.kleer import KleerSandbox, seed
from engine.sandbox.kleer.app import ROUTES
from engine.sandbox.kleer.records import KINDS, public
from engine.sandbox.platform import SandboxConfig
from tests.contracts.kleer import checker
from tests.contracts.recording import contract_transport, current_ledger
from tests.sandbox import kleer_bodies as body

K = "/v1/company/1"
HEADERS = {"x-token": "kleer-sandbox-token", "accept": "application/json",
           "content-type": "application/json"}


@pytest.fixture
def sandbox() -> KleerSandbox:
    return KleerSandbox(SandboxConfig(records=40, rate_limits=False))


@pytest.fixture
async def api(sandbox: KleerSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=contract_transport(sandbox),
                                 base_url="http://kleer.test", headers=HEADERS) as client:
        yield client


def _served(sandbox: KleerSandbox) -> set[tuple[str, str]]:
    """(method, path template) of every route the Starlette app answers (HEAD aside)."""
    [mount] = sandbox.routes()
    assert isinstance(mount, Mount)
    out: set[tuple[str, str]] = set()
    for route in mount.routes:
        assert isinstance(route, Route)
        path = route.path
        for ours, theirs in (("{record_id:int}", "{id}"), ("{foreign_id:path}", "{foreignId}"),
                             ("{start}", "{from}"), ("{end}", "{to}")):
            path = path.replace(ours, theirs)
        out |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return out


def test_the_sandbox_serves_exactly_the_contracts_routes_with_its_elements(
        sandbox: KleerSandbox) -> None:
    contract = {(r["method"], r["path"]): (r.get("request"), r.get("response"))
                for r in checker.contract()["routes"]}
    ours = {(method, path): (request, answer) for method, path, request, answer in ROUTES}
    assert ours == contract
    assert _served(sandbox) == set(contract)


async def _every_route(api: httpx.AsyncClient, sandbox: KleerSandbox) -> None:
    """One valid request on each of the 42 routes, each answered 2xx."""
    user, client, product = _uid(0), seed.base_id("client", 1), seed.base_id("product", 0)

    async def call(method: str, tail: str, json: Any = None,
                   params: dict[str, Any] | None = None) -> Any:
        response = await api.request(method, f"{K}{tail}", json=json, params=params)
        assert 200 <= response.status_code < 300, (method, tail, response.text)
        return response.json()

    for tail in ("/info", "/user", "/user/me", f"/user/{user}", "/payroll/user",
                 f"/payroll/user/{user}", f"/payroll/user/{user}/schedule/2024-12-30/to/"
                 "2025-01-05", "/payroll/schedule", "/payroll/schedule/11", "/dimension",
                 "/dimension/3/entry", "/supplier", f"/supplier/{seed.base_id('supplier', 0)}",
                 "/subcontractor", f"/subcontractor/{seed.base_id('subcontractor', 0)}",
                 "/client", f"/client/{client}", "/product", f"/product/{product}",
                 f"/client/invoice/{seed.base_id('invoice', 0)}", "/client/agreement",
                 f"/client/agreement/{seed.base_id('agreement', 0)}",
                 f"/client-project/{seed.base_id('client-project', 0)}"):
        await call("GET", tail)
    await call("GET", "/client/invoice", params={"offset": 3, "limit": 7,
                                                 "ignoreFiles": "true",
                                                 "filter": "certified"})
    await call("GET", "/client-project", params={"filter": "active"})

    made = await call("PUT", "/user", body.user(**{"foreign-id": "k-1"}))
    current = await call("GET", f"/user/{made['id']}")
    await call("POST", f"/user/{made['id']}", {**current, "active": False})
    await call("GET", "/user/foreign-id/k-1")
    await call("POST", f"/payroll/user/{user}", {"tax-table": 33, "schedules": [
        {"schedule": {"id": 12}, "start-date": "2024-01-01", "comment": ""}]})
    supplier = await call("PUT", "/supplier", body.supplier())
    current = await call("GET", f"/supplier/{supplier['id']}")
    await call("POST", f"/supplier/{supplier['id']}", {**current, "name": "Nytt AB"})
    sub = await call("PUT", "/subcontractor", {"supplier": {"id": supplier["id"]},
                                               "users": [{"id": _uid(6)}]})
    await call("POST", f"/subcontractor/{sub['id']}", {"supplier": {"id": supplier["id"]},
                                                       "users": []})
    made = await call("PUT", "/client", body.client())
    current = await call("GET", f"/client/{made['id']}")
    await call("POST", f"/client/{made['id']}", {**current, "notes": "Ny"})
    made = await call("PUT", "/product", body.product())
    current = await call("GET", f"/product/{made['id']}")
    await call("POST", f"/product/{made['id']}", {**current, "price": 100})
    await call("PUT", "/client/invoice", body.invoice(client, [body.invoice_row(product)]))
    made = await call("PUT", "/client/agreement", body.agreement(client,
                                                                 [body.agreement_row()]))
    current = await call("GET", f"/client/agreement/{made['id']}")
    await call("POST", f"/client/agreement/{made['id']}",
               {"client-agreement": {**current, "end-date": "2027-12-31"}})
    made = await call("PUT", "/client-project", body.project(client={"id": client}))
    current = await call("GET", f"/client-project/{made['id']}")
    await call("POST", f"/client-project/{made['id']}",
               {**body.writable_project(current), "comment": "Fas 2"})


def _uid(index: int) -> int:
    return seed.base_id("user", index)


async def test_every_answer_on_every_route_is_the_contracts_answer(
        api: httpx.AsyncClient, sandbox: KleerSandbox) -> None:
    await _every_route(api, sandbox)
    exchanges = current_ledger().of("kleer")
    routes = {checker.route_of(e.method, e.path) for e in exchanges}
    assert len(routes) == len(ROUTES) == 42
    problems = [p for e in exchanges for p in checker.check_response(e)]
    assert problems == []
    requests = [p for e in exchanges for p in checker.check_request(e)]
    assert requests == []


@settings(max_examples=60, deadline=None)
@given(seed_value=st.integers(0, 10_000), index=st.integers(0, 5_000))
def test_every_generated_record_is_its_readable_element(seed_value: int, index: int) -> None:
    counts = seed.KleerCounts.for_records(5_001)
    factories = {"user": seed.user_record, "supplier": seed.supplier_record,
                 "subcontractor": seed.subcontractor_record, "client": seed.client_record,
                 "product": seed.product_record, "invoice": seed.invoice_record,
                 "agreement": seed.agreement_record,
                 "client-project": seed.client_project_record}
    for name, factory in factories.items():
        record = public(factory(seed_value, index % 2_000, counts))
        assert checker.body_problems(KINDS[name].readable, record) == [], name
    contract = seed.payroll_record(seed_value, index % 1_000, counts)
    assert checker.body_problems("payroll-user-readable", public(contract)) == []
