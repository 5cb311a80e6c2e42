"""Replay: runs that opt in keep what they read; `specsync replay` shows what a spec
change would write differently over those records (Maconomy -> Cinode customers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cli import main
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.state import open_store
from engine.sync.recording import masked
from tests.maconomy_cinode_env import export

SEED = Path(__file__).parents[1] / "specs" / "maconomy-cinode" / "spec.yaml"
OPT_IN = ("    target: cinode.customers\n",
          "    target: cinode.customers\n    replay: {keep: 2, max_age: 30d}\n")
OLD = 'description: {template: "{0} - {1}", from: [customernumber, name1],'
NEW = ("description: {value: \"{{ customernumber }} - {{ name1 }}"
       "{{ ' (spärrad)' if blocked else '' }}\",")


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Sandboxes, and the seed spec opted in to replay, committed in a git checkout."""
    config = SandboxConfig(records=12, rate_limits=False)
    maconomy, cinode = MaconomySandbox(config), CinodeSandbox(config)
    repo = tmp_path / "repo"
    (repo / "specs" / "maconomy-cinode").mkdir(parents=True)
    spec = repo / "specs" / "maconomy-cinode" / "spec.yaml"
    spec.write_text(SEED.read_text().replace(*OPT_IN))
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "spec")
    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(cinode.app) as cinode_url:
        export(monkeypatch, maconomy_url=maconomy_url, cinode_url=cinode_url,
               state=tmp_path / "state.db")
        yield maconomy, spec, tmp_path / "state.db"


def test_a_template_change_reports_exactly_the_records_and_fields_that_change(
        world, capsys: pytest.CaptureFixture[str]) -> None:
    maconomy, spec, state = world
    customers = list(maconomy.customers.iter())
    for record in customers[3:5]:  # two blocked customers: the ones the change touches
        maconomy.customers.patch(record["customernumber"], {"blocked": True})
    blocked = sorted(c["customernumber"] for c in maconomy.customers.iter() if c.get("blocked"))
    assert main(["run", str(spec), "--sync", "customers", "--quiet"]) == 0
    capsys.readouterr()
    with open_store(str(state)) as store:
        [run] = store.recorded_runs("maconomy-cinode")
        reads = store.recorded_reads(run.run_id)
    assert run.sync == "customers" and run.records == len(reads) == 12
    assert {r.outcome["kind"] for r in reads} == {"create"}

    # the spec unchanged: nothing would be written differently
    assert main(["replay", str(spec), "--against", str(run.run_id), "--format", "json"]) == 0
    [same] = json.loads(capsys.readouterr().out)
    assert (same["records"], same["changed"]) == (12, 0)

    spec.write_text(spec.read_text().replace(OLD, NEW))
    assert main(["replay", str(spec), "--against", str(run.run_id), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert (result["records"], result["changed"], result["fields"]) == (
        12, len(blocked), {"description": len(blocked)})
    assert sorted(d["key"] for d in result["diffs"]) == blocked
    for diff in result["diffs"]:
        [field] = diff["fields"]
        assert field["field"] == "description" and field["new"].endswith(' (spärrad)"')

    # the same change against the committed spec, as CI shows it on a pull request
    assert main(["replay", str(spec), "--base", "HEAD", "--format", "github"]) == 0
    comment = capsys.readouterr().out
    assert (f"**maconomy-cinode/customers: this change would update {len(blocked)} of 12 "
            f"customers: description ({len(blocked)}) (against the spec at HEAD)**") in comment
    assert comment.count("| `description` |") == len(blocked)
    assert main(["replay", str(spec), "--base", "HEAD"]) == 0
    text = capsys.readouterr().out
    assert sorted(line.split()[1] for line in text.splitlines()
                  if line.startswith("  ~ ")) == blocked


def test_recordings_are_bounded_by_count(world, capsys: pytest.CaptureFixture[str]) -> None:
    _, spec, state = world
    for _ in range(3):
        assert main(["run", str(spec), "--sync", "customers", "--quiet", "--full"]) == 0
    capsys.readouterr()
    with open_store(str(state)) as store:
        runs = store.recorded_runs("maconomy-cinode", "customers")
        newest = max(r.id for r in store.list_runs("maconomy-cinode", "customers"))
    assert [r.run_id for r in runs] == [newest, newest - 1]  # keep: 2
    assert main(["replay", str(spec), "--against", str(newest - 2)]) == 1
    assert "has no recorded reads" in capsys.readouterr().err


def test_identity_numbers_are_never_kept_in_clear() -> None:
    record = {"ssn": "19811218-9876", "name": "Anna", "note": "pnr 8112189876 ok",
              "orgno": "556677-8899", "n": 198112189876, "when": None}
    kept = masked(record)
    assert kept == {"ssn": "[personnummer]", "name": "Anna", "note": "pnr [personnummer] ok",
                    "orgno": "556677-8899", "n": "[personnummer]", "when": None}


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


@given(year=st.integers(0, 99), month=st.integers(1, 12), day=st.integers(1, 28),
       serial=st.integers(0, 999), century=st.sampled_from(["", "19", "20"]),
       sep=st.sampled_from(["", "-", "+"]), before=st.text(max_size=8),
       after=st.text(max_size=8))
def test_no_valid_identity_number_survives_masking(year: int, month: int, day: int,
                                                   serial: int, century: str, sep: str,
                                                   before: str, after: str) -> None:
    from engine.redact import is_personnummer

    body = f"{year:02d}{month:02d}{day:02d}{serial:03d}"
    number = f"{century}{body[:6]}{sep}{body[6:]}{_luhn_digit(body)}"
    assert is_personnummer(number)
    kept = masked({"ssn": number, "note": f"{before} {number} {after}", "list": [number]})
    assert number not in json.dumps(kept, ensure_ascii=False)
