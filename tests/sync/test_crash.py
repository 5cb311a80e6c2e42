"""A runner SIGKILLed in the middle of a batch loses nothing and duplicates nothing.

The engine runs as a real subprocess (`specsync run`) against sandboxes served by uvicorn
on loopback; it is killed while creates are in flight, then run again. Every source
record must end up in the target exactly once, and the state must never claim more than
the target holds (the cursor never ahead of the data).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.platform import Faults, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.state import open_store

ROOT = Path(__file__).parents[2]
SPEC = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"

pytestmark = pytest.mark.e2e


def _env(config: SandboxConfig, maconomy: str, cinode: str) -> dict[str, str]:
    return {**os.environ,
            "SPECSYNC_ALLOW_LOOPBACK": "1",
            "MACONOMY_URL": maconomy, "MACONOMY_USER": MaconomyCredentials().user,
            "MACONOMY_PASSWORD": MaconomyCredentials().password,
            "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
            "CINODE_URL": cinode, "CINODE_ACCESS_ID": CinodeCredentials().access_id,
            "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret, "CINODE_COMPANY_ID": "1"}


def _run(env: dict[str, str], state: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "run", str(SPEC), "--sync", "customers", "--state",
         str(state), "--quiet"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


@pytest.mark.scenario("S1")
def test_sigkill_mid_batch_then_rerun_gives_every_record_exactly_once(tmp_path: Path) -> None:
    records = 80
    config = SandboxConfig(records=records, rate_limits=False)
    maconomy = MaconomySandbox(config)
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False,
                                         faults=Faults(latency_ms=15, seed=1)))
    state = tmp_path / "state.db"

    def created() -> list[dict]:
        return [c for c in cinode.customers.iter() if c.get("identification")]

    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        env = _env(config, maconomy_url, cinode_url)
        process = _run(env, state)
        deadline = time.monotonic() + 120
        while len(created()) < 25 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)  # reaps it and closes its pipes
        killed_at = len(created())
        assert 0 < killed_at < records

        with open_store(str(state)) as store:
            links = list(store.iter_links("maconomy-cinode", "customers"))
            by_id = {str(c["id"]): c for c in created()}
            # Whatever the state claims was written, the target holds.
            for link in links:
                assert by_id[link.target_id]["identification"] == link.source_key
            # A full first run never commits its cursor before it has read everything.
            assert store.get_cursor("maconomy-cinode", "customers") is None
            running = [r for r in store.list_runs() if r.status == "running"]
            assert len(running) == 1

        rerun = _run(env, state)
        _, err = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, err

    numbers = sorted(c["customernumber"] for c in maconomy.customers.iter())
    identifications = sorted(c["identification"] for c in created())
    assert identifications == numbers  # every record once: none missing, none twice
    with open_store(str(state)) as store:
        assert store.count_links("maconomy-cinode", "customers") == records
        assert store.get_cursor("maconomy-cinode", "customers") is not None
        statuses = [r.status for r in store.list_runs()]
        assert statuses == ["success", "interrupted"]
