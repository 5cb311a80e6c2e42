"""The target metadata a spec refers to, found offline from the spec and the catalogs,
and the spec checked against its lock (spec.lock.json) without any network."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.diagnostics import Severity
from engine.spec.load import load_spec, validate_paths
from engine.spec.lockfile import LockedReference, write_lock
from engine.spec.references import spec_references

SPECS = Path(__file__).parents[2] / "specs"


def test_placement_setup_values_are_references_with_their_setup_line() -> None:
    spec = load_spec(SPECS / "maconomy-cinode" / "spec.yaml")
    refs = {(r.kind, r.value, r.parent, r.field, r.pointer) for r in spec_references(spec)}
    setup = spec.setup
    assert refs == {
        ("pipelines", str(setup["project_pipeline_id"]), None, "placement.pipelineId",
         "/setup/project_pipeline_id"),
        ("pipeline_stages", str(setup["project_default_stage_id"]),
         str(setup["project_pipeline_id"]), "placement.pipelineStageId",
         "/setup/project_default_stage_id")}


def test_setup_values_tables_and_filters_are_references() -> None:
    spec = load_spec(SPECS / "kleer-cinode" / "spec.yaml")
    refs = spec_references(spec)
    by_kind: dict[str, set[str]] = {}
    for ref in refs:
        by_kind.setdefault(ref.kind, set()).add(ref.value)
    setup = spec.setup
    assert by_kind["roles"] == set(setup["roles"])
    assert by_kind["languages"] == {str(setup["language_id"])}
    assert by_kind["currencies"] == {str(setup["currency_id"])}
    assert by_kind["offices"] == {str(setup["office_location_id"])}
    assert by_kind["tags"] == {*setup["user_tags"], *setup["customer_tags"],
                               *setup["payment_terms_tags"].values()}
    assert by_kind["pipeline_stages"] == {str(s) for s in setup["project_stages"]}
    stages = [r for r in refs if r.kind == "pipeline_stages"]
    assert {r.field for r in stages} == {"filter currentStageId"}
    assert all(r.connection == "cinode" for r in refs)


def test_setup_values_in_built_values_and_status_tables_are_references() -> None:
    """kleer-hubspot: the product a workflow's invoice rows fall back to (a setup value
    inside the `rows` template, at the catalog's `rows.product.id`) and the HubSpot
    project statuses its table writes; values the records decide are not listed."""
    spec = load_spec(SPECS / "kleer-hubspot" / "spec.yaml")
    refs = {(r.connection, r.kind, r.value, r.sync, r.field, r.pointer)
            for r in spec_references(spec)}
    statuses = spec.setup["project_statuses"]
    assert refs == {
        ("kleer", "products", str(spec.setup["default_product_id"]), "action create_invoice",
         "rows.product.id", "/setup/default_product_id"),
        *(("hubspot", "options:projects.hs_status", value, "projects", "hs_status",
           f"/setup/project_statuses/{name}") for name, value in statuses.items())}


def test_validate_checks_the_spec_against_its_lock_offline(tmp_path: Path) -> None:
    spec_dir = tmp_path / "maconomy-cinode"
    shutil.copytree(SPECS / "maconomy-cinode", spec_dir)
    spec_file = spec_dir / "spec.yaml"
    spec = load_spec(spec_file)
    locked = [LockedReference(*r.key, "named") for r in spec_references(spec)]
    write_lock(spec_file, spec.integration, locked)
    diags, _, _ = validate_paths([spec_file])
    assert diags == []
    # The lock lacks the stage: an error at the setup line; an unused entry: a warning.
    stage = next(r for r in locked if r.kind == "pipeline_stages")
    others = [r for r in locked if r is not stage]
    write_lock(spec_file, spec.integration,
               [*others, LockedReference("cinode", "pipelines", "99", None, "Gone")])
    diags, _, _ = validate_paths([spec_file])
    errors = [d for d in diags if d.severity is Severity.ERROR]
    warnings = [d for d in diags if d.severity is Severity.WARNING]
    assert [d.code for d in errors] == ["lock.unlocked"]
    line = spec_file.read_text().split("\n").index(
        f"  project_default_stage_id: {spec.setup['project_default_stage_id']}") + 1
    assert errors[0].location.line == line
    assert [d.code for d in warnings] == ["lock.stale"]
    assert "pipeline 99 (Gone), which the spec no longer refers to" in warnings[0].message
    # An unreadable lock is said so, not a traceback.
    (spec_dir / "spec.lock.json").write_text("{not json")
    diags, _, _ = validate_paths([spec_file])
    assert [d.code for d in diags] == ["lock.unreadable"]
