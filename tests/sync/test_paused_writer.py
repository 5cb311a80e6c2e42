"""A runner paused past its lease (SIGSTOP), then resumed (SIGCONT), is fenced off (S4).

`specsync run` runs as a real subprocess and is stopped with SIGSTOP while it creates.
Its lease expires (another runner's clock is moved past the lease's ttl, as the wall
clock would after two minutes) and a second runner takes the sync over and finishes
it. Resumed with SIGCONT, the stale runner must notice before it writes again: it
sends no further write, its run ends failed, and every record exists exactly once.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import Faults, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.spec.load import load_spec
from engine.state import open_store
from engine.sync.lease import LEASE_TTL
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.sync.test_crash import _env
from tests.sync.test_graceful_stop import _run, _small_batches

pytestmark = pytest.mark.e2e

RECORDS = 60
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.mark.scenario("S4")
async def test_a_writer_paused_past_its_lease_is_fenced_off_when_it_resumes(
        tmp_path: Path) -> None:
    # Source pages are slow and writes quick, so the pause most likely finds the runner
    # between batches (reading), where it must stop before it writes again. (A pause in
    # the instant between its lease check and a request leaves that one request to go
    # out on waking: its batch's commit is then refused, and the lookup by external id
    # of the next run absorbs it.)
    maconomy = MaconomySandbox(SandboxConfig(records=RECORDS, rate_limits=False,
                                             faults=Faults(latency_ms=300, seed=1)))
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False,
                                         faults=Faults(latency_ms=5, seed=1)))
    state = tmp_path / "state.db"
    spec_path = _small_batches(tmp_path)
    text = spec_path.read_text(encoding="utf-8")
    spec_path.write_text(text.replace('      shortname: "${MACONOMY_SHORTNAME}"\n',
                                      '      shortname: "${MACONOMY_SHORTNAME}"\n'
                                      '      page_size: 10\n'), encoding="utf-8")

    def created() -> list[dict]:
        return [c for c in cinode.customers.iter() if c.get("identification")]

    def writes() -> int:
        """Customer writes begun: a create or an update of a customer. (A create is two
        requests, the customer and then its address: one paused between the two sends
        the address on waking, completing the write it had begun, and begins no other.)"""
        return sum(1 for e in cinode.requests if e.method in WRITES
                   and re.search(r"/customers(/\d+)?$", e.path))

    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        env = _env(SandboxConfig(), maconomy_url, cinode_url)
        stale = _run(env, spec_path, state)
        deadline = time.monotonic() + 120
        while len(created()) < 15 and stale.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stale.poll() is None, stale.communicate()
        stale.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.5)  # what it had sent lands
            paused_at = len(created())
            assert paused_at < RECORDS

            # Another runner, its clock past the stale lease's expiry, takes over.
            later = datetime.now(UTC) + timedelta(seconds=LEASE_TTL + 60)
            with open_store(str(state)) as store:
                runtime = Runtime(spec=load_spec(spec_path), store=store, environ=env,
                                  clock=lambda: later)
                try:
                    report = await run_sync(runtime, "customers")
                finally:
                    await runtime.aclose()
            assert report.outcome == "success", report.error
            before_resume = writes()
        finally:
            stale.send_signal(signal.SIGCONT)
        _, err = stale.communicate(timeout=60)

        assert stale.returncode == 1, err
        # Refused at its next commit (paused amid a batch's writes) or before its next
        # batch's writes (paused between batches): either way, fenced by the lease.
        assert "was lost to a newer holder" in err or "lease was taken over" in err, err
        assert "Traceback" not in err
        assert writes() == before_resume  # no write begun after it lost the lease

    numbers = sorted(c["customernumber"] for c in maconomy.customers.iter())
    assert sorted(c["identification"] for c in created()) == numbers  # each exactly once
    with open_store(str(state)) as store:
        assert store.count_links("maconomy-cinode", "customers") == RECORDS
        statuses = sorted(r.status for r in store.list_runs())
    assert statuses == ["failed", "success"]
