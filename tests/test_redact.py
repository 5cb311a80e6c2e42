from __future__ import annotations

import io
import logging
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.redact import (
    MASK,
    PERSONNUMMER_MASK,
    PHONE_MASK,
    RedactingFilter,
    Redactor,
    is_personnummer,
    is_sensitive_header,
)

HUBSPOT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
KLEER_TOKEN = "kleer-static-token-7f3a9c"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJjaW5vZGUtYXBpIiwiZXhwIjoxNzAwMDAwMDAwfQ."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)


def _check_digit(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([HUBSPOT_TOKEN, KLEER_TOKEN, "", "abc"])


SHAPES = [
    pytest.param(f"GET /crm/v3/objects token {HUBSPOT_TOKEN} rejected", id="known-secret"),
    pytest.param("Authorization: Bearer opaque-token-value-123", id="authorization-bearer"),
    pytest.param("authorization=Basic dXNlcjpwYXNzd29yZA== status=401", id="authorization-basic"),
    pytest.param("X-Token: some-kleer-token-9", id="x-token-header"),
    pytest.param("Cookie: session=abc123; theme=dark", id="cookie"),
    pytest.param("Maconomy-Reconnect: cmVjb25uZWN0LXRva2Vu", id="maconomy-reconnect"),
    pytest.param("X-HubSpot-Signature-v3: aGVsbG8gd29ybGQ=", id="hubspot-signature"),
    pytest.param(
        "GET https://api.hubapi.com/crm/v3/objects/contacts?hapikey=demo-key&limit=10",
        id="hapikey-param",
    ),
    pytest.param("callback?access_token=abc.def&state=ok", id="access-token-param"),
    pytest.param('{"access_token": "tok-1", "refresh_token": "tok-2", "id": 7}', id="json-tokens"),
    pytest.param('{"refreshToken": "r-123456", "companyId": 1}', id="cinode-refresh-body"),
    pytest.param(f"token refreshed: {JWT}", id="jwt"),
    pytest.param("Bearer " + JWT, id="bearer-jwt"),
    pytest.param("employee 811218-9876 synced", id="personnummer-10"),
    pytest.param("employee 19811218-9876 synced", id="personnummer-12-dash"),
    pytest.param("employee 198112189876 synced", id="personnummer-12"),
    pytest.param("centenarian 121212+1212", id="personnummer-plus"),
    pytest.param("coordination 701063-2391", id="samordningsnummer"),
    pytest.param("order 8112189875 invoiced", id="order-number-bad-luhn"),
    pytest.param("orgno 556036-0793 and VAT SE556036079301", id="organisation-number"),
    pytest.param("ids 1234567890123 and 42 and 2024-01-15", id="plain-numbers"),
]


@pytest.mark.parametrize("text", SHAPES)
def test_each_secret_shape_is_masked(redactor: Redactor, text: str, snapshot) -> None:
    assert redactor.text(text) == snapshot


def test_masks_are_what_the_docs_promise(redactor: Redactor) -> None:
    out = redactor.text(f"{HUBSPOT_TOKEN} 811218-9876 {JWT}")
    assert out == f"{MASK} {PERSONNUMMER_MASK} {MASK}"


def test_secrets_learned_later_are_masked(redactor: Redactor) -> None:
    fresh = "cinode-access-token-rotated"
    assert fresh in redactor.text(f"using {fresh}")
    redactor.add(fresh)
    assert redactor.text(f"using {fresh}") == f"using {MASK}"


def test_percent_encoded_secret_is_masked() -> None:
    r = Redactor(["a/b+c=d&e"])
    assert r.url("https://x.test/?next=a%2Fb%2Bc%3Dd%26e&q=1") == f"https://x.test/?next={MASK}&q=1"


def test_filter_survives_a_bad_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "%s and %s", ("one",), None)
    assert RedactingFilter(Redactor()).filter(record)
    assert record.getMessage() == "%s and %s (unformattable args)"


