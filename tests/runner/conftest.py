"""The runner against real sandboxes and a real SQLite state store, all in-process.

Two Cinode sandboxes play two systems (`crm` and `delivery`) so bidirectional syncs,
echoes and webhooks run end to end with the adapters that exist today; a HubSpot sandbox
sends signed webhooks and workflow-action executions. Sandboxes deliver to the runner
through httpx's ASGI transport; one ManualClock is the time of every party.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from engine.runner.app import Runner, build_app
from engine.runner.context import RunnerContext
from engine.runner.inbox import InboxWorker
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.platform import ManualClock, SandboxConfig
from engine.state import SqliteStateStore
from tests.contracts.recording import contract_transport

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = FIXTURES / "mirror.spec.yaml"
RUNNER_URL = "http://runner.test"

ACCESS_ID = "cinode-runner-access-id"
ACCESS_SECRET = "cinode-runner-access-secret-4f1e"
CRM_SECRET = "crm-webhook-secret-9b2d71"
DELIVERY_SECRET = "delivery-webhook-secret-51c0aa"
HUBSPOT_SECRET = "hubspot-client-secret-7d3f02"
HUBSPOT_TOKEN = "pat-runner-token"

ENVIRON = {
    "CRM_URL": "http://crm.test", "DELIVERY_URL": "http://delivery.test",
    "HUBSPOT_URL": "http://hubspot.test", "CINODE_ACCESS_ID": ACCESS_ID,
    "CINODE_ACCESS_SECRET": ACCESS_SECRET, "CRM_WEBHOOK_SECRET": CRM_SECRET,
    "DELIVERY_WEBHOOK_SECRET": DELIVERY_SECRET, "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
    "HUBSPOT_TOKEN": HUBSPOT_TOKEN,
}


class LateTransport(httpx.ASGITransport):
    """An ASGI transport whose app is set once the runner app exists."""

    def __init__(self) -> None:
        super().__init__(app=Starlette())


class CountingTransport(httpx.AsyncBaseTransport):
    """Forwards to a sandbox and keeps (method, path) of each request."""

    def __init__(self, sandbox: Any) -> None:
        self.inner = contract_transport(sandbox)
        self.sent: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p in self.sent if m == method and p.endswith(suffix))


@dataclass
class Harness:
    clock: ManualClock
    store: SqliteStateStore
    crm: CinodeSandbox
    delivery: CinodeSandbox
    hubspot: HubSpotSandbox
    app: Starlette
    client: httpx.AsyncClient  # to the runner app
    crm_io: CountingTransport
    delivery_io: CountingTransport
    late: LateTransport  # where sandboxes deliver: point it at another app to swap

    @property
    def ctx(self) -> RunnerContext:
        return self.app.state.runner

    @property
    def runner(self) -> Runner:
        return self.app.state.runner_control

    def worker(self, **options: Any) -> InboxWorker:
        return InboxWorker(self.ctx, sleep=self._no_sleep, **options)

    @staticmethod
    async def _no_sleep(seconds: float) -> None:
        return None

    async def cinode(self, sandbox: CinodeSandbox, method: str, path: str,
                     body: Any = None) -> Any:
        """A control call (a person using Cinode's UI)."""
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cinode.test") as c:
            response = await c.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def subscribe_cinode(self, sandbox: CinodeSandbox, connection: str,
                               credentials: dict[str, Any]) -> None:
        """Register our endpoint the way an admin does, through Cinode's API."""
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cinode.test") as c:
            basic = base64.b64encode(f"{ACCESS_ID}:{ACCESS_SECRET}".encode()).decode()
            token = (await c.get("/token", headers={"authorization": f"Basic {basic}"})
                     ).json()["access_token"]
            response = await c.post("/v0.1/companies/1/webhooks", headers={
                "authorization": f"Bearer {token}"}, json={
                "endpointUrl": f"{RUNNER_URL}/webhooks/mirror/{connection}",
                "configurations": [{"entityType": 5, "actionType": 1}],
                "credentials": [credentials]})
            assert response.status_code == 201, response.text

    async def drain(self) -> None:
        for sandbox in (self.crm, self.delivery, self.hubspot):
            await sandbox.webhooks.drain()


def cinode_sandbox(clock: ManualClock, client: httpx.AsyncClient, records: int) -> CinodeSandbox:
    return CinodeSandbox(SandboxConfig(
        records=records, clock=clock, rate_limits=False, webhook_client=client),
        CinodeCredentials(access_id=ACCESS_ID, access_secret=ACCESS_SECRET))


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    clock = ManualClock()
    late = LateTransport()
    to_runner = httpx.AsyncClient(transport=late, base_url=RUNNER_URL)
    crm = cinode_sandbox(clock, to_runner, 8)
    delivery = cinode_sandbox(clock, to_runner, 0)
    hubspot = HubSpotSandbox(SandboxConfig(
        records=5, clock=clock, rate_limits=False, webhook_client=to_runner),
        HubSpotCredentials(token=HUBSPOT_TOKEN, client_secret=HUBSPOT_SECRET))
    crm_io, delivery_io = CountingTransport(crm), CountingTransport(delivery)
    store = SqliteStateStore(tmp_path / "state.db")
    app = build_app([str(SPEC)], store=store, environ=ENVIRON, clock=clock.now,
                    transports={"crm": crm_io, "delivery": delivery_io,
                                "hubspot": contract_transport(hubspot)},
                    schedule=False, inbox=False)
    late.app = app
    async with to_runner, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                            base_url=RUNNER_URL) as client:
        yield Harness(clock, store, crm, delivery, hubspot, app, client, crm_io, delivery_io,
                      late)
        for sandbox in (crm, delivery, hubspot):
            await sandbox.webhooks.stop()
        await app.state.runner_control.stop(1.0)
    store.close()
