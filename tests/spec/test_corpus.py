"""Every diagnostic code has a broken spec in corpus/invalid/ and a snapshot of its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.diagnostics import render_text
from engine.spec.load import validate_paths

CORPUS = Path(__file__).parent / "corpus"
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))


def _validate(path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(CORPUS)
    return validate_paths([path.relative_to(CORPUS)])


@pytest.mark.parametrize("path", sorted((CORPUS / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_specs_have_no_diagnostics(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diags, _, count = _validate(path, monkeypatch)
    assert count == 1
    assert diags == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_each_code_is_reported_with_location_caret_and_hint(
    path: Path, monkeypatch: pytest.MonkeyPatch, snapshot
) -> None:
    diags, sources, _ = _validate(path, monkeypatch)
    codes = {d.code for d in diags}
    assert path.stem in codes, f"{path.name} should produce {path.stem}, got {sorted(codes)}"
    rendered = render_text(diags, sources)
    assert "^" in rendered
    assert rendered == snapshot


def test_corpus_covers_every_code_the_checker_can_emit() -> None:
    """A new diagnostic code needs a corpus file; grep the sources for emitted codes."""
    import re

    engine = Path(__file__).parents[2] / "engine"
    emitted: set[str] = set()
    code = re.compile(r'(?:Diagnostic\(|diag\(|return \(|yield \(|^\s*)\s*'
                      r'"((?:spec|schema|yaml)\.[a-z-]+)"', re.MULTILINE)
    for module in (engine / "spec").glob("*.py"):
        emitted |= set(code.findall(module.read_text()))
    covered = {p.stem for p in INVALID} | {
        "yaml.too-large", "yaml.encoding", "spec.not-found", "spec.unreadable", "spec.ambiguous",
        "schema.pattern", "schema.value",  # fallbacks for shapes the schema does not name
    }
    assert emitted - covered == set()
