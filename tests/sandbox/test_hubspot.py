"""The HubSpot simulator, in process through httpx.ASGITransport (plus uvicorn where the
transport matters): auth, objects, paging, search, batch, properties, associations,
rate limits, error envelopes, webhooks, workflow actions and faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.filters import props

from engine.adapters.hubspot.signatures import sign_v1, sign_v2, sign_v3
from engine.sandbox.hubspot import HubSpotSandbox, HubSpotSettings, seed
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from engine.sandbox.platform.seed import company_for

TOKEN = {"authorization": "Bearer pat-sandbox-token"}
HOOK_URL = "http://receiver.test/hubspot/webhooks"
SECRET = "hubspot-sandbox-secret"
REPO = Path(__file__).resolve().parents[2]

Make = Callable[..., HubSpotSandbox]


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def make(clock: ManualClock, receiver_client: httpx.AsyncClient) -> Make:
    def build(records: int = 20, settings: HubSpotSettings | None = None,
              **kwargs: Any) -> HubSpotSandbox:
        kwargs.setdefault("webhook_client", receiver_client)
        return HubSpotSandbox(SandboxConfig(clock=clock, records=records, **kwargs),
                              settings=settings)

    return build


def client_for(sandbox: HubSpotSandbox, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                             base_url="http://hubspot.test", headers=headers or TOKEN)


@pytest.fixture
async def sandbox(make: Make) -> HubSpotSandbox:
    return make()


@pytest.fixture
async def hs(sandbox: HubSpotSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sandbox) as client:
        yield client


async def create(hs: httpx.AsyncClient, object_type: str, **properties: Any) -> dict[str, Any]:
    response = await hs.post(f"/crm/v3/objects/{object_type}", json={"properties": properties})
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------- auth


async def test_missing_token_is_401_in_hubspot_envelope(sandbox: HubSpotSandbox,
                                                        snapshot_json: Any) -> None:
    async with client_for(sandbox, accept="application/json") as anonymous:
        response = await anonymous.get("/crm/v3/objects/companies")
    assert response.status_code == 401
    assert response.json() == snapshot_json(exclude=props("correlationId"))


async def test_wrong_token_is_401(sandbox: HubSpotSandbox) -> None:
    async with client_for(sandbox, authorization="Bearer pat-wrong") as wrong:
        response = await wrong.get("/crm/v3/objects/companies")
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


async def test_oauth_refresh_token_issues_access_tokens_that_expire(
        sandbox: HubSpotSandbox, clock: ManualClock) -> None:
    async with client_for(sandbox) as hs:
        form = {"grant_type": "refresh_token", "client_id": "hubspot-sandbox-client-id",
                "client_secret": SECRET, "refresh_token": "hubspot-sandbox-refresh-token"}
        bad = await hs.post("/oauth/v1/token", data={**form, "client_secret": "nope"})
        assert bad.status_code == 400 and bad.json()["status"] == "BAD_CLIENT_SECRET"
        issued = (await hs.post("/oauth/v1/token", data=form)).json()
        assert issued["expires_in"] == 1800
        info = await hs.get(f"/oauth/v1/access-tokens/{issued['access_token']}")
        assert info.json()["hub_id"] == 1
    async with client_for(sandbox, authorization=f"Bearer {issued['access_token']}") as oauth:
        assert (await oauth.get("/crm/v3/objects/companies")).status_code == 200
        clock.advance(1800 + 360)
        expired = await oauth.get("/crm/v3/objects/companies")
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 6 minute(s) ago" in expired.json()["message"]


# --------------------------------------------------------------------------- objects & paging


async def test_list_pages_to_the_end_with_cursor_and_link(make: Make) -> None:
    sandbox = make(records=25)
    async with client_for(sandbox) as hs:
        seen: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            params = {"limit": "10", **({"after": after} if after else {})}
            body = (await hs.get("/crm/v3/objects/companies", params=params)).json()
            pages += 1
            seen += [r["id"] for r in body["results"]]
            if "paging" not in body:
                break
            after = body["paging"]["next"]["after"]
            link = httpx.URL(body["paging"]["next"]["link"])
            assert link.params["after"] == after and link.path == "/crm/v3/objects/companies"
    assert pages == 3 and len(seen) == len(set(seen)) == 25


async def test_list_limit_above_100_is_rejected(hs: httpx.AsyncClient) -> None:
    response = await hs.get("/crm/v3/objects/companies", params={"limit": "101"})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


async def test_values_are_strings_and_timestamps_come_from_the_clock(
        hs: httpx.AsyncClient, clock: ManualClock) -> None:
    created = await create(hs, "companies", name="Ekholm Data AB", numberofemployees=12.0,
                           annualrevenue=1500000.5, kleer_payment_days=30)
    props_ = created["properties"]
    assert props_["numberofemployees"] == "12" and props_["annualrevenue"] == "1500000.5"
    assert props_["kleer_payment_days"] == "30"
    assert all(isinstance(v, str) for v in props_.values())
    assert created["createdAt"] == props_["createdate"] == "2025-01-15T09:00:00.000Z"
    clock.advance(61.25)
    patched = (await hs.patch(f"/crm/v3/objects/companies/{created['id']}",
                              json={"properties": {"phone": "08-123 45 67"}})).json()
    assert patched["updatedAt"] == patched["properties"]["hs_lastmodifieddate"] \
        == "2025-01-15T09:01:01.250Z"
    assert patched["properties"]["hs_object_id"] == created["id"]


async def test_dates_datetimes_and_booleans_are_normalised(hs: httpx.AsyncClient) -> None:
    deal = await create(hs, "deals", dealname="Avtal", closedate=1735689600000,
                        dealstage="closedwon", pipeline="default", amount=10)
    assert deal["properties"]["closedate"] == "2025-01-01T00:00:00.000Z"
    invoice = await create(hs, "invoices", hs_currency="SEK", hs_due_date=1735689600000,
                           hs_invoice_date="2025-01-02")
    assert invoice["properties"]["hs_due_date"] == "2025-01-01"
    bad = await hs.post("/crm/v3/objects/invoices", json={"properties": {
        "hs_currency": "SEK", "hs_due_date": 1735689600001}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_DATE"


async def test_get_by_id_property_and_associations(hs: httpx.AsyncClient) -> None:
    company = await create(hs, "companies", name="Vinga Analys AB", kleer_client_id="K-17")
    deal = (await hs.post("/crm/v3/objects/deals", json={
        "properties": {"dealname": "Förstudie", "dealstage": "qualifiedtobuy"},
        "associations": [{"to": {"id": company["id"]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}],
    })).json()
    found = await hs.get("/crm/v3/objects/companies/K-17", params={
        "idProperty": "kleer_client_id", "properties": "name,kleer_client_id",
        "associations": "deals"})
    body = found.json()
    assert body["id"] == company["id"] and body["properties"]["name"] == "Vinga Analys AB"
    assert body["associations"]["deals"]["results"] == [
        {"id": deal["id"], "type": "company_to_deal"}]
    not_unique = await hs.get("/crm/v3/objects/companies/x", params={"idProperty": "name"})
    assert not_unique.status_code == 400
    patched = await hs.patch("/crm/v3/objects/companies/K-17", params={
        "idProperty": "kleer_client_id"}, json={"properties": {"city": "Göteborg"}})
    assert patched.json()["id"] == company["id"]
    assert patched.json()["properties"]["city"] == "Göteborg"


async def test_requested_properties_without_value_are_null(hs: httpx.AsyncClient) -> None:
    company = await create(hs, "companies", name="Tallbo Bygg AB")
    body = (await hs.get(f"/crm/v3/objects/companies/{company['id']}",
                         params={"properties": "name,orgno,nosuchproperty"})).json()
    assert body["properties"]["orgno"] is None
    assert "nosuchproperty" not in body["properties"]


async def test_missing_record_is_404_envelope(hs: httpx.AsyncClient, snapshot_json: Any) -> None:
    response = await hs.get("/crm/v3/objects/companies/999")
    assert response.status_code == 404
    assert response.json() == snapshot_json(exclude=props("correlationId"))


async def test_unknown_object_type_is_400(hs: httpx.AsyncClient) -> None:
    response = await hs.get("/crm/v3/objects/widgets")
    assert response.status_code == 400
    assert "Unable to infer object type" in response.json()["message"]


@pytest.mark.parametrize("path", ["projects", "0-970", "agreements", "p1_agreements",
                                  "2-7000001", "line_items", "0-8", "subscriptions"])
async def test_object_types_are_reachable_by_every_name(hs: httpx.AsyncClient,
                                                        path: str) -> None:
    response = await hs.get(f"/crm/v3/objects/{path}")
    assert response.status_code == 200


@pytest.mark.parametrize(("properties", "status", "code"), [
    pytest.param({"name": "A", "nosuch": "x"}, 400, "PROPERTY_DOESNT_EXIST", id="unknown"),
    pytest.param({"numberofemployees": "many"}, 400, "INVALID_DOUBLE", id="number"),
    pytest.param({"lifecyclestage": "friend"}, 400, "INVALID_OPTION", id="enumeration"),
    pytest.param({"hs_object_id": "5"}, 400, "READ_ONLY_VALUE", id="read-only"),
    pytest.param({"hs_lastmodifieddate": "5"}, 400, "READ_ONLY_VALUE", id="modified"),
])
async def test_invalid_properties_are_rejected(hs: httpx.AsyncClient, properties: dict[str, Any],
                                               status: int, code: str) -> None:
    response = await hs.post("/crm/v3/objects/companies", json={"properties": properties})
    assert response.status_code == status
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == code
    assert body["message"].startswith("Property values were not valid")


async def test_invoice_needs_currency(hs: httpx.AsyncClient) -> None:
    response = await hs.post("/crm/v3/objects/invoices", json={"properties": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == {"propertyName": ["hs_currency"]}


async def test_duplicate_unique_value_is_409(hs: httpx.AsyncClient, snapshot_json: Any) -> None:
    await create(hs, "companies", name="A AB", kleer_client_id="7")
    other = await create(hs, "companies", name="B AB")
    again = await hs.post("/crm/v3/objects/companies",
                          json={"properties": {"name": "C AB", "kleer_client_id": "7"}})
    assert again.status_code == 409
    assert again.json() == snapshot_json(exclude=props("correlationId"))
    patch = await hs.patch(f"/crm/v3/objects/companies/{other['id']}",
                           json={"properties": {"kleer_client_id": "7"}})
    assert patch.status_code == 409


async def test_generated_companies_are_unique_by_orgno(hs: httpx.AsyncClient) -> None:
    # The unique index is learned from generated records too.
    generated = (await hs.get("/crm/v3/objects/companies/2000000000",
                              params={"properties": "orgno"})).json()
    orgno = generated["properties"]["orgno"]
    response = await hs.post("/crm/v3/objects/companies",
                             json={"properties": {"name": "Kopia AB", "orgno": orgno}})
    assert response.status_code == 409


async def test_line_item_amount_is_calculated(hs: httpx.AsyncClient) -> None:
    item = await create(hs, "line_items", name="Konsulttimme", quantity=3, price="1250",
                        discount=50)
    assert item["properties"]["amount"] == "3700"


async def test_delete_archives(hs: httpx.AsyncClient) -> None:
    company = await create(hs, "companies", name="Bort AB")
    assert (await hs.delete(f"/crm/v3/objects/companies/{company['id']}")).status_code == 204
    assert (await hs.get(f"/crm/v3/objects/companies/{company['id']}")).status_code == 404
    archived = (await hs.get(f"/crm/v3/objects/companies/{company['id']}",
                             params={"archived": "true"})).json()
    assert archived["archived"] is True and archived["archivedAt"]
    listed = (await hs.get("/crm/v3/objects/companies", params={"archived": "true"})).json()
    assert [r["id"] for r in listed["results"]] == [company["id"]]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(value=st.one_of(
    st.integers(min_value=-10**15, max_value=10**15),
    st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False,
                allow_infinity=False),
))
def test_numbers_round_trip_as_canonical_strings(value: int | Decimal) -> None:
    sandbox = HubSpotSandbox(SandboxConfig(clock=ManualClock(), records=1))

    async def roundtrip() -> str:
        async with client_for(sandbox) as hs:
            written = value if isinstance(value, int) else str(value)
            record = await create(hs, "products", name="P", price=written)
            read = await hs.get(f"/crm/v3/objects/products/{record['id']}",
                                params={"properties": "price"})
            return str(read.json()["properties"]["price"])

    text = asyncio.run(roundtrip())
    assert Decimal(text) == Decimal(value)
    assert "E" not in text and not (("." in text) and text.endswith("0"))


# --------------------------------------------------------------------------- search


async def make_products(hs: httpx.AsyncClient) -> dict[str, str]:
    ids = {}
    for name, price, sku in [("Alfa konsult", 100, "A-1"), ("Beta licens", 200, "B-2"),
                             ("Gamma support", 300, None), ("Delta konsult", 400, "D-4")]:
        extra = {"hs_sku": sku} if sku else {}
        ids[name] = (await create(hs, "products", name=name, price=price, **extra))["id"]
    return ids


@pytest.mark.parametrize(("flt", "expected"), [
    pytest.param({"operator": "EQ", "propertyName": "price", "value": "200"},
                 ["Beta licens"], id="EQ"),
    pytest.param({"operator": "NEQ", "propertyName": "price", "value": "200"},
                 ["Alfa konsult", "Gamma support", "Delta konsult"], id="NEQ"),
    pytest.param({"operator": "LT", "propertyName": "price", "value": "300"},
                 ["Alfa konsult", "Beta licens"], id="LT"),
    pytest.param({"operator": "LTE", "propertyName": "price", "value": "300"},
                 ["Alfa konsult", "Beta licens", "Gamma support"], id="LTE"),
    pytest.param({"operator": "GT", "propertyName": "price", "value": "300"},
                 ["Delta konsult"], id="GT"),
    pytest.param({"operator": "GTE", "propertyName": "price", "value": "300"},
                 ["Gamma support", "Delta konsult"], id="GTE"),
    pytest.param({"operator": "BETWEEN", "propertyName": "price", "value": "150",
                  "highValue": "300"}, ["Beta licens", "Gamma support"], id="BETWEEN"),
    pytest.param({"operator": "IN", "propertyName": "hs_sku", "values": ["a-1", "D-4"]},
                 ["Alfa konsult", "Delta konsult"], id="IN"),
    pytest.param({"operator": "NOT_IN", "propertyName": "hs_sku", "values": ["A-1"]},
                 ["Beta licens", "Gamma support", "Delta konsult"], id="NOT_IN"),
    pytest.param({"operator": "HAS_PROPERTY", "propertyName": "hs_sku"},
                 ["Alfa konsult", "Beta licens", "Delta konsult"], id="HAS_PROPERTY"),
    pytest.param({"operator": "NOT_HAS_PROPERTY", "propertyName": "hs_sku"},
                 ["Gamma support"], id="NOT_HAS_PROPERTY"),
    pytest.param({"operator": "CONTAINS_TOKEN", "propertyName": "name", "value": "konsult"},
                 ["Alfa konsult", "Delta konsult"], id="CONTAINS_TOKEN"),
    pytest.param({"operator": "CONTAINS_TOKEN", "propertyName": "name", "value": "lic*"},
                 ["Beta licens"], id="CONTAINS_TOKEN-wildcard"),
    pytest.param({"operator": "NOT_CONTAINS_TOKEN", "propertyName": "name",
                  "value": "konsult"}, ["Beta licens", "Gamma support"],
                 id="NOT_CONTAINS_TOKEN"),
])
async def test_search_operators(make: Make, flt: dict[str, Any], expected: list[str]) -> None:
    async with client_for(make(records=0)) as hs:
        await make_products(hs)
        body = (await hs.post("/crm/v3/objects/products/search", json={
            "filterGroups": [{"filters": [flt]}], "properties": ["name"],
            "sorts": [{"propertyName": "price", "direction": "ASCENDING"}]})).json()
    assert [r["properties"]["name"] for r in body["results"]] == expected
    assert body["total"] == len(expected)


async def test_search_groups_are_or_of_and(make: Make) -> None:
    async with client_for(make(records=0)) as hs:
        await make_products(hs)
        body = (await hs.post("/crm/v3/objects/products/search", json={
            "filterGroups": [
                {"filters": [{"propertyName": "price", "operator": "GT", "value": "100"},
                             {"propertyName": "name", "operator": "CONTAINS_TOKEN",
                              "value": "konsult"}]},
                {"filters": [{"propertyName": "hs_sku", "operator": "EQ", "value": "B-2"}]},
            ], "sorts": ["-price"], "properties": ["name"]})).json()
    assert [r["properties"]["name"] for r in body["results"]] == ["Delta konsult", "Beta licens"]


def _filters(n: int) -> list[dict[str, Any]]:
    return [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * n


@pytest.mark.parametrize(("groups", "fragment"), [
    pytest.param([{"filters": _filters(1)}] * 6, "filter groups", id="6-groups"),
    pytest.param([{"filters": _filters(11)}], "in a filter group", id="11-in-group"),
    pytest.param([{"filters": _filters(9)}] * 3, "25", id="27-total"),
    pytest.param([{"filters": [{"propertyName": "name", "operator": "LIKE", "value": "x"}]}],
                 "Unknown operator", id="operator"),
    pytest.param([{"filters": [{"propertyName": "nme", "operator": "EQ", "value": "x"}]}],
                 "does not exist", id="property"),
])
async def test_search_limits_are_400(hs: httpx.AsyncClient, groups: list[Any],
                                     fragment: str) -> None:
    response = await hs.post("/crm/v3/objects/companies/search", json={"filterGroups": groups})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert fragment in response.json()["message"]


async def test_search_limit_max_200(hs: httpx.AsyncClient) -> None:
    response = await hs.post("/crm/v3/objects/companies/search", json={"limit": 201})
    assert response.status_code == 400


async def test_delta_search_pages_to_the_end(make: Make, clock: ManualClock) -> None:
    sandbox = make(records=30)
    async with client_for(sandbox) as hs:
        watermark = int(clock.now().timestamp() * 1000)
        changed = []
        for n, company_id in enumerate(["2000000003", "2000000011", "2000000029"]):
            clock.advance(5)
            await hs.patch(f"/crm/v3/objects/companies/{company_id}",
                           json={"properties": {"description": f"ändrad {n}"}})
            changed.append(company_id)
        seen, after = [], None
        while True:
            body = (await hs.post("/crm/v3/objects/companies/search", json={
                "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate",
                                               "operator": "GTE", "value": str(watermark)}]}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 2, **({"after": after} if after else {})})).json()
            assert body["total"] == 3
            seen += [r["id"] for r in body["results"]]
            if "paging" not in body:
                break
            after = body["paging"]["next"]["after"]
            clock.advance(1)  # stay under the search rate limit
    assert seen == changed


async def test_search_caps_results_at_10000(make: Make) -> None:
    async with client_for(make(records=10_050)) as hs:
        last = (await hs.post("/crm/v3/objects/companies/search",
                              json={"limit": 200, "after": "9800"})).json()
        past = await hs.post("/crm/v3/objects/companies/search",
                             json={"limit": 10, "after": "10000"})
    assert last["total"] == 10_050 and len(last["results"]) == 200
    assert "paging" not in last
    assert past.status_code == 400


# --------------------------------------------------------------------------- batch


async def test_batch_create_read_update_archive(hs: httpx.AsyncClient) -> None:
    created = await hs.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"name": f"P{i}", "price": i, "kleer_product_id": f"k{i}"}}
        for i in range(3)]})
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]
    ids = [r["id"] for r in body["results"]]
    read = await hs.post("/crm/v3/objects/products/batch/read", json={
        "inputs": [{"id": "k1"}, {"id": "k9"}], "idProperty": "kleer_product_id",
        "properties": ["name"]})
    assert read.status_code == 207
    assert [r["properties"]["name"] for r in read.json()["results"]] == ["P1"]
    assert read.json()["numErrors"] == 1
    assert read.json()["errors"][0]["context"] == {"ids": ["k9"]}
    updated = await hs.post("/crm/v3/objects/products/batch/update", json={"inputs": [
        {"id": ids[0], "properties": {"price": "5"}}, {"id": "k2", "idProperty":
                                                       "kleer_product_id",
                                                       "properties": {"price": "6"}}]})
    assert updated.status_code == 200
    assert sorted(r["properties"]["price"] for r in updated.json()["results"]) == ["5", "6"]
    archived = await hs.post("/crm/v3/objects/products/batch/archive",
                             json={"inputs": [{"id": i} for i in ids]})
    assert archived.status_code == 204
    assert (await hs.get(f"/crm/v3/objects/products/{ids[0]}")).status_code == 404


async def test_batch_over_100_inputs_is_400(hs: httpx.AsyncClient,
                                            snapshot_json: Any) -> None:
    response = await hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": [
        {"idProperty": "kleer_client_id", "id": str(i), "properties": {}} for i in range(101)]})
    assert response.status_code == 400
    assert response.json() == snapshot_json(exclude=props("correlationId"))


async def test_batch_create_without_trace_ids_fails_whole(hs: httpx.AsyncClient) -> None:
    before = (await hs.post("/crm/v3/objects/products/search", json={})).json()["total"]
    response = await hs.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"name": "ok"}}, {"properties": {"price": "dyr"}}]})
    assert response.status_code == 400
    after = (await hs.post("/crm/v3/objects/products/search", json={})).json()["total"]
    assert before == after


async def test_batch_create_with_trace_ids_is_207_multi_status(hs: httpx.AsyncClient,
                                                               snapshot_json: Any) -> None:
    response = await hs.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"name": "ok", "kleer_product_id": "1"}, "objectWriteTraceId": "t1"},
        {"properties": {"price": "dyr"}, "objectWriteTraceId": "t2"},
        {"properties": {"name": "dup", "kleer_product_id": "1"}, "objectWriteTraceId": "t3"},
    ]})
    assert response.status_code == 207
    body = response.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]
    assert body["numErrors"] == 2
    assert body["errors"] == snapshot_json


async def test_batch_upsert_by_unique_property(hs: httpx.AsyncClient) -> None:
    url = "/crm/v3/objects/companies/batch/upsert"
    first = await hs.post(url, json={"inputs": [
        {"idProperty": "kleer_client_id", "id": "101", "properties": {"name": "Ett AB"}},
        {"idProperty": "kleer_client_id", "id": "102", "properties": {"name": "Två AB"}}]})
    assert first.status_code == 200
    assert [r["new"] for r in first.json()["results"]] == [True, True]
    assert first.json()["results"][0]["properties"]["kleer_client_id"] == "101"
    second = await hs.post(url, json={"inputs": [
        {"idProperty": "kleer_client_id", "id": "101", "properties": {"name": "Ett AB (nytt)"}},
        {"idProperty": "kleer_client_id", "id": "103", "properties": {"name": "Tre AB"}}]})
    results = {r["properties"]["kleer_client_id"]: r for r in second.json()["results"]}
    assert results["101"]["new"] is False and results["103"]["new"] is True
    assert results["101"]["id"] == first.json()["results"][0]["id"]
    assert results["101"]["properties"]["name"] == "Ett AB (nytt)"
    not_unique = await hs.post(url, json={"inputs": [
        {"idProperty": "name", "id": "x", "properties": {}}]})
    assert not_unique.status_code == 400
    duplicate = await hs.post(url, json={"inputs": [
        {"idProperty": "kleer_client_id", "id": "9", "properties": {}}] * 2})
    assert duplicate.status_code == 400


async def test_upsert_adopts_generated_company_by_orgno(hs: httpx.AsyncClient,
                                                        sandbox: HubSpotSandbox) -> None:
    kleer_client = company_for(sandbox.config.seed, 4)  # shared with HubSpot company 4
    response = await hs.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": [
        {"idProperty": "orgno", "id": kleer_client.orgno,
         "properties": {"kleer_client_id": "4"}}]})
    result = response.json()["results"][0]
    assert result["new"] is False and result["id"] == seed.base_id("companies", 4)
    assert result["properties"]["name"] == kleer_client.name


# --------------------------------------------------------------------------- properties


async def test_properties_api(hs: httpx.AsyncClient) -> None:
    listed = (await hs.get("/crm/v3/properties/companies")).json()["results"]
    by_name = {p["name"]: p for p in listed}
    assert by_name["kleer_client_id"]["hasUniqueValue"] is True
    assert by_name["name"]["hasUniqueValue"] is False
    new = {"name": "kleer_segment", "label": "Segment", "type": "enumeration",
           "fieldType": "select", "groupName": "kleer",
           "options": [{"label": "Stor", "value": "stor"}, {"label": "Liten", "value": "liten"}]}
    created = await hs.post("/crm/v3/properties/companies", json=new)
    assert created.status_code == 201 and created.json()["hasUniqueValue"] is False
    again = await hs.post("/crm/v3/properties/companies", json=new)
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    company = await create(hs, "companies", name="S AB", kleer_segment="stor")
    assert company["properties"]["kleer_segment"] == "stor"
    wrong = await hs.post("/crm/v3/objects/companies",
                          json={"properties": {"kleer_segment": "mellan"}})
    assert wrong.status_code == 400
    one = await hs.get("/crm/v3/properties/companies/kleer_segment")
    assert one.json()["options"][1]["value"] == "liten"


def test_every_adapter_catalog_field_exists_in_the_sandbox() -> None:
    catalog = json.loads((REPO / "engine/adapters/hubspot/catalog.json").read_text())
    missing = [
        f"{object_name}.{name}"
        for object_name, obj in catalog["objects"].items()
        for name in obj["fields"]
        if name not in ("id", "associations")
        and name not in {p.name for p in seed.PROPERTIES[object_name]}
    ]
    assert missing == []


async def test_custom_object_schema(hs: httpx.AsyncClient) -> None:
    schema = (await hs.get("/crm-object-schemas/v3/schemas/agreements")).json()
    assert schema["fullyQualifiedName"] == "p1_agreements"
    assert schema["objectTypeId"].startswith("2-")
    agreement = await create(hs, schema["objectTypeId"], name="Ramavtal",
                             kleer_agreement_id="A1", invoice_interval_months=3)
    assert agreement["properties"]["invoice_interval_months"] == "3"


# --------------------------------------------------------------------------- associations v4


async def test_associations_v4(hs: httpx.AsyncClient) -> None:
    company = await create(hs, "companies", name="Assoc AB")
    deal = await create(hs, "deals", dealname="Affär")
    base = f"/crm/v4/objects/deals/{deal['id']}/associations"
    put = await hs.put(f"{base}/default/companies/{company['id']}")
    assert put.status_code == 200
    rows = (await hs.get(f"{base}/companies")).json()["results"]
    assert rows == [{"toObjectId": company["id"], "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]}]
    back = (await hs.get(f"/crm/v4/objects/companies/{company['id']}/associations/deals"))
    assert back.json()["results"][0]["associationTypes"][0]["typeId"] == 342
    labelled = await hs.put(f"{base}/companies/{company['id']}", json=[
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    assert labelled.status_code == 201
    types = (await hs.get(f"{base}/companies")).json()["results"][0]["associationTypes"]
    assert [(t["typeId"], t["label"]) for t in types] == [(5, "Primary"), (341, None)]
    wrong = await hs.put(f"{base}/companies/{company['id']}", json=[
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}])
    assert wrong.status_code == 400
    assert (await hs.delete(f"{base}/companies/{company['id']}")).status_code == 204
    assert (await hs.get(f"{base}/companies")).json()["results"] == []


async def test_associations_v4_batch(hs: httpx.AsyncClient) -> None:
    invoice = await create(hs, "invoices", hs_currency="SEK")
    items = [await create(hs, "line_items", name=f"rad {i}", quantity=1, price=10)
             for i in range(2)]
    created = await hs.post("/crm/v4/associations/invoices/line_items/batch/create", json={
        "inputs": [{"from": {"id": invoice["id"]}, "to": {"id": item["id"]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}]}
            for item in items] + [{"from": {"id": invoice["id"]}, "to": {"id": "404"},
                                   "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                              "associationTypeId": 409}]}]})
    assert created.status_code == 207 and created.json()["numErrors"] == 1
    read = (await hs.post("/crm/v4/associations/invoices/line_items/batch/read",
                          json={"inputs": [{"id": invoice["id"]}]})).json()
    assert sorted(r["toObjectId"] for r in read["results"][0]["to"]) == \
        sorted(i["id"] for i in items)
    default = await hs.post("/crm/v4/associations/line_items/deals/batch/associate/default",
                            json={"inputs": [{"from": {"id": items[0]["id"]},
                                              "to": {"id": "3000000000"}}]})
    assert default.status_code == 200


async def test_generated_records_carry_associations(hs: httpx.AsyncClient) -> None:
    rows = (await hs.get("/crm/v4/objects/deals/3000000000/associations/companies")).json()
    assert rows["results"][0]["toObjectId"] == "2000000001"
    assert {t["typeId"] for t in rows["results"][0]["associationTypes"]} == {5, 341}


# --------------------------------------------------------------------------- rate limits & errors


async def test_ten_second_limit_answers_429_with_headers(make: Make, clock: ManualClock,
                                                         snapshot_json: Any) -> None:
    sandbox = make(settings=HubSpotSettings(burst_limit=3))
    async with client_for(sandbox) as hs:
        ok = [await hs.get("/crm/v3/objects/companies") for _ in range(3)]
        assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in ok] == ["2", "1", "0"]
        assert ok[0].headers["X-HubSpot-RateLimit-Max"] == "3"
        assert ok[0].headers["X-HubSpot-RateLimit-Daily"] == "650000"
        refused = await hs.get("/crm/v3/objects/companies")
        assert refused.status_code == 429
        assert refused.json() == snapshot_json(exclude=props("correlationId"))
        assert refused.headers["Retry-After"] == "10"
        clock.advance(10)
        assert (await hs.get("/crm/v3/objects/companies")).status_code == 200


async def test_search_has_its_own_secondly_limit(hs: httpx.AsyncClient,
                                                 clock: ManualClock) -> None:
    answers = [await hs.post("/crm/v3/objects/companies/search", json={}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-HubSpot-RateLimit-Secondly"] == "5"
    assert answers[5].json()["policyName"] == "SECONDLY"
    clock.advance(1)
    assert (await hs.post("/crm/v3/objects/companies/search", json={})).status_code == 200


async def test_rate_limits_can_be_switched_off(make: Make) -> None:
    async with client_for(make(rate_limits=False,
                               settings=HubSpotSettings(burst_limit=1))) as hs:
        statuses = {(await hs.get("/crm/v3/objects/companies")).status_code for _ in range(3)}
    assert statuses == {200}


async def test_error_fault_uses_hubspot_envelope(make: Make) -> None:
    sandbox = make(faults=Faults(error_rate=1.0, seed=3))
    async with client_for(sandbox) as hs:
        response = await hs.get("/crm/v3/objects/companies")
        health = await hs.get("/_sandbox/health")
    assert response.status_code in (500, 502, 503)
    assert response.json()["status"] == "error" and response.json()["correlationId"]
    assert health.status_code == 200 and health.json()["objects"]["companies"] == 20


async def test_burst_429_fault_uses_hubspot_429(make: Make) -> None:
    async with client_for(make(faults=Faults(burst_429=2))) as hs:
        statuses = [(await hs.get("/crm/v3/objects/companies")) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].json()["category"] == "RATE_LIMITS"


async def test_drop_fault_surfaces_as_transport_error_after_the_write(make: Make) -> None:
    sandbox = make(faults=Faults(drop_rate=1.0))
    async with client_for(sandbox) as hs:
        with pytest.raises(httpx.TransportError):
            await hs.post("/crm/v3/objects/companies",
                          json={"properties": {"name": "Kanske AB"}})
    assert any(r["properties"].get("name") == "Kanske AB" for r in sandbox.records("companies"))


def test_drop_and_timeout_faults_over_uvicorn(clock: ManualClock, loopback: Any) -> None:
    sandbox = HubSpotSandbox(SandboxConfig(clock=clock, records=5,
                                           faults=Faults(drop_rate=1.0)))
    with loopback(sandbox.app) as url, httpx.Client(base_url=url, headers=TOKEN) as hs:
        with pytest.raises(httpx.RemoteProtocolError):
            hs.get("/crm/v3/objects/companies")
        sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=2.0))
        with pytest.raises(httpx.ReadTimeout):
            hs.post("/crm/v3/objects/companies", json={"properties": {"name": "Sen AB"}},
                    timeout=0.3)
        sandbox.set_faults(Faults())
        found = hs.post("/crm/v3/objects/companies/search", json={"filterGroups": [
            {"filters": [{"propertyName": "name", "operator": "EQ", "value": "Sen AB"}]}]})
    assert found.json()["total"] == 1  # processed although the client gave up


# --------------------------------------------------------------------------- webhooks


async def register(hs: httpx.AsyncClient) -> None:
    response = await hs.post("/_sandbox/webhooks/register", json={"url": HOOK_URL})
    assert response.status_code == 201


async def test_property_change_webhook_is_signed_batch(hs: httpx.AsyncClient,
                                                       sandbox: HubSpotSandbox,
                                                       receiver: Any,
                                                       snapshot_json: Any) -> None:
    await register(hs)
    await hs.patch("/crm/v3/objects/companies/2000000002",
                   json={"properties": {"name": "Nytt Namn AB", "lifecyclestage": "other"}})
    await sandbox.webhooks.drain()
    assert len(receiver.received) == 1
    _, headers, body = receiver.received[0]
    events = json.loads(body)
    assert events == snapshot_json(exclude=props("eventId"))  # lifecyclestage: no trigger
    timestamp = int(headers["x-hubspot-request-timestamp"])
    assert timestamp == int(sandbox.clock.now().timestamp() * 1000)
    assert headers["x-hubspot-signature-v3"] == sign_v3(SECRET, "POST", HOOK_URL, body,
                                                        timestamp)
    assert headers["x-hubspot-signature"] == sign_v1(SECRET, body)
    assert headers["x-hubspot-signature-version"] == "v1"


async def test_ui_edit_is_crm_ui_and_noop_fires_nothing(hs: httpx.AsyncClient,
                                                        sandbox: HubSpotSandbox,
                                                        receiver: Any) -> None:
    await register(hs)
    current = (await hs.get("/crm/v3/objects/companies/2000000001")).json()
    await hs.patch("/crm/v3/objects/companies/2000000001",
                   json={"properties": {"name": current["properties"]["name"]}})
    ui = await hs.patch("/_sandbox/records/companies/2000000001",
                        json={"properties": {"phone": "08-765 43 21"}})
    assert ui.status_code == 200
    await sandbox.webhooks.drain()
    events = [e for batch in receiver.bodies() for e in batch]
    assert [(e["propertyName"], e["changeSource"], e["sourceId"]) for e in events] == [
        ("phone", "CRM_UI", "userId:1")]


async def test_creation_and_generic_object_events(hs: httpx.AsyncClient,
                                                  sandbox: HubSpotSandbox,
                                                  receiver: Any) -> None:
    await register(hs)
    company = await create(hs, "companies", name="Ny AB", orgno="556677-8899")
    project = await create(hs, "projects", hs_name="Införande", hs_status="IN_PROGRESS")
    await sandbox.webhooks.drain()
    events = [e for batch in receiver.bodies() for e in batch]
    kinds = [(e["subscriptionType"], e.get("propertyName"), e["objectId"]) for e in events]
    assert ("company.creation", None, int(company["id"])) in kinds
    assert ("company.propertyChange", "orgno", int(company["id"])) in kinds
    project_events = [e for e in events if e["objectId"] == int(project["id"])]
    assert {e["propertyName"] for e in project_events} == {"hs_name", "hs_status"}
    assert all(e["subscriptionType"] == "object.propertyChange"
               and e["objectTypeId"] == "0-970" for e in project_events)


async def test_deliveries_hold_at_most_100_events(hs: httpx.AsyncClient,
                                                  sandbox: HubSpotSandbox,
                                                  receiver: Any) -> None:
    await register(hs)
    await hs.post("/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": seed.base_id("companies", i), "properties": {"name": f"N{i}", "city": "Lund"}}
        for i in range(20)]})
    sandbox.max_events_per_delivery = 15
    await hs.post("/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": seed.base_id("companies", i), "properties": {"name": f"M{i}"}}
        for i in range(20)]})
    await sandbox.webhooks.drain()
    sizes = [len(b) for b in receiver.bodies()]
    assert sum(sizes[:1]) <= 100 and sizes[0] >= 20  # the first request's events, one POST
    assert sizes[-2:] == [15, 5]
    ids = [e["eventId"] for b in receiver.bodies() for e in b]
    assert len(ids) == len(set(ids))


async def test_failed_delivery_is_retried_with_attempt_number(hs: httpx.AsyncClient,
                                                             sandbox: HubSpotSandbox,
                                                             receiver: Any) -> None:
    await register(hs)
    receiver.statuses = [503, 429]
    await hs.patch("/crm/v3/objects/companies/2000000001",
                   json={"properties": {"city": "Umeå"}})
    await sandbox.webhooks.drain()
    attempts = receiver.bodies()
    assert [b[0]["attemptNumber"] for b in attempts] == [0, 1, 2]
    assert len({b[0]["eventId"] for b in attempts}) == 1
    for _, headers, body in receiver.received:
        timestamp = int(headers["x-hubspot-request-timestamp"])
        assert headers["x-hubspot-signature-v3"] == sign_v3(SECRET, "POST", HOOK_URL, body,
                                                            timestamp)


async def test_4xx_answer_is_not_retried(hs: httpx.AsyncClient, sandbox: HubSpotSandbox,
                                         receiver: Any) -> None:
    await register(hs)
    receiver.statuses = [400]
    await hs.patch("/crm/v3/objects/companies/2000000001", json={"properties": {"zip": "1"}})
    await sandbox.webhooks.drain()
    assert len(receiver.received) == 1


async def test_duplicate_fault_repeats_event_ids(make: Make, receiver: Any) -> None:
    sandbox = make(faults=Faults(webhook_duplicate_rate=1.0))
    async with client_for(sandbox) as hs:
        await register(hs)
        await hs.patch("/crm/v3/objects/companies/2000000001",
                       json={"properties": {"zip": "114 55"}})
        await sandbox.webhooks.drain()
    bodies = receiver.bodies()
    assert len(bodies) == 2 and bodies[0] == bodies[1]


async def test_reorder_fault_shuffles_a_batch_window(make: Make, receiver: Any) -> None:
    sandbox = make(faults=Faults(webhook_reorder=True, seed=5))
    async with client_for(sandbox) as hs:
        await register(hs)
        sandbox.max_events_per_delivery = 1
        await hs.post("/crm/v3/objects/companies/batch/update", json={"inputs": [
            {"id": seed.base_id("companies", i), "properties": {"city": f"Ort {i}"}}
            for i in range(8)]})
        await sandbox.webhooks.drain()
    order = [b[0]["objectId"] for b in receiver.bodies()]
    assert sorted(order) == sorted(set(order)) and order != sorted(order)


async def test_webhooks_api_manages_settings_and_subscriptions(hs: httpx.AsyncClient,
                                                               sandbox: HubSpotSandbox,
                                                               receiver: Any) -> None:
    key = {"hapikey": "hubspot-sandbox-developer-key"}
    assert (await hs.get("/webhooks/v3/1/settings", params=key)).status_code == 404
    put = await hs.put("/webhooks/v3/1/settings", params=key,
                       json={"targetUrl": HOOK_URL, "throttling": {"maxConcurrentRequests": 5}})
    assert put.status_code == 200 and put.json()["targetUrl"] == HOOK_URL
    listed = (await hs.get("/webhooks/v3/1/subscriptions", params=key)).json()["results"]
    for sub in listed:
        await hs.patch(f"/webhooks/v3/1/subscriptions/{sub['id']}", params=key,
                       json={"active": False})
    created = await hs.post("/webhooks/v3/1/subscriptions", params=key, json={
        "eventType": "deal.propertyChange", "propertyName": "amount", "active": True})
    assert created.status_code == 201
    bad = await hs.post("/webhooks/v3/1/subscriptions", params=key,
                        json={"eventType": "object.propertyChange"})
    assert bad.status_code == 400
    await hs.patch("/crm/v3/objects/deals/3000000001", json={"properties": {"amount": 1}})
    await hs.patch("/crm/v3/objects/companies/2000000001", json={"properties": {"zip": "1"}})
    await sandbox.webhooks.drain()
    events = [e for b in receiver.bodies() for e in b]
    assert [(e["subscriptionType"], e["propertyName"], e["propertyValue"]) for e in events] \
        == [("deal.propertyChange", "amount", "1")]
    assert events[0]["subscriptionId"] == int(created.json()["id"])


async def test_webhooks_api_needs_developer_key(hs: httpx.AsyncClient,
                                                sandbox: HubSpotSandbox) -> None:
    async with client_for(sandbox, accept="application/json") as anonymous:
        refused = await anonymous.get("/webhooks/v3/1/subscriptions")
    assert refused.status_code == 401


async def test_control_subscription_with_target(hs: httpx.AsyncClient,
                                                sandbox: HubSpotSandbox,
                                                receiver: Any) -> None:
    await hs.delete("/_sandbox/webhooks/subscriptions")
    sub = await hs.post("/_sandbox/webhooks/subscriptions", json={
        "targetUrl": HOOK_URL, "subscriptionType": "object.propertyChange",
        "objectTypeId": "0-7"})
    assert sub.status_code == 201
    await hs.patch("/crm/v3/objects/products/7000000000", json={"properties": {"price": 7}})
    await sandbox.webhooks.drain()
    events = [e for b in receiver.bodies() for e in b]
    assert [(e["propertyName"], e["objectTypeId"]) for e in events] == [("price", "0-7")]


async def test_subscriptions_take_the_sdk_event_types_only(hs: httpx.AsyncClient) -> None:
    key = {"hapikey": "hubspot-sandbox-developer-key"}
    privacy = await hs.post("/webhooks/v3/1/subscriptions", params=key,
                            json={"eventType": "contact.privacyDeletion"})
    assert privacy.status_code == 201
    assert set(privacy.json()) == {"id", "eventType", "active", "createdAt", "updatedAt"}
    for body in ({"eventType": "project.creation"}, {"eventType": "product.associationChange"},
                 {"subscriptionType": "company.creation"}):  # not the SDK's field name
        assert (await hs.post("/webhooks/v3/1/subscriptions", params=key,
                              json=body)).status_code == 400, body


async def test_developer_routes_take_the_developer_key_not_a_token(hs: httpx.AsyncClient
                                                                   ) -> None:
    assert (await hs.get("/webhooks/v3/1/subscriptions")).status_code == 401
    assert (await hs.get("/automation/v4/actions/1")).status_code == 401
    assert (await hs.get("/webhooks/v3/1/subscriptions",
                         params={"hapikey": "wrong"})).status_code == 401


async def test_webhook_settings_need_throttling_and_echo_only_its_fields(
        hs: httpx.AsyncClient) -> None:
    key = {"hapikey": "hubspot-sandbox-developer-key"}
    bare = await hs.put("/webhooks/v3/1/settings", params=key, json={"targetUrl": HOOK_URL})
    assert bare.status_code == 400
    put = await hs.put("/webhooks/v3/1/settings", params=key, json={
        "targetUrl": HOOK_URL, "throttling": {"maxConcurrentRequests": 7}})
    assert put.json()["throttling"] == {"maxConcurrentRequests": 7}
    assert set(put.json()) == {"targetUrl", "throttling", "createdAt", "updatedAt"}


async def test_merge_keeps_the_primary_and_moves_what_it_lacks(hs: httpx.AsyncClient,
                                                               sandbox: HubSpotSandbox,
                                                               receiver: Any) -> None:
    await register(hs)
    await hs.post("/_sandbox/webhooks/subscriptions", json={"eventType": "company.merge"})
    primary = await create(hs, "companies", name="Kvar AB")
    other = await create(hs, "companies", name="Borta AB", city="Visby",
                         kleer_client_id="K-9")
    deal = await create(hs, "deals", dealname="Affär")
    await hs.put(f"/crm/v4/objects/companies/{other['id']}/associations/default/deals/"
                 f"{deal['id']}")
    merged = await hs.post("/crm/v3/objects/companies/merge", json={
        "primaryObjectId": primary["id"], "objectIdToMerge": other["id"]})
    assert merged.status_code == 200
    props = merged.json()["properties"]
    assert (merged.json()["id"], props["name"], props["city"], props["kleer_client_id"]) == \
        (primary["id"], "Kvar AB", "Visby", "K-9")
    assert (await hs.get(f"/crm/v3/objects/companies/{other['id']}")).status_code == 404
    rows = (await hs.get(f"/crm/v4/objects/companies/{primary['id']}/associations/deals"))
    assert [r["toObjectId"] for r in rows.json()["results"]] == [deal["id"]]
    await sandbox.webhooks.drain()
    [event] = [e for body in receiver.bodies() for e in body
               if e["subscriptionType"] == "company.merge"]
    assert (event["primaryObjectId"], event["mergedObjectIds"], event["newObjectId"],
            event["numberOfPropertiesMoved"]) == (int(primary["id"]), [int(other["id"])],
                                                  int(primary["id"]), 2)


async def test_gdpr_delete_removes_a_contact_for_good(hs: httpx.AsyncClient) -> None:
    contact = await create(hs, "contacts", email="glom@example.com")
    gone = await hs.post("/crm/v3/objects/contacts/gdpr-delete",
                         json={"objectId": contact["id"]})
    assert gone.status_code == 204
    for archived in ("false", "true"):
        response = await hs.get(f"/crm/v3/objects/contacts/{contact['id']}",
                                params={"archived": archived})
        assert response.status_code == 404


async def test_association_batch_archive_takes_a_list_of_targets(hs: httpx.AsyncClient
                                                                ) -> None:
    deal = await create(hs, "deals", dealname="Tre bolag")
    companies = [await create(hs, "companies", name=f"Bolag {i}") for i in range(3)]
    base = "/crm/v4/associations/deals/companies/batch"
    await hs.post(f"{base}/create", json={"inputs": [
        {"from": {"id": deal["id"]}, "to": {"id": c["id"]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}
        for c in companies]})
    archived = await hs.post(f"{base}/archive", json={"inputs": [
        {"from": {"id": deal["id"]}, "to": [{"id": c["id"]} for c in companies[:2]]}]})
    assert archived.status_code == 204
    read = (await hs.post(f"{base}/read", json={"inputs": [{"id": deal["id"]}]})).json()
    assert [r["toObjectId"] for r in read["results"][0]["to"]] == [companies[2]["id"]]


# --------------------------------------------------------------------------- workflow actions


class ActionApp:
    """The integration's action endpoint: records calls, answers with queued outputs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []

        async def act(request: Request) -> Response:
            self.calls.append((str(request.url), dict(request.headers), await request.body()))
            status, body = self.answers.pop(0) if self.answers else (
                200, {"outputFields": {"hs_execution_state": "BLOCK"}})
            return JSONResponse(body, status_code=status)

        self.app = Starlette(routes=[Route("/{path:path}", act, methods=["POST"])])


