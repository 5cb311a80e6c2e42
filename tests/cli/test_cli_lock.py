"""Target metadata checked and locked, and seed 001's troubleshooting cases found
before a run: `specsync check`, `lock` and `validate` as a user types them, against the
Maconomy and Cinode sandboxes on loopback, on a copy of the maconomy-cinode spec."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.seed import PIPELINES
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread

SEED = Path(__file__).parents[2] / "specs" / "maconomy-cinode"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
          ) -> Iterator[tuple[MaconomySandbox, CinodeSandbox, Path]]:
    spec_dir = tmp_path / "maconomy-cinode"
    shutil.copytree(SEED, spec_dir)
    defects = getattr(request, "param", 0.0)  # a share of broken Maconomy records
    config = SandboxConfig(records=12, rate_limits=False, defect_rate=defects)
    maconomy, cinode = MaconomySandbox(config), CinodeSandbox(config)
    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        for sandbox, url in ((maconomy, maconomy_url), (cinode, cinode_url)):
            for name, value in sandbox.environment(url):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("SPECSYNC_ALLOW_LOOPBACK", "1")
        monkeypatch.setenv("SPECSYNC_STATE", str(tmp_path / "state.db"))
        monkeypatch.chdir(tmp_path)
        yield maconomy, cinode, spec_dir / "spec.yaml"


def set_setup(spec: Path, name: str, value: str) -> int:
    """Change one setup line of the spec copy; returns its line number."""
    lines = spec.read_text().split("\n")
    [n] = [i for i, line in enumerate(lines) if line.startswith(f"  {name}:")]
    lines[n] = f"  {name}: {value}"
    spec.write_text("\n".join(lines))
    return n + 1


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out + captured.err


def test_lock_then_validate_offline_then_check_drift(world, capsys) -> None:
    _, _, spec = world
    assert main(["check", str(spec)]) == 0
    out_of(capsys)
    assert main(["lock", str(spec)]) == 0
    out = out_of(capsys)
    assert "locked  cinode: pipeline 1 (Sales)" in out
    assert "locked  cinode: pipeline stage 11 (Lead)" in out
    lock = json.loads((spec.parent / "spec.lock.json").read_text())
    assert {(r["kind"], r["value"], r["parent"], r["name"]) for r in lock["references"]} == {
        ("pipelines", "1", None, "Sales"), ("pipeline_stages", "11", "1", "Lead")}
    assert main(["validate", str(spec)]) == 0
    out_of(capsys)

    # A setup change nobody locked: validate fails offline, at the setup line.
    line = set_setup(spec, "project_default_stage_id", "12")
    assert main(["validate", str(spec)]) == 1
    out = out_of(capsys)
    assert f"spec.yaml:{line}:" in out and "error[lock.unlocked]" in out
    assert "pipeline stage 12 of pipeline 1 (setup.project_default_stage_id) is not in " \
           "spec.lock.json: it was never checked against the live system" in out
    assert "run `specsync lock" in out
    set_setup(spec, "project_default_stage_id", "11")

    # The stage renamed in Cinode since the lock: check reports the drift.
    stage = PIPELINES[0]["stages"][0]
    original = stage["title"]
    try:
        stage["title"] = "Inbox"
        assert main(["check", str(spec)]) == 1
        out = out_of(capsys)
        assert "drift   pipeline stage 11 was 'Lead' when locked, Cinode now calls it " \
               "'Inbox'" in out
    finally:
        stage["title"] = original


def test_new_projects_ending_up_in_the_wrong_place(world, capsys) -> None:
    """Seed 001: "Confirm that Cinode Project Pipeline is set to the correct pipeline and
    default stage"."""
    _, _, spec = world
    line = set_setup(spec, "project_default_stage_id", "23")  # a stage of pipeline 2
    assert main(["check", str(spec)]) == 1
    out = out_of(capsys)
    assert f"problem {spec.relative_to(Path.cwd())}:{line}:" in out
    assert "projects: new projects would end up in the wrong place: " \
           "setup.project_default_stage_id is pipeline stage 23, which Cinode's pipeline 1 " \
           "does not have; its stages: 11 Lead, 12 Qualified, 13 Offer, 14 Negotiation, " \
           "15 Signed" in out
    assert main(["lock", str(spec)]) == 1  # nothing is locked while a reference is missing
    assert "not locked" in out_of(capsys)
    assert not (spec.parent / "spec.lock.json").exists()
    line = set_setup(spec, "project_pipeline_id", "7")
    assert main(["check", str(spec)]) == 1
    out = out_of(capsys)
    assert f":{line}:" in out and "setup.project_pipeline_id is pipeline 7, which Cinode " \
        "does not have; it has: 1 Sales, 2 Framework agreements" in out


def test_customers_not_updating_when_the_id_type_does_not_match(world, capsys) -> None:
    """Seed 001: "Verify that the Cinode Customer ID matches the ID type provided by
    Maconomy"."""
    maconomy, _, spec = world
    line = set_setup(spec, "customer_id_match", "internal")
    assert main(["check", str(spec)]) == 1
    out = out_of(capsys)
    first = sorted(c["customernumber"] for c in maconomy.customers.iter())[0]
    assert f":{line}:" in out
    assert "customers: customers not updating: the key is matched as Cinode's own id " \
           "(match: internal), but no key of the Maconomy customers read (e.g. " in out
    assert "is the id of a Cinode customers; when the id comes from Maconomy, use match: " \
           "external" in out
    assert first.isdigit()


@pytest.mark.parametrize("world", [0.5], indirect=True)
def test_customers_not_updating_without_transactiontimestamp(world, capsys) -> None:
    """Seed 001: "confirm that the transactiontimestamp field exists on the record and
    updates whenever the record changes"."""
    maconomy, _, spec = world
    undated = [c for c in maconomy.customers.iter() if not c.get("transactiontimestamp")]
    assert 0 < len(undated) < 12
    assert main(["check", str(spec)]) == 1
    out = out_of(capsys)
    line = next(n for n, text in enumerate(spec.read_text().split("\n"), 1)
                if "delta: {cursor: transactiontimestamp" in text)
    assert f":{line}:" in out
    assert f"customers: customers not updating: transactiontimestamp is missing on " \
           f"{len(undated)} of the 12 Maconomy customers read, so delta runs never see their " \
           "changes; confirm that transactiontimestamp exists on the record and updates " \
           "whenever the record changes" in out


def test_missing_or_incomplete_data(world, capsys) -> None:
    """Seed 001, "Missing or incomplete customer data": "Check that all required Maconomy
    fields are added in Customer Fields → Source". The field table reads a field this
    Maconomy tenant does not return for jobs (startdate)."""
    maconomy, _, spec = world
    assert not [j for j in maconomy.jobs.iter() if "startdate" in j]
    text = spec.read_text()
    assert 'customerIdentifier: "{{ customernumber }}"' in text
    spec.write_text(text.replace('customerIdentifier: "{{ customernumber }}"',
                                 'customerIdentifier: "{{ startdate }}"'))
    assert main(["check", str(spec)]) == 1
    out = out_of(capsys)
    line = next(n for n, text in enumerate(spec.read_text().split("\n"), 1)
                if "{{ startdate }}" in text)
    assert f":{line}:" in out
    assert "projects: missing or incomplete jobs data: none of the 12 Maconomy jobs read " \
           "has startdate, which customerIdentifier is mapped from; add startdate to the " \
           "fields Maconomy returns" in out
