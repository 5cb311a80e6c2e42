"""SIGTERM and SIGINT during `specsync run`: stop reading, commit what completed, release.

The engine runs as a real subprocess against sandboxes served on loopback and gets a
real signal while creates are in flight. It must stop without reading further, mark its
run `interrupted`, release the sync's lease (the next run starts at once, not after the
lease's expiry) and exit 128 + the signal; the next run completes the rest, every
record exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import Faults, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.state import open_store, sync_lease_name
from tests.sync.test_crash import ROOT, SPEC, _env

pytestmark = pytest.mark.e2e

RECORDS = 80


def _small_batches(tmp_path: Path) -> Path:
    """The seed spec with batches of 10 records, so a run has many batches to stop between."""
    text = SPEC.read_text(encoding="utf-8")
    assert "\nsyncs:\n  customers:\n" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace("\nsyncs:\n  customers:\n",
                                 "\nsyncs:\n  customers:\n    batch_size: 10\n"),
                    encoding="utf-8")
    return spec


def _run(env: dict[str, str], spec: Path, state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "run", str(spec), "--sync", "customers", "--state",
         str(state), "--quiet", *extra], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def _stop_mid_run(signals: list[signal.Signals], tmp_path: Path, *, grace: str = "30",
                  latency_ms: float = 30) -> tuple[int, str, int, int]:
    """Run, send `signals` once 25 customers exist; then rerun. Returns the first run's
    exit status and stderr, how many customers existed when it ended, and the links."""
    maconomy = MaconomySandbox(SandboxConfig(records=RECORDS, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False,
                                         faults=Faults(latency_ms=latency_ms, seed=1)))
    state = tmp_path / "state.db"
    spec = _small_batches(tmp_path)

    def created() -> list[dict]:
        return [c for c in cinode.customers.iter() if c.get("identification")]

    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        env = _env(SandboxConfig(), maconomy_url, cinode_url)
        process = _run(env, spec, state, "--grace", grace)
        deadline = time.monotonic() + 120
        # Mid-batch (the third batch's fifth create): its writes are still in flight.
        while len(created()) < 25 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        for sig in signals:
            process.send_signal(sig)
            time.sleep(0.2)
        _, err = process.communicate(timeout=60)
        stopped_at = len(created())
        assert stopped_at < RECORDS, "the run finished before the signal"

        with open_store(str(state)) as store:
            [run] = store.list_runs()
            assert run.status == "interrupted", (run.status, run.error)
            assert run.finished_at is not None
            # The lease is released: the next run need not wait for its expiry.
            name = sync_lease_name("maconomy-cinode", "customers")
            assert store.current_lease(name, datetime.now(UTC)) is None
            links = store.count_links("maconomy-cinode", "customers")

        rerun = _run(env, spec, state)
        _, rerun_err = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, rerun_err

    numbers = sorted(c["customernumber"] for c in maconomy.customers.iter())
    assert sorted(c["identification"] for c in created()) == numbers  # each exactly once
    with open_store(str(state)) as store:
        assert store.count_links("maconomy-cinode", "customers") == RECORDS
        latest, first = store.list_runs()
        assert (latest.status, first.status) == ("success", "interrupted")
        # The rerun created only what the stopped run had not (the rest were linked).
        assert latest.counts["create"] + latest.counts["adopt"] == RECORDS - links
    return process.returncode, err, stopped_at, links


@pytest.mark.scenario("S5")
def test_sigterm_finishes_the_writes_in_flight_commits_them_and_exits_interrupted(
        tmp_path: Path) -> None:
    status, err, stopped_at, links = _stop_mid_run([signal.SIGTERM], tmp_path)
    assert status == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopping after the writes in flight" in err
    assert "Traceback" not in err
    # The writes in flight finished and were committed: the state knows every customer
    # the target holds (none was left for the next run's lookup to find).
    assert links == stopped_at


@pytest.mark.scenario("S5")
def test_a_second_sigint_abandons_the_writes_in_flight(tmp_path: Path) -> None:
    # Slow writes: the second signal comes while the batch's writes are still going out.
    status, err, stopped_at, links = _stop_mid_run([signal.SIGINT, signal.SIGINT], tmp_path,
                                                   latency_ms=150)
    assert status == 128 + signal.SIGINT, err
    assert "SIGINT again: abandoning the writes in flight" in err
    assert "Traceback" not in err
    assert links <= stopped_at  # what was committed, the target holds
