"""Replay's recorded reads on both stores: kept per run in order, pruned by count and age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.state.base import StateStore
from engine.state.recordings import RecordedRead

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_recorded_reads_round_trip_and_are_pruned(store: StateStore) -> None:
    for run in (1, 2, 3):
        store.record_reads(run, "i", "customers", 0,
                           [RecordedRead("a", {"n": run}, {"kind": "create", "payload": {}}),
                            RecordedRead("b", {"n": -run}, {"kind": "filtered"})],
                           at=AT + timedelta(days=run))
        store.record_reads(run, "i", "customers", 2,
                           [RecordedRead("c", {"n": 0}, {"kind": "error", "code": "x"})],
                           at=AT + timedelta(days=run))
    store.record_reads(9, "i", "projects", 0, [RecordedRead("p", {}, {"kind": "skip"})], at=AT)
    runs = store.recorded_runs("i", "customers")
    assert [(r.run_id, r.sync, r.records) for r in runs] == [
        (3, "customers", 3), (2, "customers", 3), (1, "customers", 3)]
    assert [r.run_id for r in store.recorded_runs("i")] == [9, 3, 2, 1]
    assert [(r.key, r.record, r.outcome["kind"]) for r in store.recorded_reads(2)] == [
        ("a", {"n": 2}, "create"), ("b", {"n": -2}, "filtered"), ("c", {"n": 0}, "error")]

    store.prune_recordings("i", "customers", keep=2, older_than=AT)
    assert [r.run_id for r in store.recorded_runs("i", "customers")] == [3, 2]
    store.prune_recordings("i", "customers", keep=2, older_than=AT + timedelta(days=2, hours=1))
    assert [r.run_id for r in store.recorded_runs("i", "customers")] == [3]
    assert [r.run_id for r in store.recorded_runs("i", "projects")] == [9]  # other syncs stay
