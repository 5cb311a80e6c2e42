"""Swedish personal identity numbers (personnummer), organisation and VAT numbers.

python-stdnum checks the Luhn digit and formats, but its `se.personnummer` reads the
clock itself (`date.today()`), rejects coordination numbers (samordningsnummer, day of
birth + 60) and has no notion of "today" for the 100-year rule. So stdnum's Luhn check is
used as is and the rest is derived here, with `today` injected:

- 12 digits (`YYYYMMDD-NNNC`, separator `-`, `+` or none): the century is written out.
- 10 digits (`YYMMDD-NNNC`): `-` (or no separator) means younger than 100 in the
  current calendar year, `+` means the calendar year they turn 100 or later
  (Folkbokföringslagen 1991:481 §18). The century is chosen accordingly.
- A day of 61-91 is a coordination number; the birth day is day - 60.
- The check digit is Luhn over the ten digits `YYMMDDNNN` + `C`; the ninth digit is odd
  for men, even for women. A birth date after today is invalid.

`ssn_gender` runs for every record of a people sync, so validation is plain arithmetic on
the digits: Luhn from a table of digit pairs, the calendar from a table of month lengths,
no regular expression and no date object unless one is returned. Property tests keep it
equal to `stdnum.luhn.is_valid` and to a straightforward regex-and-`datetime` version.
Nothing is cached: personal numbers are not kept anywhere between calls.

Every failure raises RecordError("identity.invalid") whose message never contains the
number: record errors end up in logs and run history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.se import orgnr as se_orgnr
from stdnum.se import vat as se_vat

from engine.errors import RecordError
from engine.templates.functions.base import contextual

if TYPE_CHECKING:
    from engine.templates.context import RenderContext

__all__ = [
    "PersonalNumber",
    "luhn_ok",
    "orgno",
    "parse_personnummer",
    "ssn",
    "ssn_birth_date",
    "ssn_gender",
    "vat_number",
]

_PLAIN = {str(d): d for d in range(10)}
_DOUBLED = {str(d): (2 * d) % 9 if d != 9 else 9 for d in range(10)}
# Luhn contributions of digit groups, read off the number from the right (the last digit
# counts as is, the one before it doubled, ...): two-digit and four-digit groups.
_PAIRS = [_DOUBLED[str(n // 10)] + n % 10 for n in range(100)]
_QUADS = [_PAIRS[n // 100] + _PAIRS[n % 100] for n in range(10_000)]
# days in months 0-99 as written (0 for the months that do not exist), February as 28
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31) + (0,) * 87
_FORMAT = "expected 10 or 12 digits, as YYMMDD-NNNC or YYYYMMDD-NNNC"


def luhn_ok(digits: str) -> bool:
    """Luhn check of a string of ASCII digits (same answer as `stdnum.luhn.is_valid`)."""
    odd = len(digits) % 2  # digits at this parity, counted from the left, are doubled
    total = sum(map(_PLAIN.__getitem__, digits[1 - odd :: 2]))
    total += sum(map(_DOUBLED.__getitem__, digits[odd::2]))
    return total % 10 == 0


@dataclass(frozen=True, repr=False, slots=True)
class PersonalNumber:
    birth_date: date
    serial: str  # three digits; the last one gives the gender
    check: str
    coordination: bool

    @property
    def gender(self) -> str:
        return "male" if int(self.serial[2]) % 2 else "female"

    @property
    def canonical(self) -> str:
        """The 12-digit form `YYYYMMDD-NNNC` (coordination numbers keep day + 60)."""
        day = self.birth_date.day + (60 if self.coordination else 0)
        return f"{self.birth_date:%Y%m}{day:02d}-{self.serial}{self.check}"

    def __repr__(self) -> str:  # never show the number itself
        return "PersonalNumber(<redacted>)"


def _invalid(reason: str) -> RecordError:
    message = f"not a valid Swedish personal identity number: {reason}"
    return RecordError("identity.invalid", message)


def _parts(value: Any, today: date) -> tuple[int, int, int, int, bool]:
    """(year, month, real day, the ten digits as a number, coordination), else RecordError.

    Plain arithmetic: this runs for every record of a people sync, so no regular
    expression and no date object on the way to a valid answer.
    """
    if value is None:
        raise _invalid("the value is empty")
    text = value if type(value) is str else str(value)
    if " " in text:
        text = text.replace(" ", "")
    size = len(text)
    plus = False
    if size == 10:
        ten = text
    elif size == 11:
        plus = text[6] == "+"
        if not plus and text[6] != "-":
            raise _invalid(_FORMAT)
        ten = text[:6] + text[7:]
    elif size == 12:
        ten = text[2:]
    elif size == 13:
        if text[8] != "+" and text[8] != "-":
            raise _invalid(_FORMAT)
        ten = text[2:8] + text[9:]
    else:
        raise _invalid(_FORMAT)
    if not (ten.isdigit() and text.isascii()) or (size > 11 and not text[:2].isdigit()):
        raise _invalid(_FORMAT)
    number = int(ten)  # YYMMDDNNNC
    if (_QUADS[number % 10_000] + _QUADS[number // 10_000 % 10_000]
            + _PAIRS[number // 100_000_000]) % 10:
        raise _invalid("the check digit is wrong")
    month, day = number // 1_000_000 % 100, number // 10_000 % 100
    coordination = day > 60
    if coordination:
        day -= 60
    if day > _MONTH_DAYS[month] and not (month == 2 and day == 29):
        raise _invalid("the birth date does not exist")
    if size > 11:
        year = int(text[:4])
    else:  # the latest year <= today's ending in YY; a `+` adds a hundred years of age
        this_year = today.year
        year = this_year - (this_year - number // 100_000_000) % 100 - (100 if plus else 0)
    if day == 0 or year == 0 or (
        month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    ):
        raise _invalid("the birth date does not exist")
    if year >= today.year and (year, month, day) > (today.year, today.month, today.day):
        raise _invalid("the birth date is in the future")
    return year, month, day, number, coordination


def parse_personnummer(value: Any, today: date) -> PersonalNumber:
    """Validate a personnummer or samordningsnummer relative to `today`."""
    year, month, day, number, coordination = _parts(value, today)
    tail = f"{number % 10_000:04d}"
    return PersonalNumber(date(year, month, day), tail[:3], tail[3], coordination)


@contextual
def ssn_gender(ctx: RenderContext, value: Any) -> str:
    """"male" or "female" from a personnummer (the ninth digit's parity)."""
    return "male" if _parts(value, ctx.today)[3] // 10 % 2 else "female"


@contextual
def ssn_birth_date(ctx: RenderContext, value: Any) -> date:
    """Birth date from a personnummer; coordination numbers give the real day."""
    year, month, day, _, _ = _parts(value, ctx.today)
    return date(year, month, day)


@contextual
def ssn(ctx: RenderContext, value: Any) -> str:
    """The canonical 12-digit form `YYYYMMDD-NNNC` of a valid personnummer."""
    return parse_personnummer(value, ctx.today).canonical


def orgno(value: Any) -> str:
    """A Swedish organisation number normalised to `NNNNNN-NNNN`.

    A 12-digit form with the "16" century prefix used by some registers is accepted.
    """
    text = "" if value is None else re.sub(r"[\s.-]", "", str(value))
    if len(text) == 12 and text.startswith("16"):
        text = text[2:]
    try:
        return se_orgnr.format(se_orgnr.validate(text))
    except ValidationError:
        raise RecordError(
            "orgno.invalid", "not a valid Swedish organisation number (NNNNNN-NNNN)"
        ) from None


def vat_number(value: Any) -> str:
    """A VAT number normalised: Swedish ones to `SE` + 12 digits, others in compact form.

    A bare Swedish organisation number (10 digits) is turned into its VAT number by
    appending "01", which is how Skatteverket derives it.
    """
    text = "" if value is None else re.sub(r"[\s.-]", "", str(value)).upper()
    digits = text[2:] if text.startswith("SE") else text
    try:
        if digits.isdigit() and len(digits) == 10:
            return "SE" + se_vat.validate(se_orgnr.validate(digits) + "01")
        if digits.isdigit():
            return "SE" + se_vat.validate(digits)
        return str(eu_vat.validate(text))
    except ValidationError:
        raise RecordError("vat.invalid", "not a valid VAT number") from None
