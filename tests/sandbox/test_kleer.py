"""The Kleer simulator: auth, formats, every resource, paging, quirks, rate limits, faults."""

from __future__ import annotations

import asyncio
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from engine.sandbox.kleer import KleerSandbox, seed
from engine.sandbox.kleer.settings import KleerSettings
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from engine.sandbox.platform.seed import (
    company_for,
    valid_organisation_number,
    valid_personal_number,
)
from tests.sandbox import kleer_bodies as body

K = "/v1/company/1"
JSON = {"accept": "application/json", "content-type": "application/json"}
AUTH = {"x-token": "kleer-sandbox-token", **JSON}


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def sandbox(clock: ManualClock) -> KleerSandbox:
    # Rate limits off by default here; the rate-limit tests switch them on.
    return KleerSandbox(SandboxConfig(clock=clock, records=50, rate_limits=False))


def _client(sandbox: KleerSandbox, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                             base_url="http://kleer.test", headers=headers)


@pytest.fixture
async def raw(sandbox: KleerSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(sandbox) as client:
        yield client


@pytest.fixture
async def api(sandbox: KleerSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(sandbox, AUTH) as client:
        yield client


def _uid(index: int) -> int:
    return seed.base_id("user", index)


# --------------------------------------------------------------------------- auth & format


async def test_missing_or_wrong_token_is_401_with_kleer_error_body(raw) -> None:
    missing = await raw.get(f"{K}/user", headers=JSON)
    wrong = await raw.get(f"{K}/user", headers={"x-token": "nope", **JSON})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert set(missing.json()) == {"message"}
    assert "token" not in wrong.json()["message"].lower().replace("x-token", "")


@pytest.mark.parametrize("header", ["X-Token", "X-token", "x-token", "X-TOKEN"])
async def test_token_header_name_is_case_insensitive(raw, header) -> None:
    response = await raw.get(f"{K}/info", headers={header: "kleer-sandbox-token", **JSON})
    assert response.status_code == 200
    assert response.json() == seed.COMPANY_INFO


async def test_another_company_is_403(api) -> None:
    response = await api.get("/v1/company/2/user")
    assert response.status_code == 403
    assert "company" in response.json()["message"]


async def test_accept_alone_answers_xml_as_the_real_api_does(raw) -> None:
    response = await raw.get(f"{K}/user/{_uid(0)}", headers={
        "x-token": "kleer-sandbox-token", "accept": "application/json"})
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "user"
    assert root.findtext("id") == str(_uid(0))


async def test_content_type_json_with_any_accept_answers_json(raw) -> None:
    response = await raw.get(f"{K}/user", headers={
        "x-token": "kleer-sandbox-token", "content-type": "application/json",
        "accept": "*/*"})
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()["users"]) == 50


async def test_xml_repeats_elements_wraps_wrappers_and_puts_paging_in_attributes(raw) -> None:
    headers = {"x-token": "kleer-sandbox-token"}
    users = ET.fromstring((await raw.get(f"{K}/user", headers=headers)).content)
    assert users.tag == "users"
    assert [child.tag for child in users] == ["user"] * 50
    distribution = users.find("user/dimensions")
    assert distribution is not None
    assert {e.tag for e in distribution} <= {"dimension-entry"}
    page = ET.fromstring((await raw.get(f"{K}/client/invoice?limit=3",
                                        headers=headers)).content)
    assert (page.tag, page.get("offset"), page.get("limit"), page.get("size")) == (
        "client-invoices", "0", "3", "100")
    rows = page.find("client-invoice/rows")
    assert rows is not None and [c.tag for c in rows] == ["row"] * len(rows)
    error = ET.fromstring((await raw.get(f"{K}/user", headers={"x-token": "bad"})).content)
    assert error.tag == "error" and error.findtext("message")


async def test_xml_request_bodies_are_refused_with_415(raw) -> None:
    response = await raw.put(f"{K}/client", content=b"<client><name>X</name></client>",
                             headers={"x-token": "kleer-sandbox-token",
                                      "content-type": "application/xml"})
    assert response.status_code == 415


async def test_unknown_path_is_404_and_wrong_method_405_listing_allowed(api) -> None:
    missing = await api.get(f"{K}/nothing-here")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not found"})
    wrong = await api.post(f"{K}/client", json=body.client())
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) >= {"GET", "PUT"}


