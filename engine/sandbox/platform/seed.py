"""Deterministic, realistic Swedish data for the simulators.

Every record is derived from `(seed, namespace, index)` alone, so record 99,999 can be
produced without producing the 99,999 before it, and the same seed always gives the
same data. Two kinds of random source are offered:

- `rng_for(seed, namespace, index) -> random.Random`: the full `random` API, for
  vendor-specific extras (constructing one costs about 6 µs).
- `fast_rng(seed, namespace, index) -> FastRng`: the subset these generators use
  (`random`, `randrange`, `randint`, `choice`, `chance`), drawn from one BLAKE2b hash,
  several times cheaper. The entity builders (`company_for`, `person_for`) use it so a
  100,000-record page stays cheap.

Every generator below accepts either kind of `rng`.

Entities shared across systems are keyed by index: `company_for(seed, i)` is the same
company whether Kleer (client i) or HubSpot (company i) asks for it. Organisation
numbers are unique per index (below one million). Personal identity numbers are valid
(Luhn) but generated, never those of real people; they must never be logged.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from hashlib import blake2b
from typing import Any, Protocol, TypeVar

__all__ = [
    "CATEGORIES",
    "CITIES",
    "CURRENCIES",
    "REFERENCE_TIME",
    "Address",
    "Company",
    "FastRng",
    "Person",
    "PersonalNumber",
    "Rng",
    "address",
    "ascii_fold",
    "category",
    "company_for",
    "company_name",
    "currency",
    "date_between",
    "datetime_between",
    "email_for",
    "fast_rng",
    "given_names",
    "luhn_check_digit",
    "luhn_valid",
    "organisation_number",
    "person_for",
    "personal_number",
    "phone_number",
    "rng_for",
    "surname",
    "valid_organisation_number",
    "valid_personal_number",
    "vat_number",
]

T = TypeVar("T")

#: Every generated timestamp lies before this instant (and `ManualClock` starts after it).
REFERENCE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
_REFERENCE_DATE = REFERENCE_TIME.date()
_EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)


class Rng(Protocol):
    """What the generators need from a random source (`random.Random` or `FastRng`)."""

    def random(self) -> float: ...
    def randrange(self, start: int, stop: int | None = ...) -> int: ...
    def randint(self, a: int, b: int) -> int: ...
    def choice(self, seq: Sequence[T]) -> T: ...


# --------------------------------------------------------------------------- sources


def _key(seed: int, namespace: str, index: int) -> bytes:
    return f"{seed}\x1f{namespace}\x1f{index}".encode()


def rng_for(seed: int, namespace: str, index: int) -> random.Random:
    """A `random.Random` for record `index` of `namespace`; independent of other indices."""
    digest = blake2b(_key(seed, namespace, index), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


class FastRng:
    """A cheap random source: BLAKE2b output consumed by `divmod`, re-hashed when spent.

    Not for cryptography or statistics; bias is below 2**-64 per draw.
    """

    __slots__ = ("_counter", "_key", "_pool")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0
        self._pool = self._refill()

    def _refill(self) -> int:
        self._counter += 1
        digest = blake2b(self._key, digest_size=64, salt=self._counter.to_bytes(16, "big"))
        return int.from_bytes(digest.digest(), "big")

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        n = stop - start
        if n <= 0:
            raise ValueError(f"empty range for randrange({start}, {stop})")
        pool = self._pool
        if pool < n << 64:
            pool = self._refill()
        self._pool, value = divmod(pool, n)
        return start + value

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)

    def random(self) -> float:
        return self.randrange(1 << 53) / (1 << 53)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.randrange(len(seq))]

    def chance(self, probability: float) -> bool:
        return self.random() < probability


def fast_rng(seed: int, namespace: str, index: int) -> FastRng:
    """A `FastRng` for record `index` of `namespace`."""
    return FastRng(_key(seed, namespace, index))


# --------------------------------------------------------------------------- word lists

_GIVEN_FEMALE = (
    "Anna", "Eva", "Maria", "Karin", "Sara", "Kristina", "Lena", "Emma", "Ingrid", "Linnéa",
    "Åsa", "Sofia", "Elin", "Ida", "Maja", "Astrid", "Ebba", "Märta", "Agnes", "Hanna",
    "Johanna", "Helén", "Birgitta", "Malin", "Frida", "Tove", "Signe", "Ylva",
)
_GIVEN_MALE = (
    "Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Mikael", "Jan", "Björn",
    "Åke", "Göran", "Oskar", "Gustav", "Axel", "Olof", "Sven", "Henrik", "Fredrik", "Linus",
    "Jöns", "Måns", "Ludvig", "Viktor", "Emil", "Hugo", "Tor", "Örjan",
)
_SURNAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist",
    "Lindström", "Bergström", "Åberg", "Öberg", "Sjögren", "Ström", "Bäckström", "Hedström",
    "Forsberg", "Sandberg", "Holmgren", "Ekström", "Nyström", "Blomqvist", "Söderberg",
    "Engström", "Wallin", "Lundgren", "Håkansson", "Jönsson", "Löfgren", "Åkesson",
)
_NOBLE = (
    ("von", "Platen"), ("von", "Essen"), ("af", "Klint"), ("af", "Trolle"), ("de", "Geer"),
    ("de", "la Gardie"), ("van", "der Meer"), ("von", "Schéele"), ("af", "Ugglas"),
)
_STREETS = (
    "Storgatan", "Drottninggatan", "Kungsgatan", "Vasagatan", "Sveavägen", "Götgatan",
    "Hamngatan", "Östra Hamngatan", "Järnvägsgatan", "Skolgatan", "Kyrkogatan", "Ringvägen",
    "Industrivägen", "Åsgatan", "Björkvägen", "Ekvägen", "Södra Förstadsgatan", "Älvgatan",
    "Strandvägen", "Fjällgatan", "Nygatan", "Västra Långgatan", "Tegnérgatan", "Skärgårdsvägen",
)
#: (city, first three digits of its postcodes, landline area code)
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Stockholm", "11", "08"), ("Göteborg", "41", "031"), ("Malmö", "21", "040"),
    ("Uppsala", "75", "018"), ("Västerås", "72", "021"), ("Örebro", "70", "019"),
    ("Linköping", "58", "013"), ("Helsingborg", "25", "042"), ("Jönköping", "55", "036"),
    ("Norrköping", "60", "011"), ("Lund", "22", "046"), ("Umeå", "90", "090"),
    ("Gävle", "80", "026"), ("Borås", "50", "033"), ("Sundsvall", "85", "060"),
    ("Luleå", "97", "0920"), ("Karlstad", "65", "054"), ("Växjö", "35", "0470"),
    ("Halmstad", "30", "035"), ("Östersund", "83", "063"), ("Skellefteå", "93", "0910"),
)
_COMPANY_STEMS = (
    "Nordvik", "Solberg", "Fjällström", "Kustlinje", "Ekholm", "Granit", "Skärgårds",
    "Öresunds", "Mälardalens", "Norrlands", "Västkust", "Björkdal", "Älvsborg", "Lindgren",
    "Sjöholm", "Ängsbacka", "Höglund", "Vinga", "Järnbro", "Stenbock", "Bergslagens",
    "Åkerlund", "Hammarby", "Kronoberg", "Tallbo", "Rosendal", "Ljusdal", "Gotlands",
)
_COMPANY_TRADES = (
    "Konsult", "Bygg", "Data", "Teknik", "Logistik", "Handel", "Fastigheter", "Design",
    "Energi", "Systemutveckling", "Revision", "Media", "El & VVS", "Maskin", "Analys",
    "Transport", "Juridik", "Vård", "Mekaniska Verkstad", "Säkerhet",
)
_COMPANY_FORMS = ("AB", "AB", "AB", "AB", "AB", "HB", "& Partners AB", "i Sverige AB", "KB")
_FORM_PREFIX = {"HB": "9", "KB": "9"}  # organisation number group by company form

#: ISO 4217 codes with weights: most Swedish customers invoice in SEK.
CURRENCIES: tuple[str, ...] = ("SEK",) * 12 + ("EUR", "EUR", "NOK", "DKK", "USD", "GBP")
CATEGORIES: tuple[str, ...] = (
    "IT-konsult", "Bygg", "Tillverkning", "Handel", "Finans", "Offentlig sektor",
    "Energi", "Transport", "Vård och omsorg", "Media", "Fastighet", "Utbildning",
)


# --------------------------------------------------------------------------- check digits


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit for `digits` (weights 2,1,2,1,... from the left, as Skatteverket)."""
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    return digits.isdigit() and len(digits) >= 2 and luhn_check_digit(digits[:-1]) == int(
        digits[-1])


