"""The console in Debian's Chromium (headless, Playwright) against a real `serve` with the
Maconomy and Cinode sandboxes: what an operator on call does, click by click.

Each test serves its own runner (uvicorn on loopback, the work loop running) over fresh
sandboxes; every adapter request still goes through the contract transports. The
screenshots linked from the README are written here (docs/console/*.png, with
SPECSYNC_SCREENSHOTS=docs; elsewhere they go to a temporary folder).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from engine.sandbox.platform.faults import Faults
from engine.sandbox.serve import serve_in_thread
from engine.spec.model import Spec, build_spec
from engine.state import SqliteStateStore
from tests.console.browser import SCREENSHOTS, Served, require_browser, serve
from tests.console.conftest import (
    INTEGRATION,
    OPERATOR,
    Sandboxes,
    build_console_app,
    console_spec,
    make_sandboxes,
)

pytestmark = pytest.mark.e2e

LONG_PHONE = "+46 8 " + "1" * 60  # Cinode keeps at most 50 characters
ZONE = "Europe/Stockholm"
SYNC = f"{INTEGRATION}/customers"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(timezone_id=ZONE, locale="en-GB",
                                   viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def served_factory(tmp_path: Path, sandboxes: Sandboxes) -> Iterator[Any]:
    stack: list[Any] = []
    stores: list[SqliteStateStore] = []

    def make(spec: Spec, *, schedule: bool = False,
             sandboxes_: Sandboxes | None = None) -> Served:
        boxes = sandboxes_ or sandboxes
        store = SqliteStateStore(tmp_path / f"state-{len(stores)}.db")
        stores.append(store)
        app = build_console_app(boxes, store, spec, schedule=schedule)
        context = serve(app, store, boxes)
        served = context.__enter__()
        stack.append(context)
        return served

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)
    for store in stores:
        store.close()


def log_in(page: Any, served: Served, name: str = "Olle Operator") -> None:
    """With the keyboard, as a person does: type, Tab, type, Enter."""
    page.goto(f"{served.url}/console/")
    assert page.url.startswith(f"{served.url}/console/login")
    page.get_by_label("Your name").fill(name)
    page.keyboard.press("Tab")
    page.keyboard.type(OPERATOR)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{served.url}/console/")


def reload_until(page: Any, selector: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while page.locator(selector).count() == 0:
        assert time.monotonic() < deadline, f"{selector} did not appear"
        page.wait_for_timeout(300)
        page.reload()


def unlabelled_controls(page: Any) -> list[str]:
    """Form controls a screen reader would announce without a name."""
    result: list[str] = page.evaluate("""() => Array.from(document.querySelectorAll(
        'button, input:not([type=hidden]), select, textarea, a[href]')).filter(el => {
          const name = (el.getAttribute('aria-label') || el.innerText || '').trim() ||
            (el.id && document.querySelector('label[for="' + el.id + '"]'));
          return !name; }).map(el => el.outerHTML.slice(0, 80))""")
    return result


def overflows(page: Any) -> bool:
    return bool(page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def test_an_operator_finds_a_rejected_record_fixes_it_and_retries(
        page: Any, served_factory: Any) -> None:
    served: Served = served_factory(console_spec())
    number = served.sandboxes.customers()[3]["customernumber"]
    served.control(served.sandboxes.maconomy, "PATCH", f"/records/customercard/{number}",
                   {"telephone": LONG_PHONE})
    report = served.on_work_loop(served.runner.run_now(INTEGRATION, "customers",
                                                       trigger="schedule"))
    assert report.counts["error"] == 1

    log_in(page, served)
    row = page.locator(f'tr[data-sync="{SYNC}"]')
    assert "failing" in row.locator(".badge").first.inner_text()
    assert row.locator('td[data-label="Failing records"]').inner_text().startswith("1")
    assert page.locator("#zone").inner_text() == ZONE
    started = served.store.list_runs()[0].started_at
    local = started.astimezone(__import__("zoneinfo").ZoneInfo(ZONE))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in row.inner_text()
    assert unlabelled_controls(page) == []
    page.keyboard.press("Tab")  # the keyboard's first stop skips the header
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"))

    row.get_by_role("link", name=f"{INTEGRATION} / customers").click()
    failing = page.locator(f'tr[data-key="{number}"]')
    assert "maximum length of 50" in failing.inner_text()
    assert LONG_PHONE not in page.content()
    assert unlabelled_controls(page) == []
    page.screenshot(path=str(SCREENSHOTS / "sync.png"), full_page=True)

    failing.get_by_role("link", name=number).click()
    assert page.get_by_role("heading", name="Failing").is_visible()
    assert page.get_by_role("heading", name="Fields").is_visible()
    assert "[personal data, " in page.locator("#fields ~ div").inner_text()
    assert LONG_PHONE not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "record.png"), full_page=True)

    # The cause, fixed where it lives: the phone number in Maconomy.
    served.control(served.sandboxes.maconomy, "PATCH", f"/records/customercard/{number}",
                   {"telephone": "+46 8 123 45"})
    retry = page.get_by_role("button", name=f"Retry record {number}")
    retry.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"notice=retry-started"))
    assert "Retry started." in page.locator(".notice").inner_text()
    reload_until(page, '[data-state="written"]')
    link = page.locator("[data-target-link]")
    assert link.get_attribute("href", timeout=5_000).startswith(
        "http://cinode.test/_sandbox/records/customers/")
    assert served.store.get_failure(INTEGRATION, "customers", number) is None
    written = served.sandboxes.cinode_customer(number)
    assert written is not None and written["phone"] == "+46 8 123 45"
    [entry, _login] = served.store.list_audit()
    assert (entry.actor, entry.action, entry.source_key) == ("Olle Operator", "retry", number)

    # The same pages on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/console/", f"/console/syncs/{SYNC}"):
        page.goto(f"{served.url}{path}")
        assert not overflows(page), path


def test_a_paused_sync_skips_its_schedule(page: Any, served_factory: Any) -> None:
    served: Served = served_factory(console_spec(customers="every 2s"), schedule=True)
    deadline = time.monotonic() + 20
    while not served.store.list_runs(INTEGRATION, "customers"):
        assert time.monotonic() < deadline, "the schedule never ran"
        time.sleep(0.2)
    log_in(page, served)
    page.goto(f"{served.url}/console/syncs/{SYNC}")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_url(re.compile(r"notice=paused"))
    paused_at = time.monotonic()
    runs_when_paused = len(served.store.list_runs(INTEGRATION, "customers", limit=100))
    time.sleep(max(0.0, 4.5 - (time.monotonic() - paused_at)))  # two slots pass
    page.reload()
    assert "paused by Olle Operator (operator)" in page.locator("[data-next-run]").inner_text()
    assert "was skipped" in page.locator("[data-next-run]").inner_text()
    # At most a run already under way when the pause came; none started after.
    assert len(served.store.list_runs(INTEGRATION, "customers", limit=100)) <= \
        runs_when_paused + 1
    page.get_by_role("button", name="Resume").click()
    page.wait_for_url(re.compile(r"notice=resumed"))
    assert served.store.paused_syncs() == {}


def test_progress_moves_during_a_run_of_ten_thousand_records(
        page: Any, served_factory: Any) -> None:
    boxes = make_sandboxes(10_000)
    # Latency on every Maconomy request, pages of 250 rows: 40 pages at Maconomy's
    # documented 20 requests/s. The filter keeps the run from creating 10,000 Cinode
    # customers (the Cinode sandbox takes ~10 ms per create: minutes).
    boxes.maconomy.set_faults(Faults(latency_ms=120))
    spec = console_spec()
    raw = dict(spec.raw)
    maconomy = raw["connections"]["maconomy"]
    raw["connections"] = {**raw["connections"], "maconomy": {
        **maconomy, "options": {**maconomy["options"], "page_size": 250}}}
    syncs = dict(raw["syncs"])
    syncs["customers"] = {**syncs["customers"],
                          "filter": 'customernumber in ["100000", "100001"]'}
    raw["syncs"] = syncs
    served: Served = served_factory(build_spec(spec.path, raw, "progress"), sandboxes_=boxes)
    log_in(page, served)
    page.goto(f"{served.url}/console/syncs/{SYNC}")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"notice=run-started"))
    summary = page.locator(f'[data-progress-for="{SYNC}"] [data-field="summary"]')
    summary.wait_for(state="visible")
    seen: list[int] = []
    rates: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            text = summary.inner_text(timeout=1_000)
            rate = page.locator(f'[data-progress-for="{SYNC}"] [data-field="rate"]'
                                ).inner_text(timeout=1_000)
        except Exception:  # the page reloads when the run ends
            break
        match = re.match(r"([\d\u202f]+) read", text)
        if match:
            seen.append(int(match.group(1).replace("\u202f", "")))
            rates.add(rate)
        if served.store.list_runs(INTEGRATION, "customers")[0].status != "running":
            break
        page.wait_for_timeout(250)
    moving = sorted(set(seen))
    assert len(moving) >= 3, seen  # the count moved while we watched
    assert moving == sorted(moving) and 0 < moving[-1] <= 10_000
    assert any("maconomy" in r and "requests/s" in r for r in rates), rates
    page.wait_for_load_state()
    reload_until(page, "text=10\u202f000")
    [run] = served.store.list_runs(INTEGRATION, "customers")
    assert (run.status, run.counts["read"], run.counts["filtered"]) == ("success", 10_000,
                                                                        9_998)


def test_a_request_without_login_gets_no_data(page: Any, served_factory: Any) -> None:
    served: Served = served_factory(console_spec())
    served.on_work_loop(served.runner.run_now(INTEGRATION, "customers", trigger="schedule"))
    names = [c["name1"] for c in served.sandboxes.customers()]
    key = served.sandboxes.customers()[0]["customernumber"]
    for path in ("/console/", f"/console/syncs/{SYNC}",
                 f"/console/syncs/{SYNC}/records/{key}"):
        page.goto(f"{served.url}{path}")
        assert page.url.startswith(f"{served.url}/console/login"), path
        content = page.content()
        assert not [n for n in names if n in content] and "<table" not in content
    answer = page.request.get(f"{served.url}/console/api/progress")
    assert answer.status == 401 and answer.json() == {"error": "log in first"}


def test_a_forged_form_post_is_refused(page: Any, served_factory: Any) -> None:
    served: Served = served_factory(console_spec())
    log_in(page, served)
    forged = f"""<!doctype html><title>win a prize</title>
      <form id="f" method="post" action="{served.url}/console/actions">
        <input type="hidden" name="action" value="pause">
        <input type="hidden" name="integration" value="{INTEGRATION}">
        <input type="hidden" name="sync" value="customers">
      </form><script>document.getElementById('f').submit()</script>"""

    async def evil(request: Any) -> HTMLResponse:
        return HTMLResponse(forged)

    with serve_in_thread(Starlette(routes=[Route("/", evil)]), host="127.0.0.1") as other:
        with page.expect_navigation(url=f"{served.url}/console/actions") as navigation:
            page.goto(f"{other.replace('127.0.0.1', 'localhost')}/")
        response = navigation.value
        assert response is not None and response.status == 403
    assert served.store.paused_syncs() == {}
    # The same post from our own origin but without the session's token: refused too.
    status = page.evaluate(f"""async () => (await fetch('{served.url}/console/actions', {{
        method: 'POST', headers: {{'content-type': 'application/x-www-form-urlencoded'}},
        body: 'action=pause&integration={INTEGRATION}&sync=customers'}})).status""")
    assert status == 403
    assert served.store.paused_syncs() == {}