async def test_malformed_json_is_400(api) -> None:
    response = await api.put(f"{K}/client", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed JSON")


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(("changes", "message"), [
    ({"mail": "x"}, 'Unrecognized field "mail"'),
    ({"address": {**body.EMPTY_ADDRESS, "city": "X"}}, 'Unrecognized field "address.city"'),
    ({"payment-days": "30"}, 'Field "payment-days": expected an integer'),
    ({"payment-days": 30.5}, 'Field "payment-days": expected an integer'),
    ({"payment-days": 2**31}, 'Field "payment-days": 2147483648 is out of range for xs:int'),
    ({"active": "yes"}, 'Field "active": expected true or false'),
    ({"name": 7}, 'Field "name": expected a string'),
    ({"dimension-entries": {"dimension-entry": [{"id": 999}]}},
     'Field "dimension-entries": Dimension entry 999 does not exist'),
    ({"name": " "}, 'Field "name" must not be empty'),
    ({"user": {"id": 42}}, 'Field "user": User 42 does not exist'),
])
async def test_a_body_kleer_cannot_read_is_400_with_its_message(api, changes, message) -> None:
    response = await api.put(f"{K}/client", json=body.client(**changes))
    assert (response.status_code, response.json()) == (400, {"message": message})


@pytest.mark.parametrize("left_out", ["contact", "address", "accountnr", "user"])
async def test_a_body_without_a_required_element_is_tekniskt_fel(api, left_out) -> None:
    whole = body.client()
    del whole[left_out]
    response = await api.put(f"{K}/client", json=whole)
    assert (response.status_code, response.json()) == (500, {"message": "Tekniskt fel"})
    assert len((await api.get(f"{K}/client")).json()["clients"]) == 50


async def test_a_required_part_of_an_address_is_required_too(api) -> None:
    address = {k: v for k, v in body.EMPTY_ADDRESS.items() if k != "country"}
    response = await api.put(f"{K}/client", json=body.client(address=address))
    assert response.status_code == 500


# --------------------------------------------------------------------------- users


async def test_user_list_shape_and_realistic_names(api, snapshot_json) -> None:
    users = (await api.get(f"{K}/user")).json()["users"]
    assert len(users) == 50
    assert users[0] == snapshot_json
    # Kleer's `user`: no phone (the payroll contract has it), one dimension-entry.
    assert all(set(u) == {"id", "foreign-id", "internal-id", "name", "email", "active",
                          "dimension-entry", "dimensions"} for u in users)
    assert {u["active"] for u in users} == {True, False}
    assert any(len(u["name"].split()) >= 3 for u in users)  # several given names
    assert all(u["email"].endswith("@konsultbolaget.se") and u["email"].isascii()
               for u in users)


def test_names_include_particles_hyphens_and_swedish_letters() -> None:
    counts = seed.KleerCounts.for_records(400)
    names = [seed.user_record(1, i, counts)["name"] for i in range(400)]
    assert any(f" {p} " in n for n in names for p in ("von", "af", "de", "van"))
    assert any("-" in n for n in names)
    assert any(c in n for n in names for c in "åäöÅÄÖ")


async def test_get_user_me_and_404(api) -> None:
    one = (await api.get(f"{K}/user/{_uid(3)}")).json()
    assert one["id"] == _uid(3)
    assert (await api.get(f"{K}/user/me")).json()["id"] == _uid(0)
    missing = await api.get(f"{K}/user/{_uid(999)}")
    assert missing.status_code == 404
    assert (await api.get(f"{K}/user/{seed.base_id('client', 0)}")).status_code == 404


async def test_create_user_then_find_by_foreign_id(api) -> None:
    created = await api.put(f"{K}/user", json=body.user(
        **{"foreign-id": "cinode-4711", "name": "Karl-Johan af Klint", "email": "kj@k.se",
           "dimension-entry": {"id": 101}}))
    assert (created.status_code, created.json()) == (200, {"id": _uid(50)})
    found = (await api.get(f"{K}/user/foreign-id/cinode-4711")).json()
    assert found == {"id": _uid(50), "foreign-id": "cinode-4711", "internal-id": 150,
                     "name": "Karl-Johan af Klint", "email": "kj@k.se", "active": True,
                     "dimension-entry": {"id": 101}}
    assert (await api.get(f"{K}/user/foreign-id/unknown")).status_code == 404
    users = (await api.get(f"{K}/user")).json()["users"]
    assert users[-1]["id"] == _uid(50) and len(users) == 51


async def test_a_user_update_takes_the_whole_user(api) -> None:
    before = (await api.get(f"{K}/user/{_uid(2)}")).json()
    partial = await api.post(f"{K}/user/{_uid(2)}", json={"active": False})
    assert partial.status_code == 500  # id, name, email are required
    saved = await api.post(f"{K}/user/{_uid(2)}", json={
        **before, "active": False, "foreign-id": "c-2"})
    assert saved.json() == {"id": _uid(2)}
    after = (await api.get(f"{K}/user/{_uid(2)}")).json()
    assert after == {**before, "active": False, "foreign-id": "c-2"}
    assert (await api.get(f"{K}/user/foreign-id/c-2")).json()["id"] == _uid(2)
    await api.post(f"{K}/user/{_uid(2)}", json={**after, "foreign-id": "c-2b"})
    assert (await api.get(f"{K}/user/foreign-id/c-2")).status_code == 404


# --------------------------------------------------------------------------- payroll


async def test_payroll_contracts_cover_employees_only(api, sandbox) -> None:
    contracts = (await api.get(f"{K}/payroll/user")).json()["payroll-user-readables"]
    assert len(contracts) == sandbox.counts.contracts == 43
    user_ids = {c["user"]["id"] for c in contracts}
    subcontractors = (await api.get(f"{K}/subcontractor")).json()["subcontractor-readables"]
    sub_users = {u["id"] for s in subcontractors for u in s["users"]}
    assert not user_ids & sub_users
    assert all(valid_personal_number(c["ssn"]) for c in contracts)
    assert all(isinstance(c["monthly-salary"], int) and c["monthly-salary"] % 100 == 0
               for c in contracts)
    first = contracts[0]
    assert "_id" not in first
    assert set(first["schedules"][0]) <= {"schedule", "start-date", "end-date", "comment"}


async def test_user_without_contract_is_404(api) -> None:
    no_contract = _uid(seed.NO_CONTRACT_POSITIONS[0])
    response = await api.get(f"{K}/payroll/user/{no_contract}")
    assert response.status_code == 404
    assert "payroll" in response.json()["message"]
    assert (await api.get(f"{K}/payroll/user/{_uid(999)}")).status_code == 404


async def test_payroll_create_needs_ssn_and_start_date_and_never_echoes_ssn(api) -> None:
    user = _uid(seed.NO_CONTRACT_POSITIONS[0])
    missing = await api.post(f"{K}/payroll/user/{user}", json={"tax-table": 32})
    assert missing.status_code == 400 and "ssn" in missing.json()["message"]
    invalid = await api.post(f"{K}/payroll/user/{user}", json={
        "ssn": "19811218-9877", "employment-start-date": "2024-01-01"})
    assert invalid.status_code == 400
    assert "9877" not in invalid.text
    created = await api.post(f"{K}/payroll/user/{user}", json={
        "ssn": "19811218-9876", "employment-start-date": "2024-01-01",
        "monthly-salary": 4_500_000,
        "schedules": [{"schedule": {"id": 12}, "start-date": "2024-01-01", "comment": ""}]})
    assert created.json() == {"id": user}
    contract = (await api.get(f"{K}/payroll/user/{user}")).json()
    assert contract["user"] == {"id": user}
    assert contract["schedules"] == [{"schedule": {"id": 12}, "start-date": "2024-01-01",
                                      "comment": ""}]


async def test_employment_end_date_wrapper_sets_removes_or_leaves(api) -> None:
    user = _uid(0)
    path = f"{K}/payroll/user/{user}"
    await api.post(path, json={"employment-end-date": {
        "employment-end-date": "2025-03-31", "employment-end-type": "Disabled"}})
    assert (await api.get(path)).json()["employment-end-date"] == "2025-03-31"
    await api.post(path, json={"tax-table": 33})  # absent: unchanged
    contract = (await api.get(path)).json()
    assert (contract["employment-end-date"], contract["tax-table"]) == ("2025-03-31", 33)
    await api.post(path, json={"employment-end-date": {"employment-end-date": None}})
    assert "employment-end-date" not in (await api.get(path)).json()
    bad = await api.post(path, json={"employment-end-date": "2025-03-31"})
    assert bad.status_code == 400


async def test_empty_schedules_clear_them_and_unknown_schedule_is_400(api) -> None:
    path = f"{K}/payroll/user/{_uid(0)}"
    await api.post(path, json={"schedules": []})
    assert (await api.get(path)).json()["schedules"] == []
    bad = await api.post(path, json={"schedules": [
        {"schedule": {"id": 99}, "start-date": "2024-01-01", "comment": ""}]})
    assert bad.status_code == 400 and "Schedule 99" in bad.json()["message"]


async def test_schedules_and_per_day_employment_rate(api) -> None:
    schedules = (await api.get(f"{K}/payroll/schedule")).json()
    assert set(schedules) == {"fixed-schedules", "rolling-schedules"}
    assert {s["level-of-employment"] for s in schedules["fixed-schedules"]} == {
        100.0, 80.0, 75.0, 50.0}
    one = (await api.get(f"{K}/payroll/schedule/12")).json()
    assert one["fixed-schedule"]["days-per-week"] == 4
    user = _uid(0)
    await api.post(f"{K}/payroll/user/{user}", json={
        "employment-start-date": "2020-01-01",
        "schedules": [{"schedule": {"id": 11}, "start-date": "2020-01-01",
                       "end-date": "2024-12-31", "comment": ""},
                      {"schedule": {"id": 12}, "start-date": "2025-01-01", "comment": ""}]})
    days = (await api.get(f"{K}/payroll/user/{user}/schedule/2024-12-30/to/2025-01-05"
                          )).json()["payroll-user-schedule-metadatas"]
    assert [(d["date"][5:], d["level-of-employment"], d["gross-hours"]) for d in days] == [
        ("12-30", 100.0, 8.0), ("12-31", 100.0, 8.0), ("01-01", 80.0, 8.0),
        ("01-02", 80.0, 8.0), ("01-03", 80.0, 0.0), ("01-04", 80.0, 0.0),
        ("01-05", 80.0, 0.0)]
    too_long = await api.get(f"{K}/payroll/user/{user}/schedule/2020-01-01/to/2025-01-01")
    assert too_long.status_code == 400


def test_generated_ssns_include_plus_and_coordination_numbers() -> None:
    counts = seed.KleerCounts.for_records(2000)
    ssns = [seed.payroll_record(1, j, counts)["ssn"] for j in range(counts.contracts)]
    assert all(valid_personal_number(s) for s in ssns)
    assert any("+" in s for s in ssns)
    assert any(int(s.replace("-", "").replace("+", "")[-6:-4]) > 60 for s in ssns)
    assert {len(s) for s in ssns} >= {11, 12}


# --------------------------------------------------------------------------- suppliers


async def test_suppliers_some_without_orgno_and_subcontractors_link_them(api) -> None:
    suppliers = (await api.get(f"{K}/supplier")).json()["suppliers"]
    assert len(suppliers) == 5
    assert any("orgno" not in s for s in suppliers)
    assert all(valid_organisation_number(s["orgno"]) and s["vat-nr"] == "SE" + s[
        "orgno"].replace("-", "") + "01" for s in suppliers if "orgno" in s)
    assert all(isinstance(s["bankgiro"], int) for s in suppliers)  # xs:long
    ids = {s["id"] for s in suppliers}
    subs = (await api.get(f"{K}/subcontractor")).json()["subcontractor-readables"]
    assert subs and all(set(s) == {"id", "internal-id", "supplier", "users"} for s in subs)
    assert all(s["supplier"]["id"] in ids for s in subs)
    for sub in subs:
        for user in sub["users"]:
            assert (await api.get(f"{K}/user/{user['id']}")).status_code == 200


async def test_supplier_and_subcontractor_create_and_update(api) -> None:
    created = (await api.put(f"{K}/supplier", json=body.supplier())).json()
    supplier_id = created["id"]
    current = (await api.get(f"{K}/supplier/{supplier_id}")).json()
    await api.post(f"{K}/supplier/{supplier_id}", json={**current, "orgno": "556677-8899"})
    assert (await api.get(f"{K}/supplier/{supplier_id}")).json()["orgno"] == "556677-8899"
    sub = await api.put(f"{K}/subcontractor", json={"supplier": {"id": supplier_id},
                                                    "users": [{"id": _uid(1)}]})
    sub_id = sub.json()["id"]
    read = (await api.get(f"{K}/subcontractor/{sub_id}")).json()
    assert read["supplier"] == {"id": supplier_id} and read["users"] == [{"id": _uid(1)}]
    bad = await api.put(f"{K}/subcontractor", json={"supplier": {"id": 1}, "users": []})
    assert bad.status_code == 400 and "Supplier 1 does not exist" in bad.json()["message"]


# --------------------------------------------------------------------------- clients


async def test_client_matches_shared_company_and_snapshot(api, snapshot_json) -> None:
    client = (await api.get(f"{K}/client/{seed.base_id('client', 7)}")).json()
    company = company_for(1, 7)
    assert (client["name"], client["orgno"], client["vat-nr"]) == (
        company.name, company.orgno, company.vat)
    assert client == snapshot_json
    counts = seed.KleerCounts.for_records(300)
    contacts = [(seed.client_record(1, i, counts)["contact"], company_for(1, i).contact)
                for i in range(300)]
    assert all(ours in ("", person.full_name) for ours, person in contacts)
    assert sum(1 for ours, _ in contacts if ours) > 200


async def test_client_references_resolve(api) -> None:
    clients = (await api.get(f"{K}/client")).json()["clients"]
    assert len(clients) == 50
    entries = {e["id"] for e in (await api.get(f"{K}/dimension/2/entry")).json()[
        "dimension-entries"]}
    users = {u["id"] for u in (await api.get(f"{K}/user")).json()["users"]}
    assert all(e["id"] in entries for c in clients for e in c["dimension-entries"])
    # Our reference is required: a user, or 0 for none.
    assert all(c["user"]["id"] in users | {0} for c in clients)
    assert any(c["user"]["id"] == 0 for c in clients)
    assert {c["payment-days"] for c in clients} > {30}


async def test_client_create_and_whole_update(api) -> None:
    created = await api.put(f"{K}/client", json=body.client(**{
        "foreign-id": "hubspot-77", "orgno": "556677-8899", "user": {"id": _uid(0)},
        "address": {**body.EMPTY_ADDRESS, "address1": "Storgatan 1", "zip-code": "111 22",
                    "state": "Stockholm"}, "payment-days": 20, "id": 12345}))
    client_id = created.json()["id"]
    assert client_id == seed.base_id("client", 50)  # the id sent is Kleer's to give
    read = (await api.get(f"{K}/client/{client_id}")).json()
    assert (read["name"], read["payment-days"], read["user"]) == (
        "Ny Kund AB", 20, {"id": _uid(0)})
    saved = await api.post(f"{K}/client/{client_id}", json={
        **read, "address": {**read["address"], "address1": "Nygatan 2"}, "notes": "Flyttat"})
    assert saved.json() == {"id": client_id}
    again = (await api.get(f"{K}/client/{client_id}")).json()
    assert again["address"]["address1"] == "Nygatan 2" and again["notes"] == "Flyttat"
    assert again["address"]["zip-code"] == "111 22"
    assert (await api.post(f"{K}/client/{seed.base_id('client', 500)}",
                           json=body.client())).status_code == 404


async def test_dimensions_are_the_categories(api) -> None:
    dimensions = (await api.get(f"{K}/dimension")).json()["dimensions"]
    assert [d["name"] for d in dimensions] == ["Kostnadsställe", "Kundkategori",
                                              "Kompetensområde"]
    assert (await api.get(f"{K}/dimension/9/entry")).status_code == 404


# --------------------------------------------------------------------------- products


async def test_products_in_cents_and_money_must_be_integer(api) -> None:
    products = (await api.get(f"{K}/product")).json()["products"]
    assert all(isinstance(p["price"], int) and isinstance(p["ean"], int) for p in products)
    bad = await api.put(f"{K}/product", json=body.product(price=12.5))
    assert bad.status_code == 400 and bad.json()["message"] == \
        'Field "price": expected an integer'
    new = (await api.put(f"{K}/product", json=body.product(**{
        "foreign-id": "hs-p1", "price": 1_200_000, "type": "Services"}))).json()
    product_id = new["id"]
    current = (await api.get(f"{K}/product/{product_id}")).json()
    await api.post(f"{K}/product/{product_id}", json={**current, "price": 1_300_000})
    assert (await api.get(f"{K}/product/{product_id}")).json()["price"] == 1_300_000


# --------------------------------------------------------------------------- invoices


async def test_invoice_paging_to_the_end(api, sandbox) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        page = (await api.get(f"{K}/client/invoice", params={"offset": offset,
                                                            "limit": 30})).json()
        assert (page["offset"], page["limit"], page["size"]) == (offset, 30, 100)
        seen += [i["id"] for i in page["client-invoices"]]
        if len(page["client-invoices"]) < 30:
            break
        offset += 30
    assert seen == [seed.base_id("invoice", i) for i in range(100)]
    default = (await api.get(f"{K}/client/invoice")).json()
    assert default["limit"] == 100 and len(default["client-invoices"]) == 100
    assert (await api.get(f"{K}/client/invoice?limit=0")).status_code == 400


async def test_invoice_filters(api) -> None:
    every = (await api.get(f"{K}/client/invoice", params={"limit": 1000})).json()[
        "client-invoices"]
    window = (await api.get(f"{K}/client/invoice", params={
        "invoiceDateLower": "2024-01-01", "invoiceDateUpper": "2024-06-30", "limit": 1000,
        "ignoreFiles": "true"})).json()
    expected = [i["id"] for i in every if "2024-01-01" <= i["invoice-date"] <= "2024-06-30"]
    assert [i["id"] for i in window["client-invoices"]] == expected
    assert window["size"] == len(expected) > 0
    rules = {  # Orneholm Filters/ClientInvoiceStatus.cs
        "all": lambda i: True,
        "certified": lambda i: i["certified"],
        "certifiable": lambda i: not i["certified"],
    }
    for status, rule in rules.items():
        found = (await api.get(f"{K}/client/invoice?filter={status}&limit=1000")).json()
        assert found["client-invoices"] == [i for i in every if rule(i)], status
        assert 0 < found["size"] <= 100
    certifiable = (await api.get(f"{K}/client/invoice?filter=certifiable&limit=5")).json()
    assert all(i["invoice-nr"] == 0 for i in certifiable["client-invoices"])
    client = (await api.get(f"{K}/client/{seed.base_id('client', 3)}")).json()
    found = (await api.get(f"{K}/client/invoice", params={"query": client["name"]})).json()
    assert {i["client-ref"]["id"] for i in found["client-invoices"]} == {client["id"]}
    assert (await api.get(f"{K}/client/invoice?filter=paid")).status_code == 400
    assert (await api.get(f"{K}/client/invoice?invoiceDateLower=2024-13-01")
            ).status_code == 400


async def test_invoice_create_computes_cents_and_derives_row_vat(api, snapshot_json) -> None:
    client_id = seed.base_id("client", 4)
    product_id = seed.base_id("product", 0)
    rows = [body.invoice_row(product_id, quantity=10, price=125_000,
                             description="Konsulttimmar januari"),
            body.invoice_row(product_id, quantity=1, price=99_950, vat=0.12,
                             description="Böcker")]
    whole = body.invoice(client_id, rows, **{"foreign-id": "deal-9"})
    missing = await api.put(f"{K}/client/invoice",
                            json={k: v for k, v in whole.items() if k != "po-nr"})
    assert (missing.status_code, missing.json()) == (500, {"message": "Tekniskt fel"})
    created = await api.put(f"{K}/client/invoice", json=whole)
    invoice_id = created.json()["id"]
    invoice = (await api.get(f"{K}/client/invoice/{invoice_id}")).json()
    # Row VAT and accounts are Kleer's: "derived from account configuration" whatever is
    # sent (Orneholm Models/ClientInvoiceRow.cs): the product's 25 %.
    assert [r["vat"] for r in invoice["rows"]] == [0.25, 0.25]
    assert (invoice["amount"], invoice["vat"], invoice["remaining"]) == (
        1_349_950, 312_500 + 24_988, 1_349_950 + 337_488)
    assert (invoice["invoice-nr"], invoice["certified"]) == (0, False)
    assert invoice == snapshot_json
    no_update = await api.post(f"{K}/client/invoice/{invoice_id}", json=whole)
    assert no_update.status_code == 405
    bad_product = await api.put(f"{K}/client/invoice", json=body.invoice(
        client_id, [body.invoice_row(5)]))
    assert bad_product.status_code == 400


# --------------------------------------------------------------------------- agreements


async def test_agreement_create_and_wrapped_updates_raise_the_revision(api) -> None:
    client_id = seed.base_id("client", 1)
    created = await api.put(f"{K}/client/agreement", json=body.agreement(
        client_id, [body.agreement_row()], **{"foreign-id": "hs-sub-1"}))
    agreement_id = created.json()["id"]
    path = f"{K}/client/agreement/{agreement_id}"
    first = (await api.get(path)).json()
    assert (first["revision-nr"], first["next-invoice-date"], first["start-date"]) == (
        1, "2025-02-01", "2025-02-01")
    # An update is the whole agreement in `update-client-agreement`.
    bare = await api.post(path, json={**first, "notes": "x"})
    assert bare.status_code == 400 and "Unrecognized field" in bare.json()["message"]
    saved = await api.post(path, json={"client-agreement": {
        **first, "recurring-rows": [body.agreement_row(quantity=2)]}})
    assert saved.json() == {"revision-nr": 2}
    second = (await api.get(path)).json()
    assert second["revision-nr"] == 2 and second["recurring-rows"][0]["quantity"] == 2
    # What was read at revision 1 is stale now.
    stale = await api.post(path, json={"client-agreement": {**first, "notes": "gammalt"}})
    assert stale.status_code == 409 and "revision 2" in stale.json()["message"]
    renewed = await api.post(path, json={"client-agreement": {**second,
                                                              "end-date": "2027-01-31"}})
    assert renewed.json() == {"revision-nr": 3}
    listed = (await api.get(f"{K}/client/agreement")).json()["client-agreements"]
    assert len(listed) == 26 and listed[-1]["end-date"] == "2027-01-31"


# --------------------------------------------------------------------------- client projects


async def test_client_project_ids_are_wrapped_and_active_filter(api) -> None:
    every = (await api.get(f"{K}/client-project")).json()["client-project-readables"]
    assert len(every) == 50 and all(set(p["id"]) == {"id"} for p in every)
    active = (await api.get(f"{K}/client-project?filter=active")).json()[
        "client-project-readables"]
    assert [p["id"] for p in active] == [p["id"] for p in every if p["active"]]
    inactive = (await api.get(f"{K}/client-project?filter=inactive")).json()[
        "client-project-readables"]
    assert len(active) + len(inactive) == 50 and 0 < len(active) < 50
    assert {p["status"] for p in every} == {"Draft", "Open", "Closed"}
    one = (await api.get(f"{K}/client-project/{seed.base_id('client-project', 2)}")).json()
    assert one["id"] == {"id": seed.base_id("client-project", 2)}
    assert (await api.get(f"{K}/client-project?filter=closed")).status_code == 400


@pytest.mark.parametrize("element", ["foreign-id", "status", "active"])
async def test_a_project_has_no_foreign_id_and_its_status_is_not_writable(
        api, element) -> None:
    value = {"foreign-id": "cinode-31", "status": "Open", "active": True}[element]
    response = await api.put(f"{K}/client-project", json=body.project(**{element: value}))
    assert (response.status_code, response.json()) == (
        400, {"message": f'Unrecognized field "{element}"'})


async def test_client_project_create_and_whole_update(api, sandbox) -> None:
    client_id = seed.base_id("client", 2)
    created = await api.put(f"{K}/client-project", json=body.project(
        client={"id": client_id}, number="55031", name="Molnmigrering",
        **{"your-reference": "Eva", "our-reference": {"id": _uid(0)},
           "opening-date": "2025-01-15"}))
    project_id = created.json()["id"]
    project = (await api.get(f"{K}/client-project/{project_id}")).json()
    client = (await api.get(f"{K}/client/{client_id}")).json()
    assert (project["id"], project["number"], project["active"], project["status"]) == (
        {"id": project_id}, "55031", True, sandbox.settings.new_project_status)
    assert project["currency-type"] == client["currency-type"]
    # client, fixed-price and name "can only be set when creating": an update's values
    # for them are ignored. closing-date "will not set status of project to closed".
    writable = body.writable_project(project)
    saved = await api.post(f"{K}/client-project/{project_id}", json={
        **writable, "name": "Nytt namn", "fixed-price": True,
        "client": {"id": seed.base_id("client", 3)}, "closing-date": "2025-06-30",
        "comment": "Fas 2"})
    assert saved.json() == {"id": project_id}
    after = (await api.get(f"{K}/client-project/{project_id}")).json()
    assert (after["name"], after["fixed-price"], after["client"]) == (
        "Molnmigrering", False, {"id": client_id})
    assert (after["closing-date"], after["status"], after["comment"]) == (
        "2025-06-30", "Open", "Fas 2")
    partial = await api.post(f"{K}/client-project/{project_id}", json={"comment": "x"})
    assert (partial.status_code, partial.json()) == (500, {"message": "Tekniskt fel"})


async def test_the_new_project_status_is_a_setting(clock) -> None:
    sandbox = KleerSandbox(SandboxConfig(clock=clock, records=3, rate_limits=False),
                           settings=KleerSettings(new_project_status="Draft"))
    async with _client(sandbox, AUTH) as api:
        made = (await api.put(f"{K}/client-project", json=body.project())).json()
        project = (await api.get(f"{K}/client-project/{made['id']}")).json()
    assert project["status"] == "Draft"
    with pytest.raises(ValueError, match="new_project_status"):
        KleerSettings(new_project_status="Won")


# --------------------------------------------------------------------------- change detection


def _digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


async def test_no_timestamps_so_changes_show_only_in_a_full_read_hash(api) -> None:
    clients = (await api.get(f"{K}/client")).json()["clients"]
    assert not any(key for c in clients for key in c
                   if any(w in key for w in ("modified", "updated", "created", "time")))
    before = {c["id"]: _digest(c) for c in clients}
    target = seed.base_id("client", 9)
    patched = await api.patch(f"/_sandbox/records/client/{target}",
                              json={"name": "Omdöpt AB", "phone": "08-1"})
    assert patched.status_code == 200 and patched.json()["name"] == "Omdöpt AB"
    after = {c["id"]: _digest(c) for c in (await api.get(f"{K}/client")).json()["clients"]}
    assert [k for k in before if before[k] != after[k]] == [target]


async def test_control_patch_marks_invoice_paid_and_delete_removes(api) -> None:
    every = (await api.get(f"{K}/client/invoice?limit=1000")).json()["client-invoices"]
    unpaid = next(i for i in every if i["certified"] and i["remaining"] > 0)
    await api.patch(f"/_sandbox/records/invoice/{unpaid['id']}", json={"remaining": 0})
    assert (await api.get(f"{K}/client/invoice/{unpaid['id']}")).json()["remaining"] == 0
    draft = next(i for i in every if not i["certified"])
    await api.patch(f"/_sandbox/records/invoice/{draft['id']}",
                    json={"certified": True, "invoice-nr": 99_001})
    certifiable = (await api.get(f"{K}/client/invoice?filter=certifiable&limit=1000")).json()
    assert draft["id"] not in {i["id"] for i in certifiable["client-invoices"]}
    # A person closes a project in Kleer's UI: the one status change the API lacks.
    project = seed.base_id("client-project", 0)
    closed = await api.patch(f"/_sandbox/records/client-project/{project}",
                             json={"status": "Closed", "active": False})
    assert (closed.json()["status"], closed.json()["id"]) == ("Closed", {"id": project})
    bad_status = await api.patch(f"/_sandbox/records/client-project/{project}",
                                 json={"status": "Won"})
    assert bad_status.status_code == 400
    agreement = seed.base_id("agreement", 0)
    revision = (await api.get(f"{K}/client/agreement/{agreement}")).json()["revision-nr"]
    await api.patch(f"/_sandbox/records/agreement/{agreement}", json={"notes": "UI"})
    assert (await api.get(f"{K}/client/agreement/{agreement}")).json()[
        "revision-nr"] == revision + 1
    typo = await api.patch(f"/_sandbox/records/client/{seed.base_id('client', 0)}",
                           json={"nmae": "x"})
    assert typo.status_code == 400
    assert (await api.patch("/_sandbox/records/widget/1", json={})).status_code == 404
    gone = seed.base_id("client", 0)
    assert (await api.delete(f"/_sandbox/records/client/{gone}")).status_code == 204
    assert (await api.get(f"{K}/client/{gone}")).status_code == 404
    assert len((await api.get(f"{K}/client")).json()["clients"]) == 49
    payroll = await api.patch(f"/_sandbox/records/payroll/{_uid(0)}",
                              json={"monthly-salary": 5_000_000})
    assert payroll.json()["monthly-salary"] == 5_000_000
    health = (await api.get("/_sandbox/health")).json()
    assert health["vendor"] == "kleer" and health["records"]["client"] == 49


# --------------------------------------------------------------------------- rate limits


async def test_rate_limit_is_five_per_second_per_token_with_retry_after(clock) -> None:
    sandbox = KleerSandbox(SandboxConfig(clock=clock, records=5))
    async with _client(sandbox, AUTH) as api:
        statuses = [(await api.get(f"{K}/info")).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = await api.get(f"{K}/info")
        assert limited.json() == {"message": "Too many requests, slow down"}
        assert limited.headers["retry-after"] == "1"  # the clock sits on a window start
        assert (await api.get("/_sandbox/health")).status_code == 200  # never limited
        clock.advance(1.0)
        assert (await api.get(f"{K}/info")).status_code == 200


async def test_rate_limit_setting_and_switch(clock) -> None:
    loose = KleerSandbox(SandboxConfig(clock=clock, records=5),
                         settings=KleerSettings(rate_limit=8))
    off = KleerSandbox(SandboxConfig(clock=clock, records=5, rate_limits=False))
    for sandbox, expected in ((loose, [200] * 8 + [429] * 2), (off, [200] * 10)):
        async with _client(sandbox, AUTH) as api:
            assert [(await api.get(f"{K}/info")).status_code for _ in range(10)] == expected


# --------------------------------------------------------------------------- faults


async def test_error_fault_uses_kleer_envelope_and_replays(sandbox, api) -> None:
    sandbox.set_faults(Faults(error_rate=0.5, seed=3))
    first = [(await api.get(f"{K}/info")) for _ in range(20)]
    codes = [r.status_code for r in first]
    assert {c for c in codes if c >= 500} and 200 in codes
    assert all(set(r.json()) == {"message"} for r in first if r.status_code >= 500)
    sandbox.set_faults(Faults(error_rate=0.5, seed=3))
    assert [(await api.get(f"{K}/info")).status_code for _ in range(20)] == codes


async def test_burst_429_then_normal(sandbox, api) -> None:
    sandbox.set_faults(Faults(burst_429=2))
    responses = [await api.get(f"{K}/info") for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers["retry-after"] == "1"
    assert (await api.get("/_sandbox/faults")).status_code == 200


async def test_drop_fault_is_a_transport_error_after_the_write(sandbox, api) -> None:
    sandbox.set_faults(Faults(drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        await api.put(f"{K}/client", json=body.client(name="Skrivet Ändå AB"))
    sandbox.set_faults(Faults())
    names = [c["name"] for c in (await api.get(f"{K}/client")).json()["clients"]]
    assert names[-1] == "Skrivet Ändå AB"


def test_over_loopback_json_xml_timeout_and_drop(loopback) -> None:
    sandbox = KleerSandbox(SandboxConfig(records=10, rate_limits=False))
    with loopback(sandbox.app) as url, httpx.Client(base_url=url, timeout=0.5,
                                                    headers=AUTH) as client:
        assert len(client.get(f"{K}/user").json()["users"]) == 10
        xml = client.get(f"{K}/user", headers={"accept": "application/xml",
                                               "content-type": "application/xml"})
        assert ET.fromstring(xml.content).tag == "users"
        sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=1.5))
        with pytest.raises(httpx.ReadTimeout):
            client.put(f"{K}/client", json=body.client(name="Långsam AB"))
        sandbox.set_faults(Faults(drop_rate=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{K}/client")
        sandbox.set_faults(Faults())
        names = [c["name"] for c in client.get(f"{K}/client").json()["clients"]]
        assert names[-1] == "Långsam AB"  # processed although the client gave up
        log = client.get("/_sandbox/requests").json()["requests"]
        assert [e["fault"] for e in log if e["fault"]] == ["timeout", "drop"]


# --------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(records=st.integers(1, 60), limit=st.integers(4, 50))
def test_paging_visits_every_invoice_once(records: int, limit: int) -> None:
    sandbox = KleerSandbox(SandboxConfig(records=records, rate_limits=False))

    async def run() -> list[int]:
        seen: list[int] = []
        async with _client(sandbox, AUTH) as api:
            created = await api.put(f"{K}/client/invoice", json=body.invoice(
                seed.base_id("client", 0), [body.invoice_row(seed.base_id("product", 0))]))
            assert created.status_code == 200, created.text
            offset = 0
            while True:
                page = (await api.get(f"{K}/client/invoice",
                                      params={"offset": offset, "limit": limit})).json()
                seen += [i["id"] for i in page["client-invoices"]]
                offset += limit
                if offset >= page["size"]:
                    return seen

    seen = asyncio.run(run())
    assert len(seen) == len(set(seen)) == 2 * records + 1


@settings(max_examples=200, deadline=None)
@given(seed_value=st.integers(0, 10_000), index=st.integers(0, 100_000))
def test_generated_records_are_consistent(seed_value: int, index: int) -> None:
    counts = seed.KleerCounts.for_records(100_001)
    user = seed.user_record(seed_value, index, counts)
    assert seed.base_index("user", user["id"]) == index
    contract = seed.contract_index_for_user(index)
    if contract is not None:
        record = seed.payroll_record(seed_value, contract, counts)
        assert record["user"]["id"] == user["id"]
        assert valid_personal_number(record["ssn"])
        assert record.get("employment-end-date", "9999") > record["employment-start-date"]
    invoice = seed.invoice_record(seed_value, index, counts)
    assert invoice["amount"] == sum(round(r["quantity"] * r["price"]) for r in invoice["rows"])
    assert seed.base_index("client", invoice["client-ref"]["id"]) == index % counts.clients
