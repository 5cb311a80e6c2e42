"""Hostile input gets a clear diagnostic, never a traceback or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.diagnostics import render_text
from engine.spec.load import validate_paths

VALID = Path(__file__).parent / "corpus" / "valid" / "minimal.yaml"


def _codes(path: Path) -> set[str]:
    diags, _, _ = validate_paths([path])
    return {d.code for d in diags}


def test_a_10_mb_string_is_refused_as_too_large(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.read_text() + "description: " + "x" * 10_000_000 + "\n")
    assert _codes(spec) == {"yaml.too-large"}


def test_a_long_line_is_cut_in_the_excerpt(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.read_text().replace("version: 1.0.0", "version: " + "9" * 5000))
    diags, sources, _ = validate_paths([spec])
    text = render_text(diags, sources)
    assert max(len(line) for line in text.splitlines()) < 400


def test_binary_garbage_is_an_encoding_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"specsync: 1\n\xff\xfe\x00garbage")
    assert _codes(spec) == {"yaml.encoding"}


@pytest.mark.parametrize("text", [
    "", "- a\n- b\n", "just a string", "{", "a: b: c", "\t- x", "specsync: [", "? ? ?",
    "a: !!python/object:os.system echo", "a: !custom 1",
])
def test_malformed_yaml_is_a_diagnostic(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    diags, sources, _ = validate_paths([spec])
    assert diags, "malformed input must not validate"
    render_text(diags, sources)


def test_template_reaching_for_internals_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.read_text().replace('"{{ jobname }}"',
                                              '"{{ cycler.__init__.__globals__.os }}"'))
    assert "templates.unsafe" in _codes(spec)


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(VALID)]) == 0
    broken = tmp_path / "spec.yaml"
    broken.write_text("specsync: 1\n")
    assert main(["validate", str(broken)]) == 1
    assert main(["validate", "--format", "nonsense"]) == 2
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_json_and_github_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    broken = tmp_path / "spec.yaml"
    broken.write_text(VALID.read_text().replace("schedule: every 15m", "shedule: every 15m"))
    assert main(["validate", "--format", "json", str(broken)]) == 1
    out = json.loads(capsys.readouterr().out)
    unknown = next(d for d in out if d["code"] == "schema.unknown-key")
    assert {"file", "line", "column", "end_column", "message", "hint"} <= unknown.keys()
    assert unknown["line"] == 27 and unknown["column"] == 5
    assert main(["validate", "--format", "github", str(broken)]) == 1
    assert capsys.readouterr().out.startswith("::error file=")


@pytest.mark.scenario("S29")
@pytest.mark.parametrize("depth", [65, 2_000, 10_000])
def test_deep_nesting_on_the_last_line_is_refused_where_it_starts(tmp_path: Path,
                                                                  depth: int) -> None:
    """Issue 11: 10,000 nested lists took 76 s and said 'maximum recursion depth' at 1:1."""
    import time

    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.read_text() + "extra: " + "[" * depth + "]" * depth + "\n")
    started = time.process_time()  # CPU time: a busy machine does not make it fail
    diags, _, _ = validate_paths([spec])
    assert time.process_time() - started < 5  # a guard against the 76 s, not a benchmark
    [diag] = diags
    last_line = len(VALID.read_text().splitlines()) + 1
    assert (diag.code, diag.location.line) == ("yaml.too-deep", last_line)


@pytest.mark.scenario("S29")
@pytest.mark.parametrize("text", [
    "specsync: !!python/object/apply:os.system [echo owned]\n",
    "specsync: !!python/object/apply:os.system\n  - echo owned\n",
    "specsync: !!python/name:os.system\n",
    "specsync: 1\nsetup: !!map {a: 1}\n",
    "specsync: 1\nsetup:\n  x: !custom 7\n",
    "specsync: !<tag:yaml.org,2002:python/object/new:os.system> [x]\n",
    "%TAG !p! tag:yaml.org,2002:python/\n---\nspecsync: !p!object/apply:os.system [x]\n",
])
def test_every_tag_form_is_refused_with_a_location(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    diags, _, _ = validate_paths([spec])
    assert [d.code for d in diags] == ["yaml.tag"]
    assert diags[0].location.line >= 1