# --------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class PersonalNumber:
    """A generated personnummer or samordningsnummer. Never log `str()` of one."""

    birth_date: date
    birth_number: int  # 0..999; odd = male, even = female
    coordination: bool = False

    @property
    def check_digit(self) -> int:
        return luhn_check_digit(self._nine())

    def _nine(self) -> str:
        day = self.birth_date.day + (60 if self.coordination else 0)
        return f"{self.birth_date:%y%m}{day:02d}{self.birth_number:03d}"

    def short(self, today: date = _REFERENCE_DATE) -> str:
        """`YYMMDD-NNNC`, with `+` from the year the person turns 100."""
        separator = "+" if today.year - self.birth_date.year >= 100 else "-"
        nine = self._nine()
        return f"{nine[:6]}{separator}{nine[6:]}{self.check_digit}"

    def long(self, separator: str = "") -> str:
        """`YYYYMMDDNNNC` (or `YYYYMMDD-NNNC` with `separator='-'`)."""
        nine = self._nine()
        return f"{self.birth_date.year // 100:02d}{nine[:6]}{separator}{nine[6:]}" \
               f"{self.check_digit}"

    @property
    def male(self) -> bool:
        return self.birth_number % 2 == 1

    def __repr__(self) -> str:
        return "PersonalNumber(<redacted>)"


