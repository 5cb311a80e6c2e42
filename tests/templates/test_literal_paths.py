"""setup_names_at: the setup values a template puts at a nested place of what it builds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.templates.literal_paths import setup_names_at

ROWS = ("{{ [{'description': inputs.get('description') or dealname, "
        "'product': {'id': (inputs.get('kleer_product_id') or setup.default_product_id) | int}}"
        "] }}")


@pytest.mark.parametrize(("text", "path", "expected"), [
    (ROWS, ("product", "id"), ["default_product_id"]),
    (ROWS, ("description",), []),  # the records decide it
    (ROWS, ("product",), ["default_product_id"]),  # the whole product object
    (ROWS, ("id",), []),  # `id` is there, but not at the top of a row
    ("{{ [{'product': {'id': setup['fallback']}}] }}", ("product", "id"), ["fallback"]),
    ("{{ {'product': {'id': record.product or setup.a or setup.b}} }}", ("product", "id"),
     ["a", "b"]),
    ("{{ [{'product': {'id': inputs.get('kleer_product_id') | int}}] }}", ("product", "id"),
     []),
    ("{{ [{'product': {'id': setup.a}}, {'product': {'id': setup.a}}] }}", ("product", "id"),
     ["a"]),  # each once
    ("{{ unclosed", ("product", "id"), []),  # validate reports the syntax
])
def test_setup_names_at(text: str, path: tuple[str, ...], expected: list[str]) -> None:
    assert setup_names_at(text, path) == expected


@given(st.text(max_size=200))
def test_any_text_is_answered_without_an_exception(text: str) -> None:
    assert isinstance(setup_names_at(text, ("product", "id")), list)
