"""Exact plans: `plan --out FILE` then `run --plan FILE`, against sandboxes on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from tests.maconomy_cinode_env import export

SPEC = str(Path(__file__).parents[1] / "specs" / "maconomy-cinode" / "spec.yaml")


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    config = SandboxConfig(records=12, rate_limits=False)
    maconomy, cinode = MaconomySandbox(config), CinodeSandbox(config)
    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        export(monkeypatch, maconomy_url=maconomy_url, cinode_url=cinode_url,
               state=tmp_path / "state.db")
        yield maconomy, cinode


def _names(cinode: CinodeSandbox) -> dict[str, str]:
    return {c["identification"]: c["name"] for c in cinode.customers.iter()
            if c.get("identification")}


def test_run_plan_writes_what_the_plan_said(sandboxes, capsys, tmp_path: Path) -> None:
    maconomy, cinode = sandboxes
    out = tmp_path / "first.plan.json"
    # a first run: customers, and projects linked to customers not created yet
    assert main(["plan", SPEC, "--json", "--out", str(out)]) == 0
    customers, projects = json.loads(capsys.readouterr().out)
    saved = json.loads(out.read_text())
    assert [s["sync"] for s in saved["syncs"]] == ["customers", "projects"]
    assert [len(s["changes"]) for s in saved["syncs"]] == [
        customers["counts"]["create"], projects["counts"]["create"]]
    assert not (tmp_path / "state.db").exists()  # planning wrote nothing
    some = next(iter(maconomy.customers.iter()))
    assert some["name1"] not in out.read_text()  # hashes and field names, no values

    had = {p["id"] for p in cinode.projects.iter()}
    assert main(["run", SPEC, "--plan", str(out)]) == 0
    assert "held back" not in capsys.readouterr().err
    assert len(_names(cinode)) == customers["counts"]["create"] == 12
    # the projects went to the customers made a moment before, as the plan named them
    created = [p for p in cinode.projects.iter() if p["id"] not in had]
    assert len(created) == projects["counts"]["create"] > 0

    # an edit in Maconomy: the plan says exactly that update, and the run does it
    maconomy.customers.patch(some["customernumber"], {"name1": "Renamed AB"})
    second = tmp_path / "second.plan.json"
    assert main(["plan", SPEC, "--sync", "customers", "--out", str(second)]) == 0
    capsys.readouterr()
    [planned] = json.loads(second.read_text())["syncs"]
    assert [(c["kind"], c["key"], c["fields"]) for c in planned["changes"]] == [
        ("update", some["customernumber"], ["description", "invoiceAddress", "name"])]
    before = _names(cinode)
    assert main(["run", SPEC, "--plan", str(second)]) == 0
    after = _names(cinode)
    assert after == {**before, some["customernumber"]: "Renamed AB"}


def test_a_source_edit_makes_the_plan_stale_and_it_is_refused(sandboxes, capsys,
                                                              tmp_path: Path) -> None:
    maconomy, cinode = sandboxes
    assert main(["run", SPEC, "--quiet"]) == 0
    first, second = list(maconomy.customers.iter())[:2]
    maconomy.customers.patch(first["customernumber"], {"name1": "Planned AB"})
    path = tmp_path / "plan.json"
    assert main(["plan", SPEC, "--sync", "customers", "--out", str(path)]) == 0
    capsys.readouterr()
    # after the plan: the planned record changes again, and another one changes too
    maconomy.customers.patch(first["customernumber"], {"name1": "Changed Again AB"})
    maconomy.customers.patch(second["customernumber"], {"name1": "Unplanned AB"})
    before = _names(cinode)
    assert main(["run", SPEC, "--plan", str(path)]) == 1
    err = capsys.readouterr().err
    assert "refused: the plan is stale, 2 records changed since it was made" in err
    assert (f"customers {first['customernumber']}: the source record changed (planned to "
            "update, now update)") in err
    assert f"customers {second['customernumber']}: not in the plan: it would now update" in err
    assert _names(cinode) == before  # nothing written
    # a changed spec refuses the plan too
    spec_copy = tmp_path / "spec.yaml"
    spec_copy.write_text(Path(SPEC).read_text().replace("version: 1.0.0", "version: 1.0.1"))
    assert main(["run", str(spec_copy), "--plan", str(path)]) == 1
    assert "the spec changed since the plan was made" in capsys.readouterr().err


def test_the_guard_writes_only_planned_changes_and_names_why_a_record_is_stale() -> None:
    from engine.sync.changes import Change, ChangeKind, payload_hash
    from engine.sync.exact import ExactPlan, PlannedChange, PlannedSync, RunGuard, stale_records

    planned = PlannedChange("update", "k1", "7", payload_hash({"name": "A"}), "s1", "t1",
                            ("name",))
    plan = ExactPlan("i", "h", [PlannedSync("customers", False, None, None, {},
                                            {"k1": planned})])
    guard = RunGuard(plan)
    changes = guard("customers", [
        Change(ChangeKind.UPDATE, "k1", "7", {"name": "A"}),
        Change(ChangeKind.UPDATE, "k2", "8", {"name": "B"}),
        Change(ChangeKind.UPDATE, "k1", "7", {"name": "C"}),
        Change.skip("k3", "9", None)])
    assert [(c.kind, c.code) for c in changes] == [
        ("update", ""), ("error", "plan.stale"), ("error", "plan.stale"), ("skip", "")]
    assert [(h.key, h.why) for h in guard.held] == [("k2", "not in the plan"),
                                                    ("k1", "changed since the plan")]
    target_moved = PlannedSync("customers", False, None, None, {}, {
        "k1": PlannedChange("update", "k1", "7", "other", "s1", "t2", ("name",))})
    [stale] = stale_records(plan.syncs[0], target_moved)
    assert stale.why == "the target record changed (planned to update, now update)"
