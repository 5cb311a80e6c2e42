"""Personal data stays out of logs, stored failure text, run history and metrics (S22).

Cinode refuses a user whose e-mail another user has, quoting it: "The email
'sara.andersson@...' is already in use." That reason is what the operator needs, but
the address is personal data. It must reach no log line (at DEBUG, every line the run
writes), no stored failure (the failures table the console, `status` and alerts read),
no report the CLI prints, and no metric; identity numbers and phone numbers likewise.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.logs import configure_logging
from engine.runner.metrics import RunnerMetrics
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.state import open_store
from engine.state.base import FailedRecord
from engine.sync.apply import Applied, Checkpoints
from engine.sync.lease import SyncLease
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.e2e.test_kleer_cinode import INTEGRATION, SPEC, World

PERSONNUMMER = "19121212-1212"  # Skatteverket's test number: valid date and check digit
PHONE = "+46 70 555 55 55"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    config = SandboxConfig(records=8, rate_limits=False, seed=7)
    with open_store(str(tmp_path / "state.db")) as store:
        yield World(KleerSandbox(config), CinodeSandbox(config), store, load_spec(SPEC), config)


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Every line specsync logs, through its own handler (the one serve installs)."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging("DEBUG", stream=stream)
    yield stream
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is stream:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.scenario("S22")
async def test_a_vendor_reason_quoting_an_e_mail_is_masked_everywhere_it_goes(
        world: World, captured_log: io.StringIO, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = sorted(world.kleer_users(), key=lambda u: u["id"])[:2]
    email = first["email"]
    assert "@" in email
    # Two Kleer users share an address: Cinode takes the first and refuses the second.
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{second['id']}",
                        {"email": email})

    runtime = world.runtime()
    try:
        report = await run_sync(runtime, "users")
    finally:
        await runtime.aclose()

    refused = [f for f in report.failures if "already in use" in f.reason]
    assert refused, [f.reason for f in report.failures]
    assert "'[e-mail]' is already in use" in refused[0].reason, refused[0].reason
    stored = [f for f in world.store.list_failures(INTEGRATION, "users")
              if "already in use" in f.message]
    assert stored and all("[e-mail]" in f.message for f in stored)

    metrics = RunnerMetrics()
    metrics.observe_run(INTEGRATION, "users", "manual", report.outcome, report.counts)
    exposed = {
        "log": captured_log.getvalue(),
        "report": " ".join(f.reason for f in report.failures),
        "failures table": " ".join(f.message for f in
                                   world.store.list_failures(INTEGRATION, "users")),
        "run history": " ".join(r.error or "" for r in world.store.list_runs()),
        "metrics": metrics.render().decode(),
    }
    assert "POST" in exposed["log"]  # the run's requests were logged, at DEBUG
    for where, text in exposed.items():
        assert email not in text and email.casefold() not in text.casefold(), where

    # `specsync status` shows the stored reason, masked.
    state = tmp_path / "state.db"
    assert cli_main(["status", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "already in use" in out and email not in out


@pytest.mark.scenario("S22")
async def test_failure_text_is_stored_with_identity_numbers_e_mails_and_phones_masked(
        tmp_path: Path) -> None:
    """Whatever a reason quotes (a vendor's words, an exception's text), the failures
    table gets it masked: the store is where the console, `status` and alerts read."""
    spec = load_spec(SPEC)
    with open_store(str(tmp_path / "state.db")) as store:
        runtime = Runtime(spec=spec, store=store, environ={})
        astore = runtime.astore
        now = datetime.now(UTC)
        lease = SyncLease(astore, INTEGRATION, "users", clock=lambda: now)
        await lease.take()
        run_id = await astore.run(lambda s: s.start_run(
            INTEGRATION, "users", spec_hash="x", git_commit=None, trigger="manual",
            started_at=now))
        checkpoints = Checkpoints(astore, INTEGRATION, "users", lease=lease, run_id=run_id,
                                  clock=lambda: now, ordered=False, cursor=None,
                                  redact=runtime.redactor.text)
        applied = Applied(failures=[FailedRecord(
            "7", "vendor.rejected",
            f"person {PERSONNUMMER} (tel {PHONE}, sara.andersson@example.se) is blocked")])
        await checkpoints.batch(applied, [], None)
        await runtime.aclose()
        [failure] = store.list_failures(INTEGRATION, "users")
    assert failure.message == "person [personnummer] (tel [phone], [e-mail]) is blocked"
