"""`specsync state move`: an embedded store grows into PostgreSQL without re-sending.

The maconomy-cinode integration (as the demo runs it) syncs into a SQLite store with
`specsync run`; the store is moved into a fresh PostgreSQL schema; worker processes then
run every sync again and write nothing: every link, hash and cursor came along.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.scale.move import move_state
from engine.state import SqliteStateStore, open_store, sync_lease_name
from tests.scale.conftest import ROOT, Cluster, wait_for
from tests.scale.support import MACONOMY_CINODE, maconomy_cinode_env, queue_idle, request_runs, runs

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WRITES = ("create", "update", "adopt", "deactivate", "delete")


def test_moved_state_makes_the_next_run_on_workers_write_nothing(
        cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    maconomy = MaconomySandbox(SandboxConfig(records=40, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False))
    sqlite = tmp_path / "state.db"
    with serve_in_thread(maconomy.app) as m_url, serve_in_thread(cinode.app) as c_url:
        env = maconomy_cinode_env(m_url, c_url)
        cluster.env.update(env)
        embedded = subprocess.run(
            [sys.executable, "-m", "engine", "run", MACONOMY_CINODE, "--state", str(sqlite),
             "--quiet"], env=cluster.env, cwd=ROOT, capture_output=True, text=True,
            timeout=300)
        assert embedded.returncode == 0, embedded.stderr
        before = {s: len(list(SqliteStateStore(sqlite).iter_links("maconomy-cinode", s)))
                  for s in ("customers", "projects")}
        assert before["customers"] == 40 and before["projects"] > 0

        report = move_state(sqlite, pg_url)
        assert report.rows["links"] == sum(before.values())
        with pytest.raises(StateError, match="already holds state"):
            move_state(sqlite, pg_url)  # never twice onto the same store

        moved = len(runs(pg_url))
        cluster.worker(MACONOMY_CINODE, pg_url, "w1")
        cluster.worker(MACONOMY_CINODE, pg_url, "w2")
        request_runs(MACONOMY_CINODE, pg_url, env, [("maconomy-cinode", "customers"),
                                                    ("maconomy-cinode", "projects")])
        wait_for(lambda: len(runs(pg_url)) >= moved + 2 and queue_idle(pg_url), 90,
                 "the runs after the move did not finish")

    after = sorted(runs(pg_url), key=lambda r: r.id)[moved:]
    assert {r.status for r in after} == {"success"}
    assert all(r.counts.get("read", 0) > 0 for r in after)
    assert [sum(r.counts.get(k, 0) for k in WRITES) for r in after] == [0, 0]
    with open_store(pg_url) as store:  # nothing re-adopted: the links are the moved ones
        assert {s: store.count_links("maconomy-cinode", s) for s in before} == before


def test_move_refuses_while_a_run_holds_its_lease(pg_url: str, tmp_path: Path) -> None:
    sqlite = tmp_path / "state.db"
    with SqliteStateStore(sqlite) as store:
        store.acquire_lease(sync_lease_name("maconomy-cinode", "customers"), "host:1:x",
                            datetime.now(UTC), 600)
    with pytest.raises(StateError, match="a run is in progress"):
        move_state(sqlite, pg_url)
    with open_store(pg_url) as target:
        assert target.list_runs() == [] and target.count_links("maconomy-cinode",
                                                               "customers") == 0


def test_open_breakers_and_quarantined_records_move_too(pg_url: str, tmp_path: Path) -> None:
    from datetime import timedelta

    from engine.state.base import BreakerRecord

    sqlite = tmp_path / "state.db"
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    opened = BreakerRecord("kleer-hubspot", "hubspot", "POST /crm/v3/objects/companies",
                           "open", 5, now, now + timedelta(minutes=1), "HTTP 503")
    with SqliteStateStore(sqlite) as store:
        store.save_breakers([opened], at=now)
        for _ in range(3):
            store.count_writes("kleer-hubspot", "a+b", {"hubspot.companies#1": "a=1"}, at=now,
                               window=timedelta(hours=1), max_writes=2)
    report = move_state(sqlite, pg_url)
    assert (report.rows["circuit_breakers"], report.rows["record_writes"]) == (1, 1)
    with open_store(pg_url) as target:
        assert target.breakers() == [opened]
        [held] = target.quarantined()
        assert (held.record, held.writes, held.quarantined_at) == ("hubspot.companies#1", 3, now)
