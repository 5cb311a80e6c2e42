"""rows_total: the value of Kleer invoice/agreement rows in cents, through templates too."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.templates import RenderContext, compile_transform
from engine.templates.functions.rows import rows_total

CTX = RenderContext(now=datetime(2025, 4, 1, 12, tzinfo=UTC))


@pytest.mark.parametrize(("rows", "expected"), [
    pytest.param([{"quantity": 2, "price": 150_000}, {"quantity": 1.5, "price": 99_900}],
                 300_000 + 149_850, id="quantity-times-price"),
    pytest.param([{"quantity": 0.333, "price": 100}], 33, id="rounded-per-row"),
    pytest.param([{"quantity": 0.5, "price": 1}], 1, id="half-rounds-up"),
    pytest.param([{"price": 4_900}], 4_900, id="no-quantity-counts-once"),
    pytest.param([], 0, id="empty"),
    pytest.param(None, 0, id="none"),
    pytest.param([{"quantity": "3", "price": "1000"}], 3_000, id="numbers-as-text"),
])
def test_totals(rows: object, expected: int) -> None:
    assert rows_total(rows) == expected


def test_other_field_names() -> None:
    rows = [{"qty": 4, "unit_price": 250}]
    assert rows_total(rows, quantity="qty", price="unit_price") == 1_000


@pytest.mark.parametrize("rows", [
    pytest.param([{"quantity": 1}], id="row-without-price"),
    pytest.param(["not a row"], id="not-a-mapping"),
    pytest.param("rows", id="a-string"),
    pytest.param({"price": 1}, id="a-single-mapping"),
    pytest.param([{"quantity": "many", "price": 1}], id="bad-number"),
])
def test_bad_rows_fail_the_record(rows: object) -> None:
    with pytest.raises(RecordError):
        rows_total(rows)  # type: ignore[arg-type]


def test_in_a_template_with_cents() -> None:
    transform = compile_transform("{{ record['recurring-rows'] | rows_total | cents }}")
    record = {"recurring-rows": [{"quantity": 2.0, "price": 1_250_000},
                                 {"quantity": 1.0, "price": 49_900}]}
    assert transform.render(record, CTX) == Decimal("25499.00")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10**9)), max_size=20))
def test_whole_quantities_sum_exactly(pairs: list[tuple[int, int]]) -> None:
    rows = [{"quantity": q, "price": p} for q, p in pairs]
    assert rows_total(rows) == sum(q * p for q, p in pairs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.decimals("0", "1000", places=3), st.integers(0, 10**7)),
                max_size=10))
def test_each_row_is_rounded_half_up(pairs: list[tuple[Decimal, int]]) -> None:
    rows = [{"quantity": q, "price": p} for q, p in pairs]
    expected = sum(int((q * p).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for q, p in pairs)
    assert rows_total(rows) == expected