def personal_number(
    rng: Rng,
    *,
    male: bool | None = None,
    coordination: bool | None = None,
    born_after: date = date(1920, 1, 1),
    born_before: date = date(2004, 12, 31),
) -> PersonalNumber:
    """A valid generated personal identity number (about 3% coordination numbers)."""
    birth = date_between(rng, born_after, born_before)
    number = rng.randrange(1000)
    if male is not None and (number % 2 == 1) != male:
        number = number + 1 if number < 999 else number - 1
    if coordination is None:
        coordination = rng.random() < 0.03
    return PersonalNumber(birth, number, coordination)


def valid_personal_number(text: str, today: date = _REFERENCE_DATE) -> bool:
    """True for a well-formed personnummer/samordningsnummer in any of the four forms."""
    compact = text.replace("-", "").replace("+", "")
    if not compact.isdigit() or len(compact) not in (10, 12):
        return False
    if len(text) - len(compact) > 1:
        return False
    ten = compact[-10:]
    if not luhn_valid(ten):
        return False
    month, day = int(ten[2:4]), int(ten[4:6])
    if day > 60:
        day -= 60
    if len(compact) == 12:
        year = int(compact[:4])
    else:
        year = 2000 + int(ten[:2])
        if year > today.year:
            year -= 100
        if "+" in text:
            year -= 100
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def organisation_number(rng: Rng, index: int | None = None, *, group: str | None = None) -> str:
    """`NNNNNN-NNNN` with a third digit >= 2 and a Luhn check digit.

    With `index`, digits 4-9 are a permutation of the index, so numbers are unique for
    indices below one million whatever the random prefix.
    """
    first = group or rng.choice("5555556789")
    second = str(rng.randrange(10))
    third = str(rng.randint(2, 9))
    tail = (index * 7_368_787 + 123_457) % 1_000_000 if index is not None \
        else rng.randrange(1_000_000)
    nine = f"{first}{second}{third}{tail:06d}"
    return f"{nine[:6]}-{nine[6:]}{luhn_check_digit(nine)}"


