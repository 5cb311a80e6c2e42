"""The HubSpot contract checker (tests/contracts/hubspot/checker.py) against hand-built
exchanges: it catches each class of violation with a sentence naming the SDK class or
model, and passes what the SDK accepts. Plus: routes.json is what derive.py reads from
the installed SDK, and a live exchange through ContractTransport is checked the same way.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

import httpx
import pytest

from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.platform import ManualClock, SandboxConfig
from tests.contracts.hubspot import checker, derive
from tests.contracts.recording import ContractTransport, Exchange, Ledger


def exchange(method: str, path: str, body: Any = None, *, status: int = 200,
             answer: Any = None, query: tuple[tuple[str, str], ...] = (),
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> Exchange:
    sent = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return Exchange(vendor="hubspot", method=method, url=f"http://hubspot.test{path}",
                    path=path, query=query, headers=headers or {}, body=sent,
                    status=status, response_headers={},
                    response_body=b"" if answer is None else json.dumps(answer).encode())


def record(record_id: str = "2000000001", **properties: Any) -> dict[str, Any]:
    return {"id": record_id, "properties": {"name": "Kontrakt AB", **properties},
            "createdAt": "2026-12-03T09:00:00.000Z", "updatedAt": "2026-12-03T09:00:00.000Z",
            "archived": False}


BATCH_READ = "/crm/v3/objects/companies/batch/read"
VALID_READ = {"idProperty": "kleer_client_id", "properties": ["name"],
              "propertiesWithHistory": [], "inputs": [{"id": "k-1"}]}


# ------------------------------------------------------------------------- routes


def test_routes_json_is_what_the_installed_sdk_declares() -> None:
    data = checker.routes()
    assert data["source"] == {"package": "hubspot-api-client",
                              "version": metadata.version("hubspot-api-client"),
                              "module": "hubspot"}
    assert data["operations"] == derive.operations()
    assert derive.derive(data) == data  # deterministic: same SDK, same document


def test_route_of_names_the_most_specific_sdk_template() -> None:
    assert checker.route_of("POST", BATCH_READ) == "POST /crm/v3/objects/companies/batch/read"
    assert checker.route_of("POST", "/crm/v3/objects/0-970/batch/read") == \
        "POST /crm/v3/objects/{objectType}/batch/read"
    assert checker.route_of("GET", "/crm/v3/objects/companies/2000000001") == \
        "GET /crm/v3/objects/companies/{companyId}"
    assert checker.route_of("POST", "/automation/v4/actions/callbacks/ap-1-2-3-0/complete") \
        == "POST /automation/v4/actions/callbacks/{callbackId}/complete"
    assert checker.route_of("GET", "/crm/v3/schemas") is None
    assert checker.route_of("GET", "/crm-object-schemas/v3/schemas") == \
        "GET /crm-object-schemas/v3/schemas"


def test_sandbox_control_calls_are_not_hubspot_traffic() -> None:
    control = exchange("PATCH", "/_sandbox/records/companies/2000000001",
                       {"properties": {"name": "x"}}, answer={"id": "2000000001"})
    assert checker.check_request(control) == checker.check_response(control) == []
    assert checker.route_of("PATCH", "/_sandbox/records/companies/2000000001") is None


def test_an_unknown_route_is_a_violation() -> None:
    [problem] = checker.check_request(exchange("GET", "/crm/v3/schemas"))
    assert "no API class of the SDK (hubspot-api-client" in problem


def test_a_wrong_verb_names_the_verbs_the_sdk_has() -> None:
    [problem] = checker.check_request(exchange("PUT", BATCH_READ, VALID_READ))
    assert "no PUT for this path" in problem
    assert "POST /crm/v3/objects/companies/batch/read" in problem
    assert "hubspot.crm.companies BatchApi.read" in problem


def test_an_unknown_query_parameter_is_a_violation() -> None:
    ok = exchange("GET", "/crm/v3/objects/companies",
                  query=(("limit", "100"), ("properties", "name"), ("after", "5")))
    assert checker.check_request(ok) == []
    [problem] = checker.check_request(exchange("GET", "/crm/v3/objects/companies",
                                               query=(("offset", "5"),)))
    assert "'offset'" in problem and "BasicApi.get_page" in problem


# ------------------------------------------------------------------------- request bodies


def test_batch_read_without_properties_with_history_is_a_violation() -> None:
    body = {k: v for k, v in VALID_READ.items() if k != "propertiesWithHistory"}
    [problem] = checker.check_request(exchange("POST", BATCH_READ, body))
    assert problem.startswith("body.propertiesWithHistory: required by "
                              "BatchReadInputSimplePublicObjectId but missing")
    assert "hubspot.crm.companies BatchApi.read" in problem
    assert checker.check_request(exchange("POST", BATCH_READ, VALID_READ)) == []


def test_a_required_field_sent_as_null_is_a_violation() -> None:
    [problem] = checker.check_request(exchange("POST", BATCH_READ,
                                               {**VALID_READ, "inputs": None}))
    assert "body.inputs: required by BatchReadInputSimplePublicObjectId but null" in problem


def test_an_undeclared_property_is_a_violation_at_any_depth() -> None:
    body = {"inputs": [{"id": "1", "properties": {"name": "A"}, "extra": True}],
            "top": 1}
    problems = checker.check_request(exchange(
        "POST", "/crm/v3/objects/companies/batch/update", body))
    assert any(p.startswith("body.top: BatchInputSimplePublicObjectBatchInput declares no "
                            "field 'top'") for p in problems)
    assert any(p.startswith("body.inputs[0].extra: SimplePublicObjectBatchInput declares no "
                            "field 'extra'") for p in problems)
    assert len(problems) == 2


def test_a_bad_enum_value_is_a_violation() -> None:
    body = {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}, "types": [
        {"associationCategory": "HUBSPOT", "associationTypeId": 341}]}]}
    [problem] = checker.check_request(exchange(
        "POST", "/crm/v4/associations/deals/companies/batch/create", body))
    assert "body.inputs[0].types[0].associationCategory: AssociationSpec refuses " \
           "\"HUBSPOT\"" in problem
    assert "HUBSPOT_DEFINED" in problem


def test_a_non_string_property_value_is_a_violation_but_null_is_not() -> None:
    body = {"inputs": [{"idProperty": "kleer_client_id", "id": "k-1",
                        "properties": {"numberofemployees": 8, "city": None,
                                       "name": "A", "active": True}}]}
    problems = checker.check_request(exchange(
        "POST", "/crm/v3/objects/companies/batch/upsert", body))
    assert sorted(problems) == [
        "body.inputs[0].properties.active: true is a boolean, not a JSON string "
        "(SimplePublicObjectBatchInputUpsert.properties: dict[str, str]) "
        "[BatchInputSimplePublicObjectBatchInputUpsert, hubspot.crm.companies "
        "BatchApi.upsert]",
        "body.inputs[0].properties.numberofemployees: 8 is an integer, not a JSON string "
        "(SimplePublicObjectBatchInputUpsert.properties: dict[str, str]) "
        "[BatchInputSimplePublicObjectBatchInputUpsert, hubspot.crm.companies "
        "BatchApi.upsert]"]


def test_json_types_are_strict_where_the_sdk_would_coerce() -> None:
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate",
                                           "operator": "GTE", "value": 1764763200000}]}],
            "properties": ["name"], "limit": "200", "after": 0}
    problems = checker.check_request(exchange("POST", "/crm/v3/objects/companies/search",
                                              body))
    assert any("filters[0].value: 1764763200000 is an integer, not a JSON string "
               "(Filter.value: str)" in p for p in problems)
    assert any("body.limit: \"200\" is a string, not a JSON integer" in p for p in problems)
    assert any("body.after: 0 is an integer, not a JSON string" in p for p in problems)


def test_search_sorts_accept_the_documented_objects_and_the_sdk_strings() -> None:
    base = {"filterGroups": [], "properties": ["name"], "limit": 200}
    for sorts in (["name"], [{"propertyName": "hs_lastmodifieddate",
                              "direction": "ASCENDING"}]):
        assert checker.check_request(exchange(
            "POST", "/crm/v3/objects/companies/search", {**base, "sorts": sorts})) == []
    [problem] = checker.check_request(exchange(
        "POST", "/crm/v3/objects/companies/search",
        {**base, "sorts": [{"propertyName": "name", "direction": "UP"}]}))
    assert "sorts[0].direction: \"UP\" is not one of ASCENDING, DESCENDING" in problem


def test_missing_or_unexpected_bodies_are_violations() -> None:
    [missing] = checker.check_request(exchange("POST", BATCH_READ))
    assert "BatchApi.read requires a JSON body (BatchReadInputSimplePublicObjectId)" in missing
    [unexpected] = checker.check_request(exchange(
        "GET", "/crm/v3/objects/companies", {"limit": 1}))
    assert "BasicApi.get_page takes no body" in unexpected
    [not_json] = checker.check_request(exchange("POST", BATCH_READ, raw=b"{nope"))
    assert "is not JSON" in not_json


def test_a_form_operation_checks_its_fields() -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert checker.check_request(exchange(
        "POST", "/oauth/v1/token", headers=form,
        raw=b"grant_type=refresh_token&client_id=a&client_secret=b&refresh_token=c")) == []
    [problem] = checker.check_request(exchange(
        "POST", "/oauth/v1/token", headers=form, raw=b"grant_type=x&scope=crm"))
    assert "form field 'scope'" in problem and "TokensApi.create" in problem


def test_the_callback_completion_request_is_checked_against_the_sdk() -> None:
    path = "/automation/v4/actions/callbacks/ap-1-2-3-0/complete"
    good = {"outputFields": {"hs_execution_state": "SUCCESS", "crm_customer_id": "9009"}}
    assert checker.check_request(exchange("POST", path, good, status=204)) == []
    [problem] = checker.check_request(exchange(
        "POST", path, {"outputFields": {"hs_execution_state": "SUCCESS",
                                        "crm_customer_id": 9009}}, status=204))
    assert problem.startswith("body.outputFields.crm_customer_id: 9009 is an integer, not a "
                              "JSON string (CallbackCompletionRequest.outputFields: "
                              "dict[str, str])")
    assert "CallbacksApi.complete" in problem


# ------------------------------------------------------------------------- answers


def test_a_valid_answer_passes() -> None:
    answer = {"status": "COMPLETE", "results": [record(city=None)],
              "requestedAt": "2026-12-03T09:00:00.000Z",
              "startedAt": "2026-12-03T09:00:00.000Z",
              "completedAt": "2026-12-03T09:00:00.100Z"}
    assert checker.check_response(exchange("POST", BATCH_READ, VALID_READ,
                                           answer=answer)) == []


def test_an_extra_answer_field_is_a_violation() -> None:
    answer = {**record(), "url": "https://app.hubspot.com/x"}
    [problem] = checker.check_response(exchange(
        "GET", "/crm/v3/objects/companies/2000000001", answer=answer))
    assert problem.startswith("answer.url: SimplePublicObjectWithAssociations declares no "
                              "field 'url'")
    assert "BasicApi.get_by_id" in problem


def test_answer_types_required_fields_and_statuses_are_checked() -> None:
    bad = {**record(), "createdAt": "yesterday", "properties": {"amount": 1.5}}
    del bad["updatedAt"]
    problems = checker.check_response(exchange(
        "GET", "/crm/v3/objects/companies/2000000001", answer=bad))
    assert any("answer.createdAt: \"yesterday\" is a string, not an ISO 8601 date-time"
               in p for p in problems)
    assert any("answer.properties.amount: 1.5 is a number, not a JSON string" in p
               for p in problems)
    assert any("answer.updatedAt: required by SimplePublicObjectWithAssociations but "
               "missing" in p for p in problems)
    [status] = checker.check_response(exchange(
        "POST", "/crm/v4/associations/line_items/deals/batch/associate/default",
        {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}}]}, status=201,
        answer={"status": "COMPLETE", "results": [], "startedAt": "2026-12-03T09:00:00Z",
                "completedAt": "2026-12-03T09:00:00Z"}))
    assert "status 201 is not one BatchApi.create_default documents (200)" in status


def test_errors_and_bodiless_answers_are_not_held_to_a_2xx_model() -> None:
    assert checker.check_response(exchange("POST", BATCH_READ, VALID_READ, status=429,
                                           answer={"status": "error"})) == []
    assert checker.check_response(exchange(
        "POST", "/crm/v3/objects/companies/batch/archive", {"inputs": []}, status=204)) == []
    [problem] = checker.check_response(exchange(
        "POST", "/crm/v3/objects/companies/batch/archive", {"inputs": []}, status=204,
        answer={"status": "COMPLETE"}))
    assert "BatchApi.archive answers with no body in the SDK" in problem


async def test_a_live_exchange_through_the_contract_transport_is_checked() -> None:
    sandbox = HubSpotSandbox(SandboxConfig(records=10, clock=ManualClock(),
                                           rate_limits=False))
    ledger = Ledger()  # its own ledger: the suite's per-test ledger stays clean
    transport = ContractTransport(httpx.ASGITransport(app=sandbox.app), "hubspot", ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://hubspot.test",
                                 headers={"authorization": "Bearer "
                                          f"{sandbox.credentials.token}"}) as client:
        await client.get("/crm/v3/objects/companies", params={"limit": 2})
        await client.post(BATCH_READ, json={"properties": ["name"], "inputs": [{"id": "1"}]})
    listed, read = ledger.exchanges
    assert checker.check_request(listed) == checker.check_response(listed) == []
    [problem] = checker.check_request(read)
    assert "propertiesWithHistory: required by BatchReadInputSimplePublicObjectId" in problem


# ------------------------------------------------------------------------- webhooks


def test_documented_example_events_pass_each_kind() -> None:
    events = checker.example_events()
    assert checker.check_webhook_events(events) == []
    assert checker.check_webhook_events(json.dumps(events).encode()) == []
    kinds = {e["subscriptionType"].partition(".")[2] for e in events}
    assert {"creation", "deletion", "propertyChange", "merge", "restore",
            "associationChange", "privacyDeletion"} <= kinds


def test_an_association_change_has_from_and_to_ids_not_object_id() -> None:
    [change] = [e for e in checker.example_events()
                if e["subscriptionType"] == "company.associationChange"]
    assert "objectId" not in change
    assert {"fromObjectId", "toObjectId"} <= set(change)
    [problem] = checker.check_webhook_events([{k: v for k, v in change.items()
                                               if k != "toObjectId"}])
    assert "events[0].toObjectId: a documented company.associationChange event always " \
           "carries toObjectId" in problem


def test_event_violations_are_named() -> None:
    [base] = [e for e in checker.example_events()
              if e["subscriptionType"] == "company.propertyChange"]
    problems = checker.check_webhook_events([
        {**base, "objectId": "2000000001", "extra": 1},
        {**base, "subscriptionType": "company.updated"},
        {k: v for k, v in base.items() if k != "eventId"},
        "nope"])
    assert any(p.startswith("events[0].objectId: \"2000000001\" is a string, not a JSON "
                            "integer") for p in problems)
    assert any(p.startswith("events[0].extra: not a documented field of a "
                            "company.propertyChange event") for p in problems)
    assert any(p.startswith("events[1].subscriptionType: \"company.updated\" is not a "
                            "documented event type (hubspot.webhooks.models."
                            "SubscriptionCreateRequest.event_type)") for p in problems)
    assert any(p.startswith("events[2].eventId: a documented") for p in problems)
    assert any(p.startswith("events[3]: \"nope\" is a string") for p in problems)
    assert checker.check_webhook_events(b"{}") == [
        "a delivery is a JSON array of events, not an object"]


def test_generic_events_need_their_object_type_ids() -> None:
    generic = [e for e in checker.example_events()
               if e["subscriptionType"].startswith("object.")]
    creation = next(e for e in generic if e["subscriptionType"] == "object.creation")
    change = next(e for e in generic if e["subscriptionType"] == "object.associationChange")
    problems = checker.check_webhook_events([
        {k: v for k, v in creation.items() if k != "objectTypeId"},
        {k: v for k, v in change.items() if k != "fromObjectTypeId"}])
    assert [p.split(":")[0] for p in problems] == ["events[0].objectTypeId",
                                                   "events[1].fromObjectTypeId"]


# ------------------------------------------------------------------------- workflow actions

EXECUTION = {
    "callbackId": "ap-62515-1100-1-0",
    "origin": {"portalId": 62515, "actionDefinitionId": 100, "actionDefinitionVersion": 1,
               "actionExecutionIndexIdentifier": {"enrollmentId": 1,
                                                  "actionExecutionIndex": 0},
               "extensionDefinitionId": 100, "extensionDefinitionVersionId": 1},
    "context": {"source": "WORKFLOWS", "workflowId": 7},
    "object": {"objectId": 2000000001, "objectType": "COMPANY",
               "properties": {"name": "Kontrakt AB"}},
    "inputFields": {"segment": "Enterprise", "quantity": 3},
}


def test_an_execution_request_is_checked_against_the_documented_fields() -> None:
    assert checker.check_action_execution(EXECUTION) == []
    assert checker.check_action_execution(json.dumps(EXECUTION).encode()) == []
    bad = {**EXECUTION, "object": {"objectId": "2000000001", "objectType": "COMPANY"},
           "trigger": "x"}
    del bad["callbackId"]
    problems = checker.check_action_execution(bad)
    assert any(p.startswith("execution.trigger: not a documented field") for p in problems)
    assert any(p.startswith("execution.object.objectId: \"2000000001\" is a string, not a "
                            "JSON integer") for p in problems)
    assert any(p.startswith("execution.callbackId: HubSpot always sends it") for p in problems)


def test_callback_completions_and_answers() -> None:
    done = {"outputFields": {"hs_execution_state": "SUCCESS", "crm_customer_id": "9009"}}
    assert checker.check_callback_completion(done) == []
    assert checker.check_callback_completion(
        {"inputs": [{"callbackId": "ap-1", **done}]}, batch=True) == []
    problems = checker.check_callback_completion(
        {"outputFields": {"hs_execution_state": "BLOCK", "id": 9009}})
    assert any("outputFields.id: 9009 is an integer, not a JSON string "
               "(CallbackCompletionRequest.outputFields: dict[str, str])" in p
               for p in problems)
    assert any("hs_execution_state: \"BLOCK\" is not one of SUCCESS, FAIL_CONTINUE" in p
               for p in problems)
    [no_id] = checker.check_callback_completion({"inputs": [done]}, batch=True)
    assert "callbackId: required by CallbackCompletionBatchRequest but missing" in no_id
    assert checker.check_action_answer({"outputFields": {"hs_execution_state": "BLOCK",
                                                         "hs_expiration_duration": "P1D"}}) \
        == []
    [answer] = checker.check_action_answer({"outputFields": {"hs_execution_state": "SUCCESS",
                                                             "crm_customer_id": 9009}})
    assert answer.startswith("answer.outputFields.crm_customer_id: 9009 is an integer")


@pytest.mark.parametrize("model,module,data", [
    ("PublicActionDefinitionEgg", "hubspot.automation.actions",
     {"actionUrl": "https://x.test/a", "objectTypes": ["COMPANY"], "published": False,
      "functions": [], "inputFields": [], "labels": {"en": {"actionName": "Do"}}}),
    ("SubscriptionCreateRequest", "hubspot.webhooks",
     {"eventType": "company.propertyChange", "propertyName": "name", "active": True}),
])
def test_check_body_validates_any_sdk_model(model: str, module: str, data: Any) -> None:
    assert checker.check_body(model, data, module) == []
    problems = checker.check_body(model, {**data, "bogus": 1}, module)
    assert problems and problems[0].startswith(f"body.bogus: {model} declares no field")
