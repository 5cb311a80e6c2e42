"""Concurrent edits on both sides of a two-way sync converge and never oscillate (S28).

Kleer <-> HubSpot syncs clients both ways: `companies` (Kleer -> HubSpot, scheduled)
and `clients_inbound` (HubSpot -> Kleer, webhooks and a scheduled safety net). A
property test draws any interleaving of user edits on either side (name and phone of
one client, the same value typed on both sides now and then) and of runs of either
sync, then lets the schedules run. Whatever the interleaving, under either policy
(Kleer, the outbound source, wins by default; `conflict: target_wins` on `companies`
makes HubSpot win):

- within two cycles (outbound, then inbound) both systems hold the policy's answer,
  computed by a model of the merge (`Model`): a field changed on one side only keeps
  that change; one changed on both sides to different values keeps the winner's;
- a further cycle writes nothing, in either direction (no ping-pong);
- a conflict is recorded exactly when a sync met a field both sides had changed to
  different values since they last agreed, once per such meeting by the winning side.

The model follows what each sync can see: a sync looks at the record when what it
maps from its source changed since it last looked (its link's hash), or when the other
sync wrote into its source since (which clears that hash).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.adapters.ratelimit import RateBudgets
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.sync.pipeline import RunReport, run_sync
from engine.sync.runtime import Runtime
from tests.e2e.test_kleer_cinode import InstantTime
from tests.e2e.test_kleer_hubspot import SPEC, World, sandbox_env

pytestmark = pytest.mark.e2e

CLIENT = "40000002"
FIELDS = ("name", "phone")
WRITES = ("create", "update", "adopt", "deactivate", "delete")

Step = tuple[str, ...]
edits = st.tuples(st.sampled_from(["kleer", "hubspot"]), st.sampled_from(FIELDS),
                  st.sampled_from(["A", "B", "C"]))
runs = st.tuples(st.sampled_from(["outbound", "inbound"]))
interleavings = st.lists(st.one_of(edits, runs), min_size=1, max_size=8)


def _written(report: RunReport) -> int:
    return sum(report.counts.get(k, 0) for k in WRITES)


def _typed(field: str, label: str) -> str:
    """What a user types: the same label on both sides is the same value."""
    return f"{label} name" if field == "name" else f"+46 8 {ord(label)}0"


class Model:
    """The merge's answer for one interleaving: per field what each side holds and what
    they last agreed on; each sync looks only when its source's values changed since it
    last looked; `winner` is the system keeping a field both sides changed."""

    def __init__(self, seeded: dict[str, Any], winner: str) -> None:
        self.side = {"kleer": dict(seeded), "hubspot": dict(seeded)}
        self.base = dict(seeded)
        self.looked: dict[str, tuple[Any, ...] | None] = {
            "kleer": self._values("kleer"), "hubspot": self._values("hubspot")}
        self.winner = winner
        self.conflicts = 0

    def _values(self, side: str) -> tuple[Any, ...]:
        return tuple(self.side[side][f] for f in FIELDS)

    def edit(self, side: str, field: str, value: str) -> None:
        self.side[side][field] = value

    def run(self, source: str) -> None:
        """The sync from `source` to the other side."""
        target = "hubspot" if source == "kleer" else "kleer"
        if self._values(source) == self.looked[source]:
            return  # unchanged since it last looked: skipped
        self.looked[source] = self._values(source)
        mine, theirs = self.side[source], self.side[target]
        for f in FIELDS:
            if mine[f] == theirs[f]:
                self.base[f] = mine[f]  # agreed
            elif theirs[f] == self.base[f] or \
                    (mine[f] != self.base[f] and self.winner == source):
                if theirs[f] != self.base[f]:
                    self.conflicts += 1  # both changed: the source wins, recorded
                theirs[f] = self.base[f] = mine[f]
                self.looked[target] = None  # written: the other sync looks again
            # else: the target's own change, or its win: left to the other sync


SPEC_LOADED = load_spec(SPEC)


class Convergence:
    """One example: fresh sandboxes and state, the steps, then the schedules."""

    def __init__(self, directory: Path, spec: Spec) -> None:
        kleer = KleerSandbox(SandboxConfig(records=3, rate_limits=False))
        hubspot = HubSpotSandbox(SandboxConfig(records=0, rate_limits=False))
        self.store = open_store(str(directory / "state.db"))
        self.world = World(kleer, hubspot, self.store, spec, sandbox_env(kleer, hubspot))
        time = InstantTime()  # the vendors' rate limits are not what is tested here
        self.runtime = Runtime(spec=spec, store=self.store, environ=self.world.environ,
                               transports=self.world.transports(),
                               budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep,
                                                   wall_clock=time.wall))
        self.company_id = ""

    async def start(self) -> None:
        await run_sync(self.runtime, "companies")
        [raw] = self.world.hubspot_by("companies", "kleer_client_id", CLIENT)
        self.company_id = raw["id"]
        await run_sync(self.runtime, "clients_inbound")  # its cursor starts here

    async def cycle(self) -> int:
        """The schedules: outbound, then inbound; how many writes they made."""
        out = await run_sync(self.runtime, "companies")
        back = await run_sync(self.runtime, "clients_inbound")
        assert out.counts["error"] == back.counts["error"] == 0, (out.failures,
                                                                  back.failures)
        return _written(out) + _written(back)

    async def step(self, step: Step) -> None:
        if step == ("outbound",):
            await run_sync(self.runtime, "companies")
        elif step == ("inbound",):
            await run_sync(self.runtime, "clients_inbound")
        else:
            side, field, label = step
            value = _typed(field, label)
            if side == "kleer":
                await self.world.edit(self.world.kleer.app, f"client/{CLIENT}", {field: value})
            else:
                await self.world.edit(self.world.hubspot.app,
                                      f"companies/{self.company_id}", {field: value})

    async def values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        client = await self.runtime.adapter("kleer").get("clients", CLIENT)
        company = await self.runtime.adapter("hubspot").get("companies", self.company_id)
        assert client is not None and company is not None
        return ({f: client.get(f) for f in FIELDS}, {f: company.get(f) for f in FIELDS})

    async def close(self) -> None:
        await self.runtime.aclose()
        self.store.close()


def _hubspot_wins() -> Spec:
    text = SPEC.read_text()
    side = "    direction: outbound\n    fields:\n      name:"
    assert side in text
    with TemporaryDirectory() as directory:
        path = Path(directory) / "spec.yaml"
        path.write_text(text.replace(side, side.replace(
            "    fields:", "    conflict: target_wins\n    fields:"), 1))
        return load_spec(path)


POLICIES = {"kleer": SPEC_LOADED, "hubspot": _hubspot_wins()}


@pytest.mark.scenario("S28")
@pytest.mark.parametrize("winner", ["kleer", "hubspot"])
@settings(max_examples=15, deadline=None)
@given(steps=interleavings)
# the same field on both sides: a conflict either policy records
@example(steps=[("kleer", "name", "A"), ("hubspot", "name", "B"), ("inbound",)])
# an edit back to the value last written, after the other side's change came in
@example(steps=[("kleer", "phone", "B"), ("outbound",), ("hubspot", "phone", "A"),
                ("inbound",), ("kleer", "phone", "B")])
def test_any_interleaving_of_edits_converges_to_the_policy_within_two_cycles(
        winner: str, steps: list[Step]) -> None:
    with TemporaryDirectory() as directory:
        asyncio.run(_example(Path(directory), POLICIES[winner], winner, steps))


async def _example(directory: Path, spec: Spec, winner: str, steps: list[Step]) -> None:
    example = Convergence(directory, spec)
    try:
        await example.start()
        seeded, _ = await example.values()
        model = Model(seeded, winner)
        for step in steps:
            await example.step(step)
            if step == ("outbound",):
                model.run("kleer")
            elif step == ("inbound",):
                model.run("hubspot")
            else:
                model.edit(step[0], step[1], _typed(step[1], step[2]))
        for _ in range(2):
            await example.cycle()
            model.run("kleer")
            model.run("hubspot")
        kleer, hubspot = await example.values()
        assert kleer == hubspot, steps  # converged within two cycles
        assert (kleer, hubspot) == (model.side["kleer"], model.side["hubspot"]), steps
        assert await example.cycle() == 0, steps  # and quiet: no ping-pong
        assert await example.values() == (kleer, hubspot)
        conflicts = example.store.list_conflicts()
        assert len(conflicts) == model.conflicts, (steps, conflicts)
        assert {c.winner for c in conflicts} <= {winner}
    finally:
        await example.close()
