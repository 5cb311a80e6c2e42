"""Swedish personal identity, organisation and VAT numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from engine.errors import RecordError
from engine.templates import RenderContext, compile_transform
from engine.templates.functions.identity import (
    luhn_ok,
    orgno,
    parse_personnummer,
    ssn,
    ssn_birth_date,
    ssn_gender,
    vat_number,
)

TODAY = date(2024, 6, 1)
CTX = RenderContext(now=datetime(2024, 6, 1, 12, tzinfo=UTC))


def with_check(nine: str) -> str:
    return nine + luhn.calc_check_digit(nine)


@st.composite
def personal_numbers(draw: st.DrawFn) -> tuple[str, date, str]:
    """A valid number in one of its written forms, with its birth date and gender."""
    born = draw(st.dates(min_value=TODAY - timedelta(days=199 * 365), max_value=TODAY))
    coordination = draw(st.booleans())
    serial = draw(st.integers(0, 999))
    day = born.day + (60 if coordination else 0)
    ten = with_check(f"{born:%y%m}{day:02d}{serial:03d}")
    age_years = TODAY.year - born.year
    form = draw(st.sampled_from(["12", "12-dash", "10", "10-sep"]))
    if form == "12":
        text = f"{born.year // 100}{ten}"
    elif form == "12-dash":
        text = f"{born.year // 100}{ten[:6]}-{ten[6:]}"
    elif form == "10":
        assume(age_years < 100)
        text = ten
    else:
        text = f"{ten[:6]}{'+' if age_years >= 100 else '-'}{ten[6:]}"
    return text, born, "male" if serial % 2 else "female"


@settings(max_examples=200, deadline=None)
@given(personal_numbers())
def test_valid_numbers_give_birth_date_and_gender(case: tuple[str, date, str]) -> None:
    text, born, gender = case
    assert ssn_birth_date(CTX, text) == born
    assert ssn_gender(CTX, text) == gender
    assert parse_personnummer(ssn(CTX, text), TODAY).birth_date == born


@pytest.mark.scenario("S22")
@settings(max_examples=200, deadline=None)
@given(personal_numbers(), st.integers(1, 9))
def test_a_wrong_check_digit_is_always_invalid(case: tuple[str, date, str], delta: int) -> None:
    text = case[0]
    broken = text[:-1] + str((int(text[-1]) + delta) % 10)
    with pytest.raises(RecordError) as info:
        ssn_gender(CTX, broken)
    assert info.value.code == "identity.invalid"
    assert broken not in str(info.value) and broken[-4:] not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(yy=st.integers(0, 99), month=st.integers(0, 99), day=st.integers(0, 99),
       serial=st.integers(0, 999))
def test_numbers_with_impossible_dates_are_invalid(yy: int, month: int, day: int,
                                                  serial: int) -> None:
    real_day = day - 60 if day > 60 else day
    try:
        born = date(2000 + yy if 2000 + yy <= TODAY.year else 1900 + yy, month, real_day)
        assume(born > TODAY)  # only impossible or future dates are interesting here
    except ValueError:
        pass
    text = with_check(f"{yy:02d}{month:02d}{day:02d}{serial:03d}")
    with pytest.raises(RecordError) as info:
        parse_personnummer(text, TODAY)
    assert info.value.code == "identity.invalid"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=14))
def test_luhn_agrees_with_stdnum(digits: str) -> None:
    assert luhn_ok(digits) == luhn.is_valid(digits)


@pytest.mark.scenario("S22")
@pytest.mark.parametrize(("text", "born", "gender"), [
    ("880320-0016", date(1988, 3, 20), "male"),
    ("19880320-0016", date(1988, 3, 20), "male"),
    ("8803200016", date(1988, 3, 20), "male"),
    ("890102-3286", date(1989, 1, 2), "female"),
    ("121212+1212", date(1912, 12, 12), "male"),  # over 100: '+'
    ("121212-1212", date(2012, 12, 12), "male"),  # the same digits with '-' are a child
    ("19121212-1212", date(1912, 12, 12), "male"),
    ("701063-2391", date(1970, 10, 3), "male"),  # coordination number: day 63 is the 3rd
])
def test_known_numbers(text: str, born: date, gender: str) -> None:
    assert (ssn_birth_date(CTX, text), ssn_gender(CTX, text)) == (born, gender)


def test_the_100_year_rule_follows_the_injected_today() -> None:
    assert parse_personnummer("240901-0010", date(2024, 12, 31)).birth_date == date(2024, 9, 1)
    with pytest.raises(RecordError):  # in June 2024 that birth date is in the future
        parse_personnummer("240901-0010", date(2024, 6, 1))
    assert parse_personnummer("240901+0010", date(2024, 6, 1)).birth_date == date(1924, 9, 1)


@pytest.mark.scenario("S22")
@pytest.mark.parametrize("bad", ["", None, "abc", "880320-001", "880320*0016", "880320-0018",
                                 "881320-0016", "19880230-0013", "8803200016X"])
def test_invalid_numbers_never_echo_the_value(bad: str | None) -> None:
    with pytest.raises(RecordError) as info:
        ssn_gender(CTX, bad)
    assert info.value.code == "identity.invalid"
    if bad:
        assert bad not in str(info.value)


def test_filters_in_templates_use_the_render_clock() -> None:
    later = RenderContext(now=datetime(2025, 1, 1, tzinfo=UTC))
    transform = compile_transform("{{ ssn | ssn_birth_date }}")
    assert transform.render({"ssn": "241231-0019"}, later) == date(2024, 12, 31)
    with pytest.raises(RecordError):
        transform.render({"ssn": "241231-0019"}, CTX)


@pytest.mark.parametrize(("text", "expected"), [
    ("5566778899", "556677-8899"), ("556677-8899", "556677-8899"),
    (" 556677 8899 ", "556677-8899"), ("165566778899", "556677-8899"),
])
def test_orgno(text: str, expected: str) -> None:
    assert orgno(text) == expected


@pytest.mark.parametrize("bad", ["556677-8898", "55667788", "", None, "abcdefghij"])
def test_invalid_orgno(bad: str | None) -> None:
    with pytest.raises(RecordError) as info:
        orgno(bad)
    assert info.value.code == "orgno.invalid"


@pytest.mark.parametrize(("text", "expected"), [
    ("SE556677889901", "SE556677889901"), ("se 5566778899 01", "SE556677889901"),
    ("556677-8899", "SE556677889901"),  # derived from the organisation number
    ("556677889901", "SE556677889901"), ("DK 13585628", "DK13585628"),
])
def test_vat_number(text: str, expected: str) -> None:
    assert vat_number(text) == expected


@pytest.mark.parametrize("bad", ["SE556677889801", "SE556677889902", "DK13585627", "", None])
def test_invalid_vat_number(bad: str | None) -> None:
    with pytest.raises(RecordError) as info:
        vat_number(bad)
    assert info.value.code == "vat.invalid"


_REFERENCE_FORM = re.compile(r"(\d{6}|\d{8})([-+]?)(\d{4})")


def reference_parse(value: Any, today: date) -> tuple[date, str, str, bool]:
    """The rule written out plainly (regex, stdnum's Luhn, `date`), to check the fast one."""
    text = str(value).replace(" ", "")
    match = _REFERENCE_FORM.fullmatch(text)
    if match is None or not text.isascii():
        raise ValueError("format")
    born, sep, tail = match.groups()
    short = born[-6:]
    if not luhn.is_valid(short + tail):
        raise ValueError("check digit")
    yy, month, day = int(short[:2]), int(short[2:4]), int(short[4:6])
    if len(born) == 8:
        year = int(born[:4])
    else:
        year = today.year - (today.year - yy) % 100 - (100 if sep == "+" else 0)
    coordination = day > 60
    try:
        birth = date(year, month, day - 60 if coordination else day)
    except ValueError:
        raise ValueError("birth date") from None
    if birth > today:
        raise ValueError("future")
    return birth, tail[:3], tail[3], coordination


def _outcome(parse: Any, text: str, today: date) -> tuple[str, Any]:
    try:
        number = parse(text, today)
    except (ValueError, RecordError) as exc:
        reason = str(exc)
        return "invalid", next(
            (kind for kind in ("format", "check digit", "future", "birth date")
             if kind in reason or (kind == "format" and "expected" in reason)), reason)
    if isinstance(number, tuple):
        return "valid", number
    return "valid", (number.birth_date, number.serial, number.check, number.coordination)


numberlike = st.one_of(
    st.text(alphabet="0123456789-+ ", min_size=8, max_size=14),
    st.builds(lambda d, s: with_check(f"{d:%y%m%d}{s:03d}"),
              st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
              st.integers(0, 999)),
    st.builds(lambda c, d, s: f"{c}{with_check(f'{d:%y%m%d}{s:03d}')}",
              st.sampled_from(["19", "20", "00"]), st.dates(), st.integers(0, 999)),
    st.builds(lambda yy, mm, dd, s: with_check(f"{yy:02d}{mm:02d}{dd:02d}{s:03d}"),
              st.integers(0, 99), st.integers(0, 13), st.sampled_from([0, 28, 29, 30, 31, 60, 61,
                                                                        89, 91, 92]),
              st.integers(0, 999)),
)


@settings(max_examples=300, deadline=None)
@given(numberlike, st.sampled_from(["", "-", "+"]),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_fast_validation_equals_the_plain_rule(text: str, sep: str, today: date) -> None:
    if sep and len(text) in (10, 12) and text.isdigit():
        text = f"{text[:-4]}{sep}{text[-4:]}"
    assert _outcome(parse_personnummer, text, today) == _outcome(reference_parse, text, today)


@pytest.mark.parametrize("digit", ["٣", "²", "８"])
def test_non_ascii_digits_are_a_format_error(digit: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_personnummer(f"88032{digit}-0016", TODAY)
    assert info.value.code == "identity.invalid"
