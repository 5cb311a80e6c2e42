"""`Change.skip`, the hot-path constructor, builds exactly what the dataclass would."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sync.changes import Change, ChangeKind, Plan

ids = st.none() | st.text(max_size=12)


@settings(max_examples=200, deadline=None)
@given(key=st.text(max_size=20), target_id=ids, source_id=ids)
def test_skip_equals_the_dataclass_constructor(key: str, target_id: str | None,
                                               source_id: str | None) -> None:
    fast = Change.skip(key, target_id, source_id)
    slow = Change(ChangeKind.SKIP, key, target_id, source_id=source_id)
    assert fast == slow and repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert fast.to_dict() == slow.to_dict()


def test_skip_changes_are_frozen_and_do_not_share_payloads() -> None:
    first, second = Change.skip("a", "1", None), Change.skip("b", "2", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.kind = ChangeKind.UPDATE  # type: ignore[misc]
    assert first.payload == {} and first.payload is not second.payload
    plan = Plan("i", "s")
    plan.add(first)
    assert plan.counts["skip"] == 1 and plan.to_dict()["changes"] == []
