"""Every spec under specs/ validates and its spec tests pass (what CI promises)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.spec.load import find_spec_files, validate_paths
from engine.spectest import run_spec_tests

ROOT = Path(__file__).parents[1]
SPECS = sorted(find_spec_files([ROOT / "specs"])[0])


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_spec_validates(spec: Path) -> None:
    diags, _, _ = validate_paths([spec])
    assert [f"{d.location}: {d.code}: {d.message}" for d in diags] == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_spec_tests_pass(spec: Path) -> None:
    out = io.StringIO()
    code = run_spec_tests([spec], verbose=True, out=out)
    assert code == 0, out.getvalue()
    assert " 0 failed" in out.getvalue()
    assert "PASS" in out.getvalue()
