"""The Cinode contract checker itself: it catches each class of violation, passes valid
exchanges, and its contract.json is the derived one (read without the vendor source)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.contracts.cinode import checker, derive
from tests.contracts.recording import ContractTransport, Exchange, Ledger, violations

C = "/v0.1/companies/1"
T = "/v0.1/companies/{companyId}"
BEARER = {"authorization": "Bearer eyJ.test.token"}
JSON = "application/json"
PATCH = "application/json-patch+json"


def exchange(method: str, path: str, body: Any = None, *, status: int = 200,
             answer: Any = None, content_type: str = JSON,
             headers: dict[str, str] | None = None,
             query: tuple[tuple[str, str], ...] = (),
             answer_type: str = "application/json; charset=utf-8") -> Exchange:
    """An exchange as ContractTransport records it; bytes bodies are sent verbatim."""
    raw = body if isinstance(body, bytes) else (b"" if body is None else
                                                json.dumps(body).encode())
    sent = {**BEARER, **({"content-type": content_type} if raw else {}), **(headers or {})}
    answered = answer if isinstance(answer, bytes) else (b"" if answer is None else
                                                         json.dumps(answer).encode())
    return Exchange(vendor="cinode", method=method, url=f"http://cinode.test{path}",
                    path=path, query=query, headers=sent, body=raw, status=status,
                    response_headers={"content-type": answer_type} if answered else {},
                    response_body=answered)


def one(problems: list[str], *fragments: str) -> str:
    """The single problem reported, checked to contain each fragment."""
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    return problems[0]


PROJECT = {"title": "Migration", "customerId": 12, "estimatedValue": 3450000,
           "estimatedCloseDate": "2025-01-31T00:00:00Z", "projectState": 0, "priority": 5,
           "pipelineId": 1, "pipelineStageId": 2, "salesManagerIds": [3], "location": None}


# ---------------------------------------------------------------------- routes


def test_route_of_maps_sent_paths_to_templates() -> None:
    assert checker.route_of("POST", f"{C}/users/search") == f"POST {T}/users/search"
    assert checker.route_of("GET", f"{C}/users/42") == f"GET {T}/users/{{id}}"
    assert checker.route_of("GET", f"{C}/users/extended") == f"GET {T}/users/extended"
    assert checker.route_of("GET", f"{C}/users-full/42") == f"GET {T}/users-full/{{id}}"
    assert checker.route_of("PUT", f"{C}/users/42/permissions") == \
        f"PUT {T}/users/{{companyUserId}}/permissions"
    assert checker.route_of("GET", "/token") == "GET /token"
    assert checker.route_of("POST", "/token/refresh") == "POST /token/refresh"
    assert checker.route_of("GET", "/v0.1/languages") == "GET /v0.1/languages"
    assert checker.route_of("GET", f"{C}/countries") is None
    assert checker.route_of("PUT", f"{C}/subcontractors/7") is None


def test_an_unknown_route_is_reported() -> None:
    one(checker.check_request(exchange("GET", f"{C}/countries")),
        "GET /v0.1/companies/1/countries", "no such endpoint in Cinode's API")
    one(checker.check_request(exchange("GET", f"{C}/locations")), "no such endpoint")


def test_a_wrong_method_is_reported_with_the_methods_that_exist() -> None:
    one(checker.check_request(exchange("PUT", f"{C}/subcontractors/7", {"firstName": "A"})),
        f"PUT {T}/subcontractors/{{id}} does not exist", "only GET, DELETE")
    one(checker.check_request(exchange("GET", f"{C}/customers/search")),
        f"GET {T}/customers/search does not exist", "only POST")


def test_a_path_cinode_has_outside_the_subset_is_told_apart() -> None:
    one(checker.check_request(exchange("GET", f"{C}/teams")),
        f"GET {T}/teams is in Cinode's document but outside the derived contract")


def test_path_parameters_must_fit_their_type() -> None:
    one(checker.check_request(exchange("GET", f"{C}/projects/abc")),
        "path parameter id", "'abc' is not an integer", "int32")
    one(checker.check_request(exchange("GET", f"{C}/projects/99999999999")),
        "out of the int32 range")
    one(checker.check_request(exchange("DELETE", f"{C}/webhooks/not-a-uuid")),
        "path parameter id: 'not-a-uuid' is not a UUID")
    assert checker.check_request(exchange(
        "DELETE", f"{C}/webhooks/e7de15ae-a5c5-46b1-922b-9e85ae0761b4")) == []


def test_sandbox_control_calls_are_not_cinode_calls() -> None:
    control = exchange("PATCH", "/_sandbox/records/projects/5", {"currentState": 30})
    assert checker.check_request(control) == []
    assert checker.check_response(control) == []
    assert checker.route_of("PATCH", "/_sandbox/records/projects/5") is None


# ---------------------------------------------------------------------- request bodies


def test_a_valid_project_create_passes() -> None:
    assert checker.check_request(exchange("POST", f"{C}/projects", PROJECT)) == []


def test_a_float_for_an_int32_is_caught_from_the_raw_json_token() -> None:
    raw = json.dumps(PROJECT).replace('"estimatedValue": 3450000',
                                      '"estimatedValue": 3450000.0').encode()
    one(checker.check_request(exchange("POST", f"{C}/projects", raw)),
        f"POST {T}/projects: body.estimatedValue: 3450000.0 is not an int32 JSON integer "
        "(ProjectAddEditModel.estimatedValue)")
    exponent = json.dumps(PROJECT).replace('"customerId": 12', '"customerId": 1.2e1').encode()
    one(checker.check_request(exchange("POST", f"{C}/projects", exponent)),
        "body.customerId: 1.2e1 is not an int32 JSON integer")


def test_an_int32_out_of_range_is_caught() -> None:
    body = {**PROJECT, "contractValue": 2**31}
    one(checker.check_request(exchange("POST", f"{C}/projects", body)),
        "body.contractValue", "int32 (out of range)", "ProjectAddEditModel.contractValue")


def test_one_or_zero_for_a_boolean_in_a_customer_patch_is_caught() -> None:
    patch = [{"op": "replace", "path": "/status", "value": 1},
             {"op": "replace", "path": "/name", "value": "Acme AB"}]
    one(checker.check_request(exchange("PATCH", f"{C}/customers/5", patch,
                                       content_type=PATCH)),
        f"PATCH {T}/customers/{{id}}: body[0].value: 1 is not a JSON boolean",
        "CompanyCustomerPatchModel.status, patched at /status")
    valid = [{"op": "replace", "path": "/status", "value": False},
             {"op": "replace", "path": "/corporateidentitynumber", "value": "556677-8899"}]
    assert checker.check_request(exchange("PATCH", f"{C}/customers/5", valid,
                                          content_type=PATCH)) == []


def test_a_one_for_a_boolean_in_a_body_is_caught() -> None:
    one(checker.check_request(exchange("POST", f"{C}/users/search",
                                       {"term": "", "includeDisconnected": 1})),
        "body.includeDisconnected: 1 is not a JSON boolean",
        "SearchCompanyUserQueryModel.includeDisconnected")


def test_a_patch_path_must_name_a_property_of_the_patched_model() -> None:
    patch = [{"op": "replace", "path": "/countryCode", "value": "SE"}]
    one(checker.check_request(exchange("PATCH", f"{C}/customers/5", patch,
                                       content_type=PATCH)),
        "body[0].path: '/countryCode' names no property of CompanyCustomerPatchModel")
    # Paths match case-insensitively (ASP.NET JsonPatch); Cinode documents lower case.
    users = [{"op": "replace", "path": "/firstname", "value": "Anna"},
             {"op": "replace", "path": "/lastName", "value": "Berg"},
             {"op": "replace", "path": "/internalIdentifier", "value": "E-17"}]
    assert checker.check_request(exchange("PATCH", f"{C}/users/5", users,
                                          content_type=PATCH)) == []


def test_a_patch_must_be_sent_as_json_patch_and_be_an_array() -> None:
    patch = [{"op": "replace", "path": "/name", "value": "Acme AB"}]
    one(checker.check_request(exchange("PATCH", f"{C}/customers/5", patch)),
        "Content-Type 'application/json' is not one the operation declares",
        "application/json-patch+json")
    one(checker.check_request(exchange("PATCH", f"{C}/customers/5", {"name": "Acme"},
                                       content_type=PATCH)),
        "a JSON Patch document is an array of operations")
    bad_op = [{"op": "set", "path": "/name", "value": "Acme"}]
    one(checker.check_request(exchange("PATCH", f"{C}/customers/5", bad_op,
                                       content_type=PATCH)),
        "body[0].op", '"set" is not one of add, remove, replace, move, copy, test')


def test_an_undeclared_property_is_caught() -> None:
    # An address PUT that echoes the read model back: `id` is not in the edit model.
    address = {"id": 77, "street1": "Storgatan 1", "zipCode": "111 22", "city": "Stockholm",
               "country": "Sweden", "addressType": 2}
    one(checker.check_request(exchange("PUT", f"{C}/customers/5/addresses/77", address)),
        f"PUT {T}/customers/{{customerId}}/addresses/{{id}}: body.id: undeclared property",
        "CompanyCustomerAddressAddEditModel declares no 'id'")
    del address["id"]
    assert checker.check_request(exchange("PUT", f"{C}/customers/5/addresses/77",
                                          address)) == []


def test_an_undeclared_property_nested_in_a_model_is_caught() -> None:
    body = {"term": "", "pageAndSortBy": {"page": 1, "itemsPerPage": 10, "pageSize": 5}}
    one(checker.check_request(exchange("POST", f"{C}/users/search", body)),
        "body.pageAndSortBy.pageSize: undeclared property",
        "CompanyUserQuerySortPageAndSortByModel declares no 'pageSize'")


def test_a_missing_required_property_is_caught() -> None:
    body = {k: v for k, v in PROJECT.items() if k != "title"}
    one(checker.check_request(exchange("POST", f"{C}/projects", body)),
        "body.title: the required property is missing (ProjectAddEditModel.title)")
    one(checker.check_request(exchange("POST", "/token/refresh", {},
                                       headers={"authorization": ""})),
        "body.refreshToken: the required property is missing (TokenRefreshModel.refreshToken)")


def test_a_bad_enum_value_is_caught_and_named() -> None:
    one(checker.check_request(exchange("POST", f"{C}/projects", {**PROJECT, "priority": 4})),
        "body.priority: 4 is not one of ProjectPriority (3 Low, 5 Medium, 8 High)",
        "ProjectAddEditModel.priority")
    one(checker.check_request(exchange("POST", f"{C}/projects/search",
                                       {"pageAndSortBy": {"sortBy": 7}})),
        "body.pageAndSortBy.sortBy: 7 is not one of ProjectQuerySort",
        "5 UpdatedDateTime")
    one(checker.check_request(exchange("PUT", f"{C}/users/5/permissions",
                                       {"permissions": [200, 999]})),
        "body.permissions[]: 999 is not one of AccessLevel", "200 CompanyUser")


def test_a_bad_date_time_is_caught() -> None:
    for value in ("31/01/2025", "2025-02-30T00:00:00Z", "2025-01-31", "2025-01-31T10:00:00"):
        one(checker.check_request(exchange("POST", f"{C}/projects",
                                           {**PROJECT, "estimatedCloseDate": value})),
            "body.estimatedCloseDate", "is not an RFC 3339 date-time with its UTC offset",
            "ProjectAddEditModel.estimatedCloseDate")
    for value in ("2025-01-31T10:00:00+01:00", "2025-01-31T10:00:00.4946491Z"):
        assert checker.check_request(exchange(
            "POST", f"{C}/projects", {**PROJECT, "estimatedCloseDate": value})) == []


def test_null_only_where_nullable() -> None:
    one(checker.check_request(exchange("POST", f"{C}/projects",
                                       {**PROJECT, "projectState": None})),
        "body.projectState: null is not allowed: the property is not nullable",
        "ProjectAddEditModel.projectState")
    nulls = {**PROJECT, "description": None, "intermediatorId": None, "currencyId": None}
    assert checker.check_request(exchange("POST", f"{C}/projects", nulls)) == []


def test_a_wrong_json_type_is_caught() -> None:
    one(checker.check_request(exchange("POST", f"{C}/projects",
                                       {**PROJECT, "location": "Stockholm"})),
        'body.location: "Stockholm" is a JSON string, not object',
        "ProjectAddEditModel.location")


def test_a_read_only_property_may_not_be_sent() -> None:
    one(checker.check_request(exchange("POST", f"{C}/customers",
                                       {"name": "Acme AB", "status": True})),
        "body.status: true was sent, but the property is readOnly",
        "CompanyCustomerAddModel.status")
    assert checker.check_request(exchange("POST", f"{C}/customers",
                                          {"name": "Acme AB", "countryId": 1})) == []


def test_malformed_json_and_duplicate_keys_are_caught() -> None:
    one(checker.check_request(exchange("POST", f"{C}/projects", b'{"title": "a",')),
        "body: not JSON")
    one(checker.check_request(exchange(
        "POST", f"{C}/projects", b'{"title": "a", "customerId": 1, "title": "b"}')),
        "the key 'title' appears twice")


def test_a_body_where_none_is_declared_is_caught() -> None:
    one(checker.check_request(exchange("GET", f"{C}/projects/5", {"id": 5})),
        "the operation declares no request body")


def test_authorization_schemes() -> None:
    basic = {"authorization": "Basic YWNjZXNzOnNlY3JldA=="}
    assert checker.check_request(exchange("GET", "/token", headers=basic)) == []
    one(checker.check_request(exchange("GET", "/token")),
        "Authorization: Bearer credentials, the operation wants Basic")
    one(checker.check_request(exchange("POST", f"{C}/projects", PROJECT,
                                       headers={"authorization": ""})),
        "no Authorization header, the operation wants Bearer")
    assert checker.check_request(exchange("POST", "/token/refresh", {"refreshToken": "r1"},
                                          headers={"authorization": ""})) == []


def test_query_parameters_are_declared_and_typed() -> None:
    ok = (("firstName", "Anna"), ("lastName", "Berg"))
    assert checker.check_request(exchange("DELETE", f"{C}/users/5", query=ok)) == []
    one(checker.check_request(exchange("DELETE", f"{C}/users/5",
                                       query=(*ok, ("force", "true")))),
        "query parameter 'force' is not declared", "firstName, lastName")


# ---------------------------------------------------------------------- answers


BASE_PROJECT = {"id": 9, "companyId": 1, "customerId": 12, "title": "Migration",
                "description": None, "identifier": "P-9", "customerIdentifier": None,
                "links": [{"href": "/v0.1/companies/1/projects/9", "rel": "self",
                           "methods": ["GET"]}]}
SEARCH = {"pagedAndSortedBy": {"sortBy": 5, "sortOrder": 1, "page": 1, "itemsPerPage": 25},
          "result": [BASE_PROJECT], "hits": 1, "totalItems": 1}


def test_a_valid_search_answer_passes() -> None:
    assert checker.check_response(exchange("POST", f"{C}/projects/search", {},
                                           answer=SEARCH)) == []


def test_an_extra_response_field_is_caught_once_per_field_with_a_count() -> None:
    listed = {**BASE_PROJECT, "updatedDateTime": "2025-01-31T10:00:00",
              "currentState": 30, "currentStageId": 4}
    answer = {**SEARCH, "result": [listed, {**listed, "id": 10}], "hits": 2, "totalItems": 2}
    problems = checker.check_response(exchange("POST", f"{C}/projects/search", {},
                                               answer=answer))
    assert sorted(problems) == sorted(
        f"POST {T}/projects/search: body.result[].{name}: undeclared property "
        f"(ProjectBaseModel declares no {name!r}) (2 times)"
        for name in ("updatedDateTime", "currentState", "currentStageId"))


def test_answer_types_are_strict_too() -> None:
    answer = {**SEARCH, "result": [{**BASE_PROJECT, "customerId": None}], "hits": 1.0}
    problems = checker.check_response(exchange("POST", f"{C}/projects/search", {},
                                               answer=answer))
    assert len(problems) == 2, problems
    assert any("body.hits: 1.0 is not an int32 JSON integer "
               "(SearchProjectsResultModel.hits)" in p for p in problems)
    assert any("body.result[].customerId: null is not allowed" in p for p in problems)


def test_answer_dates_may_omit_the_offset_as_dotnet_prints_them() -> None:
    currency = {"id": 1, "currencyCode": "SEK", "description": "Svensk krona"}
    user = {"id": 3, "companyUserId": 3, "companyId": 1, "firstName": "Anna",
            "lastName": "Berg", "createdDateTime": "2025-01-31T10:00:00.1234567",
            "updatedDateTime": "2025-01-31T10:00:00", "defaultCurrency": currency,
            "status": 3}
    assert checker.check_response(exchange("GET", f"{C}/users/3", answer=user)) == []
    bad = {**user, "updatedDateTime": "yesterday"}
    one(checker.check_response(exchange("GET", f"{C}/users/3", answer=bad)),
        "body.updatedDateTime", "CompanyUserModel.updatedDateTime")


def test_an_undeclared_success_status_is_caught() -> None:
    customer = {"id": 5, "name": "Acme AB"}
    one(checker.check_response(exchange("POST", f"{C}/customers", {"name": "Acme AB"},
                                        status=200, answer=customer)),
        "answered 200, a success status the operation does not declare (it declares 201)")
    assert checker.check_response(exchange("POST", f"{C}/customers", {"name": "Acme AB"},
                                           status=201, answer=customer)) == []


def test_a_wrong_answer_model_is_caught() -> None:
    # Tag replacement answers the whole customer, not the list of tags.
    tags = [{"id": 1, "name": "BV=30"}]
    one(checker.check_response(exchange("POST", f"{C}/customers/5/tags", tags, answer=tags)),
        "body: a JSON array where the contract declares object (CompanyCustomerModel)")


def test_error_answers_are_checked_only_where_a_shape_is_declared() -> None:
    ok = {"errors": {"Name": ["The Name field is required."]}}
    assert checker.check_response(exchange("POST", f"{C}/customers", {}, status=400,
                                           answer=ok)) == []
    one(checker.check_response(exchange("POST", f"{C}/customers", {}, status=400,
                                        answer={"message": "bad"})),
        "body.message: undeclared property (ValidationModel declares no 'message')")
    for status in (401, 403, 404):
        assert checker.check_response(exchange("GET", f"{C}/projects/5", status=status,
                                               answer=b"whatever")) == []
    limited = {"description": "Request limit was exceeded", "moreInfo": "https://x",
               "status": 429}
    assert checker.check_response(exchange("GET", f"{C}/projects/5", status=429,
                                           answer=limited)) == []
    one(checker.check_response(exchange("GET", f"{C}/projects/5", status=429,
                                        answer={**limited, "retryAfter": 2})),
        "RateLimitErrorModel declares no 'retryAfter'")


def test_token_answers() -> None:
    basic = {"authorization": "Basic YWNjZXNzOnNlY3JldA=="}
    tokens = {"access_token": "a.b.c", "refresh_token": "r1"}
    assert checker.check_response(exchange("GET", "/token", headers=basic,
                                           answer=tokens)) == []
    one(checker.check_response(exchange("GET", "/token", headers=basic,
                                        answer={"access_token": "a.b.c"})),
        "body.refresh_token: the required property is missing (TokenModel.refresh_token)")


def test_every_sentence_names_the_route_and_the_element() -> None:
    raw = json.dumps({**PROJECT, "priority": 4, "bogus": 1}).replace(
        '"estimatedValue": 3450000', '"estimatedValue": 1.5').encode()
    problems = checker.check_request(exchange("POST", f"{C}/projects", raw))
    assert len(problems) == 3, problems
    for problem in problems:
        assert problem.startswith(f"POST {T}/projects: body."), problem
        assert re.search(r"\((ProjectAddEditModel[.\w ']*|ProjectAddEditModel declares "
                         r"no '\w+')\)$", problem), problem


# ---------------------------------------------------------------------- the seam


async def test_the_recording_seam_hands_exchanges_to_this_checker() -> None:
    """ContractTransport over an app, then recording.violations() finds this checker."""

    async def token(request: Request) -> JSONResponse:
        return JSONResponse({"access_token": "a.b.c", "refresh_token": "r1"})

    async def users(request: Request) -> JSONResponse:
        return JSONResponse({"result": [], "hits": 0, "totalItems": 0, "total": 0})

    app = Starlette(routes=[Route("/token", token), Route(f"{T}/users/search".replace(
        "{companyId}", "{companyId:int}"), users, methods=["POST"])])
    ledger = Ledger()
    transport = ContractTransport(httpx.ASGITransport(app=app), "cinode", ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://cinode.test") as client:
        await client.get("/token", headers={"authorization": "Basic YTpi"})
        await client.post(f"{C}/users/search", json={"term": "", "pageSize": 5},
                          headers=BEARER)
    assert [checker.route_of(e.method, e.path) for e in ledger.exchanges] == [
        "GET /token", f"POST {T}/users/search"]
    assert [problem for _, problem in violations(ledger)] == [
        f"request POST {C}/users/search: POST {T}/users/search: body.pageSize: undeclared "
        "property (SearchCompanyUserQueryModel declares no 'pageSize')",
        f"answer 200 to POST {C}/users/search: POST {T}/users/search: body.total: undeclared "
        "property (SearchCompanyUserResultModel declares no 'total')"]


# ---------------------------------------------------------------------- contract.json


CONTRACT_FILE = Path(checker.__file__).with_name("contract.json")


def test_the_contract_records_its_derivation() -> None:
    info = checker.CONTRACT["x-derivation"]
    assert info["source"] == "cinode-openapi-3.0.1.json"
    assert re.fullmatch(r"[0-9a-f]{64}", info["sourceSha256"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info["derivedOn"])
    assert info["script"] == "tests/contracts/cinode/derive.py"
    for path in ("/token", "/token/refresh"):
        assert "outside its OpenAPI file" in checker.CONTRACT["paths"][path]["x-source"]


def test_the_contract_is_rendered_deterministically() -> None:
    text = CONTRACT_FILE.read_text(encoding="utf-8")
    assert derive.render(json.loads(text)) == text


def test_every_reference_in_the_contract_resolves() -> None:
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', CONTRACT_FILE.read_text()))
    assert refs <= set(checker.CONTRACT["components"]["schemas"])


@pytest.mark.skipif(not derive.DEFAULT_SOURCE.exists(),
                    reason="Cinode's OpenAPI document is not on this machine")
def test_the_contract_is_what_the_source_derives_to(tmp_path: Path) -> None:
    raw = derive.DEFAULT_SOURCE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == checker.CONTRACT["x-derivation"]["sourceSha256"]
    date = checker.CONTRACT["x-derivation"]["derivedOn"]
    assert derive.render(derive.derive(derive.DEFAULT_SOURCE, date)) == \
        CONTRACT_FILE.read_text(encoding="utf-8")
