"""Contract test: HubSpot's official Python SDK (hubspot-api-client) against the simulator
served by uvicorn on loopback. If the SDK's generated models can parse our answers and
its signature utility accepts our signatures, adapters built on the real API shapes
will too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import ApiException
from hubspot.crm.deals import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.deals import (
    SimplePublicObjectInputForCreate as DealInput,
)
from hubspot.crm.line_items import (
    BatchInputSimplePublicObjectBatchInputForCreate as LineItemBatch,
)
from hubspot.crm.line_items import (
    SimplePublicObjectBatchInputForCreate as LineItemInput,
)
from hubspot.crm.products import (
    BatchInputSimplePublicObjectBatchInputUpsert as ProductUpsertBatch,
)
from hubspot.crm.products import (
    SimplePublicObjectBatchInputUpsert as ProductUpsert,
)
from hubspot.utils.signature import Signature

from engine.adapters.hubspot.signatures import sign_v1, sign_v2, sign_v3
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.platform import SandboxConfig, SystemClock

SECRET = "hubspot-sandbox-secret"


@pytest.fixture
def served(loopback: Any) -> Iterator[tuple[HubSpotSandbox, str, hubspot.HubSpot]]:
    # The SDK checks v3 timestamps against the wall clock, so this sandbox uses it too.
    sandbox = HubSpotSandbox(SandboxConfig(clock=SystemClock(), records=250, seed=4))
    with loopback(sandbox.app) as url:
        yield sandbox, url, hubspot.HubSpot(access_token="pat-sandbox-token", host=url)


def test_companies_create_read_update(served: Any) -> None:
    _, _, client = served
    created = client.crm.companies.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"name": "Kontrakt AB", "kleer_client_id": "sdk-1", "numberofemployees": "8"}))
    assert created.properties["hs_object_id"] == created.id
    assert created.created_at.tzinfo is not None
    read = client.crm.companies.basic_api.get_by_id(
        "sdk-1", id_property="kleer_client_id", properties=["name", "numberofemployees"])
    assert read.id == created.id and read.properties["numberofemployees"] == "8"
    updated = client.crm.companies.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"city": "Malmö"}))
    assert updated.properties["city"] == "Malmö"
    assert updated.updated_at >= created.updated_at


def test_sdk_sees_the_error_envelope(served: Any) -> None:
    _, _, client = served
    with pytest.raises(ApiException) as raised:
        client.crm.companies.basic_api.get_by_id("1")
    assert raised.value.status == 404
    assert json.loads(raised.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_companies_batch_upsert_and_search(served: Any) -> None:
    _, _, client = served
    inputs = [SimplePublicObjectBatchInputUpsert(
        id_property="kleer_client_id", id=f"up-{i}",
        properties={"name": f"Upsert {i} AB", "kleer_currency": "SEK"}) for i in range(3)]
    first = client.crm.companies.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))
    assert first.status == "COMPLETE" and [r.new for r in first.results] == [True] * 3
    again = client.crm.companies.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs[:1]))
    assert again.results[0].new is False
    found = client.crm.companies.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(
            property_name="kleer_client_id", operator="IN",
            values=["up-0", "up-1", "up-2"])])],
        sorts=["kleer_client_id"], properties=["name", "kleer_client_id"], limit=2))
    assert found.total == 3
    assert [r.properties["kleer_client_id"] for r in found.results] == ["up-0", "up-1"]
    assert found.paging.next.after == "2"


def test_companies_get_all_pages_to_the_end(served: Any) -> None:
    sandbox, _, client = served
    everything = client.crm.companies.get_all(properties=["name"])
    assert len(everything) == len(sandbox.stores["companies"].collection)
    assert len({c.id for c in everything}) == len(everything)


def test_deals_products_and_line_items(served: Any) -> None:
    _, _, client = served
    company = client.crm.companies.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "Affärs AB"}))
    deal = client.crm.deals.basic_api.create(DealInput(
        properties={"dealname": "Ramavtal", "dealstage": "contractsent", "amount": "120000"},
        associations=[PublicAssociationsForObject(
            to=PublicObjectId(id=company.id),
            types=[AssociationSpec(association_category="HUBSPOT_DEFINED",
                                   association_type_id=341)])]))
    with_assoc = client.crm.deals.basic_api.get_by_id(deal.id, associations=["companies"])
    assert with_assoc.associations["companies"].results[0].id == company.id

    products = client.crm.products.batch_api.upsert(ProductUpsertBatch(inputs=[
        ProductUpsert(id_property="kleer_product_id", id="p-1",
                      properties={"name": "Konsulttimme", "price": "1250"})]))
    product_id = products.results[0].id
    items = client.crm.line_items.batch_api.create(LineItemBatch(inputs=[
        LineItemInput(properties={"name": "Konsulttimme", "quantity": "10", "price": "1250",
                                  "hs_product_id": product_id, "kleer_line_item_id": f"li-{i}"},
                      associations=[])
        for i in range(2)]))
    assert [i.properties["amount"] for i in items.results] == ["12500", "12500"]
    default = client.crm.associations.v4.basic_api.create_default(
        "line_items", items.results[0].id, "deals", deal.id)
    assert default.results[0].association_spec.association_type_id == 20
    page = client.crm.associations.v4.basic_api.get_page("deals", deal.id, "line_items")
    assert [r.to_object_id for r in page.results] == [items.results[0].id]
    listed = client.crm.line_items.basic_api.get_page(limit=1, properties=["name"])
    assert listed.paging.next.after == "1"


# --------------------------------------------------------------------------- signatures


def test_documented_signature_test_vector() -> None:
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    body = b"{'example_field':'example_value'}"
    uri = "https://www.example.com/webhook_uri"
    assert sign_v3(secret, "POST", uri, body, 1693657560000) == \
        "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    assert sign_v2(secret, "POST", uri, body) == \
        "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    assert sign_v1(secret, body) == \
        "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    for version, ours in (("v1", sign_v1(secret, body)), ("v2", sign_v2(secret, "POST", uri, body)),
                          ("v3", sign_v3(secret, "POST", uri, body, 1693657560000))):
        assert Signature.get_signature(secret, body.decode(), version, uri, "POST",
                                       "1693657560000") == ours


def test_sdk_accepts_webhook_signatures_v1_and_v3(served: Any, loopback: Any,
                                                  receiver: Any) -> None:
    sandbox, _, client = served
    with loopback(receiver.app) as hook_base:
        target = f"{hook_base}/hubspot/webhooks?tenant=acme"
        sandbox.webhooks.register(target)
        try:
            client.crm.companies.basic_api.update(
                "2000000001", SimplePublicObjectInput(properties={"phone": "08-111 22 33"}))
            asyncio.run(sandbox.webhooks.drain())
        finally:
            sandbox.webhooks.unregister(target)
    assert receiver.received
    path, headers, body = receiver.received[0]
    assert path == "/hubspot/webhooks"
    assert Signature.is_valid(headers["x-hubspot-signature-v3"], SECRET, body.decode(),
                              target, "POST", "v3", headers["x-hubspot-request-timestamp"])
    assert Signature.is_valid(headers["x-hubspot-signature"], SECRET, body.decode(),
                              signature_version="v1")
    assert not Signature.is_valid(headers["x-hubspot-signature-v3"], "wrong-secret",
                                  body.decode(), target, "POST", "v3",
                                  headers["x-hubspot-request-timestamp"])
    assert json.loads(body)[0]["propertyName"] == "phone"


def test_sdk_accepts_action_signature_v2(served: Any, loopback: Any, receiver: Any) -> None:
    sandbox, _, _ = served
    with loopback(receiver.app) as base:
        action_url = f"{base}/hubspot/actions/create-kleer-invoice"
        definition = sandbox.define_action({"actionUrl": action_url, "objectTypes": ["DEAL"]})
        execution = asyncio.run(sandbox.fire_action(definition["id"], "3000000002"))
    assert execution.attempts[0]["status"] == 200
    _, headers, body = receiver.received[0]
    assert Signature.is_valid(headers["x-hubspot-signature"], SECRET, body.decode(),
                              action_url, "POST", "v2")
    assert Signature.is_valid(headers["x-hubspot-signature-v3"], SECRET, body.decode(),
                              action_url, "POST", "v3", headers["x-hubspot-request-timestamp"])
    assert json.loads(body)["object"]["objectType"] == "DEAL"
