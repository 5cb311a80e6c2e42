"""Workflow actions: HubSpot's sandbox fires signed executions at the runner, which writes
to a real Cinode sandbox; retries and duplicates must never create a second record. The
record templates see is one shape (`action_record`), the same in `specsync test`; an
update finds its record as the spec's `find` says."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.adapters.hubspot.actions import HubSpotActions
from engine.adapters.hubspot.signatures import sign_v2
from engine.errors import RecordError
from engine.runner.actions import ActionRunner, action_key, action_record
from engine.spec.load import load_spec
from engine.spectest import evaluate_case
from engine.state import open_store
from engine.state.base import BatchCommit, Link
from engine.sync.runtime import Runtime
from engine.templates import RenderContext
from tests.contracts.hubspot import checker
from tests.contracts.recording import current_ledger
from tests.runner.conftest import RUNNER_URL, SPEC, Harness

ACTION_URL = f"{RUNNER_URL}/actions/mirror/create_customer"


def define(h: Harness, url: str = ACTION_URL) -> str:
    definition = h.hubspot.define_action({
        "actionUrl": url, "objectTypes": ["COMPANY"],
        "objectRequestOptions": {"properties": ["name", "domain"]},
        "inputFields": [{"typeDefinition": {"name": "segment", "type": "string"}}]})
    return str(definition["id"])


def created_for(h: Harness, company_id: Any) -> list[dict]:
    return [c for c in h.crm.customers if c.get("identification") == f"hs-{company_id}"]


async def test_an_execution_creates_one_record_and_pushes_it_on(harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    definition = define(harness)
    execution = await harness.hubspot.fire_action(definition, company["id"],
                                                  input_fields={"segment": "Enterprise"})
    [attempt] = execution.attempts
    assert attempt["status"] == 200, attempt
    [record] = created_for(harness, company["id"])
    assert record["name"] == company["properties"]["name"]
    assert record["description"] == "Enterprise"
    assert attempt["response"] == {"outputFields": {  # strings, as the SDK's model says
        "crm_customer_id": str(record["id"]), "hs_execution_state": "SUCCESS"}}
    assert checker.check_action_execution(execution.payload) == []
    assert checker.check_action_answer(attempt["response"]) == []
    # then_sync ran at once for the written record: crm -> delivery.
    assert [c["name"] for c in harness.delivery.customers
            if c.get("identification") == str(record["id"])] == [record["name"]]
    [run] = harness.store.list_runs("mirror", "crm_to_delivery")
    assert (run.trigger, run.counts["read"]) == ("action", 1)
    link = harness.store.get_links("mirror", "action:create_customer", [str(company["id"])])
    assert link[str(company["id"])].target_id == str(record["id"])
    assert link[str(company["id"])].origin == "action"


async def test_a_retried_execution_returns_the_stored_answer_and_writes_nothing(
        harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    execution = await harness.hubspot.fire_action(define(harness), company["id"],
                                                  input_fields={"segment": "SMB"})
    writes = len(harness.crm_io.sent)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.hubspot.app),
                                 base_url="http://hubspot.test") as ui:
        for _ in range(2):  # HubSpot retries the very same execution (same callbackId)
            response = await ui.post(
                f"/_sandbox/actions/executions/{execution.callback_id}/retry")
            assert response.status_code == 200
    first, second, third = execution.attempts
    assert first["response"] == second["response"] == third["response"]
    assert len(created_for(harness, company["id"])) == 1
    assert [m for m, _ in harness.crm_io.sent[writes:] if m != "GET"] == []


async def test_a_new_execution_for_the_same_company_adopts_by_external_id(
        harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    definition = define(harness)
    one = await harness.hubspot.fire_action(definition, company["id"],
                                            input_fields={"segment": "A"})
    two = await harness.hubspot.fire_action(definition, company["id"],
                                            input_fields={"segment": "B"})
    assert one.callback_id != two.callback_id
    [record] = created_for(harness, company["id"])
    assert record["description"] == "B"
    assert two.attempts[0]["response"]["outputFields"]["crm_customer_id"] == \
        str(record["id"])


async def test_slow_work_answers_block_and_completes_by_callback(harness: Harness) -> None:
    harness.runner.actions.sync_timeout = 0.0
    company = next(iter(harness.hubspot.records("companies")))
    execution = await harness.hubspot.fire_action(define(harness), company["id"],
                                                  input_fields={"segment": "Later"})
    assert execution.attempts[0]["response"] == {"outputFields": {
        "hs_execution_state": "BLOCK"}}
    assert checker.check_action_answer(execution.attempts[0]["response"]) == []
    await asyncio.gather(*harness.runner.actions.tasks)
    [record] = created_for(harness, company["id"])
    [completion] = execution.completions
    assert completion["hs_execution_state"] == "SUCCESS"
    assert completion["crm_customer_id"] == str(record["id"])
    assert execution.state == "SUCCESS"
    # The completion went through the workflow connection's adapter (the contract
    # transport of the harness), as CallbacksApi.complete takes it.
    [sent] = [e for e in current_ledger().of("hubspot")
              if e.path.endswith(f"/callbacks/{execution.callback_id}/complete")]
    assert checker.check_callback_completion(sent.body) == []


async def test_an_execution_claimed_by_another_process_is_not_run_twice(
        harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    definition = define(harness)
    # Predict the callback id the sandbox will use, and claim it as a worker elsewhere.
    execution = await harness.hubspot.fire_action(definition, company["id"])
    key = action_key("mirror", "create_customer",
                     HubSpotActions().parse(json.dumps(execution.payload).encode()))
    claim = harness.store.claim_action(key, harness.clock.now())
    assert not claim.fresh and claim.status == "succeeded"  # the runner's own claim

    other = "mirror/create_customer/ap-elsewhere"
    assert harness.store.claim_action(other, harness.clock.now()).fresh
    payload = {**execution.payload, "callbackId": "ap-elsewhere", "origin": {}}
    response = await _post_signed(harness, payload)
    assert response.status_code == 503 and response.headers["retry-after"]
    assert len(created_for(harness, company["id"])) == 1


async def _post_signed(h: Harness, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await h.client.post(ACTION_URL, content=body, headers={
        "x-hubspot-signature": sign_v2(h.hubspot.credentials.client_secret, "POST",
                                       ACTION_URL, body),
        "x-hubspot-signature-version": "v2"})


@pytest.mark.scenario("S25")
async def test_unsigned_or_forged_executions_are_refused(harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    body = b'{"callbackId": "ap-1", "object": {"objectId": %d}}' % int(company["id"])
    plain = await harness.client.post(ACTION_URL, content=body)
    forged = await harness.client.post(ACTION_URL, content=body, headers={
        "x-hubspot-signature": "0" * 64, "x-hubspot-signature-version": "v2"})
    unknown = await harness.client.post(f"{RUNNER_URL}/actions/mirror/nope", content=body)
    assert [plain.status_code, forged.status_code, unknown.status_code] == [401, 401, 404]
    assert created_for(harness, company["id"]) == []


# --------------------------------------------------------------------------- the record


async def test_the_spec_test_sees_the_record_the_runner_renders(harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    execution = await harness.hubspot.fire_action(define(harness), company["id"],
                                                  input_fields={"segment": "Enterprise"})
    assert execution.attempts[0]["status"] == 200
    [written] = created_for(harness, company["id"])
    # The same enrolled object and inputs as a spec test case: the runner's write is
    # exactly what the case expects, and a different expectation is caught.
    case = {"record": {**execution.payload["object"]["properties"], "id": company["id"]},
            "inputs": {"segment": "Enterprise"},
            "expect": {"fields": {k: written[k] for k in ("name", "identification",
                                                            "description")}}}
    spec = load_spec(SPEC)
    now = harness.clock.now()
    assert evaluate_case(spec, "create_customer", case, file_setup={}, file_links={}, now=now,
                         is_action=True) == []
    wrong = {**case, "expect": {"fields": {"identification": f"hs-{company['id']}0"}}}
    [problem] = evaluate_case(spec, "create_customer", wrong, file_setup={}, file_links={},
                              now=now, is_action=True)
    assert problem.startswith("fields differ")


def test_action_record_is_one_shape() -> None:
    properties = {"name": "Acme AB", "kleer_client_id": "40000001", "phone": None}
    record = action_record(properties, {"kleer_client_id": "40000009", "payment_days": 20},
                           object_id="2500000001", object_type="COMPANY",
                           declared=("kleer_client_id", "payment_days", "note", "name"),
                           id_field="id")
    # Top level: the properties (with the id), sent inputs over them; a declared input
    # that was not sent is none, but never hides a property of the same name.
    assert {k: v for k, v in record.items() if k not in ("inputs", "object")} == {
        "id": "2500000001", "name": "Acme AB", "kleer_client_id": "40000009",
        "phone": None, "payment_days": 20, "note": None}
    assert record["inputs"] == {"kleer_client_id": "40000009", "payment_days": 20,
                                "note": None, "name": None}
    assert record["object"] == {"objectId": "2500000001", "objectType": "COMPANY",
                                "properties": {**properties, "id": "2500000001"}}
    # An id the properties carry is kept; undeclared inputs still arrive.
    again = action_record({"id": "7", "name": "B"}, {"extra": "x"}, object_id="8",
                          object_type=None)
    assert (again["id"], again["extra"], again["inputs"]) == ("7", "x", {"extra": "x"})


# --------------------------------------------------------------------------- find

FINDER = """\
specsync: 1
integration: finder
version: 1.0.0
connections:
  kleer:
    adapter: kleer
    base_url: "${KLEER_URL}"
    auth: {token: "${KLEER_TOKEN}"}
    options: {company_id: "1"}
  hubspot:
    adapter: hubspot
    base_url: "${HUBSPOT_URL}"
    auth: {token: "${HUBSPOT_TOKEN}"}
    webhooks: {secret: "${HUBSPOT_CLIENT_SECRET}"}
