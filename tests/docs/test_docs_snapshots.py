"""The generated Markdown of each integration (and the sample's HTML), as snapshots.

A change to a spec, a catalog label or the docs wording shows up here for review.
Integrations whose spec does not exist yet are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.docs import render_docs
from engine.spec.load import load_spec

ROOT = Path(__file__).parents[2]
SAMPLE = Path(__file__).parent / "fixtures" / "sample.spec.yaml"


@pytest.mark.parametrize("integration", ["maconomy-cinode", "kleer-cinode", "kleer-hubspot"])
def test_integration_markdown(integration: str, snapshot) -> None:
    path = ROOT / "specs" / integration / "spec.yaml"
    if not path.is_file():
        pytest.skip(f"specs/{integration}/spec.yaml does not exist yet (another engineer is "
                    "writing it)")
    assert render_docs(load_spec(path), "md") == snapshot


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_sample_docs(fmt: str, snapshot) -> None:
    assert render_docs(load_spec(SAMPLE), fmt) == snapshot
