"""`specsync validate` on the slips people make: every problem at once, carets on the
right word, hints that name the right line (the issue's reproductions, each a case)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.diagnostics import render_text
from engine.spec.load import validate_paths

SPEC = Path(__file__).parents[2] / "specs" / "maconomy-cinode" / "spec.yaml"


def _validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *edits: tuple[str, str]):
    text = SPEC.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (tmp_path / "spec.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    diags, sources, _ = validate_paths(["spec.yaml"])
    return diags, render_text(diags, sources)


OVER_INDENTED = ("    target: cinode.projects\n", "      target: cinode.projects\n")
FILTER = ("      active is true\n      and jobtype in setup.project_types",
          "      active is true and jobtype =\n      and jobtype in setup.project_types and "
          'jobname startswith "A" and x = = 2')
FROM = ("from: [jobnumber, jobname]", "from: [jobnumbr, jobname]")
TITLE = ('title: {value: "{{ jobname }}"', 'title: {value: "{{ jobnmae }}"')


def test_a_yaml_slip_does_not_hide_the_other_problems(tmp_path: Path, monkeypatch,
                                                       snapshot) -> None:
    diags, text = _validate(tmp_path, monkeypatch, OVER_INDENTED, FILTER, FROM, TITLE)
    assert [d.code for d in diags] == ["yaml.syntax", "rules.syntax", "rules.syntax",
                                       "rules.syntax", "templates.undefined",
                                       "templates.undefined"]
    assert "missing the required key `target`" not in text  # the left-out line's echo
    assert text == snapshot


def test_every_filter_syntax_error_with_did_you_mean(tmp_path: Path, monkeypatch) -> None:
    diags, _ = _validate(tmp_path, monkeypatch, FILTER)
    messages = [d.message for d in diags]
    assert messages == ["expected a value after `=`, found `and`",
                        "expected an operator after `jobname`, found `startswith`",
                        "`==` is not an operator"]
    assert diags[1].hint is not None and diags[1].hint.startswith(
        "did you mean `starts with`?")


def test_the_caret_of_a_positional_source_sits_under_it(tmp_path: Path, monkeypatch) -> None:
    diags, _ = _validate(tmp_path, monkeypatch, FROM)
    [diag] = diags
    line = (tmp_path / "spec.yaml").read_text().splitlines()[diag.location.line - 1]
    start = diag.location.column - 1
    assert line[start:start + len("jobnumbr")] == "jobnumbr"


def test_a_duplicate_key_hint_names_the_first_occurrence(tmp_path: Path, monkeypatch) -> None:
    delta = "    delta: {cursor: transactiontimestamp, overlap: 10m}\n"
    diags, _ = _validate(tmp_path, monkeypatch,
                         (delta, delta + "    source: maconomy.customers\n"))
    [diag] = diags
    lines = (tmp_path / "spec.yaml").read_text().splitlines()
    first = int(diag.hint.rsplit(" ", 1)[-1]) if diag.hint else 0
    assert diag.code == "yaml.duplicate-key"
    assert lines[first - 1].strip() == "source: maconomy.customers" and first < diag.location.line


@pytest.mark.parametrize(("edit", "line_of"), [
    pytest.param(OVER_INDENTED, "      target: cinode.projects", id="over-indented"),
    pytest.param(("    target: cinode.projects\n", "  target: cinode.projects\n"),
                 '    schedule: "{{ setup.project_schedule }}"', id="under-indented"),
])
def test_indentation_slips_get_an_indentation_hint(tmp_path: Path, monkeypatch,
                                                   edit: tuple[str, str], line_of: str) -> None:
    diags, _ = _validate(tmp_path, monkeypatch, edit)
    [diag] = diags
    lines = (tmp_path / "spec.yaml").read_text().splitlines()
    assert lines[diag.location.line - 1] == line_of
    assert diag.hint is not None and "must be quoted" not in diag.hint
    assert f"line {diag.location.line} is indented more than line {diag.location.line - 1}" \
        in diag.hint
