"""HubSpot webhook deliveries as `engine.adapters.hubspot.webhooks` parses them: every
documented event kind (the checker's `example_events()`, each in HubSpot's documented
shape) in one delivery, and what each becomes."""

from __future__ import annotations

import json

import pytest

from engine.adapters.hubspot.webhooks import parse_events
from engine.errors import MalformedRequestError
from tests.contracts.hubspot import checker


def test_every_documented_kind_in_one_delivery_parses_without_refusing_it() -> None:
    events = checker.example_events()
    assert checker.check_webhook_events(events) == []
    parsed = parse_events(json.dumps(events).encode())
    shown = [(e.event_id, e.name, e.object, e.object_id, e.action, e.property_name)
             for e in parsed]
    assert shown == [
        ("1001", "company.creation", "companies", "2000000001", "creation", None),
        ("1002", "company.propertyChange", "companies", "2000000001", "propertyChange",
         "phone"),
        ("1003", "company.deletion", "companies", "2000000002", "deletion", None),
        ("1004", "company.restore", "companies", "2000000002", "restore", None),
        # a merge is about the record that survives it
        ("1005", "company.merge", "companies", "2000000003", "merge", None),
        # an association change is about its from-object (no objectId)
        ("1006", "company.associationChange", "companies", "2000000001",
         "associationChange", None),
        # a privacy deletion is a deletion: it starts no sync
        ("1007", "contact.privacyDeletion", "contacts", "1000000001", "deletion", None),
        ("1008", "object.creation", "projects", "9700000001", "creation", None),
        ("1009", "object.propertyChange", "projects", "9700000001", "propertyChange",
         "hs_name"),
        # a generic association change is typed by fromObjectTypeId (0-3: deals)
        ("1010", "object.associationChange", "deals", "3000000001", "associationChange",
         None),
        ("1011", "deal.propertyChange", "deals", "3000000001", "propertyChange",
         "dealstage"),
    ]
    assert [e.event_id for e in parsed if e.is_deletion] == ["1003", "1007"]
    assert all(e.change_source == "CRM_UI" and e.source_id == "userId:1" for e in parsed)


def test_a_merge_into_a_new_record_re_reads_the_new_one() -> None:
    [merge] = [e for e in checker.example_events() if e["subscriptionType"] ==
               "company.merge"]
    merge.update(objectId=2000000003, primaryObjectId=2000000003, newObjectId=2000000099)
    assert checker.check_webhook_events([merge]) == []
    [event] = parse_events(json.dumps([merge]).encode())
    assert event.object_id == "2000000099"


def test_an_event_naming_no_object_is_left_out_not_fatal() -> None:
    events = checker.example_events()[:2]
    events.append({**events[0], "eventId": 2001, "subscriptionType": "conversation.creation",
                   "objectId": None})
    assert [e.event_id for e in parse_events(json.dumps(events).encode())] == ["1001", "1002"]


@pytest.mark.parametrize("body", [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'"events"', id="not-an-array"),
    pytest.param(b"[1]", id="not-an-event"),
    pytest.param(b'[{"objectId": 1, "subscriptionType": "company.creation"}]',
                 id="no-event-id"),
])
def test_only_a_broken_delivery_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        parse_events(body)
