"""The state store contract, run against every store (see conftest `backend`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from state_support import T0, Backend, at

from engine.errors import StateError
from engine.state import (
    BatchCommit,
    CreatedValues,
    FailedRecord,
    LeaseToken,
    Link,
    StateStore,
    sync_lease_name,
)
from engine.state.migrations import latest_version
from engine.state.sqlite import SqliteStateStore

INTEG, S = "kleer-cinode", "customers"


def commit(store: StateStore, when: float = 0, sync: str = S, **kwargs: object) -> None:
    store.commit_batch(BatchCommit(INTEG, sync, at(when), **kwargs))  # type: ignore[arg-type]


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_is_a_state_store(store: StateStore) -> None:
    assert isinstance(store, StateStore)


# -- creation values -------------------------------------------------------------------


def test_creation_values_and_held_changes_round_trip(store: StateStore) -> None:
    """What a record was created with, and a source change the target cannot take: kept
    with the batch, listed while held (since when it was first held), cleared when the
    source agrees again."""
    commit(store, 0, created=[CreatedValues("1001", {"name": "Acme", "n": 1}),
                              CreatedValues("1002", {"name": "Bolt"})])
    assert store.get_created(INTEG, S, ["1001", "1002", "1003"])["1001"].created == \
        {"name": "Acme", "n": 1}
    assert store.list_held() == [] and store.held_counts() == {}
    commit(store, 10, created=[CreatedValues("1002", {"name": "Bolt"},
                                             {"name": ("Bolt", "Bolt AB")})])
    commit(store, 20, created=[CreatedValues("1002", {"name": "Bolt"},
                                             {"name": ("Bolt", "Bolt Ltd")})])
    [held] = store.list_held(INTEG, S)
    assert (held.source_key, held.held, held.held_since) == (
        "1002", {"name": ("Bolt", "Bolt Ltd")}, at(10))
    assert store.held_counts() == {(INTEG, S): 1}
    assert store.list_held(INTEG, "users") == []
    commit(store, 30, created=[CreatedValues("1002", {"name": "Bolt"})])
    assert store.list_held() == [] and store.get_created(INTEG, S, ["1002"])["1002"].held \
        is None


# -- links -----------------------------------------------------------------------------


def test_links_round_trip(store: StateStore) -> None:
    commit(
        store,
        links=[
            Link("1001", "c-1", "h1", "created"),
            Link("1002", "c-2", "h2", "adopted", active=False, updated_at=at(-60)),
        ],
    )
    got = store.get_links(INTEG, S, ["1001", "1002", "missing"])
    assert got == {
        "1001": Link("1001", "c-1", "h1", "created", True, at(0)),
        "1002": Link("1002", "c-2", "h2", "adopted", False, at(-60)),
    }
    assert store.count_links(INTEG, S) == 2
    assert store.link_for_target(INTEG, S, "c-2") == got["1002"]
    assert store.link_for_target(INTEG, S, "nope") is None

    commit(store, 5, links=[Link("1001", "c-1", "h1b", "created")])
    assert store.get_links(INTEG, S, ["1001"])["1001"] == Link("1001", "c-1", "h1b", "created",
                                                            True, at(5))
    assert store.count_links(INTEG, S) == 2


def test_links_are_scoped_by_integration_and_sync(store: StateStore) -> None:
    commit(store, links=[Link("k", "t1", "h")])
    commit(store, sync="projects", links=[Link("k", "t2", "h")])
    store.commit_batch(BatchCommit("other", S, at(0), links=[Link("k", "t3", "h")]))
    assert store.get_links(INTEG, S, ["k"])["k"].target_id == "t1"
    assert store.get_links(INTEG, "projects", ["k"])["k"].target_id == "t2"
    assert store.get_links("other", S, ["k"])["k"].target_id == "t3"
    assert store.link_for_target(INTEG, S, "t2") is None
    assert [link.target_id for link in store.iter_links(INTEG, "projects")] == ["t2"]


def test_get_links_batches_long_key_lists(store: StateStore) -> None:
    keys = [f"k{n:05d}" for n in range(12_345)]
    commit(store, links=[Link(k, f"t-{k}", "h") for k in keys[::2]])
    got = store.get_links(INTEG, S, [*keys, *keys[:10]])  # duplicates are harmless
    assert sorted(got) == keys[::2]
    assert all(got[k].target_id == f"t-{k}" for k in keys[::2])


def test_link_states_are_the_links_as_plain_tuples(store: StateStore) -> None:
    """What deciding a batch reads: (key, target, hash, active, source hash, origin), one
    per linked key, in long key lists too; `Link.of_state` gives the link back."""
    keys = [f"k{n:05d}" for n in range(1_234)]
    commit(store, links=[Link(k, f"t-{k}", f"h-{k}", "adopted", source_hash=f"s-{k}")
                         for k in keys[::2]])
    commit(store, 5, links=[Link("k00000", "t-k00000", "h2", active=False)])
    got = store.link_states(INTEG, S, [*keys, *keys[:10], "missing"])
    assert sorted(got) == keys[::2]
    assert all(type(state) is tuple for state in got.values())
    key, target_id, hash_, active, source_hash, origin = got["k00002"]
    assert (key, target_id, hash_, bool(active), source_hash, origin) == (
        "k00002", "t-k00002", "h-k00002", True, "s-k00002", "adopted")
    assert not got["k00000"][3] and got["k00000"][4] is None
    assert Link.of_state(got["k00002"]) == Link("k00002", "t-k00002", "h-k00002", "adopted",
                                                True, None, "s-k00002")
    assert store.link_states(INTEG, "projects", keys) == {}


def test_link_states_of_keys_side_by_side_or_far_apart_are_the_same_links(
        store: StateStore) -> None:
    """A window of keys read in key order (SQLite walks their range of the primary key)
    and one whose range holds many other links (seeks each key) find exactly the linked
    keys asked for: not the links between them, not another sync's."""
    keys = [f"k{n:05d}" for n in range(3_000)]
    commit(store, links=[Link(k, f"t-{k}", "h") for k in keys if not k.endswith("7")])
    commit(store, sync="projects", links=[Link(k, "p", "h") for k in keys])
    commit(store, links=[Link(k, "u", "h") for k in ("k00400ü", "k00400€", "k00400\U0001f600")])

    def expect(asked: list[str]) -> list[str]:
        return sorted(k for k in set(asked) if not k.endswith("7") and k in linked)

    linked = {*keys, "k00400ü", "k00400€", "k00400\U0001f600"}
    side_by_side = [[*keys[400:500], "k00400ü", "k00400\U0001f600", "k00450x"],
                    keys[1000:1150], list(reversed(keys[2000:2400])), keys[600:800:2]]
    far_apart = [keys[200:1200:3], keys[::25], keys[1000:1150]]
    for asked in side_by_side:
        got = store.link_states(INTEG, S, asked)
        assert sorted(got) == expect(asked)
        assert all(state[1] != "p" for state in got.values())
    if isinstance(store, SqliteStateStore):  # each read as one range of the primary key
        assert store._scattered == set()
    for asked in far_apart:
        got = store.link_states(INTEG, S, asked)
        assert sorted(got) == expect(asked)
        assert all(state[1] != "p" for state in got.values())


