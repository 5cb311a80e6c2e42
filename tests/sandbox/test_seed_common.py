"""The Swedish data generator: determinism, validity of identity numbers, realistic shapes."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.se import orgnr, personnummer

from engine.sandbox.platform.seed import (
    REFERENCE_TIME,
    PersonalNumber,
    ascii_fold,
    company_for,
    fast_rng,
    luhn_check_digit,
    organisation_number,
    person_for,
    personal_number,
    phone_number,
    rng_for,
    valid_organisation_number,
    valid_personal_number,
    vat_number,
)

indices = st.integers(0, 2_000_000)
seeds = st.integers(0, 1000)


def test_luhn_matches_the_worked_example() -> None:
    assert luhn_check_digit("811218987") == 6  # apis.md: 811218-9876
    assert valid_personal_number("811218-9876")
    assert not valid_personal_number("811218-9875")
    assert valid_personal_number("701063-2391")  # coordination number example


def test_records_depend_only_on_seed_namespace_and_index() -> None:
    assert rng_for(1, "x", 5).random() == rng_for(1, "x", 5).random()
    assert rng_for(1, "x", 5).random() != rng_for(1, "x", 6).random()
    assert rng_for(1, "x", 5).random() != rng_for(2, "x", 5).random()
    assert rng_for(1, "x", 5).random() != rng_for(1, "y", 5).random()
    assert company_for(1, 42) == company_for(1, 42)
    assert company_for(1, 42) != company_for(1, 43)
    assert person_for(3, 7) == person_for(3, 7)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, index=indices)
def test_generated_personal_numbers_are_valid_in_every_form(seed: int, index: int) -> None:
    pnr = personal_number(fast_rng(seed, "pnr", index))
    short, long = pnr.short(), pnr.long()
    assert re.fullmatch(r"\d{6}[-+]\d{4}", short) and re.fullmatch(r"\d{12}", long)
    assert valid_personal_number(short) and valid_personal_number(long)
    assert valid_personal_number(pnr.long("-"))
    assert long[2:8] + long[8:] == short[:6] + short[7:]
    if not pnr.coordination:  # python-stdnum does not know coordination numbers
        assert personnummer.is_valid(pnr.long("-"))
    else:
        assert int(short[4:6]) > 60
    assert (short[6] == "+") == (REFERENCE_TIME.year - pnr.birth_date.year >= 100)


def test_coordination_and_centenarian_forms() -> None:
    old = PersonalNumber(date(1920, 3, 4), 123)
    assert old.short().startswith("200304+") and old.long().startswith("19200304")
    coord = PersonalNumber(date(1970, 10, 3), 239, coordination=True)
    assert coord.short() == "701063-2391"
    assert valid_personal_number(coord.long())
    assert "redacted" in repr(coord) and "2391" not in repr(coord)
    assert PersonalNumber(date(1990, 1, 1), 3).male
    assert not PersonalNumber(date(1990, 1, 1), 4).male


@settings(max_examples=200, deadline=None)
@given(seed=seeds, index=st.integers(0, 999_999))
def test_companies_have_valid_unique_orgno_and_vat(seed: int, index: int) -> None:
    company = company_for(seed, index)
    assert re.fullmatch(r"\d{6}-\d{4}", company.orgno)
    assert valid_organisation_number(company.orgno) and orgnr.is_valid(company.orgno)
    assert company.vat == vat_number(company.orgno)
    assert re.fullmatch(r"SE\d{10}01", company.vat)
    assert re.fullmatch(r"\d{3} \d{2}", company.address.zip)
    assert company.email.endswith("@" + company.domain) and company.email.isascii()
    assert company.created < REFERENCE_TIME


def test_organisation_numbers_are_unique_across_indices() -> None:
    assert len({company_for(1, i).orgno for i in range(3000)}) == 3000
    # with an index, digits 4-9 alone are unique, whatever the random prefix
    assert len({organisation_number(fast_rng(9, "o", i), i)[3:10] for i in range(3000)}) == 3000


def test_names_look_swedish() -> None:
    people = [person_for(1, i) for i in range(400)]
    names = " ".join(p.full_name for p in people)
    assert re.search("[åäöÅÄÖ]", names)
    assert any(p.surname.split(" ")[0] in ("von", "af", "de", "van") for p in people)
    assert any("-" in p.surname for p in people)
    assert any(len(p.given_names) >= 2 for p in people)
    assert all(p.email.isascii() and "@" in p.email for p in people)
    assert all(p.created < REFERENCE_TIME for p in people)
    assert "Person(index=0" in repr(people[0])
    assert people[0].personal_number.long() not in repr(people[0])


@pytest.mark.parametrize(
    ("mobile", "area", "pattern"),
    [
        (True, "08", r"07\d-\d{3} \d{2} \d{2}"),
        (False, "08", r"08-\d{3} \d{3} \d{2}"),
        (False, "031", r"031-\d{3} \d{2} \d{2}"),
        (False, "0920", r"0920-\d{2} \d{2} \d{2}"),
    ],
)
def test_phone_numbers_have_ten_digits(mobile: bool, area: str, pattern: str) -> None:
    for i in range(50):
        number = phone_number(fast_rng(1, "phone", i), mobile=mobile, area_code=area)
        assert re.fullmatch(pattern, number)
        assert len(re.sub(r"\D", "", number)) == 10


def test_ascii_fold() -> None:
    assert ascii_fold("Åsa Öberg-Lindström") == "Asa Oberg-Lindstrom"
    assert ascii_fold("Schéele Müller") == "Scheele Muller"
    assert ascii_fold("Ñandú") == "Nandu"  # the slow path for letters outside the table


def test_fast_rng_ranges() -> None:
    rng = fast_rng(1, "r", 1)
    draws = [rng.randint(3, 5) for _ in range(500)]
    assert set(draws) == {3, 4, 5}
    assert all(0 <= rng.random() < 1 for _ in range(200))
    with pytest.raises(ValueError):
        rng.randrange(0)
