"""linked / linked_source: ids across syncs, both directions, from tables and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError, RecordSkipped
from engine.spectest import StaticLinks
from engine.state import open_store
from engine.state.base import BatchCommit, Link, StateStore
from engine.sync.runtime import StoreLinks
from engine.templates import RenderContext, compile_transform
from engine.templates.functions.links import linked, linked_source

NOW = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)
TABLE = {"customers": {"40000001": 9001, "40000002": "9002"}, "users": {"10000001": 1400}}


def ctx_for(table: dict[str, dict[str, Any]]) -> RenderContext:
    return RenderContext(links=StaticLinks(table), now=NOW)


class TestLinkedSource:
    CTX = ctx_for(TABLE)

    @pytest.mark.parametrize(("target_id", "expected"), [(9001, "40000001"),
                                                          ("9001", "40000001"),
                                                          (9002, "40000002")])
    def test_found_as_text_either_way(self, target_id: Any, expected: str) -> None:
        assert linked_source(self.CTX, target_id, "customers") == expected

    def test_other_syncs_links_are_not_mixed_up(self) -> None:
        with pytest.raises(RecordError) as info:
            linked_source(self.CTX, 1400, "customers")
        assert info.value.code == "links.missing"
        assert linked_source(self.CTX, 1400, "users") == "10000001"

    @pytest.mark.parametrize("target_id", [9999, None, ""])
    def test_missing_is_a_record_error(self, target_id: Any) -> None:
        with pytest.raises(RecordError) as info:
            linked_source(self.CTX, target_id, "customers")
        assert info.value.code == "links.missing"
        assert "'customers'" in info.value.message

    @pytest.mark.parametrize("target_id", [9999, None, ""])
    def test_default_instead_of_failing(self, target_id: Any) -> None:
        assert linked_source(self.CTX, target_id, "customers", None) is None
        assert linked_source(self.CTX, target_id, "customers", default="x") == "x"

    def test_identity_numbers_are_not_echoed(self) -> None:
        with pytest.raises(RecordError) as info:
            linked_source(self.CTX, "19811218-9876", "customers")
        assert "9876" not in info.value.message


class TestLinkedDefault:
    CTX = ctx_for(TABLE)

    def test_default_when_missing_or_empty(self) -> None:
        assert linked(self.CTX, 1, "users", None) is None
        assert linked(self.CTX, None, "users", default=0) == 0
        assert linked(self.CTX, 10000001, "users", None) == "1400"

    def test_without_default_still_fails(self) -> None:
        with pytest.raises(RecordError) as info:
            linked(self.CTX, 1, "users")
        assert info.value.code == "links.missing"


class TestInTemplates:
    def test_filter_with_default_keyword(self) -> None:
        transform = compile_transform(
            "{{ customerId | linked_source('customers', default=none) }}")
        assert transform.render({"customerId": 9001}, ctx_for(TABLE)) == "40000001"
        assert transform.render({"customerId": 1}, ctx_for(TABLE)) is None

    def test_missing_link_fails_the_render(self) -> None:
        transform = compile_transform("{{ customerId | linked_source('customers') }}")
        with pytest.raises(RecordError) as info:
            transform.render({"customerId": 1}, ctx_for(TABLE))
        assert info.value.code == "links.missing"

    def test_round_trip_through_a_nested_object(self) -> None:
        transform = compile_transform(
            "{{ {'id': salesManagerIds[0] | linked_source('users')} }}")
        assert transform.render({"salesManagerIds": [1400]}, ctx_for(TABLE)) == {
            "id": "10000001"}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 10**9), max_size=20,
                       ).filter(lambda d: len(set(d.values())) == len(d)))
def test_linked_source_inverts_linked(table: dict[str, int]) -> None:
    ctx = ctx_for({"customers": table})
    for key in table:
        assert linked_source(ctx, linked(ctx, key, "customers"), "customers") == key


class TestStoreLinks:
    """The runtime resolver over a real SQLite store: what a run's templates see."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[StateStore]:
        store = open_store(str(tmp_path / "state.db"))
        store.commit_batch(BatchCommit("kleer-cinode", "customers", NOW, links=[
            Link("40000001", "9001", "h1"),
            Link("40000002", "9002", "h2", active=False),
        ]))
        yield store
        store.close()

    def test_both_directions(self, store: StateStore) -> None:
        ctx = RenderContext(links=StoreLinks(store, "kleer-cinode"), now=NOW)
        assert linked(ctx, 40000001, "customers") == "9001"
        assert linked_source(ctx, 9001, "customers") == "40000001"

    def test_an_inactive_link_is_no_link(self, store: StateStore) -> None:
        ctx = RenderContext(links=StoreLinks(store, "kleer-cinode"), now=NOW)
        with pytest.raises(RecordError):
            linked_source(ctx, 9002, "customers")
        assert linked_source(ctx, 9002, "customers", None) is None

    def test_skip_waits_until_the_other_sync_has_completed_a_run(
            self, store: StateStore) -> None:
        """missing='skip': before the customers sync ever completed a run the link may
        just not be made yet (fail, retried); after it, the record is skipped."""
        ctx = RenderContext(links=StoreLinks(store, "kleer-cinode"), now=NOW)
        with pytest.raises(RecordError) as info:
            linked_source(ctx, 9999, "customers", missing="skip")
        assert info.value.code == "links.missing"
        assert not isinstance(info.value, RecordSkipped)
        run = store.start_run("kleer-cinode", "customers", spec_hash="h", git_commit=None,
                              trigger="manual", started_at=NOW)
        store.finish_run(run, outcome="success", counts={}, error=None, finished_at=NOW)
        ctx = RenderContext(links=StoreLinks(store, "kleer-cinode"), now=NOW)
        for call in (lambda: linked_source(ctx, 9999, "customers", missing="skip"),
                     lambda: linked(ctx, 123, "customers", missing="skip")):
            with pytest.raises(RecordSkipped) as skipped:
                call()
            assert skipped.value.code == "links.unlinked"
            assert "and has completed a run, so it is not about to" in skipped.value.message
        assert linked_source(ctx, 9001, "customers", missing="skip") == "40000001"
        with pytest.raises(RecordError) as failing:  # the default still fails
            linked_source(ctx, 9999, "customers")
        assert failing.value.code == "links.missing"

    def test_another_integration_does_not_see_the_links(self, store: StateStore) -> None:
        ctx = RenderContext(links=StoreLinks(store, "kleer-hubspot"), now=NOW)
        assert linked_source(ctx, 9001, "customers", None) is None


def test_a_missing_link_names_the_key_it_looked_for() -> None:
    """The key is shown as plans and history show it: not 'a str value'."""
    with pytest.raises(RecordError) as info:
        linked(ctx_for(TABLE), "100005", "customers")
    assert info.value.message.startswith(
        "sync 'customers' has no target id for key '100005' yet;")
    with pytest.raises(RecordError) as info:
        linked(ctx_for(TABLE), "19811218-9876", "customers")
    assert "9876" not in info.value.message and "[personnummer]" in info.value.message