def test_link_for_target_prefers_the_active_link(store: StateStore) -> None:
    commit(store, 0, links=[Link("old", "t", "h", active=False)])
    commit(store, 1, links=[Link("new", "t", "h")])
    commit(store, 2, links=[Link("older", "t", "h", active=False)])
    found = store.link_for_target(INTEG, S, "t")
    assert found is not None and found.source_key == "new"


def test_iter_links_streams_every_link_in_key_order(store: StateStore) -> None:
    keys = [f"{n:06d}" for n in range(2_503)]  # crosses page boundaries
    commit(store, links=[Link(k, k, "h", "linked") for k in reversed(keys)])
    commit(store, sync="elsewhere", links=[Link("x", "x", "h")])
    streamed = store.iter_links(INTEG, S)
    first = next(streamed)
    assert first.source_key == "000000"
    assert [first.source_key, *(link.source_key for link in streamed)] == keys
    assert list(store.iter_links(INTEG, "empty")) == []


# -- batch commits, cursors, fencing -------------------------------------------------------------


def test_cursor_only_moves_with_commits(store: StateStore) -> None:
    assert store.get_cursor(INTEG, S) is None
    commit(store, links=[Link("a", "1", "h")])
    assert store.get_cursor(INTEG, S) is None
    commit(store, cursor="2026-03-01T00:00:00Z")
    assert store.get_cursor(INTEG, S) == "2026-03-01T00:00:00Z"
    commit(store, links=[Link("b", "2", "h")])  # no cursor: unchanged
    assert store.get_cursor(INTEG, S) == "2026-03-01T00:00:00Z"
    with pytest.raises(StateError):
        commit(store, links=[Link("c", "3", "h", "bogus")], cursor="2026-03-02")  # type: ignore[arg-type]
    assert store.get_cursor(INTEG, S) == "2026-03-01T00:00:00Z"
    assert store.get_cursor(INTEG, "projects") is None


