"""The Kleer contract checker (tests/contracts/kleer/checker.py) catches each class of
violation and passes requests and answers that keep Kleer's XSD and route table."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.contracts.kleer import checker
from tests.contracts.kleer.derive import CONTRACT, LOCAL_XSD, derive, render
from tests.contracts.recording import ContractTransport, Exchange, Ledger, violations

BASE = "/v1/company/4711"


def exchange(method: str, tail: str, body: Any = None, *, answer: Any = None,
             status: int = 200, query: Iterable[tuple[str, str]] = ()) -> Exchange:
    raw = b"" if body is None else json.dumps(body).encode()
    reply = b"" if answer is None else json.dumps(answer).encode()
    return Exchange("kleer", method, f"https://api.kleer.se{BASE}{tail}", f"{BASE}{tail}",
                    tuple(query), {"content-type": "application/json"}, raw, status,
                    {"content-type": "application/json"}, reply)


def project_writeable(**changes: Any) -> dict[str, Any]:
    """Every element client-project-writeable requires, with neutral values."""
    body = {"client": {"id": 2001}, "fixed-price": False, "number": "P-1001",
            "name": "Migration", "comment": "", "budget-hours": 0, "budget-amount": 0,
            "incoming-invoiced-amount": 0, "incoming-invoiced-vat-amount": 0,
            "all-activities": True, "all-users": True}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def agreement(**changes: Any) -> dict[str, Any]:
    """A whole client-agreement as read back, ready to go into update-client-agreement."""
    row = {"quantity": 1, "price": 990000, "unit": "st", "description": "Licens"}
    body = {"id": 7001, "foreign-id": "", "revision-nr": 3, "client-ref": {"id": 2001},
            "description": "Support", "start-invoice-date": "2026-01-01",
            "next-invoice-date": "2026-02-01", "end-date": None, "your-reference": "",
            "our-reference": None, "approver": None, "currency": "SEK", "payment-days": 30,
            "invoice-interval-months": 1, "invoice-day": "INVOICE_AT_START", "po-nr": "",
            "agreement-nr": "A-1", "subscription-nr": "", "deleted": False,
            "first-invoice-rows": [], "recurring-rows": [row]}
    body.update(changes)
    return body


def project_readable(**changes: Any) -> dict[str, Any]:
    body = {"id": {"id": 5001}, "client": {"id": 2001}, "fixed-price": False,
            "number": "P-1001", "name": "Migration", "currency-type": "SEK", "active": True,
            "comment": "", "budget-hours": 0, "budget-amount": 0,
            "incoming-invoiced-amount": 0, "incoming-invoiced-vat-amount": 0,
            "all-activities": False, "activities": [{"activity": {"id": 1}}],
            "all-users": True, "status": "Open", "opening-date": "2026-01-01"}
    body.update(changes)
    return body


def one(problems: list[str], *needles: str) -> str:
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, f"expected one problem with {needles}, got {problems}"
    return hits[0]


# --------------------------------------------------------------------------- routes


def test_route_of_names_the_contract_route() -> None:
    assert checker.route_of("GET", f"{BASE}/user/me") == "GET /user/me"
    assert checker.route_of("GET", f"{BASE}/user/42") == "GET /user/{id}"
    assert checker.route_of("GET", f"{BASE}/client/invoice") == "GET /client/invoice"
    assert checker.route_of("POST", f"{BASE}/client/agreement/7") == \
        "POST /client/agreement/{id}"
    assert checker.route_of("GET", f"{BASE}/user/foreign-id/hubspot-1") == \
        "GET /user/foreign-id/{foreignId}"
    assert checker.route_of("DELETE", f"{BASE}/client-project/5") is None
    assert checker.route_of("GET", "/v2/companies/1/users") is None


def test_unknown_route_is_a_violation() -> None:
    problems = checker.check_request(exchange("GET", "/client-project/5/close"))
    one(problems, "GET /client-project/5/close", "no such route")


def test_path_outside_the_company_scope_is_a_violation() -> None:
    problems = checker.check_request(Exchange(
        "kleer", "GET", "https://api.kleer.se/v1/user", "/v1/user", (), {}, b"", 200, {},
        b""))
    one(problems, "/v1/user", "not under /v1/company/{companyId}")


def test_sandbox_control_calls_are_not_kleer_traffic() -> None:
    control = Exchange("kleer", "PATCH", "x", "/_sandbox/records/client/40000001", (), {},
                       b'{"name": "x"}', 200, {}, b"{}")
    assert checker.check_request(control) == checker.check_response(control) == []
    assert checker.summary([control])["routes"] == {}


def test_wrong_verb_on_a_confirmed_path_contradicts_the_contract() -> None:
    problems = checker.check_request(exchange("DELETE", "/client-project/5"))
    sentence = one(problems, "DELETE /client-project/{id}", "contradicts the contract")
    assert "GET confirmed by" in sentence and "PeaApi.cs:87" in sentence


def test_wrong_verb_on_an_assumed_path_is_not_in_the_contract() -> None:
    problems = checker.check_request(exchange("PATCH", "/client/agreement/7", {}))
    one(problems, "PATCH /client/agreement/{id}", "not in the contract", "(assumed)")


def test_assumed_route_is_allowed_and_counted() -> None:
    valid = exchange("PUT", "/client-project", project_writeable())
    assert checker.check_request(valid) == []
    figures = checker.summary([valid, exchange("GET", "/client-project")])
    assert figures["routes"] == {"GET /client-project": "confirmed",
                                 "PUT /client-project": "assumed"}
    assert (figures["confirmed"], figures["assumed"]) == (1, 1)
    assert (figures["bodies"], figures["bodies_valid"]) == (1, 1)


def test_query_parameters_are_the_routes_own() -> None:
    problems = checker.check_request(exchange(
        "GET", "/client/invoice",
        query=[("filter", "unpaid"), ("updatedAfter", "2026-01-01"), ("offset", "0"),
               ("limit", "500"), ("ignoreFiles", "true")]))
    one(problems, "?filter", "'unpaid' is not one of all, certified, certifiable, sendable")
    one(problems, "?updatedAfter", "is not in the contract")
    assert len(problems) == 2
    assert checker.check_request(exchange("GET", "/client-project",
                                          query=[("filter", "active")])) == []
    one(checker.check_request(exchange("GET", "/client-project",
                                       query=[("filter", "open")])), "?filter")


# --------------------------------------------------------------------------- bodies


def test_undeclared_elements_are_violations() -> None:
    body = project_writeable(**{"foreign-id": "hubspot-deal-1", "status": "Open",
                                "active": True})
    problems = checker.check_request(exchange("PUT", "/client-project", body))
    for name in ("foreign-id", "status", "active"):
        one(problems, f"body.{name}", f"element '{name}' is not declared in "
                                      "client-project-writeable")
    assert len(problems) == 3


def test_missing_required_elements_are_violations() -> None:
    body = {"name": "Migration", "client": {"id": 2001}}
    problems = checker.check_request(exchange("PUT", "/client-project", body))
    for name in ("fixed-price", "number", "comment", "budget-hours", "budget-amount",
                 "incoming-invoiced-amount", "incoming-invoiced-vat-amount",
                 "all-activities", "all-users"):
        one(problems, f"required element client-project-writeable.{name} is missing")
    assert len(problems) == 9


def test_nested_required_elements_are_checked() -> None:
    body = project_writeable(client={})
    one(checker.check_request(exchange("PUT", "/client-project", body)),
        "body.client.id", "required element client-reference.id is missing")


def test_value_types_are_strict_json_types() -> None:
    body = project_writeable(**{"budget-amount": 3450000.0, "fixed-price": "false",
                                "number": 1001, "budget-hours": "12.5",
                                "payment-days": True, "opening-date": "2026-13-01"})
    problems = checker.check_request(exchange("PUT", "/client-project", body))
    one(problems, "body.budget-amount", "3450000.0 is not a JSON integer",
        "client-project-writeable.budget-amount")
    one(problems, "body.fixed-price", "is not JSON true/false")
    one(problems, "body.number", "1001 is not a JSON string")
    one(problems, "body.budget-hours", "is not a JSON number")
    one(problems, "body.payment-days", "true is not a JSON integer")
    one(problems, "body.opening-date", "is not a valid xs:date")
    assert len(problems) == 6


def test_integer_ranges_and_empty_dates_are_checked() -> None:
    problems = checker.check_request(exchange("PUT", "/client", {"payment-days": 2**31}))
    one(problems, "body.payment-days", "is not a valid xs:int")
    body = project_writeable(**{"opening-date": ""})
    one(checker.check_request(exchange("PUT", "/client-project", body)),
        "body.opening-date", '"" is not a valid xs:date')


def test_enumerations_are_checked() -> None:
    body = project_writeable(**{"delivery-type": "Fax"})
    one(checker.check_request(exchange("PUT", "/client-project", body)),
        "body.delivery-type", '"Fax" is not one of Mail, Email, Manually, Svea, Efaktura',
        "delivery-method-type")
    wrapped = {"client-agreement": agreement(**{"invoice-day": "FIRST"})}
    one(checker.check_request(exchange("POST", "/client/agreement/7001", wrapped)),
        "body.client-agreement.invoice-day", "is not one of INVOICE_AT_START")


def test_null_only_where_nillable() -> None:
    body = project_writeable(**{"broker-client": None, "po-nr": None})
    problems = checker.check_request(exchange("PUT", "/client-project", body))
    one(problems, "body.po-nr", "null, but client-project-writeable.po-nr is not nillable")
    assert len(problems) == 1


def test_agreement_update_needs_the_wrapper_with_the_whole_agreement() -> None:
    bare = {"recurring-rows": [{"quantity": 2, "price": 990000, "description": "Licens"}],
            "end-date": "2027-01-01"}
    problems = checker.check_request(exchange("POST", "/client/agreement/7001", bare))
    one(problems, "body.recurring-rows", "not declared in update-client-agreement")
    one(problems, "body.client-agreement",
        "required element update-client-agreement.client-agreement is missing")
    partial = {"client-agreement": {"recurring-rows": bare["recurring-rows"]}}
    problems = checker.check_request(exchange("POST", "/client/agreement/7001", partial))
    one(problems, "required element client-agreement.revision-nr is missing")
    one(problems, "body.client-agreement.recurring-rows[0].unit",
        "required element client-agreement-row.unit is missing")
    whole = {"client-agreement": agreement(**{"end-date": "2027-01-01"})}
    assert checker.check_request(exchange("POST", "/client/agreement/7001", whole)) == []


def test_choice_groups_allow_one_alternative() -> None:
    row = {"quantity": 1, "price": 100, "unit": "st", "description": "x",
           "discount": {"absolute": 10, "percentage": 5}}
    body = {"client-agreement": agreement(**{"recurring-rows": [row]})}
    one(checker.check_request(exchange("POST", "/client/agreement/7001", body)),
        "only one of absolute, percentage")


def test_wrapper_elements_may_be_arrays_and_repeated_elements_must_be() -> None:
    client = {"id": 0, "foreign-id": "", "name": "Acme AB", "contact": "",
              "address": {"address1": "", "address2": "", "zip-code": "", "state": "",
                          "country": ""},
              "email": "", "country-code": "SE", "accountnr": 0, "payment-days": 30,
              "orgno": "", "phone": "", "user": {"id": 0},
              "dimension-entries": [{"id": 101}]}
    assert checker.check_request(exchange("PUT", "/client", client)) == []
    answer = {"client-project-readables": project_readable(), "size": 1}
    problems = checker.check_response(exchange("GET", "/client-project", answer=answer))
    one(problems, "answer.client-project-readables", "must be a JSON array")
    one(problems, "answer.size", "not declared")


def test_route_without_a_body_and_route_needing_one() -> None:
    one(checker.check_request(exchange("GET", "/client", {"x": 1})), "takes none")
    one(checker.check_request(exchange("PUT", "/client")), "sends no body",
        "expects client")


# --------------------------------------------------------------------------- answers


def test_answer_with_fields_kleer_does_not_have_is_a_violation() -> None:
    answer = project_readable(**{"foreign-id": "hubspot-deal-1"})
    problems = checker.check_response(exchange("GET", "/client-project/5001", answer=answer))
    one(problems, "answer.foreign-id", "not declared in client-project-readable")
    assert len(problems) == 1


def test_list_answer_validates_each_item_under_its_plural_key() -> None:
    good = {"client-project-readables": [project_readable()]}
    assert checker.check_response(exchange("GET", "/client-project", answer=good)) == []
    bad = {"client-project-readables": [project_readable(phone="")]}
    one(checker.check_response(exchange("GET", "/client-project", answer=bad)),
        "answer.client-project-readables[0].phone", "not declared")


def test_create_answer_is_the_bare_created_content() -> None:
    assert checker.check_response(exchange("PUT", "/client", answer={"id": 12})) == []
    problems = checker.check_response(exchange("PUT", "/client",
                                               answer={"created": {"id": 12}}))
    one(problems, "answer.created", "not declared in created")
    one(problems, "answer.id", "required element created.id is missing")


def test_paged_answer_attributes_and_error_answers() -> None:
    answer = {"client-invoices": [], "offset": 0, "limit": 100, "size": 0}
    assert checker.check_response(exchange("GET", "/client/invoice", answer=answer)) == []
    not_ok = exchange("GET", "/client/invoice", answer={"message": "nope"}, status=400)
    assert checker.check_response(not_ok) == []


def test_answer_that_is_not_json_is_a_violation() -> None:
    xml = Exchange("kleer", "GET", "x", f"{BASE}/user", (), {}, b"", 200,
                   {"content-type": "application/xml"}, b"<users/>")
    one(checker.check_response(xml), "GET /user", "the answer is not JSON")


# --------------------------------------------------------------------------- the seam


async def test_checker_reads_exchanges_recorded_through_the_contract_transport() -> None:
    async def projects(request: Request) -> JSONResponse:
        return JSONResponse({"client-project-readables": [
            project_readable(**{"foreign-id": ""})]})

    async def create(request: Request) -> JSONResponse:
        return JSONResponse({"id": 5002})

    app = Starlette(routes=[Route(f"{BASE}/client-project", projects, methods=["GET"]),
                            Route(f"{BASE}/client-project", create, methods=["PUT"])])
    ledger = Ledger()  # its own ledger: the suite-wide check must not see these on purpose
    transport = ContractTransport(httpx.ASGITransport(app=app), "kleer", ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://kleer") as client:
        await client.get(f"{BASE}/client-project", params={"filter": "active"})
        await client.put(f"{BASE}/client-project",
                         json=project_writeable(**{"foreign-id": "x"}))
    found = [problem for _, problem in violations(ledger)]
    assert found == [
        "answer 200 to GET /v1/company/4711/client-project: GET /client-project "
        "answer.client-project-readables[0].foreign-id: element 'foreign-id' is not "
        "declared in client-project-readable",
        "request PUT /v1/company/4711/client-project: PUT /client-project body.foreign-id: "
        "element 'foreign-id' is not declared in client-project-writeable",
    ]


# --------------------------------------------------------------------------- derivation


def test_contract_is_derived_from_the_committed_xsd() -> None:
    recorded = json.loads(CONTRACT.read_text())
    assert render(derive(LOCAL_XSD, recorded["source"]["derived"])) == CONTRACT.read_text()


def test_every_route_element_exists_and_routes_are_unique() -> None:
    contract = checker.contract()
    seen = set()
    for route in contract["routes"]:
        key = (route["method"], route["path"])
        assert key not in seen
        seen.add(key)
        assert route["provenance"] in ("confirmed", "documented", "assumed")
        for part in ("request", "response"):
            if route.get(part):
                assert route[part] in contract["elements"]


def test_derive_check_passes_from_a_fresh_checkout() -> None:
    script = Path(checker.__file__).with_name("derive.py")
    done = subprocess.run([sys.executable, str(script), "--check", "--xsd", str(LOCAL_XSD)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("element", ["client-project-writeable", "client",
                                     "update-client-agreement", "client-invoice"])
def test_an_empty_object_names_every_required_element(element: str) -> None:
    problems = checker.body_problems(element, {})
    assert problems and all(p.kind in ("required", "choice") for p in problems)