def valid_organisation_number(text: str) -> bool:
    digits = text.replace("-", "")
    return len(digits) == 10 and digits.isdigit() and int(digits[2]) >= 2 and luhn_valid(digits)


def vat_number(orgno: str) -> str:
    """Swedish VAT number: `SE` + the ten digits + `01`."""
    return f"SE{orgno.replace('-', '')}01"


# --------------------------------------------------------------------------- names & contact


def given_names(rng: Rng, *, male: bool | None = None) -> tuple[str, ...]:
    """One to three given names (the first is the name in daily use)."""
    if male is None:
        male = rng.random() < 0.5
    pool = _GIVEN_MALE if male else _GIVEN_FEMALE
    count = 1 + (rng.random() < 0.45) + (rng.random() < 0.15)
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(pool)
        if name not in names:
            names.append(name)
    return tuple(names)


def surname(rng: Rng) -> str:
    """A surname; sometimes noble (`von Platen`, `af Klint`) or hyphenated."""
    roll = rng.random()
    if roll < 0.05:
        particle, name = rng.choice(_NOBLE)
        return f"{particle} {name}"
    first = rng.choice(_SURNAMES)
    if roll < 0.15:
        second = rng.choice(_SURNAMES)
        if second != first:
            return f"{first}-{second}"
    return first


_FOLD = str.maketrans("åäöÅÄÖéÉèüÜ", "aaoAAOeEeuU")


def ascii_fold(text: str) -> str:
    """`Åsa Öberg-Lind` -> `Asa Oberg-Lind`: for e-mail addresses and domains."""
    folded = text.translate(_FOLD)
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def email_for(local_parts: Sequence[str], domain: str) -> str:
    local = ".".join(ascii_fold(p).lower().replace(" ", "").replace("&", "")
                     for p in local_parts if p)
    return f"{local}@{domain}"


def _domain_for(name: str) -> str:
    stem = ascii_fold(name).lower()
    for suffix in (" i sverige ab", " & partners ab", " ab", " hb", " kb"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return "-".join(stem.replace("&", " ").split()) + ".se"


def phone_number(rng: Rng, *, mobile: bool | None = None, area_code: str = "08") -> str:
    """`070-123 45 67` (mobile) or `08-123 456 78` / `031-12 34 56` (landline)."""
    if mobile is None:
        mobile = rng.random() < 0.6
    if mobile:
        prefix = rng.choice(("070", "072", "073", "076", "079"))
        n = rng.randrange(10_000_000)
        return f"{prefix}-{n // 10000:03d} {n // 100 % 100:02d} {n % 100:02d}"
    digits = 10 - len(area_code)  # Swedish numbers have ten digits with the trunk 0
    n = rng.randrange(10 ** digits)
    text = f"{n:0{digits}d}"
    if digits == 8:
        return f"{area_code}-{text[:3]} {text[3:6]} {text[6:]}"
    if digits == 7:
        return f"{area_code}-{text[:3]} {text[3:5]} {text[5:]}"
    return f"{area_code}-{text[:2]} {text[2:4]} {text[4:]}"


@dataclass(frozen=True)
class Address:
    street: str  # "Storgatan 12"
    zip: str  # "114 55"
    city: str
    country: str = "SE"

    @property
    def area_code(self) -> str:
        return next((code for city, _, code in CITIES if city == self.city), "08")


def address(rng: Rng) -> Address:
    city, zip_prefix, _ = rng.choice(CITIES)
    number = rng.randint(1, 120)
    letter = "" if rng.random() < 0.85 else rng.choice("ABC")
    zip_rest = rng.randrange(1000)
    return Address(f"{rng.choice(_STREETS)} {number}{letter}",
                   f"{zip_prefix}{zip_rest // 100} {zip_rest % 100:02d}", city)


def company_name(rng: Rng) -> str:
    return f"{rng.choice(_COMPANY_STEMS)} {rng.choice(_COMPANY_TRADES)} " \
           f"{rng.choice(_COMPANY_FORMS)}"


def currency(rng: Rng) -> str:
    return rng.choice(CURRENCIES)


def category(rng: Rng) -> str:
    return rng.choice(CATEGORIES)


def date_between(rng: Rng, start: date, end: date) -> date:
    """A day in `[start, end]`."""
    return start + timedelta(days=rng.randint(0, (end - start).days))


def datetime_between(rng: Rng, start: datetime = _EARLIEST,
                     end: datetime = REFERENCE_TIME) -> datetime:
    """A whole-second instant in `[start, end)` (aware UTC); defaults lie in the past."""
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(1, span)))


