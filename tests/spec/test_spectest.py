"""`specsync test` reports failures readably and catches what it promises to catch."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from engine.spectest import run_spec_tests

SPEC = Path(__file__).parents[2] / "specs" / "maconomy-cinode"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "maconomy-cinode"
    shutil.copytree(SPEC, target)
    return target


def test_a_wrong_expectation_fails_with_a_diff(tmp_path: Path, snapshot) -> None:
    spec = _copy(tmp_path)
    tests = spec / "tests" / "projects.yaml"
    tests.write_text(tests.read_text().replace("description: 1234 - Backend team extension",
                                               "description: 1234 / Backend team extension", 1))
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    text = out.getvalue()
    assert "FAIL" in text and "-  \"description\": \"1234 / Backend team extension\"" in text
    assert text.replace(str(tmp_path), "<tmp>") == snapshot


def test_a_wrong_error_code_and_filter_verdict_fail(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    tests = spec / "tests" / "projects.yaml"
    text = tests.read_text()
    text = text.replace("expect: {filter: false}\n", "expect: {filter: true}\n", 1)
    text = text.replace("error: links.missing", "error: identity.invalid")
    tests.write_text(text)
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    report = out.getvalue()
    assert "filter: expected to select the record, but it skipped it" in report
    assert "expected error `identity.invalid`, got `links.missing`" in report
    assert "2 failed" in report


def test_a_malformed_test_file_is_a_located_diagnostic(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    (spec / "tests" / "broken.yaml").write_text("sync: projectz\ncases:\n  - name: x\n"
                                                "    record: {}\n    expect: {filter: true}\n")
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    assert "error[spectest.unknown-sync]" in out.getvalue()