@pytest.fixture
async def actions(make: Make) -> AsyncIterator[tuple[HubSpotSandbox, ActionApp,
                                                     httpx.AsyncClient]]:
    action_app = ActionApp()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=action_app.app)) as out:
        sandbox = make(webhook_client=out)
        async with client_for(sandbox) as hs:
            yield sandbox, action_app, hs


ACTION_URL = "http://integration.test/hubspot/actions/create-kleer-client"


async def define(hs: httpx.AsyncClient) -> str:
    response = await hs.post("/automation/v4/actions/1", params={
        "hapikey": "hubspot-sandbox-developer-key"}, json={
        "actionUrl": ACTION_URL, "objectTypes": ["COMPANY"], "published": True,
        "objectRequestOptions": {"properties": ["name", "orgno"]},
        "inputFields": [{"typeDefinition": {"name": "kleer_template", "type": "string"},
                         "isRequired": False}]})
    assert response.status_code == 201
    return str(response.json()["id"])


async def test_action_execution_is_signed_v2_and_v3(actions: Any, snapshot_json: Any) -> None:
    _, action_app, hs = actions
    definition = await define(hs)
    fired = await hs.post(f"/_sandbox/actions/{definition}/fire", json={
        "objectId": "2000000004", "inputFields": {"kleer_template": "standard"},
        "workflowId": 42})
    assert fired.status_code == 201
    execution = fired.json()
    assert execution["state"] == "BLOCK"
    url, headers, body = action_app.calls[0]
    assert url == ACTION_URL
    assert headers["x-hubspot-signature"] == sign_v2(SECRET, "POST", ACTION_URL, body)
    assert headers["x-hubspot-signature-version"] == "v2"
    timestamp = int(headers["x-hubspot-request-timestamp"])
    assert headers["x-hubspot-signature-v3"] == sign_v3(SECRET, "POST", ACTION_URL, body,
                                                        timestamp)
    assert json.loads(body) == snapshot_json


