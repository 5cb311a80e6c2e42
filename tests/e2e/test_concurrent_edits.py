"""Concurrent edits on both sides of Kleer <-> HubSpot, merged field by field (S28).

`companies` (Kleer -> HubSpot) and `clients_inbound` (HubSpot -> Kleer) are a two-way
pair: between two runs a user edits the client in Kleer and the company in HubSpot. An
edit made on one side only survives whichever sync runs first; when both sides edited
the same field, the policy (`conflict:`, engine/spec/conflict.py) decides and the
conflict is recorded, values masked, and shown by `specsync status`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.e2e.test_kleer_hubspot import SPEC, World, sandbox_env, written

pytestmark = pytest.mark.e2e

CLIENT = "40000002"
SIDE = ("    direction: outbound\n    fields:\n      name:",)


def hubspot_wins(tmp_path: Path) -> Spec:
    """The seed spec with HubSpot keeping a field both sides changed (said once, on the
    outbound sync; the inbound sync follows)."""
    text = SPEC.read_text()
    assert SIDE[0] in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(SIDE[0], SIDE[0].replace(
        "    fields:", "    conflict: target_wins\n    fields:"), 1))
    return load_spec(path)


class Pair:
    """Sandboxes, a state store and a runtime; the company linked both ways."""

    def __init__(self, tmp_path: Path, spec: Spec) -> None:
        kleer = KleerSandbox(SandboxConfig(records=3, rate_limits=False))
        hubspot = HubSpotSandbox(SandboxConfig(records=0, rate_limits=False))
        self.store: StateStore = open_store(str(tmp_path / "state.db"))
        self.world = World(kleer, hubspot, self.store, spec, sandbox_env(kleer, hubspot))
        self.runtime: Runtime = self.world.runtime()
        self.company = ""

    async def start(self) -> None:
        await run_sync(self.runtime, "companies")
        [raw] = self.world.hubspot_by("companies", "kleer_client_id", CLIENT)
        self.company = raw["id"]
        await run_sync(self.runtime, "clients_inbound")

    async def edit(self, kleer: dict[str, Any] | None = None,
                   hubspot: dict[str, Any] | None = None) -> None:
        if kleer:
            await self.world.edit(self.world.kleer.app, f"client/{CLIENT}", kleer)
        if hubspot:
            await self.world.edit(self.world.hubspot.app, f"companies/{self.company}",
                                  hubspot)

    async def values(self, *fields: str) -> tuple[dict[str, Any], dict[str, Any]]:
        client = await self.runtime.adapter("kleer").get("clients", CLIENT)
        company = await self.runtime.adapter("hubspot").get("companies", self.company)
        assert client is not None and company is not None
        return {f: client.get(f) for f in fields}, {f: company.get(f) for f in fields}

    async def close(self) -> None:
        await self.runtime.aclose()
        self.store.close()


@pytest.fixture
async def pair(tmp_path: Path) -> Any:
    made = Pair(tmp_path, load_spec(SPEC))
    await made.start()
    yield made
    await made.close()


@pytest.mark.scenario("S28")
@pytest.mark.parametrize("first", ["companies", "clients_inbound"])
async def test_edits_to_different_fields_on_each_side_both_survive(pair: Pair,
                                                                   first: str) -> None:
    await pair.edit(kleer={"name": "Kleer Namn AB"}, hubspot={"phone": "+46 8 123 45 67"})
    second = "clients_inbound" if first == "companies" else "companies"
    reports = [await run_sync(pair.runtime, first), await run_sync(pair.runtime, second)]
    assert all(r.counts["error"] == 0 for r in reports), [r.failures for r in reports]
    kleer, hubspot = await pair.values("name", "phone")
    assert kleer == hubspot == {"name": "Kleer Namn AB", "phone": "+46 8 123 45 67"}
    assert pair.store.list_conflicts() == []  # no field was changed on both sides
    quiet = [await run_sync(pair.runtime, n) for n in ("companies", "clients_inbound")]
    assert [written(r) for r in quiet] == [0, 0]


@pytest.mark.scenario("S28")
async def test_the_same_field_on_both_sides_the_outbound_source_wins_by_default(
        pair: Pair) -> None:
    await pair.edit(kleer={"phone": "+46 8 111 11 11"}, hubspot={"phone": "+46 8 222 22 22"})
    # The inbound sync meets the conflict first: Kleer keeps its phone, nothing recorded
    # yet (the outbound sync carries the winner and records it).
    inbound = await run_sync(pair.runtime, "clients_inbound")
    assert written(inbound) == 0, inbound.counts
    assert pair.store.list_conflicts() == []
    outbound = await run_sync(pair.runtime, "companies")
    assert outbound.counts["update"] == 1, outbound.counts
    kleer, hubspot = await pair.values("phone")
    assert kleer == hubspot == {"phone": "+46 8 111 11 11"}
    [conflict] = pair.store.list_conflicts()
    assert (conflict.integration, conflict.sync, conflict.source_key, conflict.field,
            conflict.winner, conflict.policy) == (
        "kleer-hubspot", "companies", CLIENT, "phone", "kleer", "source_wins")
    # both values are phone numbers: masked as failure text is
    assert (conflict.source_value, conflict.target_value) == ('"[phone]"', '"[phone]"')
    again = [await run_sync(pair.runtime, n) for n in ("clients_inbound", "companies")]
    assert [written(r) for r in again] == [0, 0]
    assert len(pair.store.list_conflicts()) == 1


@pytest.mark.scenario("S28")
async def test_a_declared_winner_holds_from_either_side_and_status_shows_the_conflict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = Pair(tmp_path, hubspot_wins(tmp_path))
    try:
        await pair.start()
        await pair.edit(kleer={"name": "Kleer Namn AB", "phone": "+46 8 333 33 33"},
                        hubspot={"name": "HubSpot Namn AB"})
        # companies runs first: HubSpot keeps its name, Kleer's phone goes out.
        outbound = await run_sync(pair.runtime, "companies")
        assert outbound.counts["update"] == 1, outbound.counts
        kleer, hubspot = await pair.values("name", "phone")
        assert hubspot == {"name": "HubSpot Namn AB", "phone": "+46 8 333 33 33"}
        inbound = await run_sync(pair.runtime, "clients_inbound")
        assert inbound.counts["update"] == 1, inbound.counts
        kleer, hubspot = await pair.values("name", "phone")
        assert kleer == hubspot == {"name": "HubSpot Namn AB", "phone": "+46 8 333 33 33"}
        [conflict] = pair.store.list_conflicts()
        assert (conflict.sync, conflict.field, conflict.winner, conflict.policy) == (
            "clients_inbound", "name", "hubspot", "source_wins")
        assert (conflict.source_value, conflict.target_value) == (
            '"HubSpot Namn AB"', '"Kleer Namn AB"')
        quiet = [await run_sync(pair.runtime, n) for n in ("companies", "clients_inbound")]
        assert [written(r) for r in quiet] == [0, 0]
    finally:
        await pair.close()
    assert main(["status", "--state", str(tmp_path / "state.db")]) == 0
    out = capsys.readouterr().out
    assert "conflicts: a field changed on both sides (1 recorded" in out
    assert "clients_inbound" in out and "HubSpot Namn AB" in out
