"""The Kleer and HubSpot metadata kleer-hubspot refers to: the product a workflow's
invoice rows fall back to (Kleer `GET /product`) and the HubSpot project statuses its
status table writes (the options of `hs_status`, `GET /crm/v3/properties/{type}`), looked
up through the contract routes and named at the spec's setup line when missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_document, load_spec
from engine.spec.model import Spec
from engine.spec.references import spec_references
from engine.state import open_store
from engine.sync.preflight import Preflight, check_references
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport

SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot" / "spec.yaml"


async def _check(tmp_path: Path, spec: Spec) -> Preflight:
    config = SandboxConfig(records=5, rate_limits=False)
    kleer, hubspot = KleerSandbox(config), HubSpotSandbox(config)
    environ: dict[str, Any] = {**dict(kleer.environment("http://kleer.test")),
                               **dict(hubspot.environment("http://hubspot.test"))}
    doc, _, _ = load_document(SPEC)
    assert doc is not None
    with open_store(str(tmp_path / "state.db")) as store:
        runtime = Runtime(spec=spec, store=store, environ=environ,
                          transports={"kleer": contract_transport(kleer),
                                      "hubspot": contract_transport(hubspot)})
        try:
            return await check_references(runtime, spec_references(spec), doc.location)
        finally:
            await runtime.aclose()


def _with_setup(spec: Spec, **setup: Any) -> Spec:
    from dataclasses import replace

    return replace(spec, setup={**spec.setup, **setup})


def _line_of(text: str) -> int:
    return SPEC.read_text(encoding="utf-8").split("\n").index(text) + 1


async def test_every_reference_of_kleer_hubspot_resolves(tmp_path: Path) -> None:
    spec = load_spec(SPEC)
    result = await _check(tmp_path, spec)
    assert result.findings == []
    names = {(r.connection, r.kind, r.value): r.name for r in result.resolved}
    assert names == {
        ("kleer", "products", str(spec.setup["default_product_id"])): "Konsulttimme",
        ("hubspot", "options:projects.hs_status", "NOT_STARTED"): "Not started",
        ("hubspot", "options:projects.hs_status", "IN_PROGRESS"): "In progress",
        ("hubspot", "options:projects.hs_status", "COMPLETED"): "Completed"}


async def test_a_missing_product_and_an_unknown_status_are_named_at_their_setup_line(
        tmp_path: Path) -> None:
    spec = load_spec(SPEC)
    statuses = {**spec.setup["project_statuses"], "Closed": "DONE"}
    broken = _with_setup(spec, default_product_id=99, project_statuses=statuses)
    result = await _check(tmp_path, broken)
    problems = {f.location.line if f.location else None: f.message
                for f in result.problems}
    product = problems[_line_of(f"  default_product_id: {spec.setup['default_product_id']}")]
    assert product.startswith("action create_invoice: setup.default_product_id is product "
                              "99, which Kleer does not have; it has: 50000001 Konsulttimme")
    status = problems[_line_of("    Closed: COMPLETED")]
    assert status.startswith("projects: setup.project_statuses is hs_status option DONE, "
                             "which HubSpot does not have; it has: NOT_STARTED Not started")
    assert len(problems) == 2