def test_a_failing_batch_writes_nothing(store: StateStore) -> None:
    commit(store, links=[Link("a", "1", "h1")], failures=[FailedRecord("f", "x", "m")],
           cursor="c1")
    good = [Link(f"k{n}", str(n), "h") for n in range(50)]
    with pytest.raises(StateError, match="origin 'bogus'"):
        commit(
            store,
            1,
            links=[Link("a", "1", "h2"), *good, Link("bad", "9", "h", "bogus")],  # type: ignore[arg-type]
            failures=[FailedRecord("f", "x", "again"), FailedRecord("g", "y", "m")],
            resolved=["f"],
            cursor="c2",
        )
    assert store.get_links(INTEG, S, ["a", "k0", "k49", "bad"]) == {
        "a": Link("a", "1", "h1", "created", True, at(0))
    }
    assert store.count_links(INTEG, S) == 1
    assert store.failing_keys(INTEG, S) == ["f"]
    assert store.list_failures(INTEG, S)[0].attempts == 1
    assert store.get_cursor(INTEG, S) == "c1"


def test_fencing_rejects_a_zombie_writer_and_writes_nothing(store: StateStore) -> None:
    name = sync_lease_name(INTEG, S)
    old = store.acquire_lease(name, "runner-a", at(0), 30)
    assert old is not None
    commit(store, links=[Link("a", "1", "h")], cursor="c1", lease=LeaseToken(name, "runner-a", old))

    # runner-a stalls past its lease; runner-b takes over
    new = store.acquire_lease(name, "runner-b", at(31), 30)
    assert new is not None and new > old
    with pytest.raises(StateError, match="lost"):
        commit(
            store,
            32,
            links=[Link("a", "zombie", "hz"), Link("z", "2", "h")],
            failures=[FailedRecord("q", "x", "m")],
            cursor="c-zombie",
            lease=LeaseToken(name, "runner-a", old),
        )
    assert store.get_links(INTEG, S, ["a", "z"]) == {
        "a": Link("a", "1", "h", "created", True, at(0))
    }
    assert store.failing_keys(INTEG, S) == []
    assert store.get_cursor(INTEG, S) == "c1"

    commit(store, 33, cursor="c2", lease=LeaseToken(name, "runner-b", new))
    assert store.get_cursor(INTEG, S) == "c2"
    store.release_lease(name, "runner-b", new)
    with pytest.raises(StateError):  # a released lease fences too
        commit(store, 34, cursor="c3", lease=LeaseToken(name, "runner-b", new))
    assert store.get_cursor(INTEG, S) == "c2"