syncs:
  clients_inbound:
    source: hubspot.companies
    target: kleer.clients
    schedule: never
    key: {components: [kleer_client_id], match: internal}
    fields:
      name: "{{ name }}"
actions:
  create_client:
    trigger: {workflow: hubspot, object_type: COMPANY}
    source: hubspot.companies
    target: kleer.clients
    fields:
      name: "{{ name }}"
  rename_client:
    trigger: {workflow: hubspot, object_type: COMPANY}
    source: hubspot.companies
    target: kleer.clients
    mode: update
    find:
      id: "{{ inputs.kleer_id or none }}"
      linked: [create_client, clients_inbound]
    inputs: {kleer_id: string}
    fields:
      name: "{{ name }}"
"""


def test_an_update_finds_its_record_in_the_order_find_gives(tmp_path: Path) -> None:
    path = tmp_path / "finder.yaml"
    path.write_text(FINDER)
    spec = load_spec(path)
    store = open_store(str(tmp_path / "state.db"))
    runtime = Runtime(spec=spec, store=store, environ={})
    action = spec.actions["rename_client"]
    now = datetime(2025, 3, 1, tzinfo=UTC)
    render = RenderContext(setup={}, links=runtime.links(), now=now)

    def find(properties: dict[str, Any], inputs: dict[str, Any] | None = None) -> str:
        record = action_record(properties, inputs or {}, object_id="900",
                               object_type="COMPANY", declared=action.inputs, id_field="id")
        return ActionRunner._find(runtime, action, record, render, "900")

    def link(scope: str, key: str, target: str, *, active: bool = True) -> None:
        store.commit_batch(BatchCommit("finder", scope, now, links=[
            Link(key, target, "", origin="action", active=active)]))

    try:
        with pytest.raises(RecordError) as nothing:
            find({"name": "Acme"})
        assert nothing.value.code == "action.not-linked"
        assert ("find.id (empty), action create_client, sync clients_inbound (no key), "
                "action rename_client") in nothing.value.message
        link("action:rename_client", "900", "100")  # what this action updated before
        assert find({"name": "Acme"}) == "100"
        link("clients_inbound", "40000005", "200")  # the sync's key from the company
        assert find({"name": "Acme", "kleer_client_id": "40000005"}) == "200"
        link("action:create_client", "900", "300")  # the record that action made for it
        assert find({"name": "Acme", "kleer_client_id": "40000005"}) == "300"
        assert find({"name": "Acme"}, {"kleer_id": "400"}) == "400"  # find.id wins
        link("action:create_client", "900", "300", active=False)  # unlinked: skipped
        assert find({"name": "Acme", "kleer_client_id": "40000005"}) == "200"
    finally:
        store.close()
