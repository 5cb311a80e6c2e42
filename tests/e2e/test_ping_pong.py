"""The write-rate breaker end to end (reliability.md S27): Kleer <-> HubSpot sandboxes.

The kleer-hubspot spec's two-way pair (companies: Kleer clients -> HubSpot companies;
clients_inbound: back) is given a mapping that is not its own inverse: outbound adds
" AB" to the name, so every round trip changes it and each run writes it again. The
breaker counts the writes of each company in both directions, quarantines the ones
written too often, the runs say so, nothing more is written for them, and a release
lets them be written again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec, build_spec
from engine.state import open_store
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport, current_ledger

SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot" / "spec.yaml"
INTEGRATION = "kleer-hubspot"


def bouncing(spec: Spec) -> Spec:
    """Outbound names gain " AB" each trip; both syncs allow 4 writes a record an hour."""
    raw = dict(spec.raw)
    syncs = dict(raw["syncs"])
    limit = {"write_rate": {"max_writes": 4, "window": "1h"}}
    companies = dict(syncs["companies"])
    companies["fields"] = {**companies["fields"],
                           "name": {"value": "{{ name }} AB", "required": True}}
    syncs["companies"] = {**companies, "safeguards": limit}
    syncs["clients_inbound"] = {**syncs["clients_inbound"], "safeguards": limit}
    raw["syncs"] = syncs
    return build_spec(spec.path, raw, "bouncing")


def _writes_to(vendor: str) -> int:
    return sum(1 for e in current_ledger().of(vendor) if e.method in ("POST", "PUT", "PATCH")
               and not e.path.endswith("/search"))  # a search reads


@pytest.mark.scenario("S27")
async def test_a_record_bounced_back_and_forth_is_quarantined_until_released(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kleer = KleerSandbox(SandboxConfig(records=2, rate_limits=False))
    hubspot = HubSpotSandbox(SandboxConfig(records=0, rate_limits=False))
    state = tmp_path / "state.db"
    store = open_store(str(state))
    environ = {**dict(kleer.environment("http://kleer.test")),
               **dict(hubspot.environment("http://hubspot.test"))}
    runtime = Runtime(spec=bouncing(load_spec(SPEC)), store=store, environ=environ,
                      transports={"kleer": contract_transport(kleer),
                                  "hubspot": contract_transport(hubspot)})
    created = await run_sync(runtime, "companies")
    assert created.counts["create"] == 2

    reports = []
    for _ in range(4):  # each round: HubSpot's name back to Kleer, Kleer's out again
        reports.append(await run_sync(runtime, "clients_inbound", trigger="schedule"))
        reports.append(await run_sync(runtime, "companies", trigger="schedule"))
    names = sorted(c["properties"]["name"] for c in hubspot.records("companies"))
    # The create is not counted (it cannot be a loop yet); then adopt, update, update,
    # update: 4 writes of each company across both directions, and the 5th is held.
    assert all(name.endswith(" AB" * 4) and not name.endswith(" AB" * 5) for name in names)
    held = [r for r in reports if r.counts["error"]]
    assert [r.sync for r in held] == ["clients_inbound", "clients_inbound"], \
        [r.counts for r in reports]
    assert all(f.code == "record.quarantined" for r in held for f in r.failures)
    assert any("quarantined by the write-rate breaker" in w for r in held for w in r.warnings)
    quarantined = store.quarantined(INTEGRATION)
    assert len(quarantined) == 2
    assert {q.pair for q in quarantined} == {"clients_inbound+companies"}
    assert all(q.record.startswith("hubspot.companies#") and q.writes == 5
               for q in quarantined)

    # Quarantined: further runs write nothing for them, in either direction.
    kleer_writes, hubspot_writes = _writes_to("kleer"), _writes_to("hubspot")
    for _ in range(2):
        inbound = await run_sync(runtime, "clients_inbound", trigger="schedule")
        assert inbound.counts["error"] == 2 and inbound.outcome == "partial", inbound.counts
        outbound = await run_sync(runtime, "companies", trigger="schedule")
        assert outbound.counts["skip"] == 2, outbound.counts  # Kleer was left as it was
    assert (_writes_to("kleer"), _writes_to("hubspot")) == (kleer_writes, hubspot_writes)

    # The operator sees them and releases one: it is written again on the next run.
    assert cli_main(["quarantine", "list", "--state", str(state)]) == 0
    shown = capsys.readouterr().out
    assert quarantined[0].record in shown and "clients_inbound+companies" in shown
    assert cli_main(["quarantine", "release", INTEGRATION, quarantined[0].record,
                     "--state", str(state)]) == 0
    assert "released" in capsys.readouterr().out
    assert [q.record for q in store.quarantined()] == [quarantined[1].record]
    after = await run_sync(runtime, "clients_inbound", trigger="schedule")
    assert after.counts["update"] == 1 and after.counts["error"] == 1, after.counts
    assert cli_main(["quarantine", "release", INTEGRATION, "hubspot.companies#nope",
                     "--state", str(state)]) == 1
    await runtime.aclose()
    store.close()


def test_one_way_syncs_are_not_counted() -> None:
    from engine.sync.write_rate import pair_of

    spec = load_spec(SPEC)
    assert pair_of(spec, spec.syncs["companies"]) == "clients_inbound+companies"
    assert pair_of(spec, spec.syncs["products"]) is None
    assert pair_of(spec, spec.syncs["projects_inbound"]) == "projects+projects_inbound"
