"""The Cinode simulator: auth, rate limits, resources, search, JSON Patch, webhooks, faults.

Clients go through `contract_transport`, so every request these tests send and every
answer the sandbox gives is checked against Cinode's contract (tests/contracts/cinode)
at the end of each test. Tests that send what Cinode refuses, to see the refusal, say so
by name (`invalid`) and carry `off_contract`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from engine.sandbox.cinode import CinodeSandbox, CinodeSettings, decode_token, encode_token
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from tests.contracts.recording import contract_transport

C = "/v0.1/companies/1"
BASIC = "Basic " + base64.b64encode(
    b"cinode-sandbox-access-id:cinode-sandbox-access-secret").decode()
PATCH_JSON = {"content-type": "application/json-patch+json"}


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def config(clock: ManualClock, receiver_client: httpx.AsyncClient) -> SandboxConfig:
    return SandboxConfig(clock=clock, records=50, webhook_client=receiver_client)


@pytest.fixture
def sandbox(config: SandboxConfig) -> CinodeSandbox:
    return CinodeSandbox(config)


async def _client_for(sandbox: CinodeSandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=contract_transport(sandbox),
                             base_url="http://cinode.test")


@pytest.fixture
async def raw(sandbox: CinodeSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a token."""
    async with await _client_for(sandbox) as client:
        yield client


