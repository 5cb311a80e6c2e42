"""Webhooks in distributed mode: stored and deferred in one transaction, bursts coalesce.

`serve --distributed` receives Cinode deliveries for the runner fixtures' mirror spec;
two worker processes run the inbox jobs. The sandboxes and processes share nothing but
PostgreSQL and HTTP.
"""

from __future__ import annotations

import httpx
import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.state import open_store
from tests.runner.conftest import ACCESS_ID, ACCESS_SECRET, CRM_SECRET, ENVIRON, SPEC
from tests.scale.conftest import Cluster, wait_for
from tests.scale.support import queue_idle, runs

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _cinode(records: int) -> CinodeSandbox:
    return CinodeSandbox(SandboxConfig(records=records, rate_limits=False),
                         CinodeCredentials(access_id=ACCESS_ID, access_secret=ACCESS_SECRET))


@pytest.mark.scenario("S26")
def test_a_burst_of_50_deliveries_for_one_sync_makes_at_most_two_runs(
        cluster: Cluster, pg_url: str) -> None:
    crm, delivery = _cinode(8), _cinode(0)
    customers = list(crm.customers)[:5]
    with serve_in_thread(crm.app) as crm_url, serve_in_thread(delivery.app) as delivery_url:
        cluster.env.update({**ENVIRON, "CRM_URL": crm_url, "DELIVERY_URL": delivery_url})
        server = cluster.server(str(SPEC), pg_url)
        for name in ("w1", "w2"):
            cluster.worker(str(SPEC), pg_url, name)
        with httpx.Client(base_url=server, timeout=10) as client:
            for n in range(50):
                customer = customers[n % len(customers)]
                response = client.post("/webhooks/mirror/crm", json={
                    "WebhookId": "w", "CompanyId": 1, "EntityType": "CompanyCustomer",
                    "ActionType": "Updated", "Timestamp": f"2025-01-15T09:{n // 60:02d}:"
                    f"{n % 60:02d}Z", "Payload": {"Id": customer["id"]}},
                    headers={"X-Specsync-Token": CRM_SECRET})
                assert response.status_code == 200, response.text
                assert response.json()["stored"] == 1
        with open_store(pg_url) as store:
            wait_for(lambda: store.inbox_depth() == 0 and queue_idle(pg_url), 60,
                     "the inbox was not processed")

    webhook_runs = [r for r in runs(pg_url, "mirror", "crm_to_delivery")]
    assert 1 <= len(webhook_runs) <= 2, [(r.id, r.counts) for r in webhook_runs]
    assert {r.status for r in webhook_runs} == {"success"}
    copied = {c["identification"] for c in delivery.customers if c.get("identification")}
    assert copied == {str(c["id"]) for c in customers}
