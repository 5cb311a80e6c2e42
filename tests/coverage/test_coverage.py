"""`specsync test --coverage`: what the spec tests exercised, and what they missed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main

SEED = Path(__file__).parents[2] / "specs" / "maconomy-cinode"
ONE_CASE = """\
sync: projects
now: 2025-04-01T12:00:00Z
links:
  customers: {"10042": 9001}
cases:
  - name: an active T&M job is selected
    record: {jobnumber: "1234", jobname: Backend, customernumber: "10042", region: north,
             jobtype: T&M, active: true, transactiontimestamp: "2025-04-01T13:01:02.000"}
    expect: {filter: true}
"""


@pytest.fixture
def spec_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Maconomy -> Cinode spec with one projects test: every clause seen true only."""
    folder = tmp_path / "maconomy-cinode"
    (folder / "tests").mkdir(parents=True)
    shutil.copy(SEED / "spec.yaml", folder / "spec.yaml")
    (folder / "tests" / "projects.yaml").write_text(ONE_CASE)
    monkeypatch.chdir(tmp_path)
    return folder


def _filter_line(folder: Path, text: str) -> int:
    lines = (folder / "spec.yaml").read_text().splitlines()
    return 1 + next(i for i, line in enumerate(lines) if line.strip().startswith(text))


def test_a_clause_never_seen_false_is_uncovered_and_fail_under_fails(
        spec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "maconomy-cinode", "--coverage"]) == 0
    out = capsys.readouterr().out
    active = _filter_line(spec_dir, "active is true")
    jobtype = _filter_line(spec_dir, "and jobtype in setup.project_types")
    assert (f"maconomy-cinode/spec.yaml:{active}: filter clause `active is true` of sync "
            "projects never seen false") in out
    assert (f"maconomy-cinode/spec.yaml:{jobtype}: filter clause `jobtype in "
            "setup.project_types` of sync projects never seen false") in out
    assert "`not customernumber in setup.excluded_customers` of sync projects never seen " \
        "false" in out
    assert "`customernumber in setup.excluded_customers` of sync projects never seen " \
        "true" in out  # the condition under the `not`
    # the customers sync has no tests: its fields are never exercised
    assert "field `name` of sync customers never exercised" in out

    assert main(["test", "maconomy-cinode", "--coverage", "--fail-under", "90"]) == 1
    assert "(required 90%: FAILED)" in capsys.readouterr().out

    assert main(["test", "maconomy-cinode", "--coverage", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [spec] = report["specs"]
    clauses = spec["counts"]["clause"]
    assert clauses["covered"] < clauses["total"]
    missing = {(u["line"], tuple(u["missing"])) for u in spec["uncovered"]
               if u["kind"] == "clause"}
    assert (active, ("false",)) in missing

    assert main(["test", "maconomy-cinode", "--coverage", "--format", "github",
                 "--fail-under", "99"]) == 1
    github = capsys.readouterr().out.splitlines()
    assert (f"::warning file=maconomy-cinode/spec.yaml,line={active},col=7,title=spec "
            "coverage::filter clause `active is true` of sync projects never seen false"
            ) in github
    assert github[-1].startswith("::error title=spec coverage::")


def test_a_case_that_sees_the_clause_false_covers_it(
        spec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = spec_dir / "tests" / "projects.yaml"
    tests.write_text(ONE_CASE + """\
  - name: an inactive job is skipped
    record: {jobnumber: "1235", customernumber: "10042", jobtype: T&M, active: false}
    expect: {filter: false}
""")
    assert main(["test", "maconomy-cinode", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "filter clause `active is true` of sync projects" not in out
    # `and` does not short-circuit for coverage: the other clauses were seen too
    assert "`jobtype in setup.project_types` of sync projects never seen false" in out


def test_the_seed_specs_are_fully_covered_where_their_tests_say_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(SEED), "--coverage", "--fail-under", "100"]) == 0
    out = capsys.readouterr().out
    assert "maconomy-cinode: 100.0%" in out


def test_template_branches_lookup_misses_and_defaults() -> None:
    from datetime import UTC, datetime

    from engine.coverage.templates import instrument
    from engine.templates import NoLinks, RenderContext

    ctx = RenderContext(setup={"codes": {"se": "SE"}}, links=NoLinks(),
                        now=datetime(2025, 1, 1, tzinfo=UTC))
    probe = instrument("{{ country | lower | lookup(setup.codes, default=none) "
                       "if country else (fallback or 'x') }}")
    assert [b.kind for b in probe.branches] == ["lookup", "or", "if"]
    assert probe.run({"country": "SE", "fallback": None}, ctx) == {0: {True}, 2: {True}}
    assert probe.run({"country": "NO", "fallback": None}, ctx) == {0: {False}, 2: {True}}
    assert probe.run({"country": None, "fallback": "y"}, ctx) == {1: {True}, 2: {False}}
    default = instrument('{% if a %}A{% else %}{{ b | default("q") }}{% endif %}')
    assert default.run({"a": 0}, ctx) == {0: {False}, 1: {False}}  # the default was used
