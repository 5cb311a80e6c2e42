"""`status` and `history` on a store with no runs, and a failed run's reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cli import main
from engine.state import open_store


@pytest.mark.parametrize("command", ["status", "history"])
def test_an_empty_store_says_no_runs_yet(command: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.db"
    open_store(str(state)).close()
    assert main([command, "--state", str(state)]) == 0
    assert "no runs yet" in capsys.readouterr().out


def test_history_says_why_a_run_failed(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.db"
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    with open_store(str(state)) as store:
        run = store.start_run("maconomy-cinode", "projects", spec_hash="abc", git_commit=None,
                              trigger="manual", started_at=now)
        store.finish_run(run, outcome="failed", counts={"read": 3}, finished_at=now,
                         error="cinode answered 401: the access token was refused")
    assert main(["history", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert f"run {run} (maconomy-cinode/projects) failed: cinode answered 401" in out
    assert main(["history", "--state", str(state), "--sync", "customers"]) == 0
    assert "no runs yet of sync customers" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["status", "history"])
def test_reading_a_store_that_does_not_exist_creates_nothing(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "nonexistent" / "dir" / "state.db"
    assert main([command, "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "no runs yet" in out and f"no state store at {state}" in out
    assert "┏" not in out  # no empty table under the message
    assert not (tmp_path / "nonexistent").exists()
