"""The operator's commands against sandboxes on loopback: check, plan, run, status,
history, explain — what a newcomer types after `specsync sandbox up`."""

from __future__ import annotations

import json
import subprocess
import sys
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


def test_check_plan_run_status_history_explain(sandboxes, capsys, tmp_path: Path) -> None:
    _, cinode = sandboxes
    assert main(["check", SPEC]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == 2 and "cinode-sandbox-access-secret" not in out

    assert main(["plan", SPEC, "--sync", "customers", "--json"]) == 0
    [plan] = json.loads(capsys.readouterr().out)
    assert plan["counts"]["create"] == 12 and plan["counts"]["update"] == 0
    cinode_load = {c["connection"]: c for c in plan["estimate"]["connections"]}["cinode"]
    # each new customer is two calls: the customer and its invoice address
    assert cinode_load["writes"] == 24 and cinode_load["per_second"] == 20
    assert plan["estimate"]["seconds"] > 0
    assert not [c for c in cinode.customers.iter() if c.get("identification")]  # no writes
    assert not (tmp_path / "state.db").exists()  # check and plan only read: nothing created

    # before any run: the projects link to the customers the same plan creates
    assert main(["plan", SPEC, "--json"]) == 0
    customers, projects = json.loads(capsys.readouterr().out)
    assert customers["counts"]["create"] == 12
    assert projects["counts"]["create"] > 0 and projects["counts"].get("error", 0) == 0
    ids = {f["new"] for c in projects["changes"] for f in c["fields"]
           if f["field"] == "customerId"}
    assert ids and all(i.startswith("(new in customers: ") for i in ids)

    assert main(["run", SPEC, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "customers" in out and "projects" in out and "success" in out
    created = [c for c in cinode.customers.iter() if c.get("identification")]
    assert len(created) == 12

    assert main(["plan", SPEC]) == 0
    out = capsys.readouterr().out
    assert "0 to create, 0 to update" in out
    assert "  estimate: a run sends at least " in out and "None" not in out

    assert main(["status"]) == 0
    assert "maconomy-cinode" in capsys.readouterr().out
    assert main(["history", "--limit", "5"]) == 0
    assert capsys.readouterr().out.count("success") >= 2

    number = created[0]["identification"]
    assert main(["explain", SPEC, "customers", number]) == 0
    out = capsys.readouterr().out
    assert f"= '{number}'" in out and "last write: target" in out


def test_plan_json_into_a_closed_pipe_is_quiet(sandboxes) -> None:
    """`specsync plan SPEC --json | head`: no BrokenPipeError traceback, exit 141."""
    with subprocess.Popen([sys.executable, "-m", "engine", "plan", SPEC, "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before the plan is printed
        err = process.stderr.read()
        assert process.wait(timeout=120) == 141
    assert err == ""


def test_run_refuses_a_broken_spec_and_missing_environment(tmp_path: Path, capsys,
                                                           monkeypatch) -> None:
    broken = tmp_path / "spec.yaml"
    broken.write_text(Path(SPEC).read_text().replace("    schedule: \"{{", "    shedule: \"{{", 1))
    assert main(["run", str(broken)]) == 1
    assert "error[schema.unknown-key]" in capsys.readouterr().err
    monkeypatch.delenv("MACONOMY_URL", raising=False)
    monkeypatch.setenv("SPECSYNC_STATE", str(tmp_path / "state.db"))
    assert main(["run", SPEC, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "MACONOMY_URL" in err and "Traceback" not in err


def test_run_with_a_state_path_it_cannot_create_says_so(tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    (tmp_path / "a-file").write_text("")
    for state in ("/proc/x.db", str(tmp_path / "a-file" / "state.db")):
        assert main(["run", SPEC, "--quiet", "--state", state]) == 1
        err = capsys.readouterr().err
        assert "specsync: error: cannot create the " in err and state in err
        assert "internal error" not in err and "Traceback" not in err


def test_check_says_what_to_fix_in_plain_words(tmp_path: Path, capsys,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MACONOMY_URL", "CINODE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPECSYNC_STATE", str(tmp_path / "state.db"))
    assert main(["check", SPEC]) == 1
    out = capsys.readouterr().out
    assert "FAIL maconomy (maconomy): " in out and "MACONOMY_URL" in out
    assert "Error:" not in out  # no Python class names
