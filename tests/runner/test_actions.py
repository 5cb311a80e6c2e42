"""Workflow actions: HubSpot's sandbox fires signed executions at the runner, which writes
to a real Cinode sandbox; retries and duplicates must never create a second record."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from engine.runner.actions import action_key
from engine.sandbox.hubspot import sign_v2
from tests.runner.conftest import RUNNER_URL, Harness

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
    assert attempt["response"] == {"outputFields": {
        "crm_customer_id": record["id"], "hs_execution_state": "SUCCESS"}}
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
    assert two.attempts[0]["response"]["outputFields"]["crm_customer_id"] == record["id"]


async def test_slow_work_answers_block_and_completes_by_callback(harness: Harness) -> None:
    harness.runner.actions.sync_timeout = 0.0
    company = next(iter(harness.hubspot.records("companies")))
    execution = await harness.hubspot.fire_action(define(harness), company["id"],
                                                  input_fields={"segment": "Later"})
    assert execution.attempts[0]["response"] == {"outputFields": {
        "hs_execution_state": "BLOCK"}}
    await asyncio.gather(*harness.runner.actions.tasks)
    [record] = created_for(harness, company["id"])
    [completion] = execution.completions
    assert completion["hs_execution_state"] == "SUCCESS"
    assert completion["crm_customer_id"] == record["id"]
    assert execution.state == "SUCCESS"


async def test_an_execution_claimed_by_another_process_is_not_run_twice(
        harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    definition = define(harness)
    # Predict the callback id the sandbox will use, and claim it as a worker elsewhere.
    execution = await harness.hubspot.fire_action(definition, company["id"])
    key = action_key("mirror", "create_customer", execution.payload)
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
        "x-hubspot-signature": sign_v2(h.hubspot.config.hubspot_client_secret, "POST",
                                       ACTION_URL, body),
        "x-hubspot-signature-version": "v2"})


async def test_unsigned_or_forged_executions_are_refused(harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    body = b'{"callbackId": "ap-1", "object": {"objectId": %d}}' % int(company["id"])
    plain = await harness.client.post(ACTION_URL, content=body)
    forged = await harness.client.post(ACTION_URL, content=body, headers={
        "x-hubspot-signature": "0" * 64, "x-hubspot-signature-version": "v2"})
    unknown = await harness.client.post(f"{RUNNER_URL}/actions/mirror/nope", content=body)
    assert [plain.status_code, forged.status_code, unknown.status_code] == [401, 401, 404]
    assert created_for(harness, company["id"]) == []