def test_short_secrets_are_ignored() -> None:
    # "abc" would mask every "abc" in every line; it is not treated as a secret.
    assert Redactor(["abc"]).text("abcdef") == "abcdef"


def test_longest_secret_wins() -> None:
    r = Redactor(["token-one", "token-one-and-more"])
    assert r.text("x token-one-and-more y") == f"x {MASK} y"


def test_url_masks_credential_params_and_userinfo(redactor: Redactor) -> None:
    url = httpx.URL(
        "https://user:pw@api.example.test/v1/things",
        params={"hapikey": "k-1", "access_token": "t-2", "limit": "10", "after": KLEER_TOKEN},
    )
    shown = redactor.url(url)
    assert shown == (
        f"https://{MASK}@api.example.test/v1/things?hapikey={MASK}&access_token={MASK}"
        f"&limit=10&after={MASK}"
    )


def test_url_masks_personnummer_in_path(redactor: Redactor) -> None:
    shown = redactor.url("https://kleer.test/company/1/user/811218-9876")
    assert shown == f"https://kleer.test/company/1/user/{PERSONNUMMER_MASK}"


def test_headers_masked_by_name(redactor: Redactor) -> None:
    headers = httpx.Headers(
        {
            "Authorization": "Bearer x",
            "X-Token": "kleer",
            "Cookie": "a=1",
            "Maconomy-Reconnect": "r",
            "X-HubSpot-Signature-v3": "sig",
            "X-HubSpot-Request-Timestamp": "1700000000000",
            "Accept": "application/json",
        }
    )
    assert redactor.headers(headers) == {
        "authorization": MASK,
        "x-token": MASK,
        "cookie": MASK,
        "maconomy-reconnect": MASK,
        "x-hubspot-signature-v3": MASK,
        "x-hubspot-request-timestamp": "1700000000000",
        "accept": "application/json",
    }
    assert not is_sensitive_header("Content-Type")


def test_json_values_redacted_recursively(redactor: Redactor) -> None:
    body = {
        "password": "hunter22",
        "users": [{"ssn": "19811218-9876", "name": "Anna", "token": "t"}],
        "count": 3,
        "note": f"key {KLEER_TOKEN}",
    }
    assert redactor(body) == {
        "password": MASK,
        "users": [{"ssn": PERSONNUMMER_MASK, "name": "Anna", "token": MASK}],
        "count": 3,
        "note": f"key {MASK}",
    }


def test_is_personnummer() -> None:
    assert is_personnummer("811218-9876")
    assert is_personnummer("701063-2391")  # samordningsnummer, day + 60
    assert not is_personnummer("811218-9875")  # bad check digit
    assert not is_personnummer("811318-9876")  # month 13
    assert not is_personnummer("556036-0793")  # organisation number: "month" 60


@st.composite
def personnummer(draw: st.DrawFn) -> str:
    year = draw(st.integers(1890, 2099))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28)) + (60 if draw(st.booleans()) else 0)
    serial = draw(st.integers(0, 999))
    nine = f"{year % 100:02d}{month:02d}{day:02d}{serial:03d}"
    check = _check_digit(nine)
    form = draw(st.sampled_from(["10", "10-", "10+", "12", "12-"]))
    sep = form[2:]
    head = f"{year}{month:02d}{day:02d}" if form.startswith("12") else nine[:6]
    return f"{head}{sep}{nine[6:]}{check}"


_NON_DIGIT_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Nd",), blacklist_characters="+-"), max_size=20
)


@pytest.mark.scenario("S22")
@settings(max_examples=200, deadline=None)
@given(pnr=personnummer(), before=_NON_DIGIT_TEXT, after=_NON_DIGIT_TEXT)
def test_any_valid_personnummer_is_masked(pnr: str, before: str, after: str) -> None:
    out = Redactor().text(f"{before} {pnr} {after}")
    assert PERSONNUMMER_MASK in out
    digits = pnr.replace("-", "").replace("+", "")
    assert digits[-10:] not in out.replace("-", "").replace("+", "")


