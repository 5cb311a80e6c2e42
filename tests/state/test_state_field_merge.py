"""The field merge's part of the state store contract (reliability.md S28): bases merged
field by field, conflicts kept newest first, and a stale link's hash cleared, all in the
batch's one transaction; run against every store (see conftest `backend`)."""

from __future__ import annotations

from state_support import Backend, at

from engine.state.base import BatchCommit, Conflict, FieldBase, Link

INTEG = "kleer-hubspot"


def test_bases_conflicts_and_stale_links_commit_with_the_batch(backend: Backend) -> None:
    store = backend.store()
    store.commit_batch(BatchCommit(INTEG, "companies", at(1), links=[
        Link("40000002", "H9", "h1", source_hash="s1")]))
    store.commit_batch(BatchCommit(
        INTEG, "clients_inbound", at(2), links=[Link("40000002", "40000002", "k1")],
        bases=[FieldBase("kleer.clients", "40000002", {"name": "a", "phone": "b"}),
               FieldBase("hubspot.companies", None, {"name": "a"})],  # no id: not kept
        conflicts=[Conflict(INTEG, "clients_inbound", "40000002", "name", '"H"', '"K"',
                            "hubspot", "source_wins", at(2))],
        stale=[("companies", "H9")], run_id=7))
    # a later batch changes one field's base: the other stays
    store.commit_batch(BatchCommit(INTEG, "companies", at(3), bases=[
        FieldBase("kleer.clients", "40000002", {"phone": "c"})], conflicts=[
        Conflict(INTEG, "companies", "40000002", "phone", '"[phone]"', '"[phone]"', "kleer",
                 "source_wins", at(3))]))
    other = backend.store()
    assert other.get_bases(INTEG, "kleer.clients", ["40000002", "1"]) == {
        "40000002": {"name": "a", "phone": "c"}}
    assert other.get_bases(INTEG, "hubspot.companies", ["H9"]) == {}
    [newest, first] = other.list_conflicts(INTEG)
    assert (newest.sync, newest.field, newest.at) == ("companies", "phone", at(3))
    assert (first.source_value, first.target_value, first.winner, first.run_id) == (
        '"H"', '"K"', "hubspot", 7)
    assert other.list_conflicts("another") == []
    assert other.conflict_counts() == {(INTEG, "clients_inbound"): 1, (INTEG, "companies"): 1}
    [link] = other.get_links(INTEG, "companies", ["40000002"]).values()
    assert (link.hash, link.source_hash) == ("", None)  # looked at again next run
