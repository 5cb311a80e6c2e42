"""HubSpotAdapter against the real HubSpot sandbox app, in-process over ASGITransport.

Time is one fake clock: retry sleeps and budget waits advance the sandbox's ManualClock,
so rate windows, Retry-After and hs_lastmodifieddate all move together.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from engine.adapters.base import (
    ActionOutcome,
    Adapter,
    AdapterContext,
    ConnectionConfig,
    WriteOp,
)
from engine.adapters.hubspot import VENDOR, HubSpotAdapter
from engine.adapters.ratelimit import RateBudgets
from engine.adapters.registry import AdapterRegistry
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError
from engine.redact import Redactor
from engine.sandbox.hubspot import HubSpotSandbox, seed
from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from tests.adapters.conformance import (
    RecordingTransport as _RecordingTransport,
)
from tests.adapters.conformance import (
    SharedTime,
    assert_conforms,
    collect,
)
from tests.contracts.hubspot import checker
from tests.contracts.recording import contract_transport

TOKEN = "pat-test-token-8c2d41"
RECORDS = 250


class RecordingTransport(_RecordingTransport):
    """The shared recorder, plus the Maconomy filter bodies it saw."""


class Harness:
    def __init__(self, sandbox: HubSpotSandbox, adapter: HubSpotAdapter, time: SharedTime,
                 client: httpx.AsyncClient, transport: RecordingTransport) -> None:
        self.sandbox = sandbox
        self.adapter = adapter
        self.time = time
        self.client = client
        self.transport = transport

    def calls(self, method: str | None = None, suffix: str = "") -> list[httpx.Request]:
        return [r for r in self.transport.sent if (method is None or r.method == method)
                and r.url.path.endswith(suffix)]

    def change(self, obj: str, object_id: str, properties: dict[str, Any]) -> None:
        """A user edits a record in HubSpot (as a control call would)."""
        store = self.sandbox.object_store(obj)
        self.sandbox.update_record(store, store.collection.get(object_id), properties,
                                   source=("CRM_UI", "userId:1"))

    def create(self, obj: str, properties: dict[str, Any]) -> str:
        store = self.sandbox.object_store(obj)
        return str(self.sandbox.create_record(store, properties)["id"])

    def associated(self, obj: str, object_id: str, to_obj: str) -> set[str]:
        return {other_id for (other_type, other_id) in
                self.sandbox.associations.of(obj, object_id) if other_type == to_obj}


def make(records: int = RECORDS, *, token: str = TOKEN,
         options: dict[str, Any] | None = None) -> Harness:
    clock = ManualClock()
    sandbox = HubSpotSandbox(SandboxConfig(records=records, clock=clock),
        HubSpotCredentials(token=TOKEN))
    time = SharedTime(clock)
    transport = RecordingTransport(contract_transport(sandbox))
    client = httpx.AsyncClient(transport=transport, base_url="http://hubspot.test")
    context = AdapterContext(
        budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep, wall_clock=time.wall),
        redactor=Redactor(), now=clock.now)
    config = ConnectionConfig(name="hubspot", adapter="hubspot",
                              base_url="http://hubspot.test", auth={"token": token},
                              options=options or {})
    adapter = HubSpotAdapter(config, client, context, sleep=time.sleep,
                             retry=RetryPolicy(rng=random.Random(5)))
    return Harness(sandbox, adapter, time, client, transport)


@pytest.fixture
async def hubspot() -> AsyncIterator[Harness]:
    harness = make()
    async with harness.client:
        yield harness


def company(index: int) -> str:
    return seed.base_id("companies", index)


# ---------------------------------------------------------------------- auth and check


async def test_the_adapter_is_registered_and_follows_the_protocol(hubspot) -> None:
    assert AdapterRegistry().factory("hubspot") is HubSpotAdapter
    assert isinstance(hubspot.adapter, Adapter)
    assert hubspot.adapter.describe().adapter == "hubspot"


async def test_check_authenticates(hubspot) -> None:
    result = await hubspot.adapter.check()
    assert result.ok and "HubSpot" in result.message
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hubspot.transport.sent)


async def test_check_probes_the_object_types_the_sdk_does_not_confirm(hubspot) -> None:
    result = await hubspot.adapter.check()
    assert "Projects (0-970): readable." in result.message
    assert "Agreements (2-7000001): readable." in result.message
    assert hubspot.calls("GET", "/crm-object-schemas/v3/schemas")


async def test_check_says_plainly_when_an_object_type_is_missing() -> None:
    harness = make(options={"projects_object_type": "0-999"})
    async with harness.client:
        result = await harness.adapter.check()
    assert result.ok  # authenticated; the notes say what a spec cannot use
    assert "HubSpot does not know object type '0-999' (400)" in result.message
    assert "set options.projects_object_type" in result.message


async def test_check_with_a_wrong_token_says_what_to_fix_without_leaking_it() -> None:
    harness = make(token="pat-wrong-token-0000")
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok and "401" in result.message
    assert "pat-wrong-token-0000" not in result.message


# ---------------------------------------------------------------------- reads


async def _seed_empty_objects(h: Harness) -> None:
    invoice = h.create("invoices", {"hs_currency": "SEK", "hs_invoice_date": "2025-01-10",
                                    "kleer_invoice_id": "60000001", "hs_amount_billed": "1250.5"})
    h.create("line_items", {"name": "Konsulttimme", "quantity": "2", "price": "1250"})
    h.create("agreements", {"name": "Förvaltning", "kleer_agreement_id": "70000001",
                            "start_date": "2024-02-01", "invoice_interval_months": "3"})
    assert invoice


@pytest.mark.parametrize("obj", ["companies", "deals", "products", "line_items", "invoices",
                                 "projects", "agreements"])
async def test_every_object_reads_typed_records_that_match_the_catalog(hubspot, obj) -> None:
    await _seed_empty_objects(hubspot)
    records = await collect(hubspot.adapter.read(obj))
    assert records
    info = hubspot.adapter.describe().objects[obj]
    for record in records:
        assert_conforms(record, info)
        assert set(record) == set(info.readable(nested=False))


async def test_full_read_pages_to_the_end_asking_for_the_catalog_fields(hubspot) -> None:
    records = await collect(hubspot.adapter.read("companies"))
    assert len(records) == RECORDS
    assert len({r["id"] for r in records}) == RECORDS
    pages = hubspot.calls("GET", "/crm/v3/objects/companies")
    assert len(pages) == 3
    asked = set(pages[0].url.params.get_list("properties"))  # repeated, as the SDK sends it
    assert {"name", "orgno", "kleer_client_id", "numberofemployees"} <= asked
    assert "associations" not in asked
    first = records[0]
    assert isinstance(first["createdate"], datetime) and first["createdate"].tzinfo
    assert isinstance(first["numberofemployees"], int)
    projects = await collect(hubspot.adapter.read("projects"))
    assert any(isinstance(p["hs_start_date"], date) for p in projects)
    assert hubspot.calls("GET", "/crm/v3/objects/0-970")


async def test_agreements_resolve_their_custom_object_type_once(hubspot) -> None:
    await _seed_empty_objects(hubspot)
    [agreement] = await collect(hubspot.adapter.read("agreements"))
    assert agreement["start_date"] == date(2024, 2, 1)
    assert agreement["invoice_interval_months"] == 3
    await collect(hubspot.adapter.read("agreements"))
    assert len(hubspot.calls("GET", "/crm-object-schemas/v3/schemas")) == 1
    assert hubspot.calls("GET", "/crm/v3/objects/2-7000001")


async def test_agreements_object_type_can_be_configured() -> None:
    harness = make(records=5, options={"agreements_object_type": "p1_agreements"})
    async with harness.client:
        await collect(harness.adapter.read("agreements"))
    assert not harness.calls("GET", "/crm-object-schemas/v3/schemas")
    assert harness.calls("GET", "/crm/v3/objects/p1_agreements")


async def test_changed_since_returns_exactly_the_changed_records_ascending(hubspot) -> None:
    since = hubspot.sandbox.clock.now()
    changed = [company(7), company(3), company(120)]
    for n, object_id in enumerate(changed):
        hubspot.sandbox.clock.advance(60)
        hubspot.change("companies", object_id, {"phone": f"+46 8 000 00 0{n}"})
    records = await collect(hubspot.adapter.read("companies", since=since,
                                                 cursor_field="hs_lastmodifieddate"))
    assert [r["id"] for r in records] == changed
    stamps = [r["hs_lastmodifieddate"] for r in records]
    assert stamps == sorted(stamps) and all(s > since for s in stamps)
    assert hubspot.adapter.total("companies") == 3
    [search] = hubspot.calls("POST", "/search")
    body = json.loads(search.content)
    assert body["filterGroups"][0]["filters"][0]["operator"] == "GTE"
    assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]


@pytest.mark.scenario("S7", "S11")
async def test_changed_since_restarts_the_search_window_without_loss_or_repeats() -> None:
    harness = make(records=700, options={"search_window": 250})
    async with harness.client:
        since = harness.sandbox.clock.now()
        changed = [company(i) for i in range(0, 700, 1) if i % 7 != 0][:590]
        for n, object_id in enumerate(changed):
            if n % 40 == 0:
                harness.sandbox.clock.advance(1)  # 40 records share each instant
            harness.change("companies", object_id, {"description": f"v{n}"})
        records = await collect(harness.adapter.read("companies", since=since))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == len(changed)
    assert set(ids) == set(changed)
    stamps = [r["hs_lastmodifieddate"] for r in records]
    assert stamps == sorted(stamps)
    searches = harness.calls("POST", "/search")
    assert all(int(json.loads(s.content).get("after", 0)) + 200 <= 250 for s in searches)
    assert len(searches) > len(changed) // 200  # the window was restarted


async def test_more_changes_at_one_instant_than_a_window_holds_is_fatal() -> None:
    harness = make(records=300, options={"search_window": 150})
    async with harness.client:
        since = harness.sandbox.clock.now()
        harness.sandbox.clock.advance(1)
        for i in range(200):
            harness.change("companies", company(i), {"description": "same instant"})
        with pytest.raises(FatalError, match="same instant"):
            await collect(harness.adapter.read("companies", since=since))


async def test_a_cursor_field_the_object_cannot_filter_on_is_fatal(hubspot) -> None:
    with pytest.raises(FatalError, match="cursor fields"):
        hubspot.adapter.read("companies", since=hubspot.sandbox.clock.now(),
                             cursor_field="name")


async def test_get_returns_the_record_or_none(hubspot) -> None:
    record = await hubspot.adapter.get("companies", company(2))
    assert record is not None and record["id"] == company(2)
    assert await hubspot.adapter.get("companies", "123") is None


# ---------------------------------------------------------------------- find_external


async def test_find_by_a_unique_property_uses_batch_read(hubspot) -> None:
    hubspot.change("companies", company(4), {"kleer_client_id": "40000005"})
    found = await hubspot.adapter.find_external("companies", "kleer_client_id",
                                                ["40000005", "49999999"])
    assert list(found) == ["40000005"] and found["40000005"]["id"] == company(4)
    [read] = hubspot.calls("POST", "/batch/read")
    body = json.loads(read.content)
    assert body["idProperty"] == "kleer_client_id"
    assert body["propertiesWithHistory"] == []  # required by the SDK's model
    assert checker.check_body("BatchReadInputSimplePublicObjectId", body,
                              "hubspot.crm.companies") == []
    assert not hubspot.calls("POST", "/search")


async def test_find_by_a_plain_property_uses_search_in(hubspot) -> None:
    hubspot.change("deals", seed.base_id("deals", 1), {"kleer_project_id": "80000002"})
    found = await hubspot.adapter.find_external("deals", "kleer_project_id", ["80000002"])
    assert found["80000002"]["id"] == seed.base_id("deals", 1)
    [search] = hubspot.calls("POST", "/search")
    assert json.loads(search.content)["filterGroups"][0]["filters"][0]["operator"] == "IN"
    with pytest.raises(FatalError, match="cannot be looked up"):
        await hubspot.adapter.find_external("deals", "dealname", ["x"])


# ---------------------------------------------------------------------- writes


async def test_upsert_creates_then_updates_a_company_round_trip(hubspot) -> None:
    payload = {"name": "Nya Kunden AB", "kleer_client_id": "40000999",
               "numberofemployees": 12, "kleer_payment_days": 30, "annualrevenue": 1250.5}
    [created] = await hubspot.adapter.write("companies", [
        WriteOp("create", "40000999", payload, external_field="kleer_client_id")])
    assert created.ok and created.created and created.target_id
    record = await hubspot.adapter.get("companies", created.target_id)
    assert record["name"] == "Nya Kunden AB" and record["numberofemployees"] == 12
    assert record["annualrevenue"] == 1250.5 and record["kleer_client_id"] == "40000999"
    [updated] = await hubspot.adapter.write("companies", [
        WriteOp("update", "40000999", {"name": "Nya Kunden Sverige AB", "phone": None},
                target_id=created.target_id, external_field="kleer_client_id")])
    assert updated.ok and not updated.created and updated.target_id == created.target_id
    record = await hubspot.adapter.get("companies", created.target_id)
    assert record["name"] == "Nya Kunden Sverige AB" and record["numberofemployees"] == 12
    # The create is an upsert on the key; the update goes by the record's id.
    [upsert] = hubspot.calls("POST", "/batch/upsert")
    [update] = hubspot.calls("POST", "/batch/update")
    assert json.loads(upsert.content)["inputs"][0]["idProperty"] == "kleer_client_id"
    assert json.loads(update.content)["inputs"] == [{"id": created.target_id, "properties": {
        "name": "Nya Kunden Sverige AB", "phone": "", "kleer_client_id": "40000999"}}]


async def test_an_update_by_id_gives_a_record_without_the_key_its_key(hubspot) -> None:
    # A company that existed before the integration knew it (a workflow enrolled it):
    # it has a unique orgno but no kleer_client_id. An upsert on kleer_client_id would
    # create a second company and collide on orgno; an update by id writes the one.
    existing = await hubspot.adapter.get("companies", company(1))
    assert existing["kleer_client_id"] is None and existing["orgno"]
    before = len(list(hubspot.sandbox.records("companies")))
    [result] = await hubspot.adapter.write("companies", [WriteOp(
        "update", "40000777", {"name": "Enrolled AB", "orgno": existing["orgno"]},
        target_id=company(1), external_field="kleer_client_id")])
    assert result.ok and not result.created and result.target_id == company(1)
    assert hubspot.calls("POST", "/batch/upsert") == []
    assert len(list(hubspot.sandbox.records("companies"))) == before
    found = await hubspot.adapter.find_external("companies", "kleer_client_id", ["40000777"])
    assert found["40000777"]["id"] == company(1)
    assert found["40000777"]["name"] == "Enrolled AB"


async def test_an_update_without_a_target_id_goes_by_the_unique_key_and_never_creates(
        hubspot) -> None:
    [made] = await hubspot.adapter.write("companies", [WriteOp(
        "create", "k-7", {"name": "Sju AB"}, external_field="kleer_client_id")])
    before = len(list(hubspot.sandbox.records("companies")))
    results = await hubspot.adapter.write("companies", [
        WriteOp("update", "k-7", {"name": "Sju Sverige AB"}, external_field="kleer_client_id"),
        WriteOp("update", "k-none", {"name": "Finns inte"}, external_field="kleer_client_id"),
        WriteOp("update", "x", {"name": "Utan nyckel"})])
    assert [r.ok for r in results] == [True, False, False]
    assert results[0].target_id == made.target_id
    assert results[1].error.code == "vendor.rejected" and "k-none" in results[1].error.message
    assert results[2].error.code == "vendor.unsupported"
    [update] = hubspot.calls("POST", "/batch/update")
    assert [i.get("idProperty") for i in json.loads(update.content)["inputs"]] == [
        "kleer_client_id", "kleer_client_id"]
    assert len(list(hubspot.sandbox.records("companies"))) == before
    assert (await hubspot.adapter.get("companies", made.target_id))["name"] == "Sju Sverige AB"


async def test_a_refused_update_by_id_is_isolated_to_its_record(hubspot) -> None:
    taken = (await hubspot.adapter.get("companies", company(0)))["orgno"]
    ops = [WriteOp("update", f"k-{n}", {"description": f"Rad {n}"}, target_id=company(n + 2),
                   external_field="kleer_client_id") for n in range(6)]
    ops[3] = WriteOp("update", "k-3", {"orgno": taken}, target_id=company(5),
                     external_field="kleer_client_id")
    results = await hubspot.adapter.write("companies", ops)
    assert [n for n, r in enumerate(results) if not r.ok] == [3]
    assert results[3].error.field == "orgno"
    assert [r.target_id for r in results] == [op.target_id for op in ops]
    assert (await hubspot.adapter.get("companies", company(5)))["kleer_client_id"] is None


async def test_upsert_on_orgno_adopts_the_existing_company(hubspot) -> None:
    existing = await hubspot.adapter.get("companies", company(1))
    [result] = await hubspot.adapter.write("companies", [WriteOp(
        "create", existing["orgno"], {"orgno": existing["orgno"], "kleer_client_id": "k-1"},
        external_field="orgno")])
    assert result.ok and not result.created and result.target_id == company(1)


async def test_a_hundred_and_fifty_upserts_go_in_two_batches(hubspot) -> None:
    ops = [WriteOp("create", f"k-{n}", {"name": f"Bolag {n}"}, external_field="kleer_client_id")
           for n in range(150)]
    results = await hubspot.adapter.write("companies", ops)
    assert all(r.ok and r.created for r in results)
    assert [r.key for r in results] == [op.key for op in ops]
    assert [len(json.loads(r.content)["inputs"]) for r in
            hubspot.calls("POST", "/batch/upsert")] == [100, 50]


async def test_repeated_external_values_never_share_a_batch(hubspot) -> None:
    ops = [WriteOp("create", "dup", {"name": "Först"}, external_field="kleer_client_id"),
           WriteOp("create", "other", {"name": "Annan"}, external_field="kleer_client_id"),
           WriteOp("create", "dup", {"name": "Sist"}, external_field="kleer_client_id")]
    results = await hubspot.adapter.write("companies", ops)
    assert all(r.ok for r in results) and results[0].target_id == results[2].target_id
    assert results[0].created and not results[2].created
    record = await hubspot.adapter.get("companies", results[0].target_id)
    assert record["name"] == "Sist"
    assert [len(json.loads(r.content)["inputs"]) for r in
            hubspot.calls("POST", "/batch/upsert")] == [2, 1]


@pytest.mark.scenario("S19")
async def test_a_rejected_record_in_an_upsert_batch_gets_its_own_error(hubspot) -> None:
    taken = (await hubspot.adapter.get("companies", company(0)))["orgno"]
    ops = [WriteOp("create", f"k-{n}", {"name": f"Bolag {n}", "numberofemployees": 5},
                   external_field="kleer_client_id") for n in range(40)]
    ops[2] = WriteOp("create", "k-2", {"name": "Trasig", "numberofemployees": "många"},
                     external_field="kleer_client_id")
    ops[25] = WriteOp("create", "k-25", {"name": "Dubblett", "orgno": taken},
                      external_field="kleer_client_id")
    results = await hubspot.adapter.write("companies", ops)
    assert [n for n, r in enumerate(results) if not r.ok] == [2, 25]
    assert results[2].error.code == "vendor.rejected"
    assert results[2].error.field == "numberofemployees"
    assert results[25].error.field == "orgno" and "already has that value" in \
        results[25].error.message
    found = await hubspot.adapter.find_external("companies", "kleer_client_id",
                                                [op.key for op in ops])
    assert sorted(found) == sorted(op.key for n, op in enumerate(ops) if n not in (2, 25))
    # HubSpot refuses the whole batch; bisection isolates the two bad records in far
    # fewer calls than one per record.
    calls = len(hubspot.calls("POST", "/batch/upsert"))
    assert calls < len(ops) // 2, calls


@pytest.mark.scenario("S19")
async def test_batch_create_maps_207_errors_by_trace_id(hubspot) -> None:
    ops = [WriteOp("create", "r1", {"name": "Rad 1", "quantity": 2, "price": 1250}),
           WriteOp("create", "r2", {"name": "Rad 2", "quantity": "två", "price": 10}),
           WriteOp("create", "r3", {"name": "Rad 3", "quantity": 1.5, "price": 99.5})]
    results = await hubspot.adapter.write("line_items", ops)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error.field == "quantity"
    assert all(r.created for r in (results[0], results[2]))
    assert len(hubspot.calls("POST", "/batch/create")) == 1
    line = await hubspot.adapter.get("line_items", results[2].target_id)
    assert line["quantity"] == 1.5 and line["amount"] == 149.25


async def test_batch_update_reports_a_missing_record_per_item(hubspot) -> None:
    deals = [seed.base_id("deals", n) for n in range(3)]
    ops = [WriteOp("update", f"d{n}", {"dealname": f"Affär {n}", "amount": 1000 * n},
                   target_id=deal) for n, deal in enumerate(deals)]
    ops.append(WriteOp("update", "gone", {"dealname": "Borta"}, target_id="3999999999"))
    results = await hubspot.adapter.write("deals", ops)
    assert [r.ok for r in results] == [True, True, True, False]
    assert (await hubspot.adapter.get("deals", deals[2]))["amount"] == 2000


async def test_missing_custom_properties_are_created_once_and_unique(hubspot) -> None:
    store = hubspot.sandbox.object_store("invoices")
    del store.properties["kleer_invoice_id"]
    op = WriteOp("create", "60000001", {"hs_currency": "SEK",
                                        "hs_invoice_date": date(2025, 1, 10)},
                 external_field="kleer_invoice_id")
    [first] = await hubspot.adapter.write("invoices", [op])
    [again] = await hubspot.adapter.write("invoices", [op])
    assert first.ok and first.created and again.ok and not again.created
    assert store.properties["kleer_invoice_id"]["hasUniqueValue"] is True
    assert len(hubspot.calls("POST", "/crm/v3/properties/invoices")) == 1
    assert len(hubspot.calls("GET", "/crm/v3/properties/invoices")) == 1
    invoice = await hubspot.adapter.get("invoices", first.target_id)
    assert invoice["hs_invoice_date"] == date(2025, 1, 10)


async def test_associations_are_written_after_the_records_exist(hubspot) -> None:
    ops = [WriteOp("create", "p1", {"dealname": "Projekt 1", "kleer_project_id": "p1",
                                    "associations": {"companies": company(3)}}),
           WriteOp("create", "p2", {"dealname": "Projekt 2", "kleer_project_id": "p2",
                                    "associations": {"companies": "2999999999"}})]
    results = await hubspot.adapter.write("deals", ops)
    assert results[0].ok
    assert hubspot.associated("deals", results[0].target_id, "companies") == {company(3)}
    [create] = hubspot.calls("POST", "/crm/v4/associations/deals/companies/batch/create")
    types = json.loads(create.content)["inputs"][0]["types"]
    assert types == [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]
    # The second deal landed, but its company does not exist: a per-item error.
    assert results[1].target_id and not results[1].ok
    assert results[1].error.field == "associations.companies"
    assert await hubspot.adapter.get("deals", results[1].target_id) is not None


async def test_pairs_without_a_documented_type_use_the_default_association(hubspot) -> None:
    [result] = await hubspot.adapter.write("projects", [WriteOp(
        "create", "cp-1", {"hs_name": "Införande", "kleer_project_id": "cp-1",
                           "hs_start_date": date(2025, 2, 1),
                           "associations": {"companies": company(5)}},
        external_field="kleer_project_id")])
    assert result.ok, result.error
    assert hubspot.associated("projects", result.target_id, "companies") == {company(5)}
    assert hubspot.calls("POST", "/crm/v4/associations/0-970/companies/batch/"
                         "associate/default")


@pytest.mark.scenario("S16")
async def test_a_server_error_on_batch_create_makes_its_ops_ambiguous(hubspot) -> None:
    op = WriteOp("create", "x", {"name": "Rad", "quantity": 1, "price": 1})
    assert (await hubspot.adapter.write("line_items", [op]))[0].ok
    hubspot.sandbox.set_faults(Faults(error_rate=1.0))
    results = await hubspot.adapter.write("line_items", [op, op])
    assert [r.ambiguous for r in results] == [True, True]
    assert len(hubspot.calls("POST", "/batch/create")) == 2  # never re-sent blindly


async def test_a_429_burst_is_waited_out(hubspot) -> None:
    hubspot.sandbox.set_faults(Faults(burst_429=3))
    records = await collect(hubspot.adapter.read("companies"))
    assert len(records) == RECORDS
    assert [e.status for e in hubspot.sandbox.requests][:4] == [429, 429, 429, 200]
    assert len(hubspot.time.sleeps) >= 3 and all(s >= 1 for s in hubspot.time.sleeps[:3])




# ---------------------------------------------------------------------- workflow actions


async def test_an_action_completion_goes_through_the_session_and_its_budget(hubspot) -> None:
    definition = hubspot.sandbox.define_action({"actionUrl": "http://runner.test/a",
                                                "objectTypes": ["COMPANY"]})
    execution = await hubspot.sandbox.fire_action(definition["id"], company(1))
    budget = hubspot.adapter.session.budget
    before = budget.stats.acquired
    body = VENDOR.actions.answer(ActionOutcome("succeeded", {
        "kleer_client_id": 40000017, "created": date(2025, 3, 1), "nothing": None}))
    await hubspot.adapter.complete_action(execution.callback_id, body)
    [sent] = hubspot.calls("POST", f"/callbacks/{execution.callback_id}/complete")
    assert json.loads(sent.content) == {"outputFields": {
        "kleer_client_id": "40000017", "created": "2025-03-01",
        "hs_execution_state": "SUCCESS"}}
    assert checker.check_callback_completion(sent.content) == []
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert hubspot.sandbox.executions[execution.callback_id].state == "SUCCESS"
    assert budget.stats.acquired == before + 1  # the connection's shared rate budget


async def test_a_completion_is_retried_on_429_with_retry_after(hubspot) -> None:
    definition = hubspot.sandbox.define_action({"actionUrl": "http://runner.test/a",
                                                "objectTypes": ["COMPANY"]})
    execution = await hubspot.sandbox.fire_action(definition["id"], company(2))
    hubspot.sandbox.set_faults(Faults(burst_429=2))
    await hubspot.adapter.complete_action(
        execution.callback_id, {"outputFields": {"hs_execution_state": "FAIL_CONTINUE",
                                                 "errorMessage": "no such client"}})
    assert [e.status for e in hubspot.sandbox.requests][-3:] == [429, 429, 204]
    assert all(s >= 1 for s in hubspot.time.sleeps[-2:])
    assert hubspot.sandbox.executions[execution.callback_id].state == "FAIL_CONTINUE"
