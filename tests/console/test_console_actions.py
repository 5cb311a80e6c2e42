"""The console's actions, in-process: each does what it says and is kept in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from engine.runner.schedule import ScheduledSync, Scheduler, parse_schedule
from tests.console.conftest import CONSOLE_URL, INTEGRATION, ConsoleApp, login

LONG_PHONE = "+46 8 " + "1" * 60  # Cinode keeps at most 50 characters of a phone number


async def act(client: httpx.AsyncClient, csrf: str, action: str, sync: str = "customers",
              key: str | None = None) -> httpx.Response:
    data = {"action": action, "integration": INTEGRATION, "sync": sync, "csrf": csrf}
    if key is not None:
        data["key"] = key
    return await client.post("/console/actions", data=data, headers={"origin": CONSOLE_URL})


async def test_a_rejected_record_is_explained_fixed_at_the_source_and_retried(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    sandboxes = console_app.sandboxes
    number = sandboxes.customers()[3]["customernumber"]
    await sandboxes.control(sandboxes.maconomy, "PATCH",
                            f"/records/customercard/{number}", {"telephone": LONG_PHONE})
    report = await console_app.runner.run_now(INTEGRATION, "customers", trigger="schedule")
    assert report.outcome == "partial" and report.counts["error"] == 1

    csrf = await login(client)
    page = await client.get(f"/console/syncs/{INTEGRATION}/customers")
    assert f'data-key="{number}"' in page.text
    assert "maximum length of 50" in page.text  # the vendor's reason
    assert LONG_PHONE not in page.text
    record = await client.get(f"/console/syncs/{INTEGRATION}/customers/records/{number}")
    assert "Failing" in record.text and "[personal data, " in record.text
    assert LONG_PHONE not in record.text and "1111111111" not in record.text

    # Retry before the cause is fixed: still failing, one attempt more.
    assert (await act(client, csrf, "retry", key=number)).headers["location"].endswith(
        "notice=retry-started")
    await console_app.drain()
    failure = console_app.store.get_failure(INTEGRATION, "customers", number)
    assert failure is not None and failure.attempts == 2

    await sandboxes.control(sandboxes.maconomy, "PATCH",
                            f"/records/customercard/{number}", {"telephone": "+46 8 123 45"})
    await act(client, csrf, "retry", key=number)
    await console_app.drain()
    assert console_app.store.get_failure(INTEGRATION, "customers", number) is None
    written = sandboxes.cinode_customer(number)
    assert written is not None and written["phone"] == "+46 8 123 45"
    runs = console_app.store.list_runs(INTEGRATION, "customers")
    assert [(r.trigger, r.status, r.counts["read"]) for r in runs[:2]] == [
        ("retry", "success", 1), ("retry", "partial", 1)]
    record = await client.get(f"/console/syncs/{INTEGRATION}/customers/records/{number}")
    assert 'data-state="written"' in record.text
    assert 'href="http://cinode.test/_sandbox/records/customers/' in record.text
    audit = [(e.actor, e.action, e.source_key, e.outcome) for e in
             console_app.store.list_audit(INTEGRATION, "customers")]
    assert audit == [("Alice Operator", "retry", number, "started")] * 2


async def test_acknowledge_keeps_the_record_retried_and_out_of_the_alert_count(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    sandboxes = console_app.sandboxes
    number = sandboxes.customers()[1]["customernumber"]
    await sandboxes.control(sandboxes.maconomy, "PATCH",
                            f"/records/customercard/{number}", {"telephone": LONG_PHONE})
    await console_app.runner.run_now(INTEGRATION, "customers", trigger="manual")
    csrf = await login(client)
    response = await act(client, csrf, "acknowledge", key=number)
    assert response.headers["location"].endswith("notice=acknowledged")
    assert console_app.store.failure_counts() == {(INTEGRATION, "customers"): (1, 1)}
    assert console_app.store.failing_keys(INTEGRATION, "customers") == [number]
    page = await client.get(response.headers["location"])
    assert "Alice Operator (operator)" in page.text and "Acknowledged:" in page.text
    again = await act(client, csrf, "acknowledge", key="no-such-key")
    assert again.headers["location"].endswith("notice=not-failing")


async def test_a_paused_sync_skips_its_schedule_and_refuses_runs_until_resumed(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    csrf = await login(client)
    assert (await act(client, csrf, "pause")).headers["location"].endswith("notice=paused")
    pause = console_app.store.paused_syncs()[(INTEGRATION, "customers")]
    assert pause.by == "Alice Operator (operator)"

    now = [datetime(2026, 3, 2, 9, 30, tzinfo=UTC)]
    ran: list[tuple[str, str]] = []

    async def run(integration: str, sync: str) -> None:
        ran.append((integration, sync))

    job = ScheduledSync(INTEGRATION, "customers", parse_schedule("hourly"))
    scheduler = Scheduler(console_app.store, [job], run, clock=lambda: now[0])
    assert scheduler.tick() == [] and ran == []
    assert console_app.store.get_meta(INTEGRATION, job.skipped_key) == \
        "2026-03-02T09:00:00+00:00"
    page = await client.get(f"/console/syncs/{INTEGRATION}/customers")
    assert "paused by Alice Operator (operator)" in page.text
    assert "was skipped" in page.text

    refused = await act(client, csrf, "run")
    assert refused.headers["location"].endswith("notice=refused-paused")
    assert console_app.store.list_runs(INTEGRATION, "customers") == []

    await act(client, csrf, "resume")
    assert console_app.store.paused_syncs() == {}
    assert scheduler.tick() == []  # the skipped slot is not caught up
    now[0] += timedelta(hours=1)
    [task] = scheduler.tick()
    await task
    assert ran == [(INTEGRATION, "customers")]

    assert (await act(client, csrf, "run")).headers["location"].endswith("notice=run-started")
    await console_app.drain()
    [run_row] = console_app.store.list_runs(INTEGRATION, "customers")
    assert (run_row.trigger, run_row.status) == ("console", "success")
    assert [(e.action, e.outcome) for e in console_app.store.list_audit(
        INTEGRATION, "customers")] == [("run", "started"), ("resume", "done"),
                                       ("run", "paused"), ("pause", "done")]


async def test_run_now_while_a_run_is_in_progress_says_busy(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    csrf = await login(client)
    async with console_app.ctx.gate.hold(INTEGRATION, "customers"):
        response = await act(client, csrf, "run")
    assert response.headers["location"].endswith("notice=busy")
    assert console_app.store.list_runs() == []


async def test_the_overview_lists_every_sync_with_its_state(
        client: httpx.AsyncClient, console_app: ConsoleApp) -> None:
    await console_app.runner.run_now(INTEGRATION, "customers", trigger="manual")
    await login(client)
    page = await client.get("/console/")
    for sync in ("customers", "projects"):
        assert f'data-sync="{INTEGRATION}/{sync}"' in page.text
    assert "badge-success" in page.text and "never run" in page.text
    assert "webhook events waiting" in page.text
