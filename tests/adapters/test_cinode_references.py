"""Cinode's metadata the seed specs refer to, looked up through the routes of Cinode's
OpenAPI document (held to the contract by the recording transport)."""

from __future__ import annotations

from pathlib import Path

from engine.diagnostics import Location
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.references import spec_references
from engine.state import open_store
from engine.sync.preflight import check_references
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport

SPECS = Path(__file__).parents[2] / "specs"


def _locate(pointer: str) -> Location:
    return Location("spec.yaml", 1, 1)


async def test_every_reference_of_kleer_cinode_resolves_and_unknown_tags_are_notes(
        tmp_path: Path) -> None:
    cinode = CinodeSandbox(SandboxConfig(records=0, rate_limits=False))
    spec = load_spec(SPECS / "kleer-cinode" / "spec.yaml")
    environ = dict(cinode.environment("http://cinode.test"))
    environ.update(KLEER_URL="http://kleer.test", KLEER_TOKEN="t", KLEER_COMPANY_ID="1")
    with open_store(str(tmp_path / "state.db")) as store:
        runtime = Runtime(spec=spec, store=store, environ=environ,
                          transports={"cinode": contract_transport(cinode)})
        try:
            refs = spec_references(spec)
            result = await check_references(runtime, refs, _locate)
        finally:
            await runtime.aclose()
    assert [f for f in result.findings if f.level != "note"] == []
    known = {t["name"] for t in cinode.store.tags.values()}
    noted = {name for f in result.findings for name in f.message.split("'")[1::2]}
    assert noted == {r.value for r in refs if r.kind == "tags"} - known
    assert len(result.findings) == len({r.setup for r in refs if r.kind == "tags"})
    names = {(r.kind, r.value): r.name for r in result.resolved}
    assert names[("pipeline_stages", "15")] == "Signed"
    assert names[("roles", "CompanyUser")] == "CompanyUser"
    assert names[("offices", "1")] == "Stockholm"
    assert names[("currencies", "1")] == "SEK" and names[("languages", "1")] == "Svenska"