# --------------------------------------------------------------------------- entities


@dataclass(frozen=True)
class Company:
    """One real-world company, the same in every system that uses index `index`."""

    index: int
    name: str
    orgno: str
    vat: str
    address: Address
    phone: str
    email: str
    domain: str
    currency: str
    category: str
    payment_days: int
    created: datetime
    seed: int

    @property
    def contact(self) -> Person:
        """The company's contact person (generated on demand: most callers never ask)."""
        return person_for(self.seed, self.index, domain=self.domain,
                          namespace="company-contact")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "orgno": self.orgno, "vat": self.vat,
            "street": self.address.street, "zip": self.address.zip, "city": self.address.city,
            "country": self.address.country, "phone": self.phone, "email": self.email,
            "domain": self.domain, "currency": self.currency, "category": self.category,
            "payment_days": self.payment_days, "created": self.created.isoformat(),
        }


@dataclass(frozen=True)
class Person:
    """One generated person. `personal_number` must never be logged or printed."""

    index: int
    given_names: tuple[str, ...]
    surname: str
    personal_number: PersonalNumber
    email: str
    phone: str
    address: Address
    created: datetime

    @property
    def first_name(self) -> str:
        return self.given_names[0]

    @property
    def full_name(self) -> str:
        return f"{' '.join(self.given_names)} {self.surname}"

    @property
    def male(self) -> bool:
        return self.personal_number.male

    def __repr__(self) -> str:
        return f"Person(index={self.index}, name={self.full_name!r})"


def person_for(seed: int, index: int, *, domain: str | None = None,
               namespace: str = "person") -> Person:
    """Person `index` for `seed`; with `domain` the e-mail is at that domain (an employee)."""
    rng = fast_rng(seed, namespace, index)
    male = rng.random() < 0.5
    names = given_names(rng, male=male)
    family = surname(rng)
    pnr = personal_number(rng, male=male)
    home = address(rng)
    mail_domain = domain or rng.choice(("gmail.com", "outlook.com", "telia.com", "icloud.com"))
    local = (names[0], family.split(" ")[-1]) if rng.random() < 0.8 else (names[0], str(index))
    return Person(index, names, family, pnr, email_for(local, mail_domain),
                  phone_number(rng, mobile=True), home, datetime_between(rng))


def company_for(seed: int, index: int) -> Company:
    """Company `index` for `seed`: the shared identity of Kleer clients, HubSpot companies..."""
    rng = fast_rng(seed, "company", index)
    name = company_name(rng)
    form = name.rsplit(" ", 1)[-1]
    orgno = organisation_number(rng, index, group=_FORM_PREFIX.get(form))
    where = address(rng)
    domain = _domain_for(name)
    return Company(
        index=index,
        name=name,
        orgno=orgno,
        vat=vat_number(orgno),
        address=where,
        phone=phone_number(rng, mobile=False, area_code=where.area_code),
        email=rng.choice(("info", "faktura", "kontakt", "ekonomi")) + "@" + domain,
        domain=domain,
        currency=currency(rng),
        category=category(rng),
        payment_days=rng.choice((10, 15, 20, 30, 30, 30, 45, 60)),
        created=datetime_between(rng),
        seed=seed,
    )
