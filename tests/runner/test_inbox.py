"""The inbox worker against real Cinode sandboxes and a real SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from engine.sandbox.platform import Faults
from engine.state import sync_lease_name
from tests.runner.conftest import CRM_SECRET, DELIVERY_SECRET, ENVIRON, RUNNER_URL, SPEC, Harness
from tests.runner.test_webhooks import hubspot_events, post_hubspot

CHILD = Path(__file__).parent / "inbox_child.py"


async def subscribe_both(h: Harness) -> None:
    await h.subscribe_cinode(h.crm, "crm", {
        "isBasicAuthentication": False, "headerName": "X-Specsync-Token",
        "headerValue": CRM_SECRET})
    await h.subscribe_cinode(h.delivery, "delivery", {
        "isBasicAuthentication": True, "headerName": "specsync",
        "headerValue": DELIVERY_SECRET})


def delivered(h: Harness, crm_id: int) -> list[dict]:
    return [c for c in h.delivery.customers if c.get("identification") == str(crm_id)]


async def cinode_event(h: Harness, customer_id: int, timestamp: str,
                       hook: str = "42a3a220-766c-eb11-8e13-000c29b4e92f") -> int:
    body = {"WebhookId": hook, "CompanyId": 1, "EntityType": "CompanyCustomer",
            "ActionType": "Updated", "Timestamp": timestamp,
            "Payload": {"Id": customer_id, "Name": "as it was at " + timestamp}}
    response = await h.client.post(f"{RUNNER_URL}/webhooks/mirror/crm", json=body,
                                   headers={"X-Specsync-Token": CRM_SECRET})
    assert response.status_code == 200, response.text
    return response.json()["stored"]


async def test_a_webhook_syncs_the_record_it_names(harness: Harness) -> None:
    await subscribe_both(harness)
    customer = next(iter(harness.crm.customers))
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{customer['id']}",
                         {"name": "Acme Nordic AB", "phone": "+46 8 123 45"})
    await harness.drain()
    assert harness.store.inbox_depth() == 1

    worker = harness.worker()
    assert await worker.process_once() == 1
    [copy] = delivered(harness, customer["id"])
    assert (copy["name"], copy["phone"]) == ("Acme Nordic AB", "+46 8 123 45")
    assert harness.store.inbox_depth() == 0
    [run] = harness.store.list_runs("mirror", "crm_to_delivery")
    assert (run.trigger, run.status, run.counts["read"]) == ("webhook", "success", 1)
    assert await worker.process_once() == 0


@pytest.mark.scenario("S24")
async def test_out_of_order_and_duplicate_events_collapse_into_one_read(harness: Harness) -> None:
    customer = next(iter(harness.crm.customers))
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{customer['id']}",
                         {"name": "Newest Name AB"})
    # The newest delivery arrives first, then an older one, then the newest again.
    stored = [await cinode_event(harness, customer["id"], "2025-01-15T09:00:05Z"),
              await cinode_event(harness, customer["id"], "2025-01-15T09:00:01Z"),
              await cinode_event(harness, customer["id"], "2025-01-15T09:00:05Z")]
    assert stored == [1, 1, 0]

    await harness.worker().process_once()
    reads = harness.crm_io.count("GET", f"/customers/{customer['id']}")
    assert reads == 1
    [copy] = delivered(harness, customer["id"])
    assert copy["name"] == "Newest Name AB"  # the current state, not a payload's
    assert harness.store.inbox_depth() == 0


async def test_a_late_event_for_an_already_synced_record_writes_nothing(harness) -> None:
    customer = next(iter(harness.crm.customers))
    await cinode_event(harness, customer["id"], "2025-01-15T09:00:01Z")
    await harness.worker().process_once()
    writes = len(harness.delivery_io.sent)
    await cinode_event(harness, customer["id"], "2025-01-15T08:59:00Z")
    await harness.worker().process_once()
    new = harness.delivery_io.sent[writes:]
    assert [m for m, _ in new if m in ("POST", "PUT", "PATCH")] == []
    runs = harness.store.list_runs("mirror", "crm_to_delivery")
    assert runs[0].counts["skip"] == 1


async def test_a_sync_held_elsewhere_is_retried_with_backoff(harness: Harness) -> None:
    customer = next(iter(harness.crm.customers))
    await cinode_event(harness, customer["id"], "2025-01-15T09:00:01Z")
    lease = sync_lease_name("mirror", "crm_to_delivery")
    epoch = harness.store.acquire_lease(lease, "another-process", harness.clock.now(), 600)

    worker = harness.worker(backoff_seconds=5)
    assert await worker.process_once() == 1
    assert delivered(harness, customer["id"]) == []
    assert harness.store.inbox_depth() == 1
    assert await worker.process_once() == 0  # not before its backoff
    harness.clock.advance(4)
    assert await worker.process_once() == 0

    harness.store.release_lease(lease, "another-process", epoch)
    harness.clock.advance(2)
    assert await worker.process_once() == 1
    assert len(delivered(harness, customer["id"])) == 1
    assert harness.store.inbox_depth() == 0


async def test_events_of_a_paused_sync_are_held_not_dropped(harness: Harness) -> None:
    customer = next(iter(harness.crm.customers))
    await cinode_event(harness, customer["id"], "2025-01-15T09:00:01Z")
    harness.store.set_paused("mirror", "crm_to_delivery", True, by="alice (operator)",
                             at=harness.clock.now())
    worker = harness.worker(hold_seconds=30, max_attempts=2)
    for _ in range(4):  # held round after round, past max_attempts: never dropped
        assert await worker.process_once() == 1
        assert delivered(harness, customer["id"]) == []
        assert harness.store.inbox_depth() == 1
        assert await worker.process_once() == 0  # not before the hold is over
        harness.clock.advance(31)
    assert harness.store.list_runs("mirror", "crm_to_delivery") == []

    harness.store.set_paused("mirror", "crm_to_delivery", False, by="alice (operator)",
                             at=harness.clock.now())
    assert await worker.process_once() == 1
    assert len(delivered(harness, customer["id"])) == 1
    assert harness.store.inbox_depth() == 0


async def test_our_own_write_coming_back_is_not_written_back(harness: Harness) -> None:
    await subscribe_both(harness)
    worker = harness.worker()
    customer = next(iter(harness.crm.customers))
    cid = customer["id"]
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{cid}", {"name": "One AB"})
    await harness.drain()
    await worker.process_once()  # creates the delivery copy (a creation: not listened to)
    await harness.cinode(harness.crm, "PATCH", f"/records/customers/{cid}", {"name": "Two AB"})
    await harness.drain()
    await worker.process_once()  # updates the copy: delivery reports customer.updated
    await harness.drain()
    crm_writes = harness.crm_io.count("PUT", f"/customers/{cid}")
    assert harness.store.inbox_depth() == 1  # the echo, stored like any event
    await worker.process_once()
    assert harness.crm_io.count("PUT", f"/customers/{cid}") == crm_writes  # not written back
    assert harness.store.list_runs("mirror", "delivery_to_crm") == []
    metrics = harness.ctx.metrics.render().decode()
    assert 'specsync_webhook_events_total{connection="delivery",integration="mirror",' \
           'outcome="echo"} 1.0' in metrics

    # A person edits the copy: that change flows back to crm, and crm's echo stops there.
    [copy] = delivered(harness, cid)
    await harness.cinode(harness.delivery, "PATCH", f"/records/customers/{copy['id']}",
                         {"name": "Three AB"})
    await harness.drain()
    await worker.process_once()
    assert harness.crm.customers.get(cid)["name"] == "Three AB"
    await harness.drain()
    delivery_writes = harness.delivery_io.count("PUT", f"/customers/{copy['id']}")
    await worker.process_once()
    assert harness.delivery_io.count("PUT", f"/customers/{copy['id']}") == delivery_writes
    assert harness.store.inbox_depth() == 0


async def test_events_of_a_sigkilled_worker_are_claimed_again(harness: Harness,
                                                              tmp_path: Path) -> None:
    await subscribe_both(harness)
    ids = [c["id"] for c in list(harness.crm.customers)[:3]]
    for cid in ids:
        await harness.cinode(harness.crm, "PATCH", f"/records/customers/{cid}",
                             {"name": f"Killed {cid} AB"})
    await harness.drain()
    assert harness.store.inbox_depth() == 3

    marker = tmp_path / "claimed"
    env = {**os.environ, **ENVIRON}
    child = subprocess.Popen([sys.executable, str(CHILD), harness.store.path, str(SPEC),
                              str(marker)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, "the child exited before claiming"
            assert time.monotonic() < deadline, "the child never claimed"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    # Still leased to the dead worker: nobody can take them yet.
    assert harness.store.inbox_claim("probe", 10, datetime.now(UTC), 1) == []
    harness.clock.set(datetime.now(UTC) + timedelta(seconds=31))  # the lease has run out
    assert await harness.worker().process_once() == 3
    assert sorted(json.loads(json.dumps(c["name"])) for cid in ids
                  for c in delivered(harness, cid)) == sorted(f"Killed {cid} AB" for cid in ids)
    assert harness.store.inbox_depth() == 0


async def test_a_hubspot_trigger_property_syncs_all_mapped_fields(harness: Harness) -> None:
    harness.hubspot.webhooks.register(f"{RUNNER_URL}/webhooks/mirror/hubspot")
    company = next(iter(harness.hubspot.records("companies")))
    worker = harness.worker()

    async def edit(properties: dict[str, str]) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.hubspot.app),
                                     base_url="http://hubspot.test") as ui:
            response = await ui.patch(f"/_sandbox/records/companies/{company['id']}",
                                      json={"properties": properties})
            assert response.status_code == 200
        await harness.hubspot.webhooks.drain()
        await worker.process_once()

    def copies() -> list[dict]:
        return [c for c in harness.crm.customers
                if c.get("identification") == str(company["id"])]

    await edit({"domain": "one-way.se"})  # not a triggering property: nothing runs
    assert copies() == []
    assert harness.store.list_runs("mirror", "companies") == []

    await edit({"name": "Triggered AB"})  # triggers: every mapped field goes, domain too
    [copy] = copies()
    assert (copy["name"], copy["description"]) == ("Triggered AB", "one-way.se")
    assert harness.store.inbox_depth() == 0


async def test_a_batch_is_claimed_in_chunks_and_processed_as_one(harness: Harness) -> None:
    """Short store transactions for the receiver's sake, one read per record still."""
    company = next(iter(harness.hubspot.records("companies")))
    response = await post_hubspot(harness, hubspot_events(1, 2, 3, 4, 5,
                                                           object_id=company["id"]))
    assert response.json()["stored"] == 5
    worker = harness.worker(batch_size=4, chunk_size=2)
    assert await worker.process_once() == 4  # two claims of two, one batch
    assert (worker.reads, harness.store.inbox_depth()) == (1, 1)
    assert await worker.process_once() == 1
    assert (worker.reads, harness.store.inbox_depth()) == (2, 0)
    assert await worker.process_once() == 0
    [copy] = [c for c in harness.crm.customers
              if c.get("identification") == str(company["id"])]
    assert copy["name"] == company["properties"]["name"]


