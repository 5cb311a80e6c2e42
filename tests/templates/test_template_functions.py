"""lookup, select_tags, linked, dates, money and the strict number filters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.templates import RenderContext
from engine.templates.functions.dates import date as date_filter
from engine.templates.functions.dates import datetime as datetime_filter
from engine.templates.functions.links import linked
from engine.templates.functions.lookup import LIMIT, lookup, select_tags
from engine.templates.functions.money import cents, to_cents
from engine.templates.functions.numbers import to_float, to_int

CTX = RenderContext()  # its derived tables serve every test below, as in a run


class TestLookup:
    TABLE: ClassVar[dict[Any, str]] = {10: "BV=10", "30": "BV=30"}

    @pytest.mark.parametrize(("value", "expected"), [(10, "BV=10"), ("10", "BV=10"),
                                                     (30, "BV=30"), ("30", "BV=30")])
    def test_keys_compare_as_text(self, value: Any, expected: str) -> None:
        assert lookup(CTX, value, self.TABLE) == expected

    def test_default(self) -> None:
        assert lookup(CTX, 45, self.TABLE, "BV=?") == "BV=?"
        assert lookup(CTX, 45, self.TABLE, None) is None

    def test_missing_without_default(self) -> None:
        with pytest.raises(RecordError) as info:
            lookup(CTX, 45, self.TABLE)
        assert info.value.code == "lookup.missing"
        assert "45" in info.value.message and "10, 30" in info.value.message

    def test_personal_numbers_are_not_echoed(self) -> None:
        with pytest.raises(RecordError) as info:
            lookup(CTX, "19880320-0016", self.TABLE)
        assert "0016" not in info.value.message

    def test_table_must_be_a_mapping(self) -> None:
        with pytest.raises(RecordError) as info:
            lookup(CTX, 1, ["a"])  # type: ignore[arg-type]
        assert info.value.code == "lookup.table"

    keys = st.one_of(st.integers(-20, 20), st.sampled_from(["1", "01", "+1", "-0", "x", " 2"]),
                     st.floats(-3, 3).map(lambda f: round(f, 1)), st.booleans())

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(keys, st.integers(), max_size=6), keys)
    def test_equals_a_lookup_by_text(self, table: dict[Any, int], value: Any) -> None:
        by_text = {str(k): v for k, v in table.items()}
        assert lookup(CTX, value, table, "none") == by_text.get(str(value), "none")
        assert lookup(CTX, value, dict(table), "none") == by_text.get(str(value), "none")

    def test_a_changed_table_is_not_served_from_the_cache(self) -> None:
        assert lookup(CTX, 1, {1: "a"}) == "a"
        assert lookup(CTX, 1, {1: "b"}) == "b"

    def test_derived_tables_belong_to_their_context(self) -> None:
        table = {1: "a"}
        first, second = RenderContext(), RenderContext()
        assert lookup(first, 1, table) == "a"
        assert list(first.lookup_tables) == [id(table)]
        assert second.lookup_tables == {}

    def test_derived_tables_stay_bounded(self) -> None:
        ctx = RenderContext()
        for n in range(3 * LIMIT):
            assert select_tags(ctx, ["a"], ["a", str(n)]) == ["a"]  # a new list per call
        assert len(ctx.tag_sets) <= LIMIT + 1


class TestSelectTags:
    def test_keeps_configured_names_in_order_once(self) -> None:
        categories = ["Silver", {"name": "Gold"}, "Partner", "Gold", {"id": 3}, None]
        assert select_tags(CTX, categories, ["Partner", "Gold"]) == ["Gold", "Partner"]

    def test_empty_and_single(self) -> None:
        assert select_tags(CTX, None, ["a"]) == []
        assert select_tags(CTX, "a", ["a"]) == ["a"]
        assert select_tags(CTX, ["a"], []) == []

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from("abcdef")), st.sets(st.sampled_from("abcdef")))
    def test_properties(self, categories: list[str], allowed: set[str]) -> None:
        out = select_tags(CTX, categories, allowed)
        assert set(out) == set(categories) & allowed
        assert len(out) == len(set(out))
        assert out == sorted(out, key=categories.index)


class TestLinked:
    class Links:
        def linked(self, sync: str, key: Any) -> str | None:
            return {("customers", "1000"): "c-1"}.get((sync, str(key)))

    CTX = RenderContext(links=Links())

    def test_found(self) -> None:
        assert linked(self.CTX, 1000, "customers") == "c-1"

    @pytest.mark.parametrize("key", ["2000", None, ""])
    def test_missing_is_retried_later(self, key: Any) -> None:
        with pytest.raises(RecordError) as info:
            linked(self.CTX, key, "customers")
        assert info.value.code == "links.missing"
        assert "'customers'" in info.value.message


class TestDates:
    @pytest.mark.parametrize(("value", "fmt", "expected"), [
        ("2024-05-01", None, "2024-05-01"),
        ("2024-05-01", "%d/%m/%Y", "01/05/2024"),
        ("2024-05-01T23:30:00+02:00", None, "2024-05-01"),
        ("2024-05-01T08:30:00Z", "%Y", "2024"),
        (date(2024, 5, 1), "%d %b", "01 May"),
        (datetime(2024, 5, 1, 8), None, "2024-05-01"),
    ])
    def test_date(self, value: Any, fmt: str | None, expected: str) -> None:
        assert date_filter(value, fmt) == expected

    def test_datetime(self) -> None:
        assert datetime_filter("2024-05-01T08:30:00Z") == "2024-05-01T08:30:00+00:00"
        assert datetime_filter(date(2024, 5, 1)) == "2024-05-01T00:00:00"
        assert datetime_filter(datetime(2024, 5, 1, 8, tzinfo=UTC), "%H:%M") == "08:00"

    @pytest.mark.parametrize("bad", ["yesterday", "2024-13-01", 20240501, None])
    def test_invalid(self, bad: Any) -> None:
        with pytest.raises(RecordError) as info:
            date_filter(bad)
        assert info.value.code == "date.invalid"


class TestMoney:
    @pytest.mark.parametrize(("value", "expected"), [
        (1999, Decimal("19.99")), (-5, Decimal("-0.05")), ("100", Decimal("1.00")),
        (0, Decimal("0.00")),
    ])
    def test_cents(self, value: Any, expected: Decimal) -> None:
        assert cents(value) == expected

    @pytest.mark.parametrize(("value", "expected"), [
        ("45 000,50", 4500050), ("45000.50", 4500050), (19.99, 1999), (Decimal("0.005"), 1),
        (12, 1200), ("1\u00a0000", 100000),
    ])
    def test_to_cents(self, value: Any, expected: int) -> None:
        assert to_cents(value) == expected

    @settings(max_examples=200, deadline=None)
    @given(st.integers(-10**12, 10**12))
    def test_round_trip(self, amount: int) -> None:
        assert to_cents(cents(amount)) == amount

    @pytest.mark.parametrize("bad", ["abc", None, True, "nan", "inf", "1,2,3"])
    def test_invalid(self, bad: Any) -> None:
        with pytest.raises(RecordError) as info:
            to_cents(bad)
        assert info.value.code == "number.invalid"


class TestNumbers:
    @pytest.mark.parametrize(("value", "expected"), [
        ("42", 42), (" 42 ", 42), ("4.7", 4), (4.7, 4), (Decimal("3"), 3), (True, 1), (7, 7),
    ])
    def test_int(self, value: Any, expected: int) -> None:
        assert to_int(value) == expected

    def test_float(self) -> None:
        assert to_float("4,5") == 4.5
        assert to_float(3) == 3.0

    @pytest.mark.parametrize("bad", ["abc", "", None, float("nan"), float("inf")])
    def test_invalid_raises_unlike_jinjas_int(self, bad: Any) -> None:
        with pytest.raises(RecordError) as info:
            to_int(bad)
        assert info.value.code == "number.invalid"
        assert to_int(bad, -1) == -1
