"""KleerAdapter against the real Kleer sandbox app, in-process over ASGITransport.

Time is one fake clock: the adapter's retry sleeps and rate-budget waits advance the
sandbox's ManualClock, so 5-per-second windows and 429 Retry-After behave as in real
time without a test ever sleeping.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from engine.adapters.base import Adapter, AdapterContext, ConnectionConfig, WriteOp
from engine.adapters.kleer import KleerAdapter
from engine.adapters.ratelimit import RateBudgets
from engine.adapters.registry import AdapterRegistry
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError, RecordError
from engine.redact import Redactor
from engine.sandbox.kleer import KleerSandbox, seed
from engine.sandbox.kleer.credentials import KleerCredentials
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from tests.adapters.conformance import (
    RecordingTransport as _RecordingTransport,
)
from tests.adapters.conformance import (
    SharedTime,
    assert_conforms,
    collect,
)
from tests.contracts.recording import contract_transport

TOKEN = "kleer-test-token-5b1e9d"
RECORDS = 45


class RecordingTransport(_RecordingTransport):
    """The shared recorder, with a hook: `before(request)` may act first (a person
    changing the record in Kleer's UI) or answer instead of Kleer (a tenant without a
    route)."""

    before: Callable[[httpx.Request], Awaitable[httpx.Response | None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.before is not None:
            answer = await self.before(request)
            if answer is not None:
                self.sent.append(request)
                return answer
        return await super().handle_async_request(request)

    def bodies(self, method: str, path: str = "") -> list[Any]:
        return [json.loads(r.content) for r in self.sent
                if r.method == method and r.url.path.endswith(path)]


class Harness:
    def __init__(self, sandbox: KleerSandbox, adapter: KleerAdapter, time: SharedTime,
                 client: httpx.AsyncClient, transport: RecordingTransport) -> None:
        self.sandbox = sandbox
        self.adapter = adapter
        self.time = time
        self.client = client
        self.transport = transport

    def paths(self) -> list[str]:
        return [r.url.path for r in self.transport.sent]

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


def make(records: int = RECORDS, *, token: str = TOKEN, company: str = "1",
         options: dict[str, Any] | None = None) -> Harness:
    clock = ManualClock()
    sandbox = KleerSandbox(SandboxConfig(records=records, clock=clock),
        KleerCredentials(token=TOKEN))
    time = SharedTime(clock)
    transport = RecordingTransport(contract_transport(sandbox))
    client = httpx.AsyncClient(transport=transport, base_url="http://kleer.test")
    context = AdapterContext(
        budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep, wall_clock=time.wall),
        redactor=Redactor(), now=clock.now)
    config = ConnectionConfig(name="kleer", adapter="kleer", base_url="http://kleer.test",
                              auth={"token": token},
                              options={"company_id": company, **(options or {})})
    adapter = KleerAdapter(config, client, context, sleep=time.sleep,
                           retry=RetryPolicy(rng=random.Random(3)))
    return Harness(sandbox, adapter, time, client, transport)


@pytest.fixture
async def kleer() -> AsyncIterator[Harness]:
    harness = make(options={"page_size": 7})
    async with harness.client:
        yield harness


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _uid(index: int) -> int:
    return seed.base_id("user", index)


# ---------------------------------------------------------------------- auth and check


async def test_the_adapter_is_registered_and_follows_the_protocol(kleer) -> None:
    assert AdapterRegistry().factory("kleer") is KleerAdapter
    assert isinstance(kleer.adapter, Adapter)
    assert kleer.adapter.describe().adapter == "kleer"


async def test_check_authenticates_and_names_the_company(kleer) -> None:
    result = await kleer.adapter.check()
    assert result.ok
    assert seed.COMPANY_INFO["name"] in result.message


async def test_check_says_which_assumed_routes_this_tenant_confirmed(kleer, snapshot) -> None:
    result = await kleer.adapter.check()
    assert result.ok
    assert result.message.replace(seed.COMPANY_INFO["name"], "<company>") == snapshot
    # It only reads: a check never changes the books.
    assert {r.method for r in kleer.transport.sent} == {"GET"}


async def test_check_names_an_assumed_route_the_tenant_does_not_have(kleer) -> None:
    async def no_schedules(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/payroll/schedule"):
            return httpx.Response(404, json={"message": "Not found"})
        return None

    kleer.transport.before = no_schedules
    result = await kleer.adapter.check()
    assert not result.ok
    assert "Not there: GET /payroll/schedule (404)" in result.message
    assert "GET /subcontractor" in result.message.split("Not there")[0]


async def test_check_with_a_wrong_token_says_what_to_fix_without_leaking_it() -> None:
    harness = make(token="kleer-wrong-token-000")
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok
    assert "401" in result.message and "token" in result.message
    assert "kleer-wrong-token-000" not in result.message


async def test_check_for_another_company_is_a_403_explained() -> None:
    harness = make(company="2")
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok and "company_id" in result.message


async def test_every_call_sends_token_and_json_headers(kleer) -> None:
    await collect(kleer.adapter.read("users"))
    assert kleer.transport.sent
    for request in kleer.transport.sent:
        assert request.headers["x-token"] == TOKEN
        assert request.headers["accept"] == "application/json"
        assert request.headers["content-type"] == "application/json"
        assert request.url.path.startswith("/v1/company/1/")


async def test_missing_configuration_is_fatal() -> None:
    context = AdapterContext(budgets=RateBudgets(), redactor=Redactor())
    async with httpx.AsyncClient() as client:
        with pytest.raises(FatalError, match="token"):
            KleerAdapter(ConnectionConfig("k", "kleer", "http://k", auth={}), client, context)
        with pytest.raises(FatalError, match="company_id"):
            KleerAdapter(ConnectionConfig("k", "kleer", "http://k", auth={"token": "abcd"}),
                         client, context)


# ---------------------------------------------------------------------- reads


@pytest.mark.parametrize("obj", ["users", "subcontractors", "clients", "client_projects",
                                 "products", "invoices", "invoice_rows", "agreements",
                                 "agreement_rows", "suppliers"])
async def test_every_object_reads_records_that_match_the_catalog(kleer, obj) -> None:
    records = await collect(kleer.adapter.read(obj))
    assert records
    info = kleer.adapter.describe().objects[obj]
    readable = {p for p in info.readable(nested=False)}
    for record in records:
        assert_conforms(record, info)
        assert set(record) == readable  # exactly the catalog's fields, absent ones None
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)


async def test_users_are_joined_with_their_payroll_contract(kleer) -> None:
    users = {r["id"]: r for r in await collect(kleer.adapter.read("users"))}
    assert len(users) == RECORDS
    employee = users[_uid(0)]
    contract = kleer.sandbox.store["payroll"].get(_uid(0))
    payroll = employee["payroll"]
    assert payroll["ssn"] == contract["ssn"]
    assert payroll["tax-table"] == contract["tax-table"]
    assert payroll["monthly-salary"] == contract["monthly-salary"]  # cents, unchanged
    assert payroll["employment-start-date"] == date.fromisoformat(
        contract["employment-start-date"])
    # Position 11 has no contract yet; subcontractor users have none either.
    assert users[_uid(11)]["payroll"] is None
    assert users[_uid(6)]["payroll"] is None
    # The contract list and the schedules are fetched once, not per user.
    paths = kleer.paths()
    assert paths.count("/v1/company/1/payroll/user") == 1
    assert paths.count("/v1/company/1/payroll/schedule") == 1


async def test_level_of_employment_comes_from_the_schedule_in_force(kleer) -> None:
    # Give user 0 a changed employment rate: 100 % until last year, 80 % from then on.
    await kleer.control("PATCH", f"/records/payroll/{_uid(0)}", {"schedules": [
        {"schedule": {"id": 11}, "start-date": "2015-01-01", "end-date": "2023-12-31",
         "comment": ""},
        {"schedule": {"id": 12}, "start-date": "2024-01-01", "comment": ""}]})
    await kleer.control("PATCH", f"/records/payroll/{_uid(1)}", {"schedules": [
        {"schedule": {"id": 14}, "start-date": "2016-01-01", "comment": ""},
        {"schedule": {"id": 11}, "start-date": "2030-01-01", "comment": ""}]})
    users = {r["id"]: r for r in await collect(kleer.adapter.read("users"))}
    assert users[_uid(0)]["payroll"]["level-of-employment"] == 80.0
    assert users[_uid(1)]["payroll"]["level-of-employment"] == 50.0  # future one ignored
    assert isinstance(users[_uid(2)]["payroll"]["level-of-employment"], float)


async def test_a_users_categories_and_phone_are_kleers(kleer) -> None:
    # A Kleer user has one dimension-entry and a dimensions distribution, and no phone:
    # the payroll contract holds the phone.
    entries = {e["id"]: e["name"] for es in seed.DIMENSION_ENTRIES.values() for e in es}
    users = {r["id"]: r for r in await collect(kleer.adapter.read("users"))}
    raw = kleer.sandbox.store["user"].get(_uid(0))
    wanted = [entries[raw["dimension-entry"]["id"]],
              *(entries[e["id"]] for e in raw["dimensions"])]
    assert users[_uid(0)]["categories"] == list(dict.fromkeys(wanted))
    assert "phone" not in users[_uid(0)]
    assert users[_uid(0)]["payroll"]["phone"] == kleer.sandbox.store["payroll"].get(
        _uid(0))["phone"]


async def test_categories_are_the_names_of_dimension_entries(kleer) -> None:
    entries = {e["id"]: e["name"] for es in seed.DIMENSION_ENTRIES.values() for e in es}
    clients = await collect(kleer.adapter.read("clients"))
    for record in clients:
        raw = kleer.sandbox.store["client"].get(record["id"])
        assert record["categories"] == [entries[e["id"]] for e in raw["dimension-entries"]]
    assert any(record["categories"] for record in clients)
    assert kleer.paths().count("/v1/company/1/dimension") == 1


async def test_subcontractors_are_one_record_per_user_with_the_supplier_joined(kleer) -> None:
    records = await collect(kleer.adapter.read("subcontractors"))
    subs = list(kleer.sandbox.store["subcontractor"].iter())
    assert len(records) == sum(len(s["users"]) for s in subs)
    by_user = {r["id"]: r for r in records}
    for sub in subs:
        supplier = kleer.sandbox.store["supplier"].get(sub["supplier"]["id"])
        for ref in sub["users"]:
            record = by_user[ref["id"]]
            user = kleer.sandbox.store["user"].get(ref["id"])
            assert record["subcontractor-id"] == sub["id"]
            assert record["name"] == user["name"]
            assert record["supplier"]["name"] == supplier["name"]
            assert record["supplier"]["orgno"] == supplier.get("orgno")
    assert kleer.paths().count("/v1/company/1/supplier") == 1


async def test_invoices_page_to_the_end_and_total_is_kleers_size(kleer) -> None:
    invoices = await collect(kleer.adapter.read("invoices"))
    assert len(invoices) == 2 * RECORDS  # 90 invoices in pages of 7
    assert kleer.adapter.total("invoices") == 2 * RECORDS
    pages = [r for r in kleer.transport.sent if r.url.path.endswith("/client/invoice")]
    assert len(pages) == -(-2 * RECORDS // 7)
    assert [int(r.url.params["offset"]) for r in pages] == list(range(0, 2 * RECORDS, 7))
    first = invoices[0]
    assert isinstance(first["invoice-date"], date) and isinstance(first["amount"], int)


async def test_rows_are_flattened_with_parent_id_and_row_number(kleer) -> None:
    rows = await collect(kleer.adapter.read("invoice_rows"))
    invoices = list(kleer.sandbox.store["invoice"].iter())
    assert len(rows) == sum(len(i["rows"]) for i in invoices)
    first = invoices[0]
    mine = [r for r in rows if r["invoice"]["id"] == first["id"]]
    assert [r["id"] for r in mine] == [f"{first['id']}-{n}"
                                       for n in range(1, len(first["rows"]) + 1)]
    assert mine[0]["price"] == first["rows"][0]["price"]
    again = await kleer.adapter.get("invoice_rows", mine[-1]["id"])
    assert again == mine[-1]
    assert await kleer.adapter.get("invoice_rows", f"{first['id']}-99") is None
    agreement_rows = await collect(kleer.adapter.read("agreement_rows"))
    assert all(r["id"].startswith(f"{r['agreement']['id']}-") for r in agreement_rows)


async def test_client_project_ids_are_unwrapped(kleer) -> None:
    projects = await collect(kleer.adapter.read("client_projects"))
    assert projects[0]["id"] == seed.base_id("client-project", 0)
    assert await kleer.adapter.get("client_projects", str(projects[0]["id"])) == projects[0]


async def test_changed_since_is_refused_because_kleer_has_no_timestamps(kleer) -> None:
    with pytest.raises(FatalError, match="no change timestamps"):
        kleer.adapter.read("clients", since=kleer.sandbox.clock.now())
    with pytest.raises(FatalError):
        kleer.adapter.read("users", cursor_field="id")


async def test_full_reads_see_a_control_call_change(kleer) -> None:
    before = {r["id"]: r for r in await collect(kleer.adapter.read("clients"))}
    target = seed.base_id("client", 3)
    await kleer.control("PATCH", f"/records/client/{target}", {"name": "Ändrad AB"})
    after = {r["id"]: r for r in await collect(kleer.adapter.read("clients"))}
    changed = [cid for cid in after if after[cid] != before[cid]]
    assert changed == [target] and after[target]["name"] == "Ändrad AB"


async def test_get_returns_none_for_an_unknown_record(kleer) -> None:
    assert await kleer.adapter.get("clients", "49999999") is None
    user = await kleer.adapter.get("users", str(_uid(0)))
    assert user is not None and user["payroll"] is not None
    assert await kleer.adapter.get("subcontractors", str(_uid(6))) is not None


# ---------------------------------------------------------------------- find_external


async def test_find_users_by_foreign_id_uses_the_exact_lookup(kleer) -> None:
    await kleer.control("PATCH", f"/records/user/{_uid(2)}", {"foreign-id": "cinode-77"})
    kleer.transport.sent.clear()
    found = await kleer.adapter.find_external("users", "foreign-id", ["cinode-77", "nope"])
    assert list(found) == ["cinode-77"] and found["cinode-77"]["id"] == _uid(2)
    assert found["cinode-77"]["payroll"] is not None
    assert "/v1/company/1/user" not in kleer.paths()  # never the full list
    assert "/v1/company/1/user/foreign-id/cinode-77" in kleer.paths()


async def test_find_clients_by_foreign_id_scans_once(kleer) -> None:
    await kleer.control("PATCH", f"/records/client/{seed.base_id('client', 5)}",
                        {"foreign-id": "hs-5"})
    found = await kleer.adapter.find_external("clients", "foreign-id", ["hs-5"])
    assert found["hs-5"]["id"] == seed.base_id("client", 5)
    with pytest.raises(FatalError, match="cannot be looked up"):
        await kleer.adapter.find_external("clients", "name", ["x"])


# ---------------------------------------------------------------------- writes

CLIENT = {"name": "Nya Kunden AB", "country-code": "SE", "payment-days": 20}


async def test_a_client_create_sends_the_whole_client_and_reads_the_created_id(
        kleer, snapshot_json) -> None:
    payload = {**CLIENT, "orgno": "556677-8899",
               "address": {"address1": "Storgatan 1", "zip-code": "11122",
                           "state": "Stockholm", "country": "Sverige"},
               "user": {"id": _uid(0)}, "categories": ["ignored: read-only"]}
    [created] = await kleer.adapter.write("clients", [
        WriteOp("create", "hs-900", payload, external_field="foreign-id")])
    # Kleer answers {"id": n}: a successful create is never ambiguous.
    assert created.ok and created.created
    assert created.target_id == str(seed.base_id("client", RECORDS))
    # Every required element of `client`, the unknown ones neutral.
    [body] = kleer.transport.bodies("PUT", "/client")
    assert body == snapshot_json
    record = await kleer.adapter.get("clients", created.target_id)
    assert record["name"] == "Nya Kunden AB" and record["payment-days"] == 20
    assert record["address"]["zip-code"] == "11122" and record["foreign-id"] == ""


async def test_a_client_update_reads_the_client_and_posts_it_whole(kleer, snapshot_json) -> None:
    target = seed.base_id("client", 2)
    before = kleer.sandbox.store["client"].get(target)
    [updated] = await kleer.adapter.write("clients", [
        WriteOp("update", "hs-900", {"name": "Nya Kunden Sverige AB", "foreign-id": "hs-900",
                                     "address": {"state": "Uppsala"}},
                target_id=str(target))])
    assert updated.ok and not updated.created and updated.target_id == str(target)
    [body] = kleer.transport.bodies("POST", f"/client/{target}")
    assert body == snapshot_json
    after = kleer.sandbox.store["client"].get(target)
    assert (after["name"], after["foreign-id"]) == ("Nya Kunden Sverige AB", "hs-900")
    # Fields not mapped, and the address parts not sent, keep their values.
    assert after["address"] == {**before["address"], "state": "Uppsala"}
    assert after["payment-days"] == before["payment-days"]
    assert after["dimension-entries"] == before["dimension-entries"]


async def test_a_client_without_country_or_terms_fails_before_anything_is_sent(kleer) -> None:
    [result] = await kleer.adapter.write("clients", [
        WriteOp("create", "x", {"name": "Utan Land AB", "payment-days": 30})])
    assert result.error is not None and result.error.code == "field.required"
    assert result.error.field == "country-code"
    assert not kleer.transport.bodies("PUT")


async def test_create_an_invoice_with_rows_and_typed_dates(kleer, snapshot_json) -> None:
    client = seed.base_id("client", 1)
    product = seed.base_id("product", 0)
    [result] = await kleer.adapter.write("invoices", [WriteOp("create", "deal-1", {
        "foreign-id": "deal-1", "client-ref": {"id": client},
        "invoice-date": date(2025, 1, 10),
        "rows": [{"quantity": 2.0, "price": 150_000, "product": {"id": product},
                  "description": "Konsulttimme", "delivery-date": date(2025, 1, 9)}]})])
    assert result.ok, result.error
    # The client's address, e-mail, currency and terms; the product's unit.
    [body] = kleer.transport.bodies("PUT", "/client/invoice")
    assert body == snapshot_json
    invoice = await kleer.adapter.get("invoices", result.target_id)
    assert invoice["invoice-date"] == date(2025, 1, 10)
    assert invoice["amount"] == 300_000  # cents, computed by Kleer
    assert invoice["po-nr"] == "" and invoice["foreign-id"] == "deal-1"


async def test_an_invoice_row_without_a_product_fails_before_anything_is_sent(kleer) -> None:
    [result] = await kleer.adapter.write("invoices", [WriteOp("create", "deal-2", {
        "client-ref": {"id": seed.base_id("client", 1)}, "invoice-date": date(2025, 1, 10),
        "rows": [{"quantity": 1, "price": 100, "description": "Utan produkt"}]})])
    assert result.error is not None and result.error.code == "field.required"
    assert "product" in result.error.message
    assert not kleer.transport.bodies("PUT")


async def test_a_client_project_keeps_its_key_in_the_number(kleer, snapshot_json) -> None:
    client = seed.base_id("client", 1)
    [made] = await kleer.adapter.write("client_projects", [WriteOp(
        "create", "55001", {"name": "Kundportal", "client": {"id": client},
                            "number": "55001", "budget-amount": 45_000_000},
        external_field="number")])
    assert made.ok and made.created
    # No foreign-id, status or active: client-project-writeable has none of them.
    [body] = kleer.transport.bodies("PUT", "/client-project")
    assert body == snapshot_json
    found = await kleer.adapter.find_external("client_projects", "number", ["55001", "x"])
    assert list(found) == ["55001"]
    project = found["55001"]
    assert isinstance(project, dict) and project["id"] == int(made.target_id)
    assert (project["status"], project["active"]) == ("Open", True)


async def test_a_project_number_two_projects_hold_fails_the_lookup(kleer) -> None:
    for index in (3, 4):
        await kleer.control("PATCH", f"/records/client-project/"
                                     f"{seed.base_id('client-project', index)}",
                            {"number": "DUBBEL"})
    found = await kleer.adapter.find_external("client_projects", "number", ["DUBBEL"])
    error = found["DUBBEL"]
    assert isinstance(error, RecordError) and error.code == "vendor.ambiguous"


async def test_a_client_project_update_posts_the_whole_project(kleer, snapshot_json) -> None:
    target = seed.base_id("client-project", 0)
    before = await kleer.adapter.get("client_projects", str(target))
    [result] = await kleer.adapter.write("client_projects", [WriteOp(
        "update", "55001", {"comment": "Fas 2", "budget-amount": 100_000},
        target_id=str(target))])
    assert result.ok, result.error
    # The readable project cut to client-project-writeable: no id, status or active,
    # and not the create-only client.
    [body] = kleer.transport.bodies("POST", f"/client-project/{target}")
    assert body == snapshot_json
    after = await kleer.adapter.get("client_projects", str(target))
    assert (after["comment"], after["budget-amount"]) == ("Fas 2", 100_000)
    assert {k: v for k, v in after.items() if k not in ("comment", "budget-amount")} == {
        k: v for k, v in before.items() if k not in ("comment", "budget-amount")}


async def test_a_project_status_change_fails_plainly_after_the_rest_is_written(
        kleer, snapshot) -> None:
    target = next(p["id"] for p in await collect(kleer.adapter.read("client_projects"))
                  if p["status"] == "Open")
    [result] = await kleer.adapter.write("client_projects", [WriteOp(
        "update", "hs-1", {"status": "Closed", "comment": "Klart"}, target_id=str(target))])
    assert result.error is not None and result.error.code == "vendor.unsupported"
    assert result.error.field == "status"
    assert result.error.message.replace(str(target), "<id>") == snapshot
    after = await kleer.adapter.get("client_projects", str(target))
    assert (after["status"], after["comment"]) == ("Open", "Klart")
    # Once someone closed it in Kleer, the same write has nothing left to do.
    await kleer.control("PATCH", f"/records/client-project/{target}", {"status": "Closed"})
    kleer.transport.sent.clear()
    [again] = await kleer.adapter.write("client_projects", [WriteOp(
        "update", "hs-1", {"status": "Closed", "comment": "Klart"}, target_id=str(target))])
    assert again.ok
    assert not kleer.transport.bodies("POST")


async def test_a_status_in_a_project_create_is_refused_before_anything_is_sent(kleer) -> None:
    [result] = await kleer.adapter.write("client_projects", [WriteOp(
        "create", "x", {"name": "X", "number": "X-1", "status": "Open"})])
    assert result.error is not None and result.error.code == "vendor.unsupported"
    assert not kleer.transport.bodies("PUT")


def _live_agreement(kleer: Harness) -> dict[str, Any]:
    return next(a for a in kleer.sandbox.store["agreement"].iter() if not a["deleted"])


async def test_an_agreement_update_posts_the_whole_agreement_in_its_wrapper(
        kleer, snapshot_json) -> None:
    agreement = _live_agreement(kleer)
    [result] = await kleer.adapter.write("agreements", [WriteOp(
        "update", "deal-1", {"end-date": date(2031, 12, 31)},
        target_id=str(agreement["id"]))])
    assert result.ok, result.error
    [body] = kleer.transport.bodies("POST", f"/client/agreement/{agreement['id']}")
    assert body == snapshot_json
    after = kleer.sandbox.store["agreement"].get(agreement["id"])
    assert after["end-date"] == "2031-12-31"
    assert after["revision-nr"] == agreement["revision-nr"] + 1
    assert after["recurring-rows"] == agreement["recurring-rows"]


async def test_an_agreement_changed_meanwhile_is_read_again_and_written_once_more(
        kleer) -> None:
    agreement = _live_agreement(kleer)
    path = f"/client/agreement/{agreement['id']}"
    bumped: list[bool] = []

    async def someone_edits_first(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path.endswith(path) and not bumped:
            bumped.append(True)  # a person saves the agreement in Kleer meanwhile
            await kleer.control("PATCH", f"/records/agreement/{agreement['id']}",
                                {"notes": "Ändrat i Kleer"})
        return None

    kleer.transport.before = someone_edits_first
    [result] = await kleer.adapter.write("agreements", [WriteOp(
        "update", "deal-1", {"recurring-rows": [
            {"quantity": 3, "price": 490_000, "description": "Support"}]},
        target_id=str(agreement["id"]))])
    assert result.ok, result.error
    posts = kleer.transport.bodies("POST", path)
    assert len(posts) == 2
    assert posts[1]["client-agreement"]["revision-nr"] == agreement["revision-nr"] + 1
    after = kleer.sandbox.store["agreement"].get(agreement["id"])
    assert after["notes"] == "Ändrat i Kleer"  # the other change is kept
    assert [r["quantity"] for r in after["recurring-rows"]] == [3]
    assert after["revision-nr"] == agreement["revision-nr"] + 2


async def test_a_rejected_record_is_a_per_item_error_and_the_others_land(kleer) -> None:
    ops = [WriteOp("create", "a", {**CLIENT, "name": "Första AB", "foreign-id": "a"}),
           WriteOp("create", "b", {**CLIENT, "name": "Andra AB", "foreign-id": "b",
                                   "user": {"id": 999}}),
           WriteOp("create", "c", {**CLIENT, "name": "Tredje AB", "foreign-id": "c"})]
    results = await kleer.adapter.write("clients", ops)
    assert [r.key for r in results] == ["a", "b", "c"]
    assert results[0].ok and results[2].ok
    error = results[1].error
    assert error is not None and error.code == "vendor.rejected"
    assert error.field == "user" and "does not exist" in error.message
    found = await kleer.adapter.find_external("clients", "foreign-id", ["a", "b", "c"])
    assert sorted(found) == ["a", "c"]


async def test_unsupported_operations_are_per_item_errors(kleer) -> None:
    results = await kleer.adapter.write("suppliers", [WriteOp("create", "s", {"name": "x"})])
    assert results[0].error is not None and results[0].error.code == "vendor.unsupported"
    results = await kleer.adapter.write("invoices", [
        WriteOp("update", "i", {"notes": "x"}, target_id="60000001")])
    assert results[0].error is not None and results[0].error.code == "vendor.unsupported"
    results = await kleer.adapter.write("clients", [WriteOp("update", "c", {"name": "x"})])
    assert results[0].error is not None


@pytest.mark.scenario("S16")
async def test_a_create_answered_with_a_server_error_is_ambiguous_not_retried(kleer) -> None:
    kleer.sandbox.set_faults(Faults(error_rate=1.0))
    [result] = await kleer.adapter.write("clients", [
        WriteOp("create", "x", {**CLIENT, "name": "Kanske AB", "foreign-id": "x"})])
    assert result.ambiguous and not result.ok
    puts = [r for r in kleer.transport.sent if r.method == "PUT"]
    assert len(puts) == 1  # a create is never re-sent blindly


async def test_a_429_burst_is_waited_out(kleer, caplog) -> None:
    kleer.sandbox.set_faults(Faults(burst_429=3))
    with caplog.at_level(logging.DEBUG, logger="engine.http"):
        clients = await collect(kleer.adapter.read("clients"))
    assert len(clients) == RECORDS
    assert [e.status for e in kleer.sandbox.requests][:4] == [429, 429, 429, 200]
    assert kleer.time.sleeps and all(s >= 1.0 for s in kleer.time.sleeps[:3])
    assert TOKEN not in caplog.text


async def test_the_budget_keeps_to_five_requests_per_second(kleer) -> None:
    for n in range(12):
        await kleer.adapter.get("clients", str(seed.base_id("client", n)))
    # Kleer's own limiter never had to refuse: the budget paced the calls.
    assert all(e.status == 200 for e in kleer.sandbox.requests)
    assert kleer.time.now - 1000.0 >= 2.0
