"""Tenants proceed fairly: a large tenant's long run and its burst of requests do not
hold the small tenants' runs back.

One tenant has 150 customers behind a slow Cinode; three have 5 each. The large tenant
asks for its runs again and again (a burst: they coalesce into one waiting job per
sync), then each small tenant asks once. One worker with two slots: the large tenant's
syncs share one lock (projects reads the customers' links), so it holds one slot at a
time, and the small tenants' runs go through the other while its run goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import Faults, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from tests.scale.conftest import Cluster, wait_for
from tests.scale.support import (
    MACONOMY_CINODE,
    maconomy_cinode_env,
    queue_idle,
    request_runs,
    runs,
    workers_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SMALL = ("s0", "s1", "s2")


def test_small_tenants_are_not_held_back_by_a_large_one(
        cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    servers = []
    lines = ["tenants:"]
    try:
        for name, records, latency in [("big", 150, 40), *((s, 5, 0) for s in SMALL)]:
            maconomy = MaconomySandbox(SandboxConfig(records=records, rate_limits=False))
            cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False, faults=Faults(
                latency_ms=latency, seed=5)))
            m, c = serve_in_thread(maconomy.app), serve_in_thread(cinode.app)
            servers += [m, c]
            env = maconomy_cinode_env(m.__enter__(), c.__enter__())
            lines.append(f"  {name}:\n    environment:")
            lines += [f"      {k}: {v!r}" for k, v in env.items()]
        tenants = tmp_path / "tenants.yaml"
        tenants.write_text("\n".join(lines) + "\n")
        cluster.worker(MACONOMY_CINODE, pg_url, "w1", "--tenants", str(tenants),
                       concurrency=2)
        wait_for(lambda: workers_ready(pg_url, 1), 60, "the worker did not start")
        big = [("big:maconomy-cinode", "customers"), ("big:maconomy-cinode", "projects")]
        made = request_runs(MACONOMY_CINODE, pg_url, {}, big, seconds=2, every=0.05,
                            tenants=str(tenants))
        request_runs(MACONOMY_CINODE, pg_url, {}, [
            (f"{s}:maconomy-cinode", sync) for s in SMALL for sync in ("customers",
                                                                        "projects")],
            tenants=str(tenants))
        wait_for(lambda: len(runs(pg_url)) >= 2 + 2 * len(SMALL) and queue_idle(pg_url),
                 240, "the runs did not finish")
    finally:
        for server in reversed(servers):
            server.__exit__(None, None, None)

    found = runs(pg_url)
    assert {r.status for r in found} == {"success"}
    mine = {scope: [r for r in found if r.integration == scope]
            for scope in ("big:maconomy-cinode", *(f"{s}:maconomy-cinode" for s in SMALL))}
    # The burst coalesced: at most the running job and one waiting, per sync.
    assert made > 20 and len(mine["big:maconomy-cinode"]) <= 4
    big_customers = min((r for r in mine["big:maconomy-cinode"] if r.sync == "customers"),
                        key=lambda r: r.started_at)
    assert big_customers.counts.get("create") == 150
    for s in SMALL:
        small = mine[f"{s}:maconomy-cinode"]
        assert {r.sync for r in small} == {"customers", "projects"}
        # Done while the large tenant's first run was still going.
        assert all(r.finished_at < big_customers.finished_at for r in small), s
