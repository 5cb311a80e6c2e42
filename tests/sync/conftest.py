"""Maconomy and Cinode sandboxes wired to the real spec through in-process transports.

The spec opts in to changed-since reads on the Maconomy server (its connection lists
the unconfirmed options they need); `world` runs every test twice: as the spec says
("server") and without those options ("local": every record read, changes kept by
comparing transactiontimestamp here). The contract checker is told what the connection
lists, as an operator's tenant would have to accept it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.platform import Faults, SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.runtime import Runtime
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport

ROOT = Path(__file__).parents[2]
MACONOMY_CINODE = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
DELTA_MODES = ("server", "local")


def local_delta(spec: Spec) -> Spec:
    """The spec without the Maconomy connection's unconfirmed options."""
    connection = spec.connections["maconomy"]
    options = {k: v for k, v in connection.options.items() if k != "unconfirmed"}
    return replace(spec, connections={**spec.connections,
                                      "maconomy": replace(connection, options=options)})


def sandbox_env(config: SandboxConfig, urls: dict[str, str] | None = None) -> dict[str, str]:
    urls = urls or {"maconomy": "http://maconomy.test", "cinode": "http://cinode.test"}
    return {
        "MACONOMY_URL": urls["maconomy"], "MACONOMY_USER": MaconomyCredentials().user,
        "MACONOMY_PASSWORD": MaconomyCredentials().password,
        "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
        "CINODE_URL": urls["cinode"], "CINODE_ACCESS_ID": CinodeCredentials().access_id,
        "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret,
        "CINODE_COMPANY_ID": str(CinodeCredentials().company_id),
    }


@dataclass
class World:
    """Two sandboxes, a state store and a way to make runtimes over them."""

    maconomy: MaconomySandbox
    cinode: CinodeSandbox
    store: StateStore
    spec: Spec
    config: SandboxConfig
    delta: str = "server"

    def runtime(self, spec: Spec | None = None) -> Runtime:
        spec = spec or self.spec
        allow_from_options(spec.connections["maconomy"].options)
        return Runtime(
            spec=spec, store=self.store, environ=sandbox_env(self.config),
            transports={"maconomy": contract_transport(self.maconomy),
                        "cinode": contract_transport(self.cinode)},
        )

    def cinode_customers(self) -> list[dict]:
        return [c for c in self.cinode.customers.iter() if c.get("identification")]


@pytest.fixture
def world_factory(tmp_path: Path):
    stores: list[StateStore] = []

    def make(records: int = 30, *, cinode_faults: Faults | None = None,
             seed: int = 1, delta: str = "server") -> World:
        config = SandboxConfig(records=records, rate_limits=False, seed=seed)
        maconomy = MaconomySandbox(config)
        cinode_config = SandboxConfig(records=records, rate_limits=False, seed=seed,
                                      faults=cinode_faults or Faults())
        cinode = CinodeSandbox(cinode_config)
        store = open_store(str(tmp_path / f"state-{len(stores)}.db"))
        stores.append(store)
        spec = load_spec(MACONOMY_CINODE)
        return World(maconomy, cinode, store, spec if delta == "server" else local_delta(spec),
                     config, delta)

    yield make
    for store in stores:
        store.close()


@pytest.fixture(params=DELTA_MODES)
async def world(world_factory, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    yield world_factory(delta=request.param)
