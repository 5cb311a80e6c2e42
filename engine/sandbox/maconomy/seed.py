"""Generated Maconomy customers (`customercard`) and jobs, in Maconomy's lowercase field names.

Each record is a pure function of `(seed, index)`, built to be cheap because the
simulator serves 100,000-record syncs:

- the *light* fields (`customer_light`, `job_light`: number, timestamps, version, flags,
  region, job type, owner) come from two 64-bit integer mixes (splitmix64), so a
  `transactiontimestamp > ...` scan over 100,000 records needs no names or addresses;
- the *descriptive* fields (names, address, e-mail, payment terms, ...) come from one
  of 2,048 per-seed templates picked by the mix, built once with the realistic
  generators in `common.py`. Index-specific fields (registration and VAT numbers,
  phone numbers) are computed per record, so those stay unique.

Maconomy customer `i` is independent of Kleer/HubSpot company `i` (the brief says so).
Numbers: customers `100000 + i`, jobs `1000000 + i` (six and seven digits, so string
order is numeric order up to 900,000 records). Dates are `YYYY-MM-DD`;
`transactiontimestamp` is `YYYY-MM-DD HH:MM:SS.fff`, as real answers print it (a space,
no zone: MaconomyRestClient's recorded answers, fact F-RESP-VALUES); it is the server's
local time, which for the simulator is UTC.
`region`, `jobtype`, `active` and `budgetamount` are tenant-specific fields the seed
documents filter and key on [assumed names].

With `defect_rate` > 0 that fraction of records is deliberately broken: half lack
`transactiontimestamp`, half lack their required name (`name1` / `jobname`), so the
seed's troubleshooting cases ("customers not updating", "missing data") reproduce.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

from engine.sandbox.platform.seed import (
    REFERENCE_TIME,
    address,
    company_name,
    fast_rng,
    person_for,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "CUSTOMER_LIGHT_FIELDS",
    "CUSTOMER_NUMBER_BASE",
    "JOB_FIELDS",
    "JOB_LIGHT_FIELDS",
    "JOB_NUMBER_BASE",
    "JOB_TYPES",
    "REGIONS",
    "customer",
    "customer_index",
    "customer_light",
    "customer_number",
    "format_timestamp",
    "job",
    "job_index",
    "job_light",
    "job_number",
    "manager",
]

CUSTOMER_NUMBER_BASE = 100_000
JOB_NUMBER_BASE = 1_000_000
REGIONS = ("north", "south", "east", "west", "central")
JOB_TYPES = ("T&M", "T&M", "T&M", "T&M", "Fixed", "Fixed", "Fixed", "Internal", "Internal",
             "Retainer")
_COUNTRIES = ("sweden",) * 12 + ("norway", "denmark", "finland", "germany")
_CURRENCY_BY_COUNTRY = {"sweden": "SEK", "norway": "NOK", "denmark": "DKK", "finland": "EUR",
                        "germany": "EUR"}
_PAYMENT_TERMS = ("N30", "N30", "N30", "N10", "N15", "N20", "N45", "N60")
_OFFICES = ("Stockholm", "Göteborg", "Malmö", "Umeå", "Linköping", "Uppsala")
_JOB_KINDS = (
    "Systemutveckling", "Införande Maconomy", "Molnmigrering", "Rådgivning", "Förstudie",
    "Support och förvaltning", "Integrationsprojekt", "Datalager", "Säkerhetsgranskning",
    "Utbildning", "Verksamhetsanalys", "Testautomatisering", "Drift och övervakning",
)
_JOB_DESCRIPTIONS = ("Ramavtal", "Avrop", "Fastpris enligt offert", "Löpande räkning",
                     "Internt utvecklingsprojekt", "Förlängning")
_MANAGERS = 40
_TEMPLATES = 2048

CUSTOMER_LIGHT_FIELDS = ("customernumber", "blocked", "createddate", "changeddate",
                         "transactiontimestamp", "versionnumber", "region")
CUSTOMER_FIELDS = (
    "customernumber", "name1", "name2", "name3", "name4", "name5", "zipcode", "postaldistrict",
    "country", "telephone", "electronicmailaddress", "companyregistrationnumber", "vatnumber",
    "currency", "paymentterms", "blocked", "createddate", "changeddate", "transactiontimestamp",
    "versionnumber", "region",
)
JOB_LIGHT_FIELDS = ("jobnumber", "customernumber", "projectmanagernumber", "closed", "active",
                    "jobtype", "region", "theyear", "createddate", "changeddate",
                    "transactiontimestamp", "versionnumber", "budgetamount")
JOB_FIELDS = (
    "jobnumber", "jobname", "description1", "customernumber", "name1", "projectmanagernumber",
    "projectmanagername", "locationname", "closed", "active", "jobtype", "region", "theyear",
    "createddate", "changeddate", "transactiontimestamp", "versionnumber", "budgetamount",
)

_M64 = (1 << 64) - 1
_EPOCH = date(2015, 1, 1)
_DAYS = (REFERENCE_TIME.date() - _EPOCH).days  # every generated change lies before this
_HOURS_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))
_DOUBLED = tuple(2 * d - 9 if 2 * d > 9 else 2 * d for d in range(10))
# Text pieces looked up rather than formatted: generation runs once per record served.
_SIXTY = tuple(f"{n:02d}" for n in range(60))
_MILLIS = tuple(f"{n:03d}" for n in range(1000))
_DAY_TEXT = tuple((_EPOCH + timedelta(days=n)).isoformat() for n in range(_DAYS + 1))


def _mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def format_timestamp(day: str, seconds: int, millis: int) -> str:
    """`2024-03-05 12:13:14.123` from a `YYYY-MM-DD` day and a time of day."""
    return f"{day} {_HOURS_MINUTES[seconds // 60]}:{seconds % 60:02d}.{millis:03d}"


def _luhn_digits(d0: int, d1: int, d2: int, tail: int) -> int:
    """Luhn check digit of d0 d1 d2 and the six digits of `tail`, unrolled and without
    text: it runs once per generated customer."""
    x = _DOUBLED
    t0, rest = divmod(tail, 100_000)
    t1, rest = divmod(rest, 10_000)
    t2, rest = divmod(rest, 1000)
    t3, rest = divmod(rest, 100)
    t4, t5 = divmod(rest, 10)
    return -(x[d0] + d1 + x[d2] + t0 + x[t1] + t2 + x[t3] + t4 + x[t5]) % 10


def _bits(seed: int, kind: int, index: int) -> tuple[int, int]:
    base = ((seed * 0x100000001B3 + kind) << 40) ^ index
    return _mix(base), _mix(base ^ 0x5555555555555555)


def _stamp(record: dict[str, Any], a: int) -> None:
    """Set createddate, changeddate, transactiontimestamp, versionnumber from 64 bits."""
    created = (a & 0xFFFF) % (_DAYS - 1)
    changed = created + ((a >> 16) & 0xFFFF) % (_DAYS - created)
    seconds = ((a >> 32) & 0x1FFFF) % 86_400
    millis = ((a >> 49) & 0x3FF) % 1000
    changed_day = _DAY_TEXT[changed]
    record["createddate"] = _DAY_TEXT[created]
    record["changeddate"] = changed_day
    record["transactiontimestamp"] = (f"{changed_day} {_HOURS_MINUTES[seconds // 60]}:"
                                      f"{_SIXTY[seconds % 60]}.{_MILLIS[millis]}")
    record["versionnumber"] = (a >> 59) % 30 + 1


def _stamps(a: int) -> dict[str, Any]:
    """createddate, changeddate, transactiontimestamp, versionnumber from 64 bits."""
    record: dict[str, Any] = {}
    _stamp(record, a)
    return record


def _defect(b: int, defect_rate: float) -> int:
    """0: healthy; 1: no transactiontimestamp; 2: no required name field."""
    if defect_rate <= 0:
        return 0
    roll = (b & 0xFFFF) / 0x10000
    if roll >= defect_rate:
        return 0
    return 1 if roll < defect_rate / 2 else 2


# --------------------------------------------------------------------------- customers


def customer_number(index: int) -> str:
    return str(CUSTOMER_NUMBER_BASE + index)


def customer_index(number: object) -> int | None:
    """Index of a generated customer number, or None for anything else."""
    text = str(number)
    if len(text) != 6 or not text.isdigit() or text[0] == "0":
        return None
    return int(text) - CUSTOMER_NUMBER_BASE


def customer_light(seed: int, index: int, defect_rate: float = 0.0) -> dict[str, Any]:
    """The cheap fields of customer `index` (what delta-sync restrictions look at)."""
    a, b = _bits(seed, 1, index)
    record = _stamps(a)
    record["customernumber"] = str(CUSTOMER_NUMBER_BASE + index)
    record["blocked"] = (b >> 16) % 20 == 0
    record["region"] = REGIONS[(b >> 24) % 5]
    if defect_rate > 0 and _defect(b, defect_rate) == 1:
        del record["transactiontimestamp"]
    return record


def _domain(name: str) -> str:
    stem = name.lower().translate(_FOLD)
    for suffix in (" i sverige ab", " & partners ab", " ab", " hb", " kb"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return "-".join(stem.replace("&", " ").split()) + ".se"


_FOLD = str.maketrans("åäöé", "aaoe")
_GROUP_DIGITS = tuple(int(c) for c in "5555556789")


@cache
def _customer_templates(seed: int) -> tuple[tuple[dict[str, Any], str], ...]:
    """2,048 (descriptive fields, area code) pairs in `CUSTOMER_FIELDS` order."""
    templates = []
    for t in range(_TEMPLATES):
        rng = fast_rng(seed, "maconomy-customer", t)
        name = company_name(rng)
        where = address(rng)
        country = rng.choice(_COUNTRIES)
        record: dict[str, Any] = dict.fromkeys(CUSTOMER_FIELDS)
        record.update({
            "name1": name,
            "name2": where.street,
            "name3": f"Box {rng.randint(100, 9999)}" if rng.random() < 0.12 else "",
            "name4": "",
            "name5": "",
            "zipcode": where.zip,
            "postaldistrict": where.city,
            "country": country,
            "electronicmailaddress": f"{rng.choice(('info', 'faktura', 'ekonomi', 'kontakt'))}"
                                     f"@{_domain(name)}",
            "currency": _CURRENCY_BY_COUNTRY[country],
            "paymentterms": rng.choice(_PAYMENT_TERMS),
        })
        templates.append((record, where.area_code))
    return tuple(templates)


def _phone(area: str, bits: int) -> str:
    digits = f"{bits % 100_000_000:08d}"[: 10 - len(area)]
    if len(digits) == 6:
        return f"{area}-{digits[:2]} {digits[2:4]} {digits[4:]}"
    return f"{area}-{digits[:3]} {digits[3:-2]} {digits[-2:]}"


def customer(seed: int, index: int, defect_rate: float = 0.0) -> dict[str, Any]:
    """Customer `index` as the `customercard` filter pane returns it."""
    a, b = _bits(seed, 1, index)
    template, area = _customer_templates(seed)[(b >> 32) % _TEMPLATES]
    record = template.copy()
    # Registration number: a random group prefix, then digits 4-9 a permutation of the
    # index (unique below one million), then the Luhn digit; third digit >= 2.
    tail = (index * 7_368_787 + 123_457) % 1_000_000
    d0, d1, d2 = _GROUP_DIGITS[(b >> 43) % 10], (b >> 47) % 10, (b >> 51) % 8 + 2
    check = _luhn_digits(d0, d1, d2, tail)
    digits = _MILLIS[tail // 1000] + _MILLIS[tail % 1000]
    record["customernumber"] = str(CUSTOMER_NUMBER_BASE + index)
    record["telephone"] = _phone(area, (a >> 13) ^ b)
    record["companyregistrationnumber"] = f"{d0}{d1}{d2}{digits[:3]}-{digits[3:]}{check}"
    record["vatnumber"] = f"SE{d0}{d1}{d2}{digits}{check}01"
    record["blocked"] = (b >> 16) % 20 == 0
    _stamp(record, a)
    record["region"] = REGIONS[(b >> 24) % 5]
    if defect_rate > 0:
        defect = _defect(b, defect_rate)
        if defect:
            del record["transactiontimestamp" if defect == 1 else "name1"]
    return record


# --------------------------------------------------------------------------- jobs


def job_number(index: int) -> str:
    return str(JOB_NUMBER_BASE + index)


def job_index(number: object) -> int | None:
    text = str(number)
    if len(text) != 7 or not text.isdigit() or text[0] == "0":
        return None
    return int(text) - JOB_NUMBER_BASE


@lru_cache(maxsize=256)
def manager(seed: int, number: int) -> tuple[str, str]:
    """(employee number, full name) of project manager `number` (0..39)."""
    person = person_for(seed, number, namespace="maconomy-employee")
    return str(1000 + number), f"{person.first_name} {person.surname}"


def job_light(seed: int, index: int, customers: int, defect_rate: float = 0.0) -> dict[str, Any]:
    """The cheap fields of job `index`; `customers` is how many generated customers exist."""
    a, b = _bits(seed, 2, index)
    kind = JOB_TYPES[(b >> 16) % 10]
    closed = (b >> 20) % 5 == 0
    stamps = _stamps(a)
    record = {
        "jobnumber": str(JOB_NUMBER_BASE + index),
        "customernumber": str(CUSTOMER_NUMBER_BASE + (b >> 40) % max(1, customers)),
        "projectmanagernumber": str(1000 + (b >> 24) % _MANAGERS),
        "closed": closed,
        "active": not closed,
        "jobtype": kind,
        "region": REGIONS[(b >> 30) % 5],
        "theyear": int(stamps["createddate"][:4]),
        **stamps,
        "budgetamount": 0.0 if kind == "Internal" else float(((b >> 33) % 200 + 1) * 25_000),
    }
    if defect_rate > 0 and _defect(b, defect_rate) == 1:
        del record["transactiontimestamp"]
    return record


def job(seed: int, index: int, customers: int, defect_rate: float = 0.0) -> dict[str, Any]:
    """Job `index` as the `jobs` filter pane returns it; `name1` is its customer's name."""
    light = job_light(seed, index, customers, defect_rate)
    _, b = _bits(seed, 2, index)
    owner = int(light["customernumber"]) - CUSTOMER_NUMBER_BASE
    _, owner_bits = _bits(seed, 1, owner)
    customer_name = _customer_templates(seed)[(owner_bits >> 32) % _TEMPLATES][0]["name1"]
    stage = (b >> 48) % 6
    title = f"{customer_name.split(' ')[0]} – {_JOB_KINDS[(b >> 52) % len(_JOB_KINDS)]}" + (
        f" etapp {stage}" if stage > 1 else "")
    record = dict.fromkeys(JOB_FIELDS)
    record.update(light)
    record["jobname"] = title
    record["description1"] = f"{_JOB_DESCRIPTIONS[(b >> 56) % 6]} {light['theyear']}"
    record["name1"] = customer_name
    record["projectmanagername"] = manager(seed, int(light["projectmanagernumber"]) - 1000)[1]
    record["locationname"] = _OFFICES[(b >> 59) % len(_OFFICES)]
    if "transactiontimestamp" not in light:
        del record["transactiontimestamp"]
    elif defect_rate > 0 and _defect(b, defect_rate) == 2:
        del record["jobname"]
    return record
