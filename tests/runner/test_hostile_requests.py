"""No request to any endpoint of `serve` gets a 500 (issue 11 item 3).

Hypothesis sends every endpoint random methods, headers and bodies, including the two
reproductions of the issue: a 400-digit `X-HubSpot-Request-Timestamp` (an OverflowError
before authentication) and a validly signed body of 100,000 nested brackets (a
RecursionError after it). Signed bodies are signed with the real secret half of the time,
so parsing after authentication is exercised, not only the signature check.
"""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.adapters.hubspot.signatures import sign_v2, sign_v3
from tests.runner.conftest import CRM_SECRET, HUBSPOT_SECRET, RUNNER_URL, Harness

PATHS = ["/webhooks/mirror/hubspot", "/webhooks/mirror/crm", "/webhooks/mirror/delivery",
         "/webhooks/mirror/nowhere", "/webhooks/other/hubspot", "/actions/mirror/create_customer",
         "/actions/mirror/unknown", "/healthz", "/readyz", "/metrics", "/webhooks/%00/x",
         "/actions/mirror/create_customer?x=%ff", "/webhooks/mirror/hubspot/extra"]

_text = st.text(max_size=60)
_header_values = st.one_of(
    _text.map(lambda t: t.encode("utf-8", "ignore").decode("latin-1")),
    st.just("9" * 400), st.just("-1"), st.just("1e400"), st.just(""),
    st.integers(min_value=-(10**30), max_value=10**30).map(str))
_header_names = st.sampled_from([
    "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "x-hubspot-signature",
    "x-hubspot-signature-version", "x-specsync-token", "authorization", "content-type",
    "content-encoding", "transfer-encoding", "x-forwarded-for", "x-random"])


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


_json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children,
                                                                      max_size=4),
    max_leaves=12)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json_like.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([_nested(100_000), b'{"a":' * 50_000, b"\x00\xff" * 100,
                     b'[{"eventId": 1, "subscriptionType": "company.propertyChange"}]',
                     b'[{"eventId": 1, "subscriptionType": "x.y", "objectId": 1e400}]',
                     b'{"callbackId": "x", "object": {"objectId": [1]}}',
                     b'{"callbackId": {"a": 1}}', b'[]', b'{}', b"null"]))


def _sign(body: bytes, path: str, method: str, now_ms: int, kind: str) -> dict[str, str]:
    uri = f"{RUNNER_URL}{path}"
    if kind == "v3":
        return {"x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, method, uri, body, now_ms),
                "x-hubspot-request-timestamp": str(now_ms)}
    if kind == "v2":
        return {"x-hubspot-signature": sign_v2(HUBSPOT_SECRET, method, uri, body)}
    if kind == "crm":
        return {"x-specsync-token": CRM_SECRET}
    return {}


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
       path=st.sampled_from(PATHS),
       headers=st.dictionaries(_header_names, _header_values, max_size=5),
       body=_bodies,
       signing=st.sampled_from(["v3", "v2", "crm", "none"]))
async def test_no_request_gets_a_500(harness: Harness, caplog: pytest.LogCaptureFixture,
                                     method: str, path: str, headers: dict[str, str],
                                     body: bytes, signing: str) -> None:
    now_ms = int(harness.clock.now().timestamp() * 1000)
    signed = {**headers, **_sign(body, path.split("?")[0], method, now_ms, signing)}
    # raw bytes: a vendor (or an attacker) is not bound to ASCII header values
    sent = [(k.encode(), v.encode("latin-1", "replace")) for k, v in signed.items()]
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        response = await harness.client.request(method, path, content=body, headers=sent)
    # 503 is an honest "retry later" (e.g. the inbox is full); 500 would be a bug
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code, response.text[:200])
    assert "Traceback" not in caplog.text


async def test_the_two_reproductions_are_4xx(harness: Harness) -> None:
    body = b"[]"
    too_long = {"x-hubspot-signature-v3": "x", "x-hubspot-request-timestamp": "9" * 400}
    answer = await harness.client.post("/webhooks/mirror/hubspot", content=body,
                                       headers=too_long)
    assert answer.status_code == 401
    now_ms = int(harness.clock.now().timestamp() * 1000)
    deep = _nested(100_000)
    signed = _sign(deep, "/webhooks/mirror/hubspot", "POST", now_ms, "v3")
    answer = await harness.client.post("/webhooks/mirror/hubspot", content=deep,
                                       headers=signed)
    assert answer.status_code == 400
    signed = _sign(deep, "/actions/mirror/create_customer", "POST", now_ms, "v3")
    answer = await harness.client.post("/actions/mirror/create_customer", content=deep,
                                       headers=signed)
    assert answer.status_code == 400
