"""Who sees the console and who acts in it: logins, roles, sessions, CSRF, headers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from engine.console.auth import SESSION_SECONDS, Authenticator, LoginThrottle, same_origin
from engine.console.settings import ConsoleConfigError, ConsoleSettings
from engine.state.base import BatchCommit, Conflict
from tests.console.conftest import CONSOLE_URL, INTEGRATION, OPERATOR, VIEWER, ConsoleApp, login

PAGES = ["/console/", f"/console/syncs/{INTEGRATION}/customers",
         f"/console/syncs/{INTEGRATION}/customers/records/100000"]


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_without_login_redirects_and_shows_no_data(
        client: httpx.AsyncClient, console_app: ConsoleApp, path: str) -> None:
    await console_app.runner.run_now(INTEGRATION, "customers", trigger="manual")
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
    assert response.text == ""
    login_page = await client.get(response.headers["location"])
    assert login_page.status_code == 200
    names = [c["name1"] for c in console_app.sandboxes.customers()]
    assert not [name for name in names if name in login_page.text]
    assert "<table" not in login_page.text and "Run history" not in login_page.text


async def test_the_api_without_login_answers_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/api/progress")
    assert response.status_code == 401
    assert response.json() == {"error": "log in first"}


async def test_a_forged_or_stale_session_cookie_is_no_session(client: httpx.AsyncClient) -> None:
    other = Authenticator(ConsoleSettings(operator_secret="another-secret-entirely"))
    forged = other.seal(other.login("mallory", "another-secret-entirely"))  # type: ignore[arg-type]
    client.cookies.set("specsync_console", forged)
    assert (await client.get("/console/")).status_code == 303
    ours = Authenticator(ConsoleSettings(operator_secret=OPERATOR, viewer_secret=VIEWER),
                         clock=lambda: time.time() - SESSION_SECONDS - 5)
    client.cookies.set("specsync_console", ours.seal(ours.login("alice", OPERATOR)))  # type: ignore[arg-type]
    assert (await client.get("/console/")).status_code == 303  # expired


async def test_login_sets_a_strict_http_only_cookie_and_the_wrong_secret_is_refused(
        client: httpx.AsyncClient) -> None:
    wrong = await client.post("/console/login", data={"name": "Alice", "secret": "guess"},
                              headers={"origin": CONSOLE_URL})
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert "set-cookie" not in wrong.headers
    right = await client.post("/console/login", data={"name": "Alice", "secret": OPERATOR,
                                                      "next": "//evil.example/"},
                              headers={"origin": CONSOLE_URL})
    assert right.status_code == 303 and right.headers["location"] == "/console/"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert OPERATOR not in right.headers["set-cookie"]


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(
        console_app: ConsoleApp) -> None:
    transport = httpx.ASGITransport(app=console_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
        response = await c.post("/console/login", data={"name": "Alice", "secret": OPERATOR},
                                headers={"origin": "https://console.test"})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-specsync_console=")
    assert "Secure" in cookie and "Path=/" in cookie


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    await login(client)
    response = await client.get("/console/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    # Nothing is fetched from elsewhere: every script and stylesheet is our own.
    assert "http://" not in response.text.split("<body>")[0].replace(
        'href="/console/static', "")


async def test_a_form_posted_from_another_site_is_refused(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    csrf = await login(client)
    response = await client.post("/console/actions", data={
        "action": "pause", "integration": INTEGRATION, "sync": "customers", "csrf": csrf},
        headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert console_app.store.paused_syncs() == {}


async def test_a_post_without_the_session_csrf_token_is_refused(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    await login(client)
    for token in (None, "not-the-token"):
        data = {"action": "pause", "integration": INTEGRATION, "sync": "customers"}
        if token:
            data["csrf"] = token
        response = await client.post("/console/actions", data=data,
                                     headers={"origin": CONSOLE_URL})
        assert response.status_code == 403
        assert "expired or was not ours" in response.text
    assert console_app.store.paused_syncs() == {}
    assert [a.action for a in console_app.store.list_audit()] == ["login"]


async def test_a_viewer_reads_but_may_not_act_and_the_refusal_is_audited(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    csrf = await login(client, VIEWER, name="Vera Viewer")
    page = await client.get(f"/console/syncs/{INTEGRATION}/customers")
    assert page.status_code == 200 and 'disabled title="Your role is read-only"' in page.text
    response = await client.post("/console/actions", data={
        "action": "pause", "integration": INTEGRATION, "sync": "customers", "csrf": csrf},
        headers={"origin": CONSOLE_URL})
    assert response.status_code == 403
    assert console_app.store.paused_syncs() == {}
    [refused, logged_in] = console_app.store.list_audit()
    assert (refused.actor, refused.role, refused.action, refused.outcome) == (
        "Vera Viewer", "viewer", "pause", "refused: read-only role")
    assert logged_in.action == "login"


async def test_a_bearer_token_reads_the_api_without_a_cookie(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/console/api/progress",
                                headers={"authorization": f"Bearer {VIEWER}"})
    assert response.status_code == 200 and response.json() == {"running": []}
    assert (await client.get("/console/api/progress",
                             headers={"authorization": "Bearer nope"})).status_code == 401


@pytest.mark.scenario("S28")
async def test_the_api_lists_conflicts_of_two_way_fields_masked(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    assert (await client.get("/console/api/conflicts")).status_code == 401
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    console_app.store.commit_batch(BatchCommit(INTEGRATION, "companies", at, conflicts=[
        # stored masked by the run; an older row holding a raw phone is masked on the way out
        Conflict(INTEGRATION, "companies", "7", "phone", '"+46 8 123 45 67"', '"[phone]"',
                 "kleer", "source_wins", at)]))
    response = await client.get("/console/api/conflicts",
                                headers={"authorization": f"Bearer {VIEWER}"})
    assert response.status_code == 200
    [row] = response.json()["conflicts"]
    assert row == {"at": "2026-12-03T12:00:00+00:00", "integration": INTEGRATION,
                   "sync": "companies", "key": "7", "field": "phone",
                   "source_value": '"[phone]"', "target_value": '"[phone]"',
                   "kept": "kleer", "policy": "source_wins"}


async def test_failed_logins_are_slowed_then_refused_per_address() -> None:
    now = [0.0]
    throttle = LoginThrottle(attempts=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    now[0] = 61.0
    assert not throttle.blocked("10.0.0.1")


def test_same_origin_reads_what_browsers_send() -> None:
    own = "http://console.test"
    assert same_origin({}, own)  # curl with a token: no browser involved
    assert same_origin({"origin": own, "sec-fetch-site": "same-origin"}, own)
    assert not same_origin({"origin": "https://evil.example"}, own)
    assert not same_origin({"sec-fetch-site": "cross-site"}, own)
    assert not same_origin({"origin": "null"}, own)


@pytest.mark.parametrize(("environ", "options", "message"), [
    pytest.param({"X": "short"}, {"operator": "${X}"}, "at least 12",
                 id="short-secret"),
    pytest.param({}, {"operator": "hunter2-hunter2"}, "environment reference",
                 id="literal-secret"),
    pytest.param({"X": "same-secret-twice", "Y": "same-secret-twice"},
                 {"operator": "${X}", "viewer": "${Y}"}, "are the same", id="same-secrets"),
])
def test_console_settings_refuse_what_would_be_unsafe(
        environ: dict[str, str], options: dict[str, str], message: str) -> None:
    with pytest.raises(ConsoleConfigError, match=message):
        ConsoleSettings.from_environ(environ, **options)


def test_the_console_is_off_without_a_secret_and_says_how_to_turn_it_on() -> None:
    settings = ConsoleSettings.from_environ({})
    assert not settings.console_on and not settings.alerts_on
    assert "hunter2" not in repr(ConsoleSettings.from_environ(
        {"SPECSYNC_CONSOLE_OPERATOR": "hunter2-hunter2"}))
