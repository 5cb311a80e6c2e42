"""Authoring comfort: the editor modelines and the schemas they name, `specsync new`,
`specsync functions`, and the pre-commit hooks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.cli import main
from engine.cli.program import COMMANDS
from engine.spec.source import load_yaml
from engine.templates.functions import FILTERS
from engine.templates.reference import EXAMPLES, function_reference

ROOT = Path(__file__).parents[1]
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _yaml(path: Path) -> object:
    """The data as the engine (and a YAML 1.2 editor) reads it: timestamps stay text."""
    doc, problems = load_yaml(path.name, path.read_text(encoding="utf-8"))
    assert doc is not None, problems
    return doc.data


def _schema_of(path: Path) -> Path:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path} does not start with a yaml-language-server modeline"
    return (path.parent / match.group(1)).resolve()


@pytest.mark.parametrize("path", sorted(ROOT.glob("specs/*/spec.yaml"))
                         + sorted(ROOT.glob("specs/*/tests/*.yaml")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_each_seed_file_names_a_schema_that_accepts_it(path: Path) -> None:
    schema = _schema_of(path)
    expected = "spec-test.schema.json" if path.parent.name == "tests" else "spec.schema.json"
    assert schema == ROOT / "schemas" / expected
    validator = Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(_yaml(path))] == []


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the seed specs (the connection blocks `new` copies), as the cwd."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "specs"


def test_new_writes_a_spec_that_validates_and_a_test_that_passes(specs: Path, capsys) -> None:
    assert main(["new", "kleer-hubspot-2", "--from", "kleer.clients",
                 "--to", "hubspot.companies"]) == 0
    out = capsys.readouterr().out
    assert "wrote specs/kleer-hubspot-2/spec.yaml and specs/kleer-hubspot-2/tests/" in out
    spec = specs / "kleer-hubspot-2" / "spec.yaml"
    assert _schema_of(spec) == ROOT / "schemas" / "spec.schema.json"
    assert "adapter: hubspot" in spec.read_text() and "${HUBSPOT_TOKEN}" in spec.read_text()
    assert main(["validate", str(spec.parent)]) == 0
    assert main(["test", str(spec.parent)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out


def test_new_says_which_required_fields_are_left_to_map(specs: Path, capsys) -> None:
    assert main(["new", "acme", "--from", "maconomy.customers", "--to", "cinode.customers"]) == 0
    out = capsys.readouterr().out
    assert "still to map (required by cinode.customers to create a record): name" in out
    text = (specs / "acme" / "spec.yaml").read_text()
    assert '# name: "{{ ... }}"   required by cinode.customers; map it' in text
    assert main(["validate", "specs/acme"]) == 1
    assert "error[spec.missing-required-field]" in capsys.readouterr().err
    assert main(["new", "acme", "--from", "maconomy.customers", "--to", "cinode.customers"]) == 1
    assert "specs/acme exists already" in capsys.readouterr().err


@pytest.mark.parametrize(("source", "message"), [
    ("maconomy", "--from must be ADAPTER.OBJECT"),
    ("nosuch.things", "no adapter `nosuch`"),
    ("maconomy.nothing", "maconomy has no object `nothing`; objects: "),
])
def test_new_refuses_what_it_cannot_write(specs: Path, capsys, source: str,
                                          message: str) -> None:
    assert main(["new", "x", "--from", source, "--to", "cinode.customers"]) == 1
    assert message in capsys.readouterr().err and not (specs / "x").exists()


def test_every_template_function_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(FILTERS)
    entries = {e.name: e for e in function_reference()}
    assert entries["lookup"].result == '"SE"'
    assert entries["linked"].usage == "value | linked(sync, [default], [missing])"
    assert entries["cents"].usage == "value | cents   or   cents(value)"


def test_functions_lists_each_with_its_example(capsys, snapshot) -> None:
    assert main(["functions"]) == 0
    out = capsys.readouterr().out
    assert out == snapshot
    assert main(["functions", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(FILTERS)
    assert main(["functions", "lokup"]) == 1
    assert "did you mean `lookup`?" in capsys.readouterr().err


def test_the_pre_commit_hooks_run_real_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = _yaml(ROOT / ".pre-commit-hooks.yaml")
    assert isinstance(hooks, list)
    assert {h["id"] for h in hooks} == {"specsync-validate", "specsync-test"}
    names = {c.name for c in COMMANDS}
    monkeypatch.chdir(ROOT)
    for hook in hooks:
        program, command, *rest = hook["entry"].split()
        assert program == "specsync" and command in names and hook["language"] == "python"
        assert hook["pass_filenames"] is False and hook["files"] == "^specs/"
        assert main([command, *rest]) == 0