@pytest.fixture
async def api(raw: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client carrying a fresh bearer token."""
    token = (await raw.get("/token", headers={"authorization": BASIC})).json()["access_token"]
    raw.headers["authorization"] = f"Bearer {token}"
    return raw


async def _hook(api: httpx.AsyncClient, entity: int = 1, action: int = 1,
                credentials: list | None = None) -> dict:
    response = await api.post(f"{C}/webhooks", json={
        "isActive": True, "endpointUrl": "http://receiver.test/cinode",
        "configurations": [{"entityType": entity, "actionType": action}],
        "credentials": credentials if credentials is not None else [
            {"isBasicAuthentication": False, "headerName": "x-hook-key",
             "headerValue": "s3cret"}]})
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------- auth


async def test_token_carries_claims_and_expires_after_120_seconds(raw, clock) -> None:
    response = await raw.get("/token", headers={"authorization": BASIC})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token"}
    claims = _claims(body["access_token"])
    assert (claims["sub"], claims["companySub"]) == ("1001", "1")
    assert claims["iat"] == int(clock.now().timestamp())
    assert claims["exp"] == claims["iat"] + 120

    auth = {"authorization": f"Bearer {body['access_token']}"}
    clock.advance(119)
    assert (await raw.get(f"{C}/currencies", headers=auth)).status_code == 200
    clock.advance(1)
    expired = await raw.get(f"{C}/currencies", headers=auth)
    assert expired.status_code == 401
    assert expired.content == b""


@pytest.mark.parametrize("authorization", [
    pytest.param(None, id="missing"),
    pytest.param("Bearer not-a-jwt", id="garbage"),
    pytest.param("Basic abc", id="wrong-scheme"),
])
@pytest.mark.off_contract("calls without the bearer token Cinode requires")
async def test_invalid_tokens_are_401_without_body(raw, authorization) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = await raw.get(f"{C}/users", headers=headers)
    assert (response.status_code, response.content) == (401, b"")


async def test_forged_token_is_rejected(raw, clock) -> None:
    now = int(clock.now().timestamp())
    forged = encode_token({"sub": "1001", "companySub": "1", "iat": now, "exp": now + 120},
                          b"not the sandbox key")
    response = await raw.get(f"{C}/users", headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@given(claims=st.dictionaries(st.text(min_size=1, max_size=8),
                              st.integers() | st.text(max_size=8), max_size=5),
       key=st.binary(min_size=1, max_size=32), flip=st.integers(min_value=0))
@settings(max_examples=200, deadline=None)
def test_jwt_round_trips_and_any_changed_byte_is_refused(claims, key, flip) -> None:
    token = encode_token(claims, key)
    assert decode_token(token, key) == claims
    position = flip % len(token)
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1:]
    assert decode_token(tampered, key) in (None, claims)  # base64 padding bits may not count
    assert decode_token(token, key + b"x") is None


async def test_wrong_credentials_are_401(raw) -> None:
    bad = "Basic " + base64.b64encode(b"cinode-sandbox-access-id:wrong").decode()
    response = await raw.get("/token", headers={"authorization": bad})
    assert (response.status_code, response.content) == (401, b"")


async def test_refresh_token_works_once(raw, clock) -> None:
    first = (await raw.get("/token", headers={"authorization": BASIC})).json()
    clock.advance(100)
    refreshed = await raw.post("/token/refresh", json={"refreshToken": first["refresh_token"]})
    assert refreshed.status_code == 200
    claims = _claims(refreshed.json()["access_token"])
    assert claims["exp"] == int(clock.now().timestamp()) + 120
    clock.advance(5)
    again = await raw.post("/token/refresh", json={"refreshToken": first["refresh_token"]})
    assert again.status_code == 401


async def test_token_endpoint_allows_two_requests_per_two_seconds(raw, clock,
                                                                  snapshot_json) -> None:
    statuses = [(await raw.get("/token", headers={"authorization": BASIC})).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await raw.get("/token", headers={"authorization": BASIC})
    assert limited.json() == snapshot_json
    assert "retry-after" not in limited.headers
    clock.advance(2)
    assert (await raw.get("/token", headers={"authorization": BASIC})).status_code == 200


# --------------------------------------------------------------------------- rate limits


async def test_company_plan_is_40_per_2_seconds_with_headers(api, clock) -> None:
    clock.set(clock.now().replace(microsecond=0, second=0))  # start of a 2 s window
    answers = [await api.get(f"{C}/currencies") for _ in range(41)]
    assert [r.status_code for r in answers[:40]] == [200] * 40
    first, last_ok, limited = answers[0], answers[39], answers[40]
    assert first.headers["x-ratelimit-limit"] == "40"
    assert first.headers["x-ratelimit-remaining"] == "39"
    assert first.headers["x-ratelimit-reset"] == "2"
    assert last_ok.headers["x-ratelimit-remaining"] == "0"
    assert int(first.headers["x-daily-requests-left"]) - \
        int(last_ok.headers["x-daily-requests-left"]) == 39
    assert limited.status_code == 429
    assert limited.json()["status"] == 429
    assert limited.headers["x-ratelimit-remaining"] == "0"
    clock.advance(2)
    assert (await api.get(f"{C}/currencies")).status_code == 200


async def test_daily_budget_runs_out_and_resets_at_midnight_utc(clock, receiver_client) -> None:
    sandbox = CinodeSandbox(SandboxConfig(clock=clock, records=5),
                            settings=CinodeSettings(daily_requests=3))
    async with await _client_for(sandbox) as client:
        token = (await client.get("/token", headers={"authorization": BASIC})).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        lefts = []
        for _ in range(4):
            clock.advance(2)
            response = await client.get(f"{C}/tags")
            lefts.append((response.status_code, response.headers["x-daily-requests-left"]))
        assert lefts == [(200, "2"), (200, "1"), (200, "0"), (429, "0")]
        clock.set(clock.now().replace(hour=23, minute=59, second=59))
        clock.advance(1)  # midnight UTC, and the token has expired meanwhile
        token = (await client.get("/token", headers={"authorization": BASIC})).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        response = await client.get(f"{C}/tags")
        assert (response.status_code, response.headers["x-daily-requests-left"]) == (200, "2")


async def test_rate_limits_off_means_no_headers_and_no_429(clock) -> None:
    sandbox = CinodeSandbox(SandboxConfig(clock=clock, records=5, rate_limits=False))
    async with await _client_for(sandbox) as client:
        tokens = [await client.get("/token", headers={"authorization": BASIC})
                  for _ in range(5)]
        assert {t.status_code for t in tokens} == {200}
        client.headers["authorization"] = f"Bearer {tokens[-1].json()['access_token']}"
        answers = [await client.get(f"{C}/currencies") for _ in range(60)]
        assert {r.status_code for r in answers} == {200}
        assert "x-ratelimit-limit" not in answers[0].headers


async def test_other_company_is_forbidden(api) -> None:
    response = await api.get("/v0.1/companies/2/users")
    assert (response.status_code, response.content) == (403, b"")


# --------------------------------------------------------------------------- users


async def test_list_and_get_users(api) -> None:
    users = (await api.get(f"{C}/users")).json()
    assert len(users) == 5
    assert users[0]["companyUserId"] == 1001 and users[0]["companyUserType"] == 0
    one = (await api.get(f"{C}/users/1002")).json()
    assert one["firstName"] == users[1]["firstName"]
    assert "baseSalary" not in one
    assert (await api.get(f"{C}/users/999")).status_code == 404


@pytest.mark.off_contract("a user add model without its required properties")
async def test_invalid_user_without_the_documented_fields_is_refused(api,
                                                                    snapshot_json) -> None:
    response = await api.post(f"{C}/users", json={"firstName": "Åsa"})
    assert response.status_code == 400
    assert response.json() == snapshot_json
    assert set(response.json()["errors"]) == {"lastName", "email", "gender", "password",
                                              "confirmPassword"}


async def test_create_update_and_patch_a_user(api, sandbox) -> None:
    created = await api.post(f"{C}/users", json={
        "firstName": "Åsa", "lastName": "von Platen", "email": "asa@example.se",
        "password": "pw-1", "confirmPassword": "pw-1", "gender": 2,
        "employmentNumber": "K-17", "employmentStartDate": "2024-02-01T00:00:00Z",
        "languageId": 1, "locationId": 2, "defaultCurrencyId": 1, "status": 2})
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["location"] == f"{C}/users/{user['id']}"
    assert (user["firstName"], user["status"], user["employmentStartDate"]) == (
        "Åsa", 2, "2024-02-01T00:00:00")
    assert user["createdDateTime"] == user["updatedDateTime"]
    assert len(user["updatedDateTime"].split(".")[1]) == 7

    duplicate = await api.post(f"{C}/users", json={
        "firstName": "A", "lastName": "B", "email": "ASA@example.se", "password": "x",
        "confirmPassword": "x", "gender": 0})
    assert list(duplicate.json()["errors"]) == ["email"]

    put = await api.put(f"{C}/users/{user['id']}", json={
        "firstName": "Åsa", "lastName": "von Platen", "email": "asa@example.se",
        "phone": "070-123 45 67", "taxTable": "33", "baseSalary": 41000,
        "availabilityPercent": 80, "dateOfBirth": "1985-06-30T00:00:00Z", "gender": 2})
    assert put.status_code == 200
    assert put.json()["employmentNumber"] is None  # PUT replaces: missing fields are cleared
    assert put.json()["status"] == 2  # enum kept when missing
    full = (await api.get(f"{C}/users-full/{user['id']}")).json()
    assert (full["taxTable"], full["baseSalary"], full["availabilityPercent"]) == ("33", 41000, 80)

    patch = [{"op": "replace", "path": "/firstname", "value": "Åsa-Lena"},
             {"op": "replace", "path": "/internalIdentifier", "value": "kleer-42"},
             {"op": "replace", "path": "/employmentNumber", "value": "K-18"}]
    patched = await api.patch(f"{C}/users/{user['id']}", content=json.dumps(patch),
                              headers=PATCH_JSON)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["firstName"], body["internalIdentifier"], body["employmentNumber"],
            body["phone"]) == ("Åsa-Lena", "kleer-42", "K-18", "070-123 45 67")
    assert sandbox.users.get(user["id"])["gender"] == 2


@pytest.mark.off_contract("a patch sent as plain JSON, and paths the model does not have")
async def test_invalid_patches_need_json_patch_content_type_and_known_paths(api) -> None:
    ops = [{"op": "replace", "path": "/phone", "value": "1"}]
    wrong_type = await api.patch(f"{C}/users/1002", json=ops)
    assert wrong_type.status_code == 415
    unknown = await api.patch(f"{C}/users/1002", content=json.dumps(
        [{"op": "replace", "path": "/shoeSize", "value": 44}]), headers=PATCH_JSON)
    assert unknown.status_code == 400
    assert "shoeSize" in unknown.json()["errors"][""][0]
    invalid = await api.patch(f"{C}/users/1002", content=json.dumps(
        [{"op": "replace", "path": "/lastname", "value": ""}]), headers=PATCH_JSON)
    assert list(invalid.json()["errors"]) == ["lastName"]


async def test_user_tags_are_replaced_and_new_names_created(api) -> None:
    first = await api.post(f"{C}/users/1002/tags", json=[{"id": 1, "name": "Java"},
                                                         {"name": "Kleer: Utvecklare"}])
    assert first.json()["companyUserId"] == 1002  # the user model, not the tag list
    assert [t["name"] for t in first.json()["tags"]] == ["Java", "Kleer: Utvecklare"]
    second = await api.post(f"{C}/users/1002/tags", json=[{"name": "kleer: utvecklare"}])
    assert [t["name"] for t in second.json()["tags"]] == ["Kleer: Utvecklare"]
    user = (await api.get(f"{C}/users/1002")).json()
    assert [t["name"] for t in user["tags"]] == ["Kleer: Utvecklare"]
    tags = (await api.get(f"{C}/tags")).json()
    assert sum(t["name"] == "Kleer: Utvecklare" for t in tags) == 1


async def test_delete_user_needs_disconnect_and_names(api) -> None:
    refused = await api.delete(f"{C}/users/1003", params={"firstName": "x", "lastName": "y"})
    assert refused.status_code == 400
    user = (await api.get(f"{C}/users/1003")).json()
    await api.patch(f"{C}/users/1003", content=json.dumps(
        [{"op": "replace", "path": "/status", "value": 0}]), headers=PATCH_JSON)
    deleted = await api.delete(f"{C}/users/1003", params={"firstName": user["firstName"],
                                                          "lastName": user["lastName"]})
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert (await api.get(f"{C}/users/1003")).status_code == 404


async def test_user_search_by_updated_finds_changes_first(api, clock) -> None:
    clock.advance(10)
    await api.patch(f"{C}/users/1004", content=json.dumps(
        [{"op": "replace", "path": "/phone", "value": "08-1"}]), headers=PATCH_JSON)
    page = (await api.post(f"{C}/users/search", json={
        "term": "", "pageAndSortBy": {"sortBy": 4, "sortOrder": 1, "page": 1,
                                      "itemsPerPage": 2}})).json()
    assert page["totalItems"] == 5 and page["hits"] == 2
    assert page["result"][0]["companyUserId"] == 1004
    named = (await api.post(f"{C}/users/search", json={"term": "svensson"})).json()
    assert [u["companyUserId"] for u in named["result"]] == [1001]


async def test_permissions_set_access_levels_read_back_as_roles(api, raw, sandbox) -> None:
    """`PUT users/{id}/permissions` takes AccessLevel values; the user's roles show them."""
    put = await api.put(f"{C}/users/1002/permissions", json={"permissions": [270, 200]})
    assert put.status_code == 200, put.text
    assert [(r["level"], r["name"]) for r in put.json()] == [(200, "CompanyUser"),
                                                             (270, "TeamManager")]
    assert sandbox.users.get(1002)["permissions"] == [200, 270]
    full = (await api.get(f"{C}/users-full/1002")).json()
    assert [r["level"] for r in full["roles"]] == [200, 270]
    # GET users/{id}/roles is something else: the user's project roles.
    assert (await api.get(f"{C}/users/1002/roles")).json() == {"assigned": [],
                                                               "prospect": []}
    # Only a CompanyAdmin may change access levels: the API account's owner is one.
    await raw.patch("/_sandbox/records/users/1001", json={"permissions": [200]})
    refused = await api.put(f"{C}/users/1002/permissions", json={"permissions": [400]})
    assert (refused.status_code, refused.content) == (403, b"")


# --------------------------------------------------------------------------- subcontractors


async def test_subcontractor_lifecycle_has_no_update(api, sandbox, receiver) -> None:
    await _hook(api, entity=4)
    created = await api.post(f"{C}/subcontractors", json={
        "firstName": "Kim", "lastName": "Öberg", "email": "kim@oberg-it.se", "gender": 1,
        "languageId": 1, "password": "pw", "passwordConfirm": "pw", "phone": "070-1",
        "companyName": "Öberg IT AB", "companyIdentifier": "556677-8899",
        "internalIdentifier": "kleer-7", "companyAddressId": 2, "currencyId": 1})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert (created.json()["companyName"], created.json()["companyUserType"],
            created.json()["status"]) == ("Öberg IT AB", 20, 1)
    assert created.json()["companyAddress"]["city"] == "Göteborg"
    listed = (await api.get(f"{C}/subcontractors")).json()
    assert sid in [s["id"] for s in listed] and len(listed) == 3
    # Cinode has GET and DELETE on /subcontractors/{id}, and nothing else.
    assert (await api.get(f"{C}/subcontractors/{sid}")).json()["phone"] == "070-1"
    wrong = await api.delete(f"{C}/subcontractors/{sid}",
                             params={"firstName": "Kim", "lastName": "Ek"})
    assert wrong.status_code == 400
    gone = await api.delete(f"{C}/subcontractors/{sid}",
                            params={"firstName": "Kim", "lastName": "Öberg"})
    assert gone.status_code == 200
    assert (await api.get(f"{C}/subcontractors/{sid}")).status_code == 404
    await sandbox.webhooks.drain()
    assert [(b["EntityType"], b["ActionType"], b["Payload"]["CompanyName"])
            for b in receiver.bodies()] == [
        ("CompanySubcontractor", "Created", "Öberg IT AB"),
        ("CompanySubcontractor", "Deleted", "Öberg IT AB")]


@pytest.mark.off_contract("a PUT Cinode does not have, and an add model without its fields")
async def test_invalid_subcontractor_update_is_405_and_missing_fields_400(api) -> None:
    put = await api.put(f"{C}/subcontractors/700001", json={"firstName": "Kim"})
    assert put.status_code == 405
    missing = await api.post(f"{C}/subcontractors", json={"firstName": "Kim"})
    assert set(missing.json()["errors"]) >= {"lastName", "email", "gender", "languageId",
                                             "password", "passwordConfirm"}


# --------------------------------------------------------------------------- customers


async def test_customer_lists_are_unpaginated_and_full_model_has_children(api) -> None:
    customers = (await api.get(f"{C}/customers")).json()
    assert len(customers) == 50
    assert {"id", "name", "identification", "status"} <= set(customers[0])
    # Cinode's customer models carry no timestamps at all.
    assert not {"createdDateTime", "updatedDateTime"} & set(customers[0])
    extended = (await api.get(f"{C}/customers/extended")).json()
    assert extended[0]["managers"][0]["companyUserId"] >= 1001
    full = (await api.get(f"{C}/customers/9001")).json()
    assert full["corporateIdentityNumber"] and full["vatNumber"].startswith("SE")
    assert full["country"]["code"] == "SE"
    assert full["addresses"][0]["addressType"] == 1
    assert all(p["customerId"] == 9001 for p in full["projects"])
    assert {p["id"] for p in full["projects"]} == {55001}
    assert not {"createdDateTime", "updatedDateTime"} & set(full)


async def test_customer_crud_with_address_contact_tags_and_managers(api) -> None:
    created = await api.post(f"{C}/customers", json={
        "name": "Ängel & Co AB", "corporateIdentityNumber": "556016-0680",
        "vatNumber": "SE556016068001", "identification": "K-1001", "phone": "08-1",
        "countryId": 1, "description": "Kleer notes"})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    address = await api.post(f"{C}/customers/{cid}/addresses", json={
        "street1": "Box 12", "zipCode": "111 22", "city": "Stockholm", "country": "Sweden",
        "addressType": 2})
    assert address.status_code == 201
    aid = address.json()["id"]
    await api.put(f"{C}/customers/{cid}/addresses/{aid}", json={
        "street1": "Box 13", "zipCode": "111 22", "city": "Stockholm", "addressType": 2})
    contact = await api.post(f"{C}/customers/{cid}/contacts", json={
        "firstName": "Per", "lastName": "Ek", "email": "per@angel.se"})
    assert contact.status_code == 201 and contact.json()["customerId"] == cid
    tagged = await api.post(f"{C}/customers/{cid}/tags", json=[{"name": "BV=30"}])
    assert tagged.json()["id"] == cid  # the customer model, not the tag list
    await api.post(f"{C}/customers/{cid}/managers", json={"companyUserIds": [1002]})
    full = (await api.get(f"{C}/customers/{cid}")).json()
    assert [(a["street1"], a["addressType"]) for a in full["addresses"]] == [("Box 13", 2)]
    assert [c["firstName"] for c in full["contacts"]] == ["Per"]
    assert [t["name"] for t in full["tags"]] == ["BV=30"]
    assert [m["companyUserId"] for m in full["managers"]] == [1002]
    bad_manager = await api.post(f"{C}/customers/{cid}/managers",
                                 json={"companyUserIds": [5]})
    assert bad_manager.status_code == 400

    patched = await api.patch(f"{C}/customers/{cid}", content=json.dumps(
        [{"op": "replace", "path": "/description", "value": "patched"},
         {"op": "replace", "path": "/status", "value": False},
         {"op": "replace", "path": "/countryid", "value": 2},
         {"op": "replace", "path": "/turnovercurrencyid", "value": 4}]), headers=PATCH_JSON)
    body = patched.json()
    assert (body["description"], body["status"]) == ("patched", 0)  # read back as Status
    assert (body["country"]["code"], body["turnOverCurrency"]["currencyCode"]) == ("NO", "NOK")
    put = await api.put(f"{C}/customers/{cid}", json={"name": "Ängel & Co AB",
                                                      "identification": "K-1001"})
    assert put.json()["vatNumber"] is None
    wrong = await api.request("DELETE", f"{C}/customers/{cid}",
                              json={"customerVerificationName": "Angel"})
    assert wrong.status_code == 400
    gone = await api.request("DELETE", f"{C}/customers/{cid}",
                             json={"customerVerificationName": "Ängel & Co AB"})
    assert gone.status_code == 200
    assert (await api.get(f"{C}/customers/{cid}")).status_code == 404


@pytest.mark.off_contract("a customer without a name, a readOnly status, status as 0/1")
async def test_invalid_customer_bodies(api) -> None:
    nameless = await api.post(f"{C}/customers", json={"description": "no name"})
    assert list(nameless.json()["errors"]) == ["name"]
    # `status` is readOnly in the add model: Cinode ignores it, the customer is active.
    inactive = await api.post(f"{C}/customers", json={"name": "Vilande AB", "status": False})
    assert inactive.status_code == 201 and inactive.json()["status"] == 1
    # PATCH /status takes a JSON boolean; 0 and 1 do not bind to System.Boolean.
    refused = await api.patch(f"{C}/customers/{inactive.json()['id']}", content=json.dumps(
        [{"op": "replace", "path": "/status", "value": 0}]), headers=PATCH_JSON)
    assert refused.status_code == 400
    assert "System.Boolean" in refused.json()["errors"]["status"][0]


@pytest.mark.parametrize(("operator", "needle", "expected"), [
    pytest.param(0, "-10", ["K-100", "K-1001", "X-10"], id="contains"),
    pytest.param(1, "k-100", ["K-100", "K-1001"], id="starts-with"),
    pytest.param(2, "-10", ["X-10"], id="ends-with"),
    pytest.param(3, "K-100", ["K-100"], id="equals"),
])
async def test_customer_search_identification_operators(api, operator, needle,
                                                        expected) -> None:
    for name, ident in (("A", "K-100"), ("B", "K-1001"), ("C", "X-10"), ("D", "Y-2")):
        await api.post(f"{C}/customers", json={"name": name, "identification": ident})
    found = (await api.post(f"{C}/customers/search", json={
        "identification": needle, "identificationOperator": operator,
        "pageAndSortBy": {"sortBy": 3, "sortOrder": 0, "page": 1, "itemsPerPage": 50}})).json()
    assert [c["identification"] for c in found["result"]] == expected
    assert found["totalItems"] == len(expected)


async def test_customer_search_pages_by_updated_to_the_end(api, clock, sandbox) -> None:
    clock.advance(60)
    await api.patch(f"{C}/customers/9030", content=json.dumps(
        [{"op": "replace", "path": "/identification", "value": "M-30"}]), headers=PATCH_JSON)
    seen: list[dict] = []
    page = 1
    while True:
        body = (await api.post(f"{C}/customers/search", json={"pageAndSortBy": {
            "sortBy": 13, "sortOrder": 1, "page": page, "itemsPerPage": 15}})).json()
        seen.extend(body["result"])
        if not body["result"]:
            break
        page += 1
    assert page == 5  # 15 + 15 + 15 + 5, then an empty page
    assert len(seen) == 50 and len({c["id"] for c in seen}) == 50
    assert seen[0]["id"] == 9030
    # The order is by a time Cinode keeps but never returns for customers.
    stamps = [sandbox.customers.get(c["id"])["updatedDateTime"] for c in seen]
    assert stamps == sorted(stamps, reverse=True)


# --------------------------------------------------------------------------- projects


async def test_get_projects_returns_only_won(api, sandbox) -> None:
    listed = (await api.get(f"{C}/projects")).json()
    won = [p["id"] for p in sandbox.projects.iter() if p["currentState"] == 30]
    assert [p["id"] for p in listed] == won
    assert 0 < len(won) < 50


async def test_project_create_validate_state_history_and_delete(api, clock) -> None:
    wrong_stage = await api.post(f"{C}/projects", json={
        "title": "T", "customerId": 9001, "pipelineId": 1, "pipelineStageId": 21})
    assert list(wrong_stage.json()["errors"]) == ["pipelineStageId"]
    unknown_customer = await api.post(f"{C}/projects", json={"title": "T", "customerId": 1})
    assert list(unknown_customer.json()["errors"]) == ["customerId"]

    created = await api.post(f"{C}/projects", json={
        "title": "Maconomy 4711", "customerId": 9002, "identifier": "SE_4711",
        "pipelineId": 2, "pipelineStageId": 22, "currencyId": 1, "projectState": 0,
        "priority": 5, "salesManagerIds": [1002], "estimatedValue": 250000,
        "location": {"locationId": 42}})
    assert created.status_code == 201, created.text
    project = created.json()
    assert (project["pipelineId"], project["currentStageId"], project["currentState"]) == (
        2, 22, 0)
    assert project["salesManagers"][0]["companyUserId"] == 1002
    assert project["currency"]["currencyCode"] == "SEK"
    assert project["customer"]["id"] == 9002
    assert project["locationId"] == 42
    clock.advance(30)
    won = await api.put(f"{C}/projects/{project['id']}", json={
        "title": "Maconomy 4711", "customerId": 9002, "projectState": 30})
    body = won.json()
    assert [h["state"] for h in body["stateHistory"]] == [0, 30]
    assert body["currentStageId"] == 22  # kept when not given
    assert body["identifier"] is None  # PUT replaces the edit model
    assert body["locationId"] is None  # ... location included, when it is left out
    assert body["updatedDateTime"] > project["updatedDateTime"]
    customer = (await api.get(f"{C}/customers/9002")).json()
    assert project["id"] in [p["id"] for p in customer["projects"]]
    assert (await api.delete(f"{C}/projects/{project['id']}")).status_code == 200
    assert (await api.get(f"{C}/projects/{project['id']}")).status_code == 404


@pytest.mark.off_contract("a project without its required fields, a float for an int32")
async def test_invalid_project_bodies(api) -> None:
    missing = await api.post(f"{C}/projects", json={"description": "x"})
    assert set(missing.json()["errors"]) == {"title", "customerId"}
    fraction = await api.post(f"{C}/projects", json={"title": "T", "customerId": 9001,
                                                     "estimatedValue": 250000.5})
    assert "System.Int32" in fraction.json()["errors"]["estimatedValue"][0]
    whole_float = await api.post(f"{C}/projects", json={"title": "T", "customerId": 9001,
                                                        "estimatedValue": 3450000.0})
    assert whole_float.status_code == 400  # a float token is not an int32, even 3450000.0


async def test_project_search_filters(api, sandbox) -> None:
    everything = list(sandbox.projects.iter())

    async def ids(**query) -> list[int]:
        body = {**query, "pageAndSortBy": {"sortBy": 0, "sortOrder": 0, "page": 1,
                                           "itemsPerPage": 100}}
        found = (await api.post(f"{C}/projects/search", json=body)).json()
        return sorted(p["id"] for p in found["result"])

    assert await ids(pipelines=[2]) == sorted(
        p["id"] for p in everything if p["pipelineId"] == 2)
    assert await ids(projectStates=[0, 60]) == sorted(
        p["id"] for p in everything if p["currentState"] in (0, 60))
    assert await ids(customerId=9003) == [55003]
    identifier = everything[7]["identifier"]
    assert await ids(identification=identifier) == [everything[7]["id"]]
    assert await ids(identification=identifier[:-1]) == []


@pytest.mark.parametrize("sort_by", [5, 6])
async def test_project_search_sort_5_and_6_are_updated_datetime(api, clock, sandbox,
                                                                sort_by) -> None:
    clock.advance(60)
    await api.put(f"{C}/projects/55020", json={"title": "Moved", "customerId": 9020})
    seen, page = [], 1
    while True:
        body = (await api.post(f"{C}/projects/search", json={"pageAndSortBy": {
            "sortBy": sort_by, "sortOrder": 1, "page": page, "itemsPerPage": 20}})).json()
        if not body["result"]:
            break
        seen.extend(body["result"])
        page += 1
    assert len(seen) == 50 == len({p["id"] for p in seen})
    assert seen[0]["id"] == 55020
    # Search results (ProjectBaseModel) carry no timestamp; each project's GET does.
    assert not {"updatedDateTime", "currentState", "currentStageId"} & set(seen[0])
    stamps = [sandbox.projects.get(p["id"])["updatedDateTime"] for p in seen]
    assert stamps == sorted(stamps, reverse=True)


async def test_lookups(api) -> None:
    """Currencies, languages and the company's offices; Cinode has no country list."""
    pipelines = (await api.get(f"{C}/projects/pipelines")).json()
    assert [p["title"] for p in pipelines] == ["Sales", "Framework agreements", "Internal"]
    assert all(s["order"] >= 1 for p in pipelines for s in p["stages"])
    currencies = (await api.get(f"{C}/currencies")).json()
    assert currencies[0] == {"id": 1, "currencyCode": "SEK", "description": "Svensk krona"}
    languages = (await api.get("/v0.1/languages")).json()  # not under the company
    assert (languages[0]["languageId"], languages[0]["culture"]) == (1, "sv-SE")
    company = (await api.get(C)).json()
    offices = [a for a in company["addresses"] if a["addressType"] == 3]  # LocationAddress
    assert [a["city"] for a in offices] == ["Stockholm", "Göteborg", "Malmö"]
    at_office = (await api.get(f"{C}/addresses/2/users")).json()
    assert at_office and {u["companyAddress"]["id"] for u in at_office} == {2}
    tag = (await api.get(f"{C}/tags/1")).json()
    assert (tag["id"], tag["name"]) == (1, "Java")


# --------------------------------------------------------------------------- webhooks


async def test_webhook_management_hides_secrets(api) -> None:
    hook = await _hook(api)
    listed = (await api.get(f"{C}/webhooks")).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert listed[0]["credentials"][0]["headerName"] == "x-hook-key"
    assert "s3cret" not in json.dumps(listed)
    assert (await api.delete(f"{C}/webhooks/{hook['id']}")).status_code == 200
    assert (await api.delete(f"{C}/webhooks/{hook['id']}")).status_code == 404
    manifest = await api.post(f"{C}/webhooks/manifest", json=[
        {"endpointUrl": "http://a.test/x", "configurations": [{"entityType": 6,
                                                               "actionType": 3}]},
        {"endpointUrl": "http://b.test/x", "configurations": [{"entityType": 5,
                                                               "actionType": 1}]}])
    assert manifest.status_code == 201 and len(manifest.json()) == 2


@pytest.mark.off_contract("an entityType outside WebhookEntityType")
async def test_invalid_webhook_configuration_is_refused(api) -> None:
    bad = await api.post(f"{C}/webhooks", json={"endpointUrl": "ftp://x",
                                                "configurations": [{"entityType": 99}]})
    assert set(bad.json()["errors"]) == {"endpointUrl", "configurations"}


async def test_project_won_in_the_ui_fires_a_pascal_case_webhook(api, raw, sandbox, receiver,
                                                                 clock, snapshot_json) -> None:
    hook = await _hook(api, entity=6, action=3)
    open_project = next(p for p in sandbox.projects.iter() if p["currentState"] == 0)
    clock.advance(5)
    moved = await raw.patch(f"/_sandbox/records/projects/{open_project['id']}",
                            json={"currentState": 30, "currentStageId": 15})
    assert moved.status_code == 200
    await sandbox.webhooks.drain()
    [(path, headers, body)] = receiver.received
    assert path == "/cinode"
    assert headers["x-hook-key"] == "s3cret"
    delivery = json.loads(body)
    assert delivery["WebhookId"] == hook["id"]
    assert (delivery["EntityType"], delivery["ActionType"]) == ("CompanyProject", "Updated")
    assert delivery["Payload"]["CurrentState"] == {"State": 30, "StateTitle": "Won"}
    assert delivery["Payload"]["CurrentStage"] == {"Id": 15, "Title": "Signed"}
    assert delivery == snapshot_json
    fresh = (await api.get(f"{C}/projects/{open_project['id']}")).json()
    assert fresh["currentState"] == 30
    assert [h["state"] for h in fresh["stateHistory"]][-2:] == [0, 30]


async def test_webhooks_follow_configuration_and_basic_credentials(api, sandbox,
                                                                   receiver) -> None:
    await _hook(api, entity=5, action=2, credentials=[
        {"isBasicAuthentication": True, "headerName": "cinode", "headerValue": "pw"}])
    await api.post(f"{C}/projects", json={"title": "Not a customer", "customerId": 9001})
    await api.put(f"{C}/customers/9001", json={"name": "Updated, not created"})
    await api.post(f"{C}/customers", json={"name": "Created AB"})
    await sandbox.webhooks.drain()
    assert [(b["EntityType"], b["ActionType"], b["Payload"]["Name"])
            for b in receiver.bodies()] == [("CompanyCustomer", "Created", "Created AB")]
    expected = "Basic " + base64.b64encode(b"cinode:pw").decode()
    assert receiver.received[0][1]["authorization"] == expected


async def test_every_api_change_notifies_an_all_all_webhook(api, sandbox, receiver) -> None:
    await _hook(api)
    await api.post(f"{C}/users/1002/tags", json=[{"name": "Python"}])
    created = await api.post(f"{C}/subcontractors", json={
        "firstName": "Kim", "lastName": "Ek", "email": "k@e.se", "gender": 1,
        "languageId": 1, "password": "p", "passwordConfirm": "p"})
    await api.delete(f"{C}/subcontractors/{created.json()['id']}",
                     params={"firstName": "Kim", "lastName": "Ek"})
    await api.post(f"{C}/customers/9001/contacts", json={"firstName": "A", "lastName": "B"})
    await api.delete(f"{C}/projects/55001")
    await sandbox.webhooks.drain()
    assert [(b["EntityType"], b["ActionType"]) for b in receiver.bodies()] == [
        ("CompanyEmployee", "Updated"), ("CompanySubcontractor", "Created"),
        ("CompanySubcontractor", "Deleted"), ("CompanyCustomerContact", "Created"),
        ("CompanyProject", "Deleted")]


async def test_inactive_and_deleted_webhooks_receive_nothing(api, sandbox, receiver) -> None:
    hook = await _hook(api)
    await api.delete(f"{C}/webhooks/{hook['id']}")
    await api.post(f"{C}/webhooks", json={
        "isActive": False, "endpointUrl": "http://receiver.test/off",
        "configurations": [{"entityType": 1, "actionType": 1}]})
    await api.put(f"{C}/customers/9001", json={"name": "Quiet AB"})
    await sandbox.webhooks.drain()
    assert receiver.received == []


async def test_webhook_retries_and_duplicates(api, sandbox, receiver) -> None:
    await _hook(api, entity=6)
    receiver.statuses = [503]
    sandbox.set_faults(Faults(webhook_duplicate_rate=1.0))
    await api.put(f"{C}/projects/55002", json={"title": "Retry me", "customerId": 9002})
    await sandbox.webhooks.drain()
    statuses = [d.status for d in sandbox.webhooks.log]
    assert statuses == [503, 200, 200]
    assert [d.duplicate for d in sandbox.webhooks.log] == [False, False, True]
    assert receiver.bodies()[1] == receiver.bodies()[2]


async def test_reordered_deliveries_all_arrive(api, sandbox, receiver) -> None:
    await _hook(api, entity=6)
    sandbox.set_faults(Faults(webhook_reorder=True, seed=5))
    for n in range(6):
        await api.put(f"{C}/projects/{55001 + n}", json={"title": f"r{n}",
                                                          "customerId": 9001 + n})
    await sandbox.webhooks.drain()
    titles = [b["Payload"]["Title"] for b in receiver.bodies()]
    assert sorted(titles) == [f"r{n}" for n in range(6)]


# --------------------------------------------------------------------------- faults


async def test_error_fault_uses_the_error_model(api, sandbox, snapshot_json) -> None:
    sandbox.set_faults(Faults(error_rate=1.0, seed=3))
    response = await api.get(f"{C}/users")
    assert response.status_code in (500, 502, 503)
    body = response.json()
    assert set(body) == {"correlationId", "status", "description", "code", "moreInfo"}
    assert body == snapshot_json


async def test_burst_429_uses_the_vendor_body(api, sandbox) -> None:
    sandbox.set_faults(Faults(burst_429=2))
    statuses = [(await api.get(f"{C}/tags")).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


async def test_drop_fault_surfaces_as_a_transport_error_after_the_write(api, sandbox) -> None:
    sandbox.set_faults(Faults(drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        await api.post(f"{C}/customers", json={"name": "Written anyway AB"})
    sandbox.set_faults(Faults())
    found = (await api.post(f"{C}/customers/search", json={
        "name": "Written anyway AB", "nameOperator": 3})).json()
    assert found["totalItems"] == 1


def test_timeout_and_drop_over_loopback(loopback) -> None:
    sandbox = CinodeSandbox(SandboxConfig(records=20))
    with loopback(sandbox.app) as url, httpx.Client(base_url=url, timeout=0.3) as client:
        token = client.get("/token", headers={"authorization": BASIC}).json()["access_token"]
        client.headers["authorization"] = f"Bearer {token}"
        assert len(client.get(f"{C}/customers").json()) == 20
        sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=1.0))
        with pytest.raises(httpx.ReadTimeout):
            client.post(f"{C}/customers", json={"name": "Slow AB"})
        sandbox.set_faults(Faults(drop_rate=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{C}/customers/9001")
        sandbox.set_faults(Faults())
        names = [c["name"] for c in client.get(f"{C}/customers").json()]
        assert "Slow AB" in names  # processed before the client gave up
        log = client.get("/_sandbox/requests").json()["requests"]
        assert [e["fault"] for e in log if e["fault"]] == ["timeout", "drop"]


# --------------------------------------------------------------------------- properties


def _sync_search(sandbox: CinodeSandbox, updates: list[int], per_page: int) -> list[dict]:
    async def run() -> list[dict]:
        async with await _client_for(sandbox) as client:
            token = (await client.get("/token", headers={"authorization": BASIC})).json()
            client.headers["authorization"] = f"Bearer {token['access_token']}"
            for index in updates:  # the manual clock stands still: order must hold anyway
                await client.put(f"{C}/projects/{55001 + index}",
                                 json={"title": f"u{index}", "customerId": 9001 + index})
            seen, page = [], 1
            while True:
                body = (await client.post(f"{C}/projects/search", json={"pageAndSortBy": {
                    "sortBy": 5, "sortOrder": 1, "page": page,
                    "itemsPerPage": per_page}})).json()
                if not body["result"]:
                    return seen
                seen.extend(body["result"])
                page += 1

    return asyncio.run(run())


@given(updates=st.lists(st.integers(min_value=0, max_value=11), max_size=6),
       per_page=st.integers(min_value=1, max_value=7))
@settings(max_examples=40, deadline=None)
def test_paging_by_updated_returns_every_project_once_newest_first(updates, per_page) -> None:
    sandbox = CinodeSandbox(SandboxConfig(clock=ManualClock(), records=12, rate_limits=False))
    seen = _sync_search(sandbox, updates, per_page)
    assert sorted(p["id"] for p in seen) == list(range(55001, 55013))
    newest_first = list(dict.fromkeys(reversed(updates)))
    assert [p["id"] - 55001 for p in seen[:len(newest_first)]] == newest_first
