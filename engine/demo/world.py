"""The demo's world: four seeded sandboxes and the runner, served on loopback.

Kleer, Cinode and Maconomy start with generated data; HubSpot starts as a fresh portal
(the Kleer -> HubSpot integration fills it, as on a first installation: a seeded portal
already holds companies with the Kleer clients' organisation numbers, which HubSpot
keeps unique). The runner is the real one (`engine.runner.app.build_app`) on the same
state store the demo's scheduled runs use, so links made by a scheduled run are what a
webhook-triggered run finds. Its own scheduler is off: the demo runs each scheduled sync
once, itself, in dependency order.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engine.adapters.base import Registration
from engine.demo.servers import LoopbackServer
from engine.errors import SpecsyncError
from engine.redact import Redactor
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import Sandbox, SandboxConfig
from engine.sandbox.serve import environment
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.runtime import Runtime

__all__ = ["INTEGRATIONS", "DemoError", "DemoWorld", "find_specs", "open_world"]

#: The three seed integrations, in the order the demo runs them.
INTEGRATIONS: tuple[str, ...] = ("maconomy-cinode", "kleer-cinode", "kleer-hubspot")

_VENDORS = {"kleer": KleerSandbox, "cinode": CinodeSandbox, "maconomy": MaconomySandbox,
            "hubspot": HubSpotSandbox}


class DemoError(SpecsyncError):
    """A demo step could not do what it set out to; the message says why."""


def find_specs(cwd: Path | None = None) -> Path:
    """The `specs/` directory holding the three integrations: the working directory's
    (a checkout), else the one beside the installed package (an editable install)."""
    here = (cwd or Path.cwd()) / "specs"
    beside = Path(__file__).resolve().parents[2] / "specs"
    for root in (here, beside):
        if all((root / name / "spec.yaml").is_file() for name in INTEGRATIONS):
            return root
    raise DemoError("the demo needs the repository's specs/ directory (maconomy-cinode, "
                    "kleer-cinode, kleer-hubspot); run it from a checkout of specsync")


@dataclass
class DemoWorld:
    """Everything the steps use: sandboxes (to change and to look into), URLs, specs,
    the shared state store, the runner's URL and a redactor that knows every secret."""

    sandboxes: dict[str, Sandbox]
    urls: dict[str, str]
    environ: dict[str, str]
    specs: dict[str, Spec]
    store: StateStore
    runner_url: str
    redactor: Redactor
    webhook_secret: str
    client: httpx.AsyncClient
    servers: list[LoopbackServer] = field(default_factory=list)
    # What `specsync connect` registered, per integration (subscribe.py).
    registrations: dict[str, list[Registration]] = field(default_factory=dict)

    def runtime(self, integration: str) -> Runtime:
        """A runtime for one integration's scheduled runs, over real HTTP."""
        return Runtime(spec=self.specs[integration], store=self.store, environ=self.environ,
                       redactor=self.redactor)

    async def control(self, vendor: str, method: str, path: str,
                      body: Any = None) -> Any:
        """A sandbox control call (`/_sandbox/...`): what a user does in the vendor's UI."""
        url = f"{self.urls[vendor]}/_sandbox/{path.lstrip('/')}"
        response = await self.client.request(method, url, json=body)
        if response.status_code >= 300:
            raise DemoError(f"{vendor} refused {method} /_sandbox/{path.lstrip('/')}: "
                            f"{response.status_code} {self.redactor.text(response.text[:300])}")
        return response.json() if response.content else None

    async def aclose(self) -> None:
        """Stop the runner first (it finishes its work), then the sandboxes."""
        for server in reversed(self.servers):
            await server.stop()
        self.servers.clear()
        await self.client.aclose()
        self.store.close()


def _configs(records: int, seed: int) -> dict[str, SandboxConfig]:
    configs = {name: SandboxConfig(seed=seed, records=records) for name in _VENDORS}
    configs["hubspot"] = SandboxConfig(seed=seed, records=0)
    return configs


def _environ(urls: Mapping[str, str], sandboxes: Mapping[str, Sandbox],
             webhook_secret: str) -> dict[str, str]:
    values = dict(environment(urls, sandboxes))
    values["CINODE_WEBHOOK_SECRET"] = webhook_secret
    return values


async def open_world(records: int, state: Path, *, seed: int = 1,
                     specs_root: Path | None = None,
                     redactor: Redactor | None = None) -> DemoWorld:
    """Start the sandboxes and the runner; the caller must `aclose()` the world.

    Every credential (and the webhook secret made up here) is added to `redactor`.
    """
    from engine.runner.app import build_app

    root = specs_root or find_specs()
    specs = {name: load_spec(root / name / "spec.yaml") for name in INTEGRATIONS}
    configs = _configs(records, seed)
    servers: list[LoopbackServer] = []
    store: StateStore | None = None
    client = httpx.AsyncClient(timeout=30.0)
    try:
        sandboxes: dict[str, Sandbox] = {}
        urls: dict[str, str] = {}
        for name, cls in _VENDORS.items():
            sandboxes[name] = cls(configs[name])
            server = LoopbackServer(sandboxes[name].app, f"{name} sandbox")
            servers.append(server)
            urls[name] = await server.start()
        secret = secrets.token_urlsafe(24)
        environ = _environ(urls, sandboxes, secret)
        redactor = redactor or Redactor()
        redactor.add(*[v for k, v in environ.items()
                       if k.endswith(("TOKEN", "SECRET", "PASSWORD"))])
        store = open_store(str(state))
        app = build_app([str(root / name) for name in INTEGRATIONS], store=store,
                        environ=environ, redactor=redactor, schedule=False,
                        grace_seconds=5.0)
        runner = LoopbackServer(app, "runner")
        servers.append(runner)
        runner_url = await runner.start()
    except BaseException:
        for server in reversed(servers):
            await server.stop()
        await client.aclose()
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        raise
    return DemoWorld(sandboxes, urls, environ, specs, store, runner_url, redactor, secret,
                     client, servers)