def test_fingerprint_per_sync(store: StateStore) -> None:
    assert store.get_fingerprint(INTEG, S) is None
    store.set_fingerprint(INTEG, S, "fp1")
    store.set_fingerprint(INTEG, "projects", "fp9")
    assert store.get_fingerprint(INTEG, S) == "fp1"
    commit(store, cursor="c")  # a cursor write keeps the fingerprint
    store.set_fingerprint(INTEG, S, "fp2")
    assert (store.get_fingerprint(INTEG, S), store.get_cursor(INTEG, S)) == ("fp2", "c")
    assert store.get_fingerprint(INTEG, "projects") == "fp9"


# -- per-record failures ------------------------------------------------------------------------


def test_failures_are_recorded_incremented_and_cleared(store: StateStore) -> None:
    run = store.start_run(INTEG, S, spec_hash="sha", git_commit=None, trigger="manual",
                          started_at=at(0))
    commit(store, 1, run_id=run, failures=[
        FailedRecord("b", "identity.invalid", "personal number fails the checksum"),
        FailedRecord("a", "vendor.4xx", "400 Bad Request"),
    ])
    assert store.failing_keys(INTEG, S) == ["a", "b"]

    commit(store, 2, failures=[FailedRecord("a", "vendor.4xx", "400 again")])
    by_key = {f.source_key: f for f in store.list_failures(INTEG, S)}
    a = by_key["a"]
    assert (a.attempts, a.message, a.first_seen, a.last_seen) == (2, "400 again", at(1), at(2))
    assert a.run_id == run  # kept when the repeat names no run
    assert (a.integration, a.sync) == (INTEG, S)
    assert by_key["b"].attempts == 1

    commit(store, 3, links=[Link("a", "t-a", "h")])  # written: cleared
    assert store.failing_keys(INTEG, S) == ["b"]
    commit(store, 4, resolved=["b"])  # e.g. now filtered out: cleared without a link
    assert store.failing_keys(INTEG, S) == []
    assert store.list_failures() == []


def test_a_record_linked_and_failing_in_one_batch_stays_failing(store: StateStore) -> None:
    commit(store, links=[Link("a", "t", "h", "adopted")],
           failures=[FailedRecord("a", "vendor.4xx", "update rejected")])
    assert store.failing_keys(INTEG, S) == ["a"]
    assert "a" in store.get_links(INTEG, S, ["a"])


def test_list_failures_filters_orders_and_limits(store: StateStore) -> None:
    commit(store, 1, failures=[FailedRecord("x", "c", "m")])
    commit(store, 2, sync="projects", failures=[FailedRecord("y", "c", "m")])
    store.commit_batch(BatchCommit("other", S, at(3), failures=[FailedRecord("z", "c", "m")]))
    assert [f.source_key for f in store.list_failures()] == ["z", "y", "x"]
    assert [f.source_key for f in store.list_failures(INTEG)] == ["y", "x"]
    assert [f.source_key for f in store.list_failures(INTEG, "projects")] == ["y"]
    assert [f.source_key for f in store.list_failures(limit=1)] == ["z"]
    assert store.failing_keys(INTEG, S) == ["x"]


# -- runs ---------------------------------------------------------------------------------------


def test_runs_are_recorded_and_listed_newest_first(store: StateStore) -> None:
    first = store.start_run(INTEG, S, spec_hash="sha1", git_commit="abc123", trigger="schedule",
                            started_at=at(0))
    second = store.start_run(INTEG, "projects", spec_hash="sha1", git_commit=None,
                             trigger="webhook", started_at=at(10))
    running = store.get_run(first)
    assert running is not None
    assert (running.status, running.finished_at, running.duration) == ("running", None, None)

    store.finish_run(first, outcome="partial", counts={"created": 3, "failed": 1},
                     error=None, finished_at=at(42.5))
    done = store.get_run(first)
    assert done is not None
    assert done.status == "partial"
    assert dict(done.counts) == {"created": 3, "failed": 1}
    assert done.duration == timedelta(seconds=42.5)
    assert (done.spec_hash, done.git_commit, done.trigger) == ("sha1", "abc123", "schedule")

    assert [r.id for r in store.list_runs()] == [second, first]
    assert [r.id for r in store.list_runs(INTEG, S)] == [first]
    assert [r.id for r in store.list_runs(limit=1)] == [second]
    assert store.list_runs("nobody") == []
    assert store.get_run(999_999) is None


