"""Property: after any sequence of batches (some of them failing half-way), the store
holds exactly what a simple model of the *committed* batches holds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_support import at, unique

from engine.errors import StateError
from engine.state import BatchCommit, FailedRecord, Link, StateStore

KEYS = [f"k{n}" for n in range(6)]
keys = st.sampled_from(KEYS)
links = st.builds(
    Link,
    keys,
    st.sampled_from(["t1", "t2", "t3"]),
    st.text("ab", max_size=3),
    st.sampled_from(["created", "adopted", "action", "linked"]),
    st.booleans(),
)
batches = st.fixed_dictionaries(
    {
        "links": st.lists(links, max_size=5),
        "failures": st.lists(
            st.builds(FailedRecord, keys, st.sampled_from(["a.b", "c.d"]), st.text("xyz")),
            max_size=3,
        ),
        "resolved": st.lists(keys, max_size=2),
        "cursor": st.none() | st.text("0123456789", min_size=1, max_size=4),
        "poison_at": st.none() | st.integers(min_value=0, max_value=5),
    }
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=st.lists(batches, max_size=6))
def test_store_matches_a_model_of_committed_batches(store: StateStore, plan: list[dict]) -> None:
    sync = unique()  # the store outlives examples; each example gets its own sync
    model_links: dict[str, Link] = {}
    model_failures: dict[str, int] = {}
    model_cursor: str | None = None

    for n, step in enumerate(plan):
        batch_links = list(step["links"])
        if step["poison_at"] is not None:
            poison = Link("poison", "t", "h", "bogus")  # type: ignore[arg-type]
            batch_links.insert(min(step["poison_at"], len(batch_links)), poison)
        batch = BatchCommit(
            "model", sync, at(n), links=batch_links, failures=step["failures"],
            resolved=step["resolved"], cursor=step["cursor"],
        )
        if step["poison_at"] is not None:
            with pytest.raises(StateError):
                store.commit_batch(batch)
            continue
        store.commit_batch(batch)
        for link in batch_links:
            model_links[link.source_key] = replace(link, updated_at=at(n))
        for key in [*(link.source_key for link in batch_links), *step["resolved"]]:
            model_failures.pop(key, None)
        for failure in step["failures"]:
            model_failures[failure.source_key] = model_failures.get(failure.source_key, 0) + 1
        if step["cursor"] is not None:
            model_cursor = step["cursor"]

    assert store.get_links("model", sync, [*KEYS, "poison"]) == model_links
    assert store.count_links("model", sync) == len(model_links)
    failures = store.list_failures("model", sync, limit=100)
    assert {f.source_key: f.attempts for f in failures} == model_failures
    assert store.failing_keys("model", sync) == sorted(model_failures)
    assert store.get_cursor("model", sync) == model_cursor
