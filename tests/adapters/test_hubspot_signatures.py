"""HubSpot signatures (engine/adapters/hubspot/signatures.py): the documented vector, v3
freshness both ways, the URI forms senders sign, v2 for workflow actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.hubspot.signatures import check_v2, check_v3, sign_v1, sign_v2, sign_v3

# The documented vector (apis.md 2.8, from the HubSpot SDK's tests).
VECTOR_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
VECTOR_BODY = b"{'example_field':'example_value'}"
VECTOR_URI = "https://www.example.com/webhook_uri"
VECTOR_TS = "1693657560000"
VECTOR_NOW = datetime.fromtimestamp(1693657560, UTC) + timedelta(seconds=20)


def test_the_documented_vector() -> None:
    assert sign_v3(VECTOR_SECRET, "POST", VECTOR_URI, VECTOR_BODY, VECTOR_TS) == \
        "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    assert sign_v2(VECTOR_SECRET, "POST", VECTOR_URI, VECTOR_BODY) == \
        "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    headers = {"x-hubspot-signature-v3": "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=",
               "x-hubspot-request-timestamp": VECTOR_TS}
    assert check_v3(VECTOR_SECRET, "POST", VECTOR_URI, VECTOR_BODY, headers,
                            VECTOR_NOW) is None


def _v3(body: bytes, *, secret: str = VECTOR_SECRET, uri: str = VECTOR_URI,
        ts: str = VECTOR_TS) -> dict[str, str]:
    return {"x-hubspot-signature-v3": sign_v3(secret, "POST", uri, body, ts),
            "x-hubspot-request-timestamp": ts}


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@pytest.mark.scenario("S25")
@pytest.mark.parametrize(("headers", "body", "uri", "reason"), [
    pytest.param(_v3(VECTOR_BODY), VECTOR_BODY, VECTOR_URI, None, id="valid"),
    pytest.param(_v3(VECTOR_BODY), VECTOR_BODY + b" ", VECTOR_URI, "does not match",
                 id="tampered-body"),
    pytest.param(_v3(VECTOR_BODY, secret="wrong-secret"), VECTOR_BODY, VECTOR_URI,
                 "does not match", id="wrong-secret"),
    pytest.param(_v3(VECTOR_BODY, ts=_ms(VECTOR_NOW - timedelta(minutes=6))), VECTOR_BODY,
                 VECTOR_URI, "old", id="six-minutes-old"),
    pytest.param(_v3(VECTOR_BODY, ts=_ms(VECTOR_NOW + timedelta(minutes=10))), VECTOR_BODY,
                 VECTOR_URI, "future", id="ten-minutes-ahead"),
    pytest.param({}, VECTOR_BODY, VECTOR_URI, "missing", id="missing-headers"),
    pytest.param({"x-hubspot-signature-v3": "x"}, VECTOR_BODY, VECTOR_URI, "missing",
                 id="missing-timestamp"),
    pytest.param(_v3(VECTOR_BODY, uri=VECTOR_URI + "?portal=7&x=%20y"), VECTOR_BODY,
                 VECTOR_URI + "?portal=7&x=%20y", None, id="query-string-signed"),
    pytest.param(_v3(VECTOR_BODY, uri=VECTOR_URI + "?portal=7&x= y"), VECTOR_BODY,
                 VECTOR_URI + "?portal=7&x=%20y", None, id="query-string-decoded"),
    pytest.param(_v3(VECTOR_BODY), VECTOR_BODY, VECTOR_URI + "?portal=7", "does not match",
                 id="query-string-not-signed"),
])
def test_v3_cases(headers: dict[str, str], body: bytes, uri: str,
                          reason: str | None) -> None:
    verdict = check_v3(VECTOR_SECRET, "POST", uri, body, headers, VECTOR_NOW)
    if reason is None:
        assert verdict is None
    else:
        assert verdict is not None and reason in verdict


@pytest.mark.parametrize(("headers", "ok"), [
    pytest.param({"x-hubspot-signature": sign_v2(VECTOR_SECRET, "POST", VECTOR_URI,
                                                    VECTOR_BODY),
                  "x-hubspot-signature-version": "v2"}, True, id="valid"),
    pytest.param({"x-hubspot-signature": sign_v2("nope", "POST", VECTOR_URI, VECTOR_BODY)},
                 False, id="wrong-secret"),
    pytest.param({"x-hubspot-signature": "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b89"
                                         "01c1fa57f750", "x-hubspot-signature-version": "v1"},
                 False, id="v1-not-accepted"),
    pytest.param({}, False, id="missing"),
])
def test_v2_cases(headers: dict[str, str], ok: bool) -> None:
    verdict = check_v2(VECTOR_SECRET, "POST", VECTOR_URI, VECTOR_BODY, headers)
    assert (verdict is None) is ok



def test_v1_is_the_documented_digest() -> None:
    assert sign_v1(VECTOR_SECRET, VECTOR_BODY) == \
        "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"


def test_v3_decodes_the_characters_hubspot_decodes() -> None:
    uri = "https://example.com/hook?a=1&b=x:y"
    headers = {"x-hubspot-signature-v3": sign_v3(VECTOR_SECRET, "POST", uri, b"[]", VECTOR_TS),
               "x-hubspot-request-timestamp": VECTOR_TS}
    assert check_v3(VECTOR_SECRET, "POST", "https://example.com/hook?a=1&b=x%3Ay", b"[]",
                    headers, VECTOR_NOW) is None


@pytest.mark.parametrize("stamp", ["9" * 400, "-1", "1e3", " ", "0x10", "１２３"])
def test_v3_refuses_a_timestamp_that_is_not_epoch_milliseconds(stamp: str) -> None:
    headers = {"x-hubspot-signature-v3": "x", "x-hubspot-request-timestamp": stamp}
    verdict = check_v3(VECTOR_SECRET, "POST", VECTOR_URI, VECTOR_BODY, headers, VECTOR_NOW)
    assert verdict is not None


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=200),
       path=st.from_regex(r"/[a-z0-9/_-]{0,30}", fullmatch=True),
       age=st.integers(min_value=-300_000, max_value=300_000))
def test_what_the_sandbox_signs_is_accepted(secret: str, body: bytes, path: str,
                                            age: int) -> None:
    uri = "https://receiver.test" + path
    now = VECTOR_NOW
    stamp = str(int(now.timestamp() * 1000) - age)
    headers = {"x-hubspot-signature-v3": sign_v3(secret, "POST", uri, body, stamp),
               "x-hubspot-request-timestamp": stamp}
    assert check_v3(secret, "POST", uri, body, headers, now) is None
    v2 = {"x-hubspot-signature": sign_v2(secret, "POST", uri, body)}
    assert check_v2(secret, "POST", uri, body, v2) is None
    assert check_v2(secret, "POST", uri, body + b"x", v2) is not None