def test_finish_run_rejects_unknown_runs_and_outcomes(store: StateStore) -> None:
    run = store.start_run(INTEG, S, spec_hash="h", git_commit=None, trigger="t", started_at=at(0))
    with pytest.raises(StateError, match="outcome"):
        store.finish_run(run, outcome="great", counts={}, error=None,  # type: ignore[arg-type]
                         finished_at=at(1))
    with pytest.raises(StateError, match="does not exist"):
        store.finish_run(run + 1000, outcome="failed", counts={}, error="x", finished_at=at(1))


def test_a_killed_runs_run_is_marked_interrupted(store: StateStore) -> None:
    name = sync_lease_name(INTEG, S)
    epoch = store.acquire_lease(name, "runner-a", at(0), 60)
    assert epoch is not None
    live = store.start_run(INTEG, S, spec_hash="h", git_commit=None, trigger="t", started_at=at(0))
    orphan = store.start_run(INTEG, "projects", spec_hash="h", git_commit=None, trigger="t",
                             started_at=at(0))
    finished = store.start_run(INTEG, "tags", spec_hash="h", git_commit=None, trigger="t",
                               started_at=at(0))
    store.finish_run(finished, outcome="success", counts={}, error=None, finished_at=at(5))

    assert store.recover_interrupted(at(30)) == 1  # the lease of `live` is still held
    statuses = {r.id: r.status for r in store.list_runs()}
    assert statuses == {live: "running", orphan: "interrupted", finished: "success"}
    recovered = store.get_run(orphan)
    assert recovered is not None and recovered.finished_at == at(30) and recovered.error

    # runner-a is SIGKILLed: nobody renews, the lease expires, the run is recovered
    assert store.recover_interrupted(at(61)) == 1
    assert store.get_run(live).status == "interrupted"  # type: ignore[union-attr]
    assert store.recover_interrupted(at(62)) == 0


# -- webhook inbox ------------------------------------------------------------------------------


def test_inbox_deduplicates_by_source_and_event_id(store: StateStore) -> None:
    assert store.inbox_put("hubspot", "evt-1", b'{"a":1}', received_at=at(0)) is True
    assert store.inbox_put("hubspot", "evt-1", b'{"a":1}', received_at=at(5)) is False
    assert store.inbox_put("cinode", "evt-1", b"{}", received_at=at(5)) is True
    assert store.inbox_depth() == 2
    (event,) = [e for e in store.inbox_claim("w", 10, at(6), 30) if e.source == "hubspot"]
    store.inbox_done([event.id])
    # a redelivery after processing is still recognised
    assert store.inbox_put("hubspot", "evt-1", b'{"a":1}', received_at=at(100)) is False
    assert store.inbox_depth() == 1


def test_inbox_claims_oldest_first_within_the_limit(store: StateStore) -> None:
    for n, received in [(3, 30), (1, 10), (2, 20), (4, 40)]:
        store.inbox_put("cinode", f"e{n}", f"payload {n}".encode(), received_at=at(received))
    store.inbox_put("cinode", "later", b"x", received_at=at(5), not_before=at(500))
    claimed = store.inbox_claim("worker-1", 3, at(50), 30)
    assert [e.event_id for e in claimed] == ["e1", "e2", "e3"]
    assert claimed[0].payload == b"payload 1"
    assert claimed[0].received_at == at(10)
    assert {(e.claimed_by, e.lease_until, e.attempts) for e in claimed} == {
        ("worker-1", at(80), 1)
    }
    assert [e.event_id for e in store.inbox_claim("worker-2", 10, at(51), 30)] == ["e4"]
    assert store.inbox_claim("worker-2", 10, at(52), 30) == []  # all claimed, "later" not due
    # by then every lease has expired and "later" is due; order is by received_at
    assert [e.event_id for e in store.inbox_claim("worker-3", 10, at(500), 30)] == [
        "later", "e1", "e2", "e3", "e4"
    ]


