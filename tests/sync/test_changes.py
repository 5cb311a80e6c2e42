"""The hot-path constructors build exactly what the plain definitions would: `Change.skip`
the dataclass's change, `source_hasher` the hash links already carry."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sync.changes import Change, ChangeKind, Plan, source_hash, source_hasher

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


values = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=20) \
    | st.dates() | st.datetimes(timezones=st.just(UTC))
records = st.dictionaries(st.text(max_size=10), values, max_size=8)


@settings(max_examples=200, deadline=None)
@given(record=records, salt=st.binary(min_size=1, max_size=80))
def test_source_hasher_gives_the_hash_links_already_carry(record: dict[str, Any],
                                                          salt: bytes) -> None:
    """Links written before keep matching: blake2b-128 of the salt, then the record as
    orjson writes it."""
    plain = hashlib.blake2b(salt + orjson.dumps(record), digest_size=16).hexdigest()
    hasher = source_hasher(salt)
    assert hasher(record) == source_hash(record, salt) == plain
    assert hasher(record) == plain  # the salted state is copied, never used up


def test_source_hashes_of_records_with_other_keys_are_stable() -> None:
    record: dict[Any, Any] = {1: "a", "day": date(2024, 1, 2), "at": datetime(2024, 1, 2,
                                                                            tzinfo=UTC)}
    assert source_hasher(b"s")(record) == source_hash(record, b"s")
    assert source_hasher(b"s")(record) != source_hasher(b"t")(record)
