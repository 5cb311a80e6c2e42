"""`specsync status`, `breakers` and `quarantine`: what the safeguards did, from the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli import main
from engine.state import SqliteStateStore
from engine.state.base import BreakerRecord

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        run = store.start_run("kleer-cinode", "users", spec_hash="h", git_commit=None,
                              trigger="schedule", started_at=NOW)
        store.finish_run(run, outcome="failed", counts={"read": 40},
                         error="deletion guard: the run would deactivate 30 record(s): 75% "
                         "of its 40 linked records", finished_at=NOW)
        store.save_breakers([BreakerRecord(
            "kleer-cinode", "cinode", "GET /v0.1/companies/{id}/users", "open", 5, NOW,
            NOW + timedelta(minutes=1), "HTTP 503")], at=NOW)
        for _ in range(3):
            store.count_writes("kleer-hubspot", "clients_inbound+companies",
                               {"hubspot.companies#42": "companies=4001"}, at=NOW,
                               window=timedelta(hours=1), max_writes=2)
    return path


@pytest.mark.scenario("S12", "S15", "S27")
def test_status_shows_what_the_safeguards_did(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    state = _store(tmp_path)
    assert main(["status", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "stopped by a safeguard: kleer-cinode/users: deletion guard: the run would " \
        "deactivate 30 record(s)" in out
    assert "GET /v0.1/companies/{id}/users" in out and "open" in out and "HTTP 503" in out
    assert "hubspot.companies#42" in out and "companies=4001" in out


def test_breakers_are_listed_and_reset(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    state = _store(tmp_path)
    assert main(["breakers", "list", "--state", str(state)]) == 0
    assert "GET /v0.1/companies/{id}/users" in capsys.readouterr().out
    assert main(["breakers", "reset", "--system", "hubspot", "--state", str(state)]) == 0
    assert "closed 0 circuit breaker(s)" in capsys.readouterr().out
    assert main(["breakers", "reset", "--system", "cinode", "--state", str(state)]) == 0
    assert "closed 1 circuit breaker(s)" in capsys.readouterr().out
    assert main(["breakers", "list", "--state", str(state)]) == 0
    assert "no circuit breaker has seen a failure" in capsys.readouterr().out


@pytest.mark.scenario("S12")
def test_status_names_the_records_deleted_in_the_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.state.base import BatchCommit, Link

    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        run = store.start_run("maconomy-cinode", "customers", spec_hash="h", git_commit=None,
                              trigger="manual", started_at=NOW)
        store.commit_batch(BatchCommit("maconomy-cinode", "customers", NOW, links=[
            Link(k, f"t{k}", "h") for k in ("1001", "1002", "1003")]))
        sweep = store.begin_sweep("maconomy-cinode", "customers", run, NOW + timedelta(1))
        store.commit_batch(BatchCommit("maconomy-cinode", "customers", NOW + timedelta(1),
                                       seen=["1002"], sweep=sweep))
        store.end_sweep("maconomy-cinode", "customers", sweep, NOW + timedelta(2))
        store.finish_run(run, outcome="success", counts={"read": 1, "deleted_in_source": 2},
                         error=None, finished_at=NOW + timedelta(2))
    assert main(["status", "--state", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("maconomy-cinode/customers: 2 linked record(s) deleted in the source (not in "
            "the full read of 2026-01-07 09:00 UTC): 1001, 1003") in out