def test_a_dead_workers_events_are_claimed_again_after_its_lease(store: StateStore) -> None:
    store.inbox_put("hubspot", "e1", b"p", received_at=at(0))
    (first,) = store.inbox_claim("worker-killed", 10, at(1), 30)
    assert store.inbox_claim("worker-2", 10, at(30), 30) == []  # lease until 31
    (again,) = store.inbox_claim("worker-2", 10, at(31), 30)
    assert (again.id, again.claimed_by, again.attempts, again.payload) == (
        first.id, "worker-2", 2, b"p"
    )
    store.inbox_done([again.id], now=at(32))
    assert store.inbox_depth() == 0
    assert store.inbox_claim("worker-3", 10, at(1000), 30) == []


def test_inbox_retry_and_prune(store: StateStore) -> None:
    store.inbox_put("cinode", "e1", b"p", received_at=at(0))
    (event,) = store.inbox_claim("w", 10, at(1), 30)
    store.inbox_retry(event.id, "cinode answered 503", at(60))
    assert store.inbox_depth() == 1
    assert store.inbox_claim("w", 10, at(59), 30) == []
    (again,) = store.inbox_claim("w", 10, at(60), 30)
    assert (again.attempts, again.last_error) == (2, "cinode answered 503")

    store.inbox_done([again.id], now=at(61))
    assert store.inbox_prune(at(61)) == 0  # done_at is not before 61
    assert store.inbox_prune(at(62)) == 1
    # pruned: the dedup window for that event is over
    assert store.inbox_put("cinode", "e1", b"p", received_at=at(63)) is True


