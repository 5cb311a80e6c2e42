"""Alerts to a local receiver over real HTTP: one notification per incident, one when it
clears, deliveries retried, nothing sent twice."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.console import AlertMonitor, ConsoleSettings
from engine.runner.context import BreakerView
from engine.sandbox.serve import serve_in_thread
from engine.state import SqliteStateStore
from tests.console.conftest import (
    INTEGRATION,
    ConsoleApp,
    Sandboxes,
    build_console_app,
    console_spec,
)

LONG_PHONE = "+46 8 " + "1" * 60


@dataclass
class Receiver:
    """A Slack-like incoming webhook: keeps what it is sent; can fail the next few."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.json()
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return Response("try later", status_code=503)
                self.bodies.append(body)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook/T000/B000/secret", hook, methods=["POST"])])

    def events(self) -> list[tuple[str, str, str]]:
        """(event, kind, sync) of each notification received, in order."""
        return [(b["specsync"]["event"], b["specsync"]["kind"], b["specsync"]["sync"])
                for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiving = Receiver()
    with serve_in_thread(receiving.app()) as base:
        yield receiving, f"{base}/hook/T000/B000/secret"


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now().astimezone() + self.offset


@pytest.fixture
async def alerting(sandboxes: Sandboxes, tmp_path: Path, receiver: tuple[Receiver, str]
                   ) -> AsyncIterator[tuple[ConsoleApp, AlertMonitor, Receiver, Clock]]:
    receiving, url = receiver
    sandboxes.environ.update({"SPECSYNC_ALERT_WEBHOOK": url, "SPECSYNC_ALLOW_LOOPBACK": "1"})
    store = SqliteStateStore(tmp_path / "state.db")
    app = build_console_app(sandboxes, store, console_spec(customers="hourly"),
                            failing_threshold=2, stale_grace=60)
    clock = Clock()
    monitor = AlertMonitor(app.state.runner, ConsoleSettings.from_environ(
        sandboxes.environ, failing_threshold=2, stale_grace=60), clock=clock,
        backoff_seconds=10, public_url="https://sync.example.com")
    assert app.state.alerts is not None  # serve wires one in; the test drives its own
    yield ConsoleApp(app, store, sandboxes), monitor, receiving, clock
    await monitor.aclose()
    await app.state.runner.deployment.aclose()
    store.close()


def failed_run(app: ConsoleApp, error: str) -> None:
    store, now = app.store, datetime.now().astimezone()
    run_id = store.start_run(INTEGRATION, "customers", spec_hash="h", git_commit=None,
                             trigger="schedule", started_at=now)
    store.finish_run(run_id, outcome="failed", counts={"read": 0}, error=error,
                     finished_at=now)


async def test_one_alert_per_incident_and_one_when_it_clears(
        alerting: tuple[ConsoleApp, AlertMonitor, Receiver, Clock]) -> None:
    app, monitor, receiver, _ = alerting
    failed_run(app, "FatalError: Maconomy answered 401 Unauthorized")
    await monitor.round()
    await monitor.round()  # still failing: nothing new
    failed_run(app, "FatalError: Maconomy answered 401 Unauthorized")
    await monitor.round()  # failed again: the same incident
    assert receiver.events() == [("opened", "run_failed", "customers")]
    [opened] = receiver.bodies
    assert opened["text"].startswith("[specsync] Run failed: maconomy-cinode/customers: run ")
    assert "401 Unauthorized" in opened["text"]
    assert opened["text"].endswith(
        "(https://sync.example.com/console/syncs/maconomy-cinode/customers)")

    report = await app.runner.run_now(INTEGRATION, "customers", trigger="console")
    assert report.outcome == "success"
    await monitor.round()
    await monitor.round()
    assert receiver.events() == [("opened", "run_failed", "customers"),
                                 ("cleared", "run_failed", "customers")]
    assert receiver.bodies[1]["text"].startswith("[specsync] Resolved after ")

    failed_run(app, "FatalError: again")  # a new incident: told again
    await monitor.round()
    assert receiver.events()[-1] == ("opened", "run_failed", "customers")
    assert len(receiver.bodies) == 3


async def test_failing_records_past_the_threshold_alert_until_acknowledged_or_fixed(
        alerting: tuple[ConsoleApp, AlertMonitor, Receiver, Clock]) -> None:
    app, monitor, receiver, _ = alerting
    sandboxes = app.sandboxes
    numbers = [c["customernumber"] for c in sandboxes.customers()[:2]]
    await sandboxes.control(sandboxes.maconomy, "PATCH",
                            f"/records/customercard/{numbers[0]}", {"telephone": LONG_PHONE})
    await app.runner.run_now(INTEGRATION, "customers", trigger="console")
    await monitor.round()
    assert receiver.events() == []  # one failing record: under the threshold of 2

    await sandboxes.control(sandboxes.maconomy, "PATCH",
                            f"/records/customercard/{numbers[1]}", {"telephone": LONG_PHONE})
    await app.runner.run_now(INTEGRATION, "customers", trigger="console")
    await monitor.round()
    assert receiver.events() == [("opened", "failing", "customers")]
    assert "2 failing records (alert at 2)" in receiver.bodies[0]["text"]
    assert LONG_PHONE not in str(receiver.bodies)

    app.store.acknowledge_failure(INTEGRATION, "customers", numbers[0], by="alice",
                                  at=datetime.now().astimezone())
    await monitor.round()
    assert receiver.events()[-1] == ("cleared", "failing", "customers")
    assert len(receiver.bodies) == 2


async def test_an_open_breaker_and_an_overdue_sync_each_alert_once(
        alerting: tuple[ConsoleApp, AlertMonitor, Receiver, Clock]) -> None:
    app, monitor, receiver, clock = alerting
    breakers = [BreakerView("cinode", "POST /v0.1/companies/{id}/customers", "open",
                            failures=5, reason="503 Service Unavailable")]
    app.ctx.breaker_source = lambda store: breakers
    await monitor.round()
    assert receiver.events() == [("opened", "breaker", "cinode")]
    breakers[0] = BreakerView("cinode", "POST /v0.1/companies/{id}/customers", "closed")
    await monitor.round()
    assert receiver.events()[-1] == ("cleared", "breaker", "cinode")

    clock.offset = timedelta(minutes=50)  # at most one hourly slot passed: a blip
    await monitor.round()
    assert len(receiver.bodies) == 2
    clock.offset = timedelta(hours=3)  # two slots and the grace period: overdue
    await monitor.round()
    await monitor.round()
    assert receiver.events()[-1] == ("opened", "overdue", "customers")
    assert "schedule: hourly" in receiver.bodies[-1]["text"]
    app.store.set_paused(INTEGRATION, "customers", True, by="alice", at=clock())
    await monitor.round()  # paused on purpose: not overdue any more
    assert receiver.events()[-1] == ("cleared", "overdue", "customers")
    assert len(receiver.bodies) == 4


async def test_a_failed_delivery_is_retried_later_and_sent_once(
        alerting: tuple[ConsoleApp, AlertMonitor, Receiver, Clock]) -> None:
    app, monitor, receiver, clock = alerting
    receiver.fail_next = 2
    failed_run(app, "FatalError: boom")
    await monitor.round()
    [incident] = app.store.open_incidents()
    assert (incident.attempts, incident.last_error) == (1, "HTTP 503")
    assert receiver.bodies == []
    await monitor.round()  # not due yet (10 s backoff)
    assert app.store.open_incidents()[0].attempts == 1
    clock.offset = timedelta(seconds=11)
    await monitor.round()  # the second failure: 20 s more
    assert app.store.open_incidents()[0].attempts == 2
    clock.offset = timedelta(seconds=40)
    await monitor.round()
    assert receiver.events() == [("opened", "run_failed", "customers")]
    await monitor.round()
    assert len(receiver.bodies) == 1
    # The URL is a credential: it is in no error, log or store row.
    assert all("secret" not in (i.last_error or "") for i in app.store.list_incidents())


@pytest.mark.scenario("S15")
async def test_a_breaker_saved_by_a_run_alerts_and_a_reset_clears_it(
        alerting: tuple[ConsoleApp, AlertMonitor, Receiver, Clock]) -> None:
    from engine.state.base import BreakerRecord

    app, monitor, receiver, _ = alerting
    now = datetime.now().astimezone()
    app.store.save_breakers([BreakerRecord(  # as run_sync saves it when a breaker opens
        INTEGRATION, "cinode", "POST /v0.1/companies/{id}/customers", "open", 5, now,
        now + timedelta(minutes=1), "HTTP 503")], at=now)
    [shown] = app.ctx.breakers()
    assert (shown.state, shown.failures, shown.integration) == ("open", 5, INTEGRATION)
    await monitor.round()
    assert receiver.events() == [("opened", "breaker", "cinode")]
    assert app.store.reset_breakers(INTEGRATION) == 1  # `specsync breakers reset`
    await monitor.round()
    assert receiver.events()[-1] == ("cleared", "breaker", "cinode")