@pytest.mark.scenario("S15")
async def test_events_whose_run_a_circuit_breaker_stopped_are_retried(
        harness: Harness) -> None:
    customer = next(iter(harness.crm.customers))
    harness.delivery.set_faults(Faults(error_rate=1.0))  # the target answers 5xx only
    await cinode_event(harness, customer["id"], "2025-01-15T09:00:01Z")
    worker = harness.worker(backoff_seconds=5)
    assert await worker.process_once() == 1  # five 5xx in a row: the breaker opens
    assert harness.store.inbox_depth() == 1
    [opened] = [b for b in harness.store.breakers() if b.state == "open"]
    assert (opened.integration, opened.system) == ("mirror", "cinode")

    sent = len(harness.delivery_io.sent)
    harness.clock.advance(6)
    assert await worker.process_once() == 1  # the retry: refused unsent, given back again
    assert len(harness.delivery_io.sent) == sent
    run = harness.store.list_runs("mirror", "crm_to_delivery", limit=1)[0]
    assert run.status == "failed" and "circuit breaker" in (run.error or "")
    assert harness.store.inbox_depth() == 1

    harness.delivery.set_faults(Faults())
    assert harness.store.reset_breakers("mirror") == 1  # or wait for the probe
    harness.clock.advance(11)
    assert await worker.process_once() == 1
    assert len(delivered(harness, customer["id"])) == 1
    assert harness.store.inbox_depth() == 0