def test_concurrent_claimers_never_share_an_event(backend: Backend) -> None:
    seed = backend.store()
    total = 300
    for n in range(total):
        seed.inbox_put("hubspot", f"e{n:04d}", b"p", received_at=at(n / 1000))
    stores = [backend.store() for _ in range(3)]
    got: list[list[int]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claim_until_empty(n: int) -> None:
        start.wait()
        while batch := stores[n].inbox_claim(f"worker-{n}", 7, at(10), 300):
            got[n].extend(e.id for e in batch)

    run_threads(len(stores), claim_until_empty)
    every = [i for ids in got for i in ids]
    assert len(every) == total
    assert len(set(every)) == total


# -- leases -------------------------------------------------------------------------------------


def test_leases_and_epochs(store: StateStore) -> None:
    name = sync_lease_name(INTEG, S)
    a1 = store.acquire_lease(name, "a", at(0), 30)
    assert a1 == 1
    assert store.acquire_lease(name, "b", at(10), 30) is None
    assert store.renew_lease(name, "a", a1, at(20), 30) is True  # now until 50
    assert store.acquire_lease(name, "b", at(40), 30) is None
    b1 = store.acquire_lease(name, "b", at(50), 30)
    assert b1 is not None and b1 > a1
    assert store.renew_lease(name, "a", a1, at(51), 30) is False  # taken over
    store.release_lease(name, "a", a1)  # a stale release is a no-op
    assert store.acquire_lease(name, "c", at(52), 30) is None
    store.release_lease(name, "b", b1)
    c1 = store.acquire_lease(name, "c", at(53), 30)
    assert c1 is not None and c1 > b1
    assert store.acquire_lease("another-lease", "c", at(53), 30) == 1


def test_only_one_of_many_concurrent_acquirers_wins(backend: Backend) -> None:
    stores = [backend.store() for _ in range(4)]
    results: dict[int, int | None] = {}

    def acquire(n: int) -> None:
        results[n] = stores[n].acquire_lease("sync:x/y", f"holder-{n}", at(0), 30)

    run_threads(len(stores), acquire)
    assert sorted(results.values(), key=lambda v: v or 0) == [None, None, None, 1]


# -- action idempotency -------------------------------------------------------------------------


def test_claim_action_is_insert_if_absent(store: StateStore) -> None:
    first = store.claim_action("wf-17:evt-99", at(0))
    assert (first.fresh, first.status, first.result, first.attempts) == (True, "pending", None, 1)
    second = store.claim_action("wf-17:evt-99", at(1))
    assert (second.fresh, second.status) == (False, "pending")

    store.complete_action("wf-17:evt-99", {"projectId": 4711, "ok": True}, "succeeded",
                          now=at(2))
    replay = store.claim_action("wf-17:evt-99", at(3), stale_after=0)
    assert (replay.fresh, replay.status) == (False, "succeeded")
    assert replay.result == {"projectId": 4711, "ok": True}
    assert (replay.created_at, replay.updated_at) == (at(0), at(2))


def test_a_stale_pending_action_is_taken_over(store: StateStore) -> None:
    store.claim_action("k", at(0))
    assert store.claim_action("k", at(10), stale_after=60).fresh is False
    taken = store.claim_action("k", at(61), stale_after=60)
    assert (taken.fresh, taken.attempts) == (True, 2)
    assert store.claim_action("k", at(62), stale_after=60).fresh is False


def test_complete_action_checks_its_input(store: StateStore) -> None:
    with pytest.raises(StateError, match="never claimed"):
        store.complete_action("nope", {}, "succeeded", now=at(0))
    store.claim_action("k", at(0))
    for status in ("great", "pending"):
        with pytest.raises(StateError, match="status"):
            store.complete_action("k", {}, status, now=at(0))  # type: ignore[arg-type]


def test_concurrent_action_claims_have_one_owner(backend: Backend) -> None:
    stores = [backend.store() for _ in range(4)]
    fresh: list[bool] = [False] * len(stores)

    def claim(n: int) -> None:
        fresh[n] = stores[n].claim_action("deal-7:create-project", at(0)).fresh

    run_threads(len(stores), claim)
    assert sum(fresh) == 1


# -- metadata, migrations ------------------------------------------------------------------------


def test_meta_per_integration(store: StateStore) -> None:
    assert store.get_meta(INTEG, "hubspot.properties-checked") is None
    store.set_meta(INTEG, "hubspot.properties-checked", "2026-03-02")
    store.set_meta("other", "hubspot.properties-checked", "no")
    store.set_meta(INTEG, "hubspot.properties-checked", "2026-03-03")
    assert store.get_meta(INTEG, "hubspot.properties-checked") == "2026-03-03"
    store.set_meta(INTEG, "hubspot.properties-checked", None)
    assert store.get_meta(INTEG, "hubspot.properties-checked") is None
    assert store.get_meta("other", "hubspot.properties-checked") == "no"


def test_migrates_from_empty_and_reopens_idempotently(backend: Backend) -> None:
    first = backend.store()
    assert first.schema_version() == latest_version(backend.name)  # type: ignore[arg-type]
    commit(first, links=[Link("a", "1", "h")], cursor="c")
    first.close()
    again = backend.store()
    assert again.schema_version() == latest_version(backend.name)  # type: ignore[arg-type]
    assert again.get_cursor(INTEG, S) == "c"
    assert again.count_links(INTEG, S) == 1


def test_refuses_a_database_newer_than_the_code(backend: Backend) -> None:
    backend.store().close()
    newer = latest_version(backend.name) + 1  # type: ignore[arg-type]
    backend.execute(
        f"INSERT INTO schema_migrations (version, name, applied_at) "
        f"VALUES ({newer}, 'from_the_future', {'0' if backend.name == 'sqlite' else 'now()'})"
    )
    with pytest.raises(StateError, match=f"schema version {newer}, newer than"):
        backend.store()


def test_times_come_back_as_aware_utc(store: StateStore) -> None:
    local = T0.astimezone(None).replace(tzinfo=None)  # naive local time
    commit(store, links=[Link("a", "1", "h", updated_at=local)])
    got = store.get_links(INTEG, S, ["a"])["a"].updated_at
    assert got == T0 and got is not None and got.utcoffset() == timedelta(0)


def test_current_lease_names_the_live_holder(store) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert store.current_lease("sync:a/b", now) is None
    epoch = store.acquire_lease("sync:a/b", "host:1:x", now, 30)
    token = store.current_lease("sync:a/b", now + timedelta(seconds=10))
    assert (token.holder, token.epoch) == ("host:1:x", epoch)
    assert store.current_lease("sync:a/b", now + timedelta(seconds=31)) is None
    store.release_lease("sync:a/b", "host:1:x", epoch)
    assert store.current_lease("sync:a/b", now) is None


def test_inbox_put_many_is_one_transaction_with_dedup(store) -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert store.inbox_put("hubspot", "e1", b"one", received_at=now)
    flags = store.inbox_put_many([("hubspot", "e1", b"again"), ("hubspot", "e2", b"two"),
                                  ("cinode", "e1", b"other source"), ("hubspot", "e2", b"dup")],
                                 received_at=now)
    assert flags == [False, True, True, False]
    assert store.inbox_depth() == 3
    claimed = store.inbox_claim("w", 10, now, 30)
    assert sorted((e.source, e.event_id, e.payload) for e in claimed) == [
        ("cinode", "e1", b"other source"), ("hubspot", "e1", b"one"), ("hubspot", "e2", b"two")]


# -- reconcile passes: source deletions (reliability.md S12) ----------------------------


def test_a_pass_marks_what_it_listed_and_finds_the_rest_once_complete(
        store: StateStore) -> None:
    """Keys listed are marked with the pass in their batch; a pass cut short stays open
    and the next full read joins it (what it marked stays marked); once complete, the
    active links it did not see, that nothing wrote since it began, are listed."""
    commit(store, 0, links=[Link(k, f"t{k}", "h") for k in ("a", "b", "c", "d", "e")])
    assert store.last_sweep(INTEG, S) is None and store.unseen_links(INTEG, S, 10) == []
    sweep = store.begin_sweep(INTEG, S, 7, at(10))
    assert sweep == 7
    commit(store, 11, seen=["a", "b"], sweep=sweep)  # then the read is cut short
    assert store.last_sweep(INTEG, S) is None  # nothing judged from half a listing
    assert store.begin_sweep(INTEG, S, 8, at(20)) == 7  # the next full read carries on
    commit(store, 21, seen=["c"], sweep=7)
    commit(store, 22, links=[Link("f", "tf", "h")])  # written since the pass began
    commit(store, 23, links=[Link("d", "td", "", active=False)])  # deactivated
    store.end_sweep(INTEG, S, 7, at(30))
    last = store.last_sweep(INTEG, S)
    assert last is not None and (last.sweep, last.started, last.finished, last.unseen) == (
        7, at(10), at(30), 1)
    assert [link.source_key for link in store.unseen_links(INTEG, S, 10)] == ["e"]
    assert store.unseen_links(INTEG, "users", 10) == []
    # A new pass starts over, numbered by the run that begins it.
    assert store.begin_sweep(INTEG, S, 9, at(40)) == 9
    commit(store, 41, seen=["a", "b", "c", "e", "f"], sweep=9)
    store.end_sweep(INTEG, S, 9, at(50))
    last = store.last_sweep(INTEG, S)
    assert last is not None and last.sweep == 9 and last.unseen == 0
