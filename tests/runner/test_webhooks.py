"""The webhook receiver: signatures per provider, inbox before 2xx, dedup, honest answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from engine.adapters.hubspot.signatures import sign_v3
from engine.runner.app import build_app
from engine.state import SqliteStateStore
from tests.contracts.hubspot import checker
from tests.runner.conftest import (
    CRM_SECRET,
    DELIVERY_SECRET,
    ENVIRON,
    HUBSPOT_SECRET,
    RUNNER_URL,
    SPEC,
    Harness,
)

# ------------------------------------------------------------------------- over HTTP


def hubspot_events(*ids: int, object_id: int = 4242, prop: str = "name") -> bytes:
    return json.dumps([
        {"eventId": i, "subscriptionId": 1000, "portalId": 1, "appId": 1,
         "occurredAt": 1_700_000_000_000 + i, "subscriptionType": "company.propertyChange",
         "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM_UI",
         "sourceId": "userId:1", "propertyName": prop, "propertyValue": "x"} for i in ids
    ], separators=(",", ":")).encode()


async def post_hubspot(h: Harness, body: bytes, *, secret: str = HUBSPOT_SECRET,
                       query: str = "", skew: timedelta = timedelta(),
                       signed_url: str | None = None) -> httpx.Response:
    url = f"{RUNNER_URL}/webhooks/mirror/hubspot{query}"
    ts = int((h.clock.now() + skew).timestamp() * 1000)
    headers = {"content-type": "application/json",
               "x-hubspot-signature-v3": sign_v3(secret, "POST", signed_url or url, body, ts),
               "x-hubspot-request-timestamp": str(ts)}
    return await h.client.post(url, content=body, headers=headers)


@pytest.mark.scenario("S25")
@pytest.mark.parametrize(("case", "status"), [
    ("valid", 200), ("tampered", 401), ("wrong-secret", 401), ("old", 401),
    ("future", 401), ("missing", 401), ("query", 200), ("query-unsigned", 401),
])
async def test_hubspot_requests_get_the_right_answer(harness: Harness, case: str,
                                                     status: int) -> None:
    body = hubspot_events(1)
    if case == "valid":
        response = await post_hubspot(harness, body)
    elif case == "tampered":
        url = f"{RUNNER_URL}/webhooks/mirror/hubspot"
        ts = int(harness.clock.now().timestamp() * 1000)
        headers = {"x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, "POST", url, body, ts),
                   "x-hubspot-request-timestamp": str(ts)}
        response = await harness.client.post(url, content=body.replace(b"4242", b"4243"),
                                             headers=headers)
    elif case == "wrong-secret":
        response = await post_hubspot(harness, body, secret="not-the-secret")
    elif case == "old":
        response = await post_hubspot(harness, body, skew=timedelta(minutes=-6))
    elif case == "future":
        response = await post_hubspot(harness, body, skew=timedelta(minutes=10))
    elif case == "missing":
        response = await harness.client.post(f"{RUNNER_URL}/webhooks/mirror/hubspot",
                                             content=body)
    elif case == "query":
        response = await post_hubspot(harness, body, query="?portal=1&retry=yes")
    else:
        response = await post_hubspot(harness, body, query="?portal=1",
                                      signed_url=f"{RUNNER_URL}/webhooks/mirror/hubspot")
    assert response.status_code == status, response.text
    assert harness.store.inbox_depth() == (1 if status == 200 else 0)
    assert HUBSPOT_SECRET not in response.text


async def test_events_are_in_the_inbox_before_the_answer(harness: Harness, tmp_path) -> None:
    response = await post_hubspot(harness, hubspot_events(11, 12, 13))
    assert response.status_code == 200
    assert response.json() == {"stored": 3, "duplicates": 0, "ignored": 0}
    # A second connection to the file sees them: committed, not buffered in the process.
    with SqliteStateStore(harness.store.path) as other:
        claimed = other.inbox_claim("auditor", 10, harness.clock.now(), 5)
    assert sorted(e.event_id for e in claimed) == ["11", "12", "13"]
    assert {e.source for e in claimed} == {"mirror/hubspot"}
    stored = json.loads(claimed[0].payload)
    assert stored["object_id"] == "4242" and "propertyValue" not in stored  # refs only


@pytest.mark.scenario("S24")
async def test_the_same_delivery_three_times_is_stored_once(harness: Harness) -> None:
    body = hubspot_events(21, 22)
    answers = [await post_hubspot(harness, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["stored"] for a in answers] == [2, 0, 0]
    assert [a.json()["duplicates"] for a in answers] == [0, 2, 2]
    assert harness.store.inbox_depth() == 2


async def test_only_triggering_properties_are_stored(harness: Harness) -> None:
    body = json.loads(hubspot_events(31, prop="domain")) + json.loads(hubspot_events(32))
    response = await post_hubspot(harness, json.dumps(body).encode())
    assert response.json() == {"stored": 1, "duplicates": 0, "ignored": 1}


async def test_a_real_hubspot_delivery_is_verified_and_stored(harness: Harness) -> None:
    harness.hubspot.webhooks.register(f"{RUNNER_URL}/webhooks/mirror/hubspot")
    company = next(iter(harness.hubspot.records("companies")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.hubspot.app),
                                 base_url="http://hubspot.test") as ui:
        await ui.patch(f"/_sandbox/records/companies/{company['id']}",
                       json={"properties": {"name": "Renamed AB", "domain": "renamed.se"}})
    await harness.hubspot.webhooks.drain()
    deliveries = harness.hubspot.webhooks.log
    assert [d.status for d in deliveries] == [200]
    assert deliveries[0].json()[0]["subscriptionType"] == "company.propertyChange"
    claimed = harness.store.inbox_claim("t", 10, harness.clock.now(), 5)
    assert [json.loads(e.payload)["property_name"] for e in claimed] == ["name"]


async def test_every_documented_hubspot_event_kind_in_one_delivery(harness: Harness) -> None:
    """HubSpot's documented kinds (checker.example_events) in one delivery: accepted
    whole; what a companies sync can use is stored, the rest ignored, and nothing that
    is a deletion (privacy deletions included) starts a sync."""
    events = checker.example_events()
    assert checker.check_webhook_events(events) == []
    response = await post_hubspot(harness, json.dumps(events).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 5, "duplicates": 0, "ignored": 6}
    claimed = harness.store.inbox_claim("t", 20, harness.clock.now(), 5)
    stored = sorted((p["event_id"], p["name"], p["object_id"]) for p in
                    (json.loads(e.payload) for e in claimed))
    assert stored == [
        ("1001", "company.creation", "2000000001"),
        ("1002", "company.propertyChange", "2000000001"),
        ("1004", "company.restore", "2000000002"),
        ("1005", "company.merge", "2000000003"),  # the surviving record is re-read
        ("1006", "company.associationChange", "2000000001"),
    ]


async def test_cinode_deliveries_with_header_and_basic_credentials(harness: Harness) -> None:
    await harness.subscribe_cinode(harness.crm, "crm", {
        "isBasicAuthentication": False, "headerName": "X-Specsync-Token",
        "headerValue": CRM_SECRET})
    await harness.subscribe_cinode(harness.delivery, "delivery", {
        "isBasicAuthentication": True, "headerName": "specsync", "headerValue": DELIVERY_SECRET})
    customer = next(iter(harness.crm.customers))
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{customer['id']}",
                         {"name": "Acme Nordic AB"})
    created = await harness.cinode(harness.delivery, "POST", "/records/customers",
                                   {"name": "Delivery Co", "identification": "1"})
    await harness.cinode(harness.delivery, "PATCH", f"/records/customers/{created['id']}",
                         {"name": "Delivery Company"})
    await harness.drain()
    assert [d.status for d in harness.crm.webhooks.log] == [200]
    assert [d.status for d in harness.delivery.webhooks.log] == [200, 200]
    claimed = harness.store.inbox_claim("t", 10, harness.clock.now(), 5)
    # delivery_to_crm listens to customer.updated only: the creation was acknowledged only.
    assert sorted((e.source, json.loads(e.payload)["name"]) for e in claimed) == [
        ("mirror/crm", "customer.updated"), ("mirror/delivery", "customer.updated")]


@pytest.mark.scenario("S25")
async def test_a_wrong_cinode_credential_is_refused(harness: Harness) -> None:
    await harness.subscribe_cinode(harness.crm, "crm", {
        "isBasicAuthentication": False, "headerName": "X-Specsync-Token",
        "headerValue": "guessed"})
    customer = next(iter(harness.crm.customers))
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{customer['id']}",
                         {"name": "Acme Nordic AB"})
    await harness.drain()
    assert [d.status for d in harness.crm.webhooks.log] == [401]  # not retried
    assert harness.store.inbox_depth() == 0


@pytest.mark.parametrize(("path", "body", "status"), [
    pytest.param("/webhooks/mirror/nowhere", b"[]", 404, id="unknown-connection"),
    pytest.param("/webhooks/other/hubspot", b"[]", 404, id="unknown-integration"),
    pytest.param("/webhooks/mirror/hubspot", b"{not json", 400, id="not-json"),
    pytest.param("/webhooks/mirror/hubspot", b'[{"eventId": 1}]', 400, id="not-an-event"),
    pytest.param("/webhooks/mirror/hubspot", b"[" + b" " * 1_100_000 + b"]", 413,
                 id="too-large"),
])
async def test_permanent_rejections(harness: Harness, path: str, body: bytes,
                                    status: int) -> None:
    ts = int(harness.clock.now().timestamp() * 1000)
    headers = {"x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, "POST", RUNNER_URL + path,
                                                 body, ts),
               "x-hubspot-request-timestamp": str(ts)}
    response = await harness.client.post(path, content=body, headers=headers)
    assert response.status_code == status


@pytest.mark.scenario("S6")
async def test_an_unwritable_inbox_answers_503_so_the_sender_retries(tmp_path) -> None:
    store = SqliteStateStore(tmp_path / "broken.db")
    app = build_app([str(SPEC)], store=store, environ=ENVIRON, schedule=False, inbox=False)
    store.close()  # the disk went away
    body = hubspot_events(41)
    url = f"{RUNNER_URL}/webhooks/mirror/hubspot"
    ts = int(datetime.now(UTC).timestamp() * 1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=RUNNER_URL) as client:
        response = await client.post(url, content=body, headers={
            "x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, "POST", url, body, ts),
            "x-hubspot-request-timestamp": str(ts)})
    assert response.status_code == 503
    assert response.headers["retry-after"]
