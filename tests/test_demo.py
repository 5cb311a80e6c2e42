"""`specsync demo`, run for real: four sandboxes and the runner on loopback.

One full run (about 20-30 s): it must exit 0, name each integration and each live
event, report zero failures, print no credential, and leave in its state store the runs
that prove the live events went through the runner (webhook- and action-triggered),
not around it. The cheap failure paths check that a problem is one plain line, never a
traceback.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.demo.order import scheduled_syncs
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.kleer.credentials import KleerCredentials
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.spec.load import load_spec
from engine.state import open_store

ROOT = Path(__file__).parents[1]
INTEGRATIONS = ("maconomy-cinode", "kleer-cinode", "kleer-hubspot")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    state = tmp_path_factory.mktemp("demo") / "state"
    out = io.StringIO()  # one run for the whole module: capsys is per test
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        status = main(["demo", "--records", "20", "--state", str(state)])
    return status, out.getvalue(), state / "state.db"


def test_the_demo_exits_0_and_reports_no_failure(demo: tuple[int, str, Path]) -> None:
    status, output, _ = demo
    assert status == 0, output
    assert "Everything worked" in output
    assert re.search(r"\b0 failed records\b", output)
    assert "✗" not in output and "Traceback" not in output


def test_each_integration_has_a_heading_and_a_row_per_scheduled_sync(
        demo: tuple[int, str, Path]) -> None:
    _, output, _ = demo
    lines = output.splitlines()
    for integration in INTEGRATIONS:
        heading = next(i for i, line in enumerate(lines) if line.startswith(integration + " "))
        spec = load_spec(ROOT / "specs" / integration / "spec.yaml")
        for sync in scheduled_syncs(spec):
            row = next(line for line in lines[heading:] if line.startswith(sync + " "))
            # read created updated unchanged filtered failed seconds: failed is 0.
            numbers = row.split()[1:]
            assert numbers[-2] == "0", row


def test_each_live_event_is_one_line(demo: tuple[int, str, Path]) -> None:
    _, output, _ = demo
    events = [line for line in output.splitlines() if line.strip().startswith("✓")
              and re.search(r"\(\d+\.\d s\)$", line)]
    assert len(events) == 4, output
    won, renamed, echo, invoice = events
    assert re.search(r"Cinode project '.+' marked Won -> Kleer client project #\d+", won)
    assert re.search(r"HubSpot company '.+' renamed to '.+' by a user -> Kleer client #\d+ "
                     "updated", renamed)
    assert "nothing written back to Kleer" in echo
    assert re.search(r"'Create Kleer Invoice' on deal '.+' -> Kleer invoice #\d+ created and "
                     "pushed back to HubSpot", invoice)


def test_the_live_events_went_through_the_runner(demo: tuple[int, str, Path]) -> None:
    _, _, state = demo
    with open_store(str(state)) as store:
        runs = store.list_runs(limit=500)
    by_trigger = {(r.integration, r.sync, r.trigger) for r in runs if r.status == "success"}
    assert ("kleer-cinode", "projects", "webhook") in by_trigger
    assert ("kleer-hubspot", "clients_inbound", "webhook") in by_trigger
    assert ("kleer-hubspot", "invoices", "action") in by_trigger
    scheduled = {(r.integration, r.sync) for r in runs if r.trigger == "schedule"}
    for integration in INTEGRATIONS:
        spec = load_spec(ROOT / "specs" / integration / "spec.yaml")
        assert {(integration, s) for s in scheduled_syncs(spec)} <= scheduled


def test_no_credential_is_printed(demo: tuple[int, str, Path]) -> None:
    _, output, _ = demo
    for secret in (KleerCredentials().token, CinodeCredentials().access_secret,
                   MaconomyCredentials().password, HubSpotCredentials().token,
                   HubSpotCredentials().client_secret):
        assert secret not in output
    assert "http://127.0.0.1:" in output  # the URLs are printed, for exploring


def test_too_few_records_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--records", "3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("specsync: error: --records must be at least")
    assert "Traceback" not in err


def test_a_used_state_directory_is_refused(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state.db").write_bytes(b"")
    assert main(["demo", "--state", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "holds the state of an earlier run" in err and "Traceback" not in err