@settings(max_examples=200, deadline=None)
@given(pnr=personnummer(), wrong=st.integers(1, 9))
def test_bad_check_digit_is_kept(pnr: str, wrong: int) -> None:
    """Not an identity number; kept, unless it also looks like a phone number (0701...)."""
    bad = pnr[:-1] + str((int(pnr[-1]) + wrong) % 10)
    assert Redactor().text(f"order {bad}") in (f"order {bad}", f"order {PHONE_MASK}")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("0123456789-+ =:&?abtokenBearr\"'{},eyJ.")), max_size=60)
)
def test_redaction_is_idempotent(text: str) -> None:
    r = Redactor(["secret-value"])
    once = r.text(text)
    assert r.text(once) == once


def test_logging_filter_redacts_message_args_extras_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s | %(record_key)s | %(password)s"))
    handler.addFilter(RedactingFilter(Redactor([KLEER_TOKEN])))
    logger = logging.getLogger("tests.redact.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"vendor said no to {KLEER_TOKEN}")
        except RuntimeError:
            logger.exception(
                "sync of %s failed with %s",
                "19811218-9876",
                KLEER_TOKEN,
                extra={"record_key": "811218-9876", "password": "pw-123456"},
            )
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    out = stream.getvalue()
    assert KLEER_TOKEN not in out
    assert "9876" not in out
    assert "pw-123456" not in out
    assert out.splitlines()[0] == (
        f"sync of {PERSONNUMMER_MASK} failed with {MASK} | {PERSONNUMMER_MASK} | {MASK}"
    )
    assert f"RuntimeError: vendor said no to {MASK}" in out


@pytest.mark.scenario("S22")
@pytest.mark.parametrize(("text", "expected"), [
    ("The email 'sara.andersson@example.se' is already in use",
     "The email '[e-mail]' is already in use"),
    ("contact: Sara <s.a+billing@sub.example.co.uk>", "contact: Sara <[e-mail]>"),
    ("phone +46 70 555 55 55 or 070-555 55 55", "phone [phone] or [phone]"),
    ("fax 08-123 456 78, mobile +4670555555", "fax [phone], mobile [phone]"),
    ("tel 0701234567.", "tel [phone]."),
])
def test_email_and_phone_are_masked(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize("text", [
    "client 40000001 updated", "amount 123456789 SEK", "at 2025-01-15T09:00:00Z",
    "GET /v0.1/companies/1/customers/4242", "order 1000234", "version 10.0.19045",
    "rate 0.5 per 2.0 s", "id=12345678",
])
def test_ids_amounts_and_times_stay_readable(text: str) -> None:
    assert Redactor().text(text) == text


def test_a_plain_word_secret_is_masked_only_as_a_whole_word() -> None:
    r = Redactor(["sandbox"])  # a Maconomy user name, as `specsync sandbox up` sets it
    assert r.text("logged in as sandbox.") == f"logged in as {MASK}."
    assert r.text("user=sandbox&x=1") == f"user={MASK}&x=1"
    assert r.text("sandboxes and mysandbox stay") == "sandboxes and mysandbox stay"
    # a secret that is not a plain word is masked wherever it is, as before
    assert Redactor(["sandbox-password"]).text("xsandbox-passwordx") == f"x{MASK}x"


def test_our_own_message_text_is_never_masked() -> None:
    from engine.spec.environment import MissingEnvironmentError

    message = str(MissingEnvironmentError(["CINODE_WEBHOOK_SECRET"], "cinode"))
    r = Redactor(["sandbox", "specsync"])
    assert r.text(message) == message
    assert "`specsync sandbox up`" in r.text(f"serve: {message}")
    # the same word outside our text is still a secret
    assert r.text(f"sandbox said: {message}").startswith(f"{MASK} said: connection")


@given(st.from_regex(r"[a-z]{4,12}", fullmatch=True), st.text(max_size=40))
def test_a_word_secret_never_survives_as_a_word(secret: str, noise: str) -> None:
    out = Redactor([secret]).text(f"{noise} {secret} {noise}")
    assert not re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", out.replace(MASK, " ")) \
        or secret in MASK
