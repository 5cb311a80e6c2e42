"""`specsync docs SPEC [--format md|html] [--output FILE]` through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.docs import render_docs
from engine.spec.load import load_spec

SAMPLE = Path(__file__).parent / "fixtures" / "sample.spec.yaml"


def test_markdown_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", str(SAMPLE)]) == 0
    out = capsys.readouterr()
    assert out.out == render_docs(load_spec(SAMPLE), "md")
    assert out.err == ""


def test_html_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "docs.html"
    assert main(["docs", str(SAMPLE), "--format", "html", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text("utf-8") == render_docs(load_spec(SAMPLE), "html")


def test_unwritable_output_is_one_error_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", str(SAMPLE), "--output", str(tmp_path / "missing" / "x.md")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("specsync: error: cannot write ") and err.count("\n") == 1


def test_broken_spec_prints_what_validate_prints(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "spec.yaml"
    broken.write_text(SAMPLE.read_text("utf-8").replace("{{ name | first_name }}",
                                                        "{{ nmae | first_name }}"), "utf-8")
    assert main(["validate", str(broken)]) == 1
    validate = capsys.readouterr()
    assert main(["docs", str(broken)]) == 1
    docs = capsys.readouterr()
    assert docs.out == ""
    assert "templates.undefined" in validate.err and "nmae" in validate.err
    assert docs.err == validate.err


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", str(SAMPLE), "--format", "pdf"]) == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err


def test_console_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "engine", "docs", str(SAMPLE)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Docs sample <Kleer | Cinode | HubSpot>\n")
