"""Record keys from ID components and a separator (the Maconomy seed's examples)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.templates import KeySpec, build_key, key_function


def test_seed_examples() -> None:
    assert build_key(["a", "b"], "-", {"a": 1234, "b": 5678}) == "1234-5678"
    assert build_key(["region", "year"], "_", {"region": "north", "year": 2024}) == "north_2024"
    assert build_key(["customernumber"], "-", {"customernumber": "C-17"}) == "C-17"


@pytest.mark.parametrize("record", [{"a": 1}, {"a": 1, "b": None}, {"a": 1, "b": "  "}])
def test_missing_component(record: dict[str, Any]) -> None:
    with pytest.raises(RecordError) as info:
        build_key(["a", "b"], "-", record)
    assert (info.value.code, info.value.field) == ("key.missing-component", "b")
    assert "'b'" in info.value.message


def test_component_containing_the_separator_is_ambiguous() -> None:
    # ("12-3", "4") and ("12", "3-4") would both be "12-3-4"
    with pytest.raises(RecordError) as info:
        build_key(["a", "b"], "-", {"a": "12-3", "b": "4"})
    assert (info.value.code, info.value.field) == ("key.ambiguous", "a")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abc123-_", min_size=1, max_size=5), min_size=2, max_size=3),
       st.lists(st.text(alphabet="abc123-_", min_size=1, max_size=5), min_size=2, max_size=3),
       st.sampled_from(["-", "_"]))
def test_different_records_never_share_a_key(first: list[str], second: list[str],
                                             sep: str) -> None:
    names = [f"c{i}" for i in range(max(len(first), len(second)))]

    def key(values: list[str]) -> str | None:
        record = dict(zip(names, values, strict=False))
        try:
            return build_key(names[: len(values)], sep, record)
        except RecordError:
            return None

    a, b = key(first), key(second)
    if a is not None and b is not None and first != second:
        assert a != b


def test_key_spec() -> None:
    spec = KeySpec(("region", "jobnumber"), "_", "external")
    assert spec.build({"region": "north", "jobnumber": 2024}) == "north_2024"
    with pytest.raises(ValueError):
        KeySpec((), "-")
    with pytest.raises(ValueError):
        KeySpec(("a", "b"), "")
    with pytest.raises(ValueError):
        KeySpec(("a",), "-", "sideways")  # type: ignore[arg-type]


key_values = st.none() | st.integers() | st.floats(allow_nan=False) | st.booleans() \
    | st.text(" -_ab1", max_size=6)


@settings(max_examples=300, deadline=None)
@given(components=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3,
                           unique=True),
       separator=st.sampled_from(["-", "_"]),
       record=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), key_values))
def test_key_function_builds_what_build_key_builds(components: list[str], separator: str,
                                                   record: dict[str, Any]) -> None:
    """The per-sync key function (one component without a join) gives the same key, or
    the same located error, as `build_key`."""
    try:
        expected: str | tuple[str, str | None] = build_key(components, separator, record)
    except RecordError as exc:
        expected = (exc.code, exc.field)
    try:
        got: str | tuple[str, str | None] = key_function(components, separator)(record)
    except RecordError as exc:
        got = (exc.code, exc.field)
    assert got == expected
