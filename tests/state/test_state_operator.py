"""The console's part of the state store contract (pauses, acknowledgements, audit log,
alert incidents), run against every store (see conftest `backend`)."""

from __future__ import annotations

from state_support import Backend, at

from engine.state import AuditEntry, BatchCommit, FailedRecord, Link, StateStore

INTEG, S = "kleer-cinode", "customers"


def fail(store: StateStore, key: str, code: str = "vendor.rejected", when: float = 0) -> None:
    store.commit_batch(BatchCommit(INTEG, S, at(when),
                                   failures=[FailedRecord(key, code, f"{code} says no")]))


def test_pause_and_resume_are_kept_with_who_and_when(backend: Backend) -> None:
    store = backend.store()
    assert store.paused_syncs() == {}
    store.set_paused(INTEG, S, True, by="alice (operator)", at=at(10), reason="vendor outage")
    other = backend.store()  # another process sees it
    pause = other.paused_syncs()[(INTEG, S)]
    assert (pause.by, pause.at, pause.reason) == ("alice (operator)", at(10), "vendor outage")
    store.set_paused(INTEG, S, False, by="bob (operator)", at=at(20))
    assert other.paused_syncs() == {}
    store.set_paused(INTEG, S, True, by="bob (operator)", at=at(30))
    assert list(store.paused_syncs()) == [(INTEG, S)]


def test_an_acknowledged_failure_stays_failing_until_written(store: StateStore) -> None:
    fail(store, "1001")
    fail(store, "1002")
    assert store.failure_counts() == {(INTEG, S): (2, 0)}
    assert store.acknowledge_failure(INTEG, S, "1001", by="alice", at=at(5))
    assert not store.acknowledge_failure(INTEG, S, "9999", by="alice", at=at(5))
    failure = store.get_failure(INTEG, S, "1001")
    assert failure is not None
    assert (failure.acknowledged_by, failure.acknowledged_at) == ("alice", at(5))
    assert store.failure_counts() == {(INTEG, S): (2, 1)}
    assert store.failing_keys(INTEG, S) == ["1001", "1002"]  # still retried

    fail(store, "1001", when=60)  # the same reason again: the acknowledgement holds
    again = store.get_failure(INTEG, S, "1001")
    assert again is not None and again.acknowledged_by == "alice" and again.attempts == 2

    fail(store, "1001", code="vendor.other", when=120)  # a new reason is news
    news = store.get_failure(INTEG, S, "1001")
    assert news is not None and news.acknowledged_by is None and news.acknowledged_at is None

    store.commit_batch(BatchCommit(INTEG, S, at(180), links=[Link("1001", "c-1", "h")]))
    assert store.get_failure(INTEG, S, "1001") is None
    assert store.failure_counts() == {(INTEG, S): (1, 0)}
    assert [f.acknowledged_by for f in store.list_failures(INTEG, S)] == [None]


def test_the_audit_log_keeps_every_action_newest_first(store: StateStore) -> None:
    first = store.append_audit(AuditEntry(at(1), "alice", "operator", "pause", "done",
                                          INTEG, S, detail="vendor outage"))
    second = store.append_audit(AuditEntry(at(2), "bob", "operator", "retry", "done",
                                           INTEG, S, source_key="1001"))
    store.append_audit(AuditEntry(at(3), "carol", "operator", "run", "refused: paused",
                                  INTEG, "projects"))
    assert second > first
    entries = store.list_audit(INTEG, S)
    assert [(e.actor, e.action, e.source_key, e.detail) for e in entries] == [
        ("bob", "retry", "1001", None), ("alice", "pause", None, "vendor outage")]
    assert entries[0].id == second and entries[0].at == at(2)
    assert [e.actor for e in store.list_audit(limit=2)] == ["carol", "bob"]
    assert [e.outcome for e in store.list_audit(sync="projects")] == ["refused: paused"]


def test_one_incident_per_condition_and_a_notification_for_each_end(backend: Backend) -> None:
    store = backend.store()
    key = f"run_failed:{INTEG}/{S}"
    assert store.open_incident(key, "run_failed", INTEG, S, "the run failed", at=at(0))
    assert not backend.store().open_incident(key, "run_failed", INTEG, S, "again", at=at(1))
    [opened] = store.open_incidents()
    assert (opened.key, opened.summary, opened.pending_phase) == (key, "the run failed", "open")

    [claimed] = store.claim_notifications(at(2), lease_seconds=30)
    assert claimed.id == opened.id
    assert store.claim_notifications(at(3), lease_seconds=30) == []  # leased meanwhile
    store.notification_failed(claimed.id, "503 from the receiver", retry_at=at(10))
    assert store.claim_notifications(at(5), lease_seconds=30) == []
    [retried] = store.claim_notifications(at(10), lease_seconds=30)
    assert (retried.attempts, retried.last_error) == (1, "503 from the receiver")
    store.notification_sent(retried.id, "open", at=at(11))
    assert store.claim_notifications(at(12), lease_seconds=30) == []  # nothing owed

    assert store.clear_incident(key, at=at(20))
    assert not store.clear_incident(key, at=at(21))
    assert store.open_incidents() == []
    [owed] = store.claim_notifications(at(20), lease_seconds=30)
    assert owed.pending_phase == "clear" and owed.attempts == 0
    store.notification_sent(owed.id, "clear", at=at(21))
    assert store.claim_notifications(at(99), lease_seconds=30) == []

    # The condition holds again: a new incident, notified again.
    assert store.open_incident(key, "run_failed", INTEG, S, "failed again", at=at(30))
    history = store.list_incidents()
    assert [(i.summary, i.cleared_at is None) for i in history] == [
        ("failed again", True), ("the run failed", False)]
    assert history[1].open_sent_at == at(11) and history[1].clear_sent_at == at(21)


def test_an_incident_cleared_before_its_opening_was_sent_owes_both(store: StateStore) -> None:
    store.open_incident("k", "stale", INTEG, S, "no success for 3 h", at=at(0))
    store.clear_incident("k", at=at(5))
    [first] = store.claim_notifications(at(6), lease_seconds=30)
    assert first.pending_phase == "open"
    store.notification_sent(first.id, "open", at=at(6))
    [second] = store.claim_notifications(at(6), lease_seconds=30)
    assert second.pending_phase == "clear"
