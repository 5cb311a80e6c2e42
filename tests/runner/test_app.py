"""The runner app: health, readiness, metrics, the background worker, spec reloads."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from engine.errors import SpecError
from engine.runner.app import build_app
from engine.state import SqliteStateStore
from tests.runner.conftest import CRM_SECRET, ENVIRON, RUNNER_URL, SPEC, Harness
from tests.runner.test_webhooks import hubspot_events, post_hubspot


async def test_healthz_and_readyz(harness: Harness) -> None:
    alive = await harness.client.get("/healthz")
    ready = await harness.client.get("/readyz")
    assert alive.json() == {"status": "alive"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "integrations": ["mirror"], "inbox_depth": 0}


async def test_readyz_fails_when_the_store_is_gone(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    app = build_app([str(SPEC)], store=store, environ=ENVIRON, schedule=False, inbox=False)
    store.close()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=RUNNER_URL) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert (ready.status_code, alive.status_code) == (503, 200)
    assert ready.json()["reason"].startswith("state store")


def specsync_lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines()
                  if line.startswith("specsync_") and not line.startswith(
                      ("specsync_runs_created", "specsync_records_created",
                       "specsync_webhook_events_created",
                       "specsync_webhook_requests_rejected_created")))


async def test_metrics_expose_the_counters(harness: Harness, snapshot) -> None:
    customer = next(iter(harness.crm.customers))
    ok = await harness.client.post(f"{RUNNER_URL}/webhooks/mirror/crm", json={
        "WebhookId": "w", "EntityType": "CompanyCustomer", "ActionType": "Updated",
        "Timestamp": "2025-01-15T09:00:00Z", "Payload": {"Id": customer["id"]}},
        headers={"X-Specsync-Token": CRM_SECRET})
    forged = await harness.client.post(f"{RUNNER_URL}/webhooks/mirror/crm", json={},
                                       headers={"X-Specsync-Token": "guess"})
    assert (ok.status_code, forged.status_code) == (200, 401)
    await post_hubspot(harness, hubspot_events(7, prop="domain"))  # ignored
    before = await harness.client.get("/metrics")
    assert 'specsync_inbox_depth 1.0' in before.text
    await harness.worker().process_once()
    response = await harness.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert specsync_lines(response.text) == snapshot


async def test_the_background_worker_processes_what_webhooks_store(harness: Harness) -> None:
    app = build_app([str(SPEC)], store=harness.store, environ=ENVIRON, clock=harness.clock.now,
                    transports={"crm": harness.crm_io, "delivery": harness.delivery_io},
                    schedule=True, inbox=True, grace_seconds=5)
    customer = next(iter(harness.crm.customers))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=RUNNER_URL) as client:
        response = await client.post(f"{RUNNER_URL}/webhooks/mirror/crm", json={
            "WebhookId": "w", "EntityType": "CompanyCustomer", "ActionType": "Updated",
            "Timestamp": "2025-01-15T09:00:00Z", "Payload": {"Id": customer["id"]}},
            headers={"X-Specsync-Token": CRM_SECRET})
        assert response.status_code == 200
        for _ in range(200):
            if harness.store.inbox_depth() == 0:
                break
            await asyncio.sleep(0.01)
    assert harness.store.inbox_depth() == 0
    assert [c["identification"] for c in harness.delivery.customers
            if c.get("identification") == str(customer["id"])] == [str(customer["id"])]


async def test_reload_swaps_specs_and_refuses_broken_ones(harness: Harness,
                                                          tmp_path: Path) -> None:
    spec = tmp_path / "mirror.spec.yaml"
    shutil.copy(SPEC, spec)
    app = build_app([str(spec)], store=harness.store, environ=ENVIRON, schedule=False,
                    inbox=False)
    runner = app.state.runner_control
    before = runner.ctx.deployment
    spec.write_text(SPEC.read_text().replace(
        "trigger: {webhook: hubspot, properties: [name, phone]}",
        "trigger: {webhook: hubspot, properties: [name, phone, domain]}"))
    runner.reload()
    assert runner.ctx.deployment is not before
    assert runner.ctx.deployment.specs["mirror"].syncs["companies"].trigger.properties == (
        "name", "phone", "domain")

    current = runner.ctx.deployment
    spec.write_text(SPEC.read_text().replace("schedule: never", "schedule: sometimes", 1))
    with pytest.raises(SpecError):
        runner.reload()
    assert runner.ctx.deployment is current  # the running specs are kept
    await runner.stop(1)
