"""The safeguards in a spec: defaults when it says nothing, its values when it does, and a
located error (file:line:col, a caret, a hint) for a value out of range."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.diagnostics import render_text
from engine.spec.load import load_spec, validate_paths
from engine.spec.safeguards import BreakerSettings, Safeguards

MINIMAL = Path(__file__).parent / "corpus" / "valid" / "minimal.yaml"


def _with(tmp_path: Path, connection: str, sync: str) -> Path:
    """The minimal spec with lines added under its cinode connection and its sync."""
    lines = MINIMAL.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.strip().startswith("adapter: cinode"):
            out.extend("    " + extra for extra in connection.splitlines())
        if line == "    target: cinode.customers" and not any("safeguards" in o for o in out):
            out.extend("    " + extra for extra in sync.splitlines())  # the customers sync
    path = tmp_path / "spec.yaml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def test_defaults_hold_when_the_spec_says_nothing() -> None:
    spec = load_spec(MINIMAL)
    sync = spec.syncs["customers"]
    assert sync.safeguards == Safeguards()
    assert spec.connections["cinode"].circuit_breaker == BreakerSettings(5, timedelta(minutes=1))
    assert (sync.safeguards.deletions.max, sync.safeguards.deletions.max_share) == (100, 0.2)
    assert (sync.safeguards.failures.max_share, sync.safeguards.failures.min) == (0.5, 20)
    assert sync.safeguards.write_rate.max_writes == 10


def test_the_spec_sets_each_limit(tmp_path: Path) -> None:
    path = _with(tmp_path, "circuit_breaker: {failures: 3, cool_down: 5m}",
                 "safeguards:\n"
                 "  deletions: {max: 20, max_share: 0.5, min: 2}\n"
                 "  failures: {max_share: 0.1}\n"
                 "  write_rate: {max_writes: 4, window: 30m}")
    spec = load_spec(path)
    sync = spec.syncs["customers"]
    assert spec.syncs["projects"].safeguards == Safeguards()
    assert spec.connections["cinode"].circuit_breaker == BreakerSettings(3, timedelta(minutes=5))
    limits = sync.safeguards
    assert (limits.deletions.max, limits.deletions.max_share, limits.deletions.min) == \
        (20, 0.5, 2)
    assert (limits.failures.max_share, limits.failures.min) == (0.1, 20)  # min by default
    assert (limits.write_rate.max_writes, limits.write_rate.window) == \
        (4, timedelta(minutes=30))


@pytest.mark.parametrize(("connection", "sync", "line"), [
    ("circuit_breaker: {failures: 0}", "safeguards: {}", 11),
    ("circuit_breaker: {cool_down: soon}", "safeguards: {}", 11),
    ("rate_limit: {requests: 1, per: 1s}", "safeguards: {deletions: {max_share: 1.5}}", 21),
    ("rate_limit: {requests: 1, per: 1s}", "safeguards: {failures: {share: 0.5}}", 21),
], ids=["breaker-failures", "breaker-cool-down", "deletion-share", "unknown-key"])
def test_a_bad_limit_is_reported_where_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             connection: str, sync: str, line: int,
                                             snapshot) -> None:
    _with(tmp_path, connection, sync)
    monkeypatch.chdir(tmp_path)
    diags, sources, _ = validate_paths([Path("spec.yaml")])
    assert diags, "a bad safeguard must not validate"
    assert {d.location.line for d in diags} == {line}, [str(d.location) for d in diags]
    assert render_text(diags, sources) == snapshot
