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
  for men, even for women. A birth date after today is invalid. (The Luhn check is a
  table-driven copy of `stdnum.luhn.is_valid`, four times faster on this hot path; a
  property test keeps the two equal.)

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

_PNR = re.compile(r"(\d{6}|\d{8})([-+]?)(\d{4})")
_PLAIN = {str(d): d for d in range(10)}
_DOUBLED = {str(d): (2 * d) % 9 if d != 9 else 9 for d in range(10)}


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


def parse_personnummer(value: Any, today: date) -> PersonalNumber:
    """Validate a personnummer or samordningsnummer relative to `today`."""
    if value is None:
        raise _invalid("the value is empty")
    text = str(value).replace(" ", "")
    match = _PNR.fullmatch(text)
    if match is None:
        raise _invalid("expected 10 or 12 digits, as YYMMDD-NNNC or YYYYMMDD-NNNC")
    born, sep, tail = match.groups()
    short = born[-6:]
    if not luhn_ok(short + tail):
        raise _invalid("the check digit is wrong")
    yy, month, day = int(short[:2]), int(short[2:4]), int(short[4:6])
    if len(born) == 8:
        year = int(born[:4])
    else:
        year = today.year - (today.year - yy) % 100  # latest year <= today ending in yy
        if sep == "+":
            year -= 100
    coordination = day > 60
    if coordination:
        day -= 60
    try:
        birth = date(year, month, day)
    except ValueError:
        raise _invalid("the birth date does not exist") from None
    if birth > today:
        raise _invalid("the birth date is in the future")
    return PersonalNumber(birth, tail[:3], tail[3], coordination)


@contextual
def ssn_gender(ctx: RenderContext, value: Any) -> str:
    """"male" or "female" from a personnummer (the ninth digit's parity)."""
    return parse_personnummer(value, ctx.today).gender


@contextual
def ssn_birth_date(ctx: RenderContext, value: Any) -> date:
    """Birth date from a personnummer; coordination numbers give the real day."""
    return parse_personnummer(value, ctx.today).birth_date


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
