"""Full names split into first and last name, as Cinode needs them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.templates.functions.names import PARTICLES, first_name, last_name, split_name


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Anna Svensson", "Anna", "Svensson"),
        ("Anna Maria Svensson", "Anna Maria", "Svensson"),
        ("Karl af Trolle", "Karl", "af Trolle"),
        ("Ludwig van der Rohe", "Ludwig", "van der Rohe"),
        ("Ursula von der Leyen", "Ursula", "von der Leyen"),
        ("Maria de la Cruz", "Maria", "de la Cruz"),
        ("Anna De Luca", "Anna", "De Luca"),
        ("Leonardo da Vinci", "Leonardo", "da Vinci"),
        ("Eva Lind-Berg", "Eva", "Lind-Berg"),
        ("Anna-Karin Öberg", "Anna-Karin", "Öberg"),
        ("Åsa Ärlig Östlund", "Åsa Ärlig", "Östlund"),
        ("Svensson, Anna Maria", "Anna Maria", "Svensson"),
        ("af Trolle, Karl", "Karl", "af Trolle"),
        ("  Per \t  Åkesson  ", "Per", "Åkesson"),
        ("Per\u00a0Åkesson", "Per", "Åkesson"),  # no-break space
        ("Van Morrison", "Van", "Morrison"),  # a particle never takes the only first name
        ("Jan van", "Jan", "van"),
        ("A\u030asa Lund", "Åsa", "Lund"),  # decomposed å is normalised to one character
    ],
)
def test_split(full: str, first: str, last: str) -> None:
    assert split_name(full) == (first, last)
    assert first_name(full) == first
    assert last_name(full) == last


@pytest.mark.parametrize(("full", "code"), [
    ("", "name.missing"), ("   ", "name.missing"), (None, "name.missing"),
    ("Cher", "name.missing-last"), (", Anna", "name.missing-last"), ("Svensson,", "name.missing"),
])
def test_incomplete_names_are_record_errors(full: str | None, code: str) -> None:
    with pytest.raises(RecordError) as info:
        split_name(full)
    assert info.value.code == code


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäöéABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖ-",
               min_size=1, max_size=10).filter(lambda w: w.casefold() not in PARTICLES)


@settings(max_examples=200, deadline=None)
@given(firsts=st.lists(WORD, min_size=1, max_size=3),
       particles=st.lists(st.sampled_from(sorted(PARTICLES)), max_size=2), last=WORD)
def test_split_round_trips(firsts: list[str], particles: list[str], last: str) -> None:
    surname = " ".join([*particles, last])
    first, got_last = split_name(" ".join(firsts) + " " + surname)
    assert (first, got_last) == (" ".join(firsts), surname)
    assert split_name(f"{surname}, {' '.join(firsts)}") == (first, got_last)


def _result(fn: Any, value: str) -> Any:
    try:
        return fn(value)
    except RecordError as exc:
        return exc.code


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab ,\u00a0\tvnAFdeVN'", max_size=16))
def test_first_and_last_name_are_the_parts_of_split_name(value: str) -> None:
    both = _result(split_name, value)  # an error code, or (first, last)
    assert _result(first_name, value) == (both if isinstance(both, str) else both[0])
    assert _result(last_name, value) == (both if isinstance(both, str) else both[1])
