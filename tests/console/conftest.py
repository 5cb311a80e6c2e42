"""The console against the real maconomy-cinode spec and the Maconomy and Cinode sandboxes.

`Sandboxes` holds the two simulators (in-process; every adapter request goes through a
contract transport) and the control calls a person makes in their UIs. `console_app`
builds the runner app with the console on, for in-process tests over httpx; the browser
tests serve the same app with uvicorn on loopback (see test_console_browser.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from engine.console import ConsoleSettings
from engine.runner.app import Runner, build_app
from engine.runner.context import RunnerContext
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec, build_spec
from engine.state import SqliteStateStore
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport

ROOT = Path(__file__).parents[2]
SPEC = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
INTEGRATION = "maconomy-cinode"
OPERATOR = "operator-secret-4d1f9a"
VIEWER = "viewer-secret-77c2e0b"
CONSOLE_URL = "http://console.test"


def sandbox_env() -> dict[str, str]:
    return {
        "MACONOMY_URL": "http://maconomy.test", "MACONOMY_USER": MaconomyCredentials().user,
        "MACONOMY_PASSWORD": MaconomyCredentials().password,
        "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
        "CINODE_URL": "http://cinode.test", "CINODE_ACCESS_ID": CinodeCredentials().access_id,
        "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret,
        "CINODE_COMPANY_ID": str(CinodeCredentials().company_id),
        "SPECSYNC_CONSOLE_OPERATOR": OPERATOR, "SPECSYNC_CONSOLE_VIEWER": VIEWER,
        "CINODE_WEB": "http://cinode.test/_sandbox/records",
    }


def console_spec(*, customers: str = "never", projects: str = "never") -> Spec:
    """The seed spec with the schedules a test wants and a record link for Cinode."""
    spec = load_spec(SPEC)
    raw = dict(spec.raw)
    raw["setup"] = {**raw["setup"], "customer_schedule": customers,
                    "project_schedule": projects}
    raw["connections"] = {**raw["connections"], "cinode": {
        **raw["connections"]["cinode"], "record_url": "${CINODE_WEB}/{object}/{id}"}}
    return build_spec(str(SPEC), raw, f"console-{customers}-{projects}")


@dataclass
class Sandboxes:
    maconomy: MaconomySandbox
    cinode: CinodeSandbox
    environ: dict[str, str] = field(default_factory=sandbox_env)

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {"maconomy": contract_transport(self.maconomy),
                "cinode": contract_transport(self.cinode)}

    async def control(self, sandbox: Any, method: str, path: str, body: Any = None) -> Any:
        """A person's change in the vendor's UI, through the sandbox control API."""
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
            response = await client.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def customers(self) -> list[dict[str, Any]]:
        return list(self.maconomy.customers.iter())

    def cinode_customer(self, number: str) -> dict[str, Any] | None:
        return next((c for c in self.cinode.customers.iter()
                     if c.get("identification") == number), None)


def make_sandboxes(records: int) -> Sandboxes:
    return Sandboxes(
        MaconomySandbox(SandboxConfig(records=records, rate_limits=False)),
        CinodeSandbox(SandboxConfig(records=0, rate_limits=False)))


@pytest.fixture
def sandboxes() -> Sandboxes:
    spec = load_spec(SPEC)
    allow_from_options(spec.connections["maconomy"].options)
    return make_sandboxes(12)


@dataclass
class ConsoleApp:
    app: Starlette
    store: SqliteStateStore
    sandboxes: Sandboxes

    @property
    def ctx(self) -> RunnerContext:
        return self.app.state.runner

    @property
    def runner(self) -> Runner:
        return self.app.state.runner_control

    async def drain(self) -> None:
        """Wait for the runs the console started (in-process: on this loop)."""
        import asyncio

        while self.runner.control.tasks:
            await asyncio.gather(*list(self.runner.control.tasks))


def build_console_app(sandboxes: Sandboxes, store: SqliteStateStore, spec: Spec, *,
                      schedule: bool = False, **settings: Any) -> Starlette:
    from engine.runner.deployment import Deployment

    deployment = Deployment.from_specs([spec], store, environ=sandboxes.environ,
                                       transports=sandboxes.transports())
    return build_app(deployment=deployment, store=store, schedule=schedule, inbox=False,
                     console=ConsoleSettings.from_environ(sandboxes.environ, **settings))


@pytest.fixture
def console_app(sandboxes: Sandboxes, tmp_path: Path) -> Iterator[ConsoleApp]:
    store = SqliteStateStore(tmp_path / "state.db")
    app = build_console_app(sandboxes, store, console_spec())
    yield ConsoleApp(app, store, sandboxes)
    store.close()


@pytest.fixture
async def client(console_app: ConsoleApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=console_app.app)
    async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as http:
        yield http
    await console_app.ctx.deployment.aclose()


async def login(client: httpx.AsyncClient, secret: str = OPERATOR,
                name: str = "Alice Operator") -> str:
    """Log in as a person does; returns the session's CSRF token (from the page's forms)."""
    response = await client.post("/console/login", data={"name": name, "secret": secret},
                                 headers={"origin": CONSOLE_URL})
    assert response.status_code == 303, response.text
    page = await client.get("/console/")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)
