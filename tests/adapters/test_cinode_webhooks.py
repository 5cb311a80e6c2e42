"""Cinode webhook credentials and deliveries (engine/adapters/cinode/webhooks.py)."""

from __future__ import annotations

import base64
import json

import pytest

from engine.adapters.cinode.webhooks import check_credentials, parse_event
from engine.errors import MalformedRequestError


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.mark.parametrize(("headers", "basic", "ok"), [
    pytest.param({"x-token": "s3cret"}, False, True, id="header-valid"),
    pytest.param({"x-token": "s3cret "}, False, False, id="header-wrong"),
    pytest.param({}, False, False, id="header-missing"),
    pytest.param(_basic("x-token", "s3cret"), True, True, id="basic-valid"),
    pytest.param(_basic("x-token", "nope"), True, False, id="basic-wrong-password"),
    pytest.param(_basic("someone", "s3cret"), True, False, id="basic-wrong-user"),
    pytest.param({"authorization": "Basic !!!"}, True, False, id="basic-malformed"),
    pytest.param({"x-token": "s3cret"}, True, False, id="basic-missing"),
])
def test_cinode_credential_cases(headers: dict[str, str], basic: bool, ok: bool) -> None:
    verdict = check_credentials(headers, "s3cret", header="X-Token", basic_auth=basic)
    assert (verdict is None) is ok



def _delivery(**payload: object) -> bytes:
    return json.dumps({"WebhookId": "w1", "EntityType": "CompanyProject",
                       "ActionType": "Updated", "Timestamp": "2025-01-15T09:00:00Z",
                       "Payload": payload}).encode()


def test_a_delivery_is_one_event_whose_key_survives_redelivery() -> None:
    [first] = parse_event(_delivery(Id=7, Title="A"))
    [again] = parse_event(_delivery(Id=7, Title="A"))
    [changed] = parse_event(_delivery(Id=7, Title="B"))
    assert (first.name, first.object, first.object_id) == ("project.updated", "projects", "7")
    assert first.event_id == again.event_id != changed.event_id


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"EntityType": "CompanyProject"}',
                                  _delivery(Title="no id"), b"[" * 100_000])
def test_not_cinode_shape_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        parse_event(body)


@pytest.mark.parametrize(("entity", "action", "name", "obj"), [
    pytest.param("CompanyProject", "Updated", "project.updated", "projects", id="names"),
    pytest.param(6, 3, "project.updated", "projects", id="enum-numbers"),
    pytest.param(5, 2, "customer.created", "customers", id="customer-created"),
    pytest.param(3, 4, "user.deleted", "users", id="employee-deleted"),
])
def test_entity_and_action_as_names_or_as_the_contract_enums(entity: object, action: object,
                                                            name: str, obj: str) -> None:
    """The delivery's EntityType/ActionType are unconfirmed: Cinode's document has them
    only as the configuration's integer enums (WebhookEntityType, ActionType)."""
    body = json.dumps({"WebhookId": "w1", "EntityType": entity, "ActionType": action,
                       "Payload": {"Id": 55001}}).encode()
    [event] = parse_event(body)
    assert (event.name, event.object, event.object_id) == (name, obj, "55001")


def test_the_payload_a_real_receiver_reads_parses() -> None:
    """The shape Thomas-Red/Cinode-AWS-Slack reads: WebhookId and a PascalCase Payload."""
    body = json.dumps({
        "WebhookId": "42a3a220-766c-eb11-8e13-000c29b4e92f", "EntityType": "CompanyProject",
        "ActionType": "Updated", "Payload": {
            "Id": 55123, "Title": "Backend team extension", "EstimatedValue": 1200000,
            "Customer": {"Id": 9001, "Name": "Acme AB"}, "Currency": {"CurrencyCode": "SEK"},
            "SalesManagers": [{"Id": 228236, "Fullname": "Sven Svensson"}],
            "CurrentState": {"State": 30, "StateTitle": "Won"}}}).encode()
    [event] = parse_event(body)
    assert (event.name, event.object_id, event.occurred_at) == ("project.updated", "55123",
                                                                None)