async def test_action_callback_completes_and_retry_resends_same_callback(actions: Any) -> None:
    _, action_app, hs = actions
    definition = await define(hs)
    action_app.answers = [(503, {"message": "busy"})]
    execution = (await hs.post(f"/_sandbox/actions/{definition}/fire",
                               json={"objectId": "2000000000"})).json()
    callback = execution["callbackId"]
    assert execution["state"] == "FAILED"
    retried = (await hs.post(f"/_sandbox/actions/executions/{callback}/retry")).json()
    assert [a["status"] for a in retried["attempts"]] == [503, 200]
    assert retried["state"] == "BLOCK"
    assert action_app.calls[0][2] == action_app.calls[1][2]  # the same execution, twice
    done = await hs.post(f"/automation/v4/actions/callbacks/{callback}/complete", json={
        "outputFields": {"hs_execution_state": "SUCCESS", "kleer_client_id": "77"}})
    assert done.status_code == 204
    stored = (await hs.get(f"/_sandbox/actions/executions/{callback}")).json()
    assert stored["state"] == "SUCCESS"
    assert stored["completions"][0]["kleer_client_id"] == "77"
    unknown = await hs.post("/automation/v4/actions/callbacks/ap-0/complete",
                            json={"outputFields": {"hs_execution_state": "SUCCESS"}})
    assert unknown.status_code == 404
    invalid = await hs.post(f"/automation/v4/actions/callbacks/{callback}/complete",
                            json={"outputFields": {"hs_execution_state": "DONE"}})
    assert invalid.status_code == 400


async def test_action_batch_complete(actions: Any) -> None:
    _, _, hs = actions
    definition = await define(hs)
    callbacks = [(await hs.post(f"/_sandbox/actions/{definition}/fire",
                                json={"objectId": seed.base_id("companies", i)})).json()
                 ["callbackId"] for i in range(3)]
    assert len(set(callbacks)) == 3
    response = await hs.post("/automation/v4/actions/callbacks/complete", json={"inputs": [
        {"callbackId": c, "outputFields": {"hs_execution_state": "FAIL_CONTINUE"}}
        for c in callbacks]})
    assert response.status_code == 204
    listed = (await hs.get("/_sandbox/actions/executions")).json()["results"]
    assert {e["state"] for e in listed} == {"FAIL_CONTINUE"}


# --------------------------------------------------------------------------- seed


def test_seed_is_deterministic_and_matches_kleer_companies() -> None:
    one, two = (HubSpotSandbox(SandboxConfig(clock=ManualClock(), records=40, seed=9))
                for _ in range(2))
    assert list(one.records("companies")) == list(two.records("companies"))
    companies = list(one.records("companies"))
    shared = [c for i, c in enumerate(companies) if i % 4 != 3]
    assert all(c["properties"]["orgno"] == company_for(9, seed.base_index(
        "companies", c["id"]) or 0).orgno for c in shared)
    prospects = [c for i, c in enumerate(companies) if i % 4 == 3]
    kleer_orgnos = {company_for(9, i).orgno for i in range(40)}
    assert not any(c["properties"].get("orgno") in kleer_orgnos for c in prospects)
    assert all(isinstance(v, str) for c in companies for v in c["properties"].values())
