"""Field transform speed: a typical 20-field mapping, per-shape figures, fast path vs sandbox.

    python tests/benchmarks/bench_templates.py [records] [rounds]

Prints microseconds per record for the whole mapping (fast path and forced sandbox),
records mapped per second, and per-shape microseconds for 20 copies of each shape.
Targets (one core): the 20-field mapping under 10 µs per record; no shape over 60 µs
per record for 20 fields.

Times are CPU seconds of this process (`time.process_time`), the median of `rounds`
runs: the machines this runs on are shared, and wall-clock time there mostly measures
the neighbours. The load average is printed before and after so a reader can judge.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from engine.templates import RenderContext, compile_transform


class Links:
    def linked(self, sync: str, key: Any) -> str | None:
        return f"cinode-{key}"


MAPPING: dict[str, Any] = {
    "title": "{{ jobname }}",
    "number": "{{ jobnumber }}",
    "upper": "{{ name1 | upper }}",
    "lower": "{{ name2 | lower }}",
    "note": "{{ note | default('') }}",
    "city": "{{ city | trim }}",
    "start": "{{ start_date | date('%d/%m/%Y') }}",
    "fullname": "{{ first ~ ' ' ~ last }}",
    "description": {"template": "{0} - {1}", "from": ["jobnumber", "jobname"]},
    "gross": "{{ amount * 1.25 }}",
    "days": "{{ hours / 8 }}",
    "status": "{{ 'Active' if active else 'Inactive' }}",
    "firstName": "{{ name | first_name }}",
    "paymentTag": "{{ payment_days | lookup(setup.payment_terms_tags) }}",
    "customerId": "{{ customernumber | linked('customers') }}",
    "label": "Job {{ jobnumber }} for {{ name1 | upper }}",
    "zip": "{{ record['zip-code'] }}",
    "currency": "{{ setup.currency }}",
    "languageId": {"value": 2},
    "baseSalary": "{{ monthly_salary / 100 if setup.sync_salary else omit }}",
}

SHAPES: dict[str, Any] = {
    "field reference": "{{ jobname }}",
    "record['kebab-case']": "{{ record['zip-code'] }}",
    "setup value": "{{ setup.currency }}",
    "filter upper": "{{ name1 | upper }}",
    "filter default": "{{ note | default('-') }}",
    "concatenation": "{{ first ~ ' ' ~ last }}",
    "text around": "Job {{ jobnumber }} for {{ name1 | upper }}",
    "positional {0} - {1}": {"template": "{0} - {1}", "from": ["jobnumber", "jobname"]},
    "arithmetic": "{{ amount * 1.25 + hours / 8 }}",
    "conditional": "{{ 'Active' if active and hours > 10 else 'Inactive' }}",
    "omit switch": "{{ monthly_salary / 100 if setup.sync_salary else omit }}",
    "date format": "{{ start_date | date('%d/%m/%Y') }}",
    "first_name": "{{ name | first_name }}",
    "ssn_gender | lookup": "{{ ssn | ssn_gender | lookup(setup.gender_codes) }}",
    "lookup": "{{ payment_days | lookup(setup.payment_terms_tags) }}",
    "linked": "{{ customernumber | linked('customers') }}",
    "select_tags": "{{ categories | select_tags(setup.synced_tags) }}",
    "constant": {"value": 2},
    "method call": "{{ jobname.split(' ')[0] }}",
    "for loop": "{% for c in categories %}{{ c }};{% endfor %}",
    "loop variable": "{% for c in categories %}{{ loop.index }}{% endfor %}",
    "dict literal": "{{ {'street1': name2, 'street2': name3, 'zipCode': zipcode, "
                    "'city': postaldistrict, 'country': country} }}",
    "lower | lookup if": "{{ country | lower | lookup(setup.country_codes, default=none) "
                         "if country else none }}",
}

SETUP = {
    "payment_terms_tags": {10: "BV=10", 30: "BV=30"},
    "currency": "SEK",
    "sync_salary": True,
    "gender_codes": {"male": 1, "female": 2},
    "synced_tags": ["Gold", "Partner"],
    "country_codes": {"se": "SE", "no": "NO"},
}


def personnummer(i: int) -> str:
    """A distinct valid number per record, so no cache can flatter the identity shapes."""
    from stdnum import luhn

    nine = f"{50 + i % 50:02d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return f"{nine[:6]}-{nine[6:]}{luhn.calc_check_digit(nine)}"


def make_record(i: int) -> dict[str, Any]:
    return {
        "jobname": f"Job {i}", "jobnumber": f"{i:06d}", "name1": "acme ab", "name2": "ACME",
        "note": None, "city": "  Göteborg ", "start_date": "2024-05-01",
        "first": "Anna", "last": "Svensson", "amount": 100 + i % 7, "hours": 40 + i % 3,
        "active": i % 2 == 0, "name": "Anna Maria af Trolle", "payment_days": 30,
        "customernumber": str(1000 + i % 50), "zip-code": "411 05", "monthly_salary": 4_500_000,
        "ssn": personnummer(i), "categories": ["Gold", "Silver", "Partner"],
        "name3": "Box 12", "zipcode": "411 05", "postaldistrict": "Göteborg", "country": "SE",
    }


def per_record(transforms: list[Any], records: list[dict[str, Any]], ctx: RenderContext) -> float:
    """CPU microseconds per record to render every transform once."""
    renders = [t.render for t in transforms]
    start = time.process_time()
    for record in records:
        for render in renders:
            render(record, ctx)
    return (time.process_time() - start) / len(records) * 1e6


def median_of(rounds: int, transforms: list[Any], records: list[dict[str, Any]],
              ctx: RenderContext) -> float:
    return statistics.median(per_record(transforms, records, ctx) for _ in range(rounds))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"{load()} on {os.cpu_count()} cores; CPU time, median of {rounds} rounds")
    ctx = RenderContext(setup=SETUP, links=Links(), now=datetime(2024, 6, 1, tzinfo=UTC))
    records = [make_record(i) for i in range(n)]
    fast = [compile_transform(v) for v in MAPPING.values()]
    slow = [compile_transform(v, fast=False) for v in MAPPING.values()]
    assert [t.render(records[1], ctx) for t in fast] == [t.render(records[1], ctx) for t in slow]
    per_record(fast, records[:1000], ctx)  # warm up
    us_fast = median_of(rounds, fast, records, ctx)
    us_slow = median_of(max(1, rounds // 2), slow, records[: max(1, n // 10)], ctx)
    compiled = sum(t.fast for t in fast)
    print(f"20-field mapping over {n:,} records ({compiled}/20 fields on the fast path)")
    print(f"  fast path: {us_fast:8.2f} µs/record   {1e6 / us_fast:12,.0f} records/s")
    print(f"  sandbox:   {us_slow:8.2f} µs/record   {1e6 / us_slow:12,.0f} records/s")
    print()
    print("per shape, µs per record for 20 fields of that shape (fast path / sandbox):")
    sample = records[: max(1, min(n, 20_000))]
    for label, value in SHAPES.items():
        f = compile_transform(value)
        s = compile_transform(value, fast=False)
        us_f = median_of(rounds, [f] * 20, sample, ctx)
        us_s = median_of(max(1, rounds // 2), [s] * 20, sample[: max(1, len(sample) // 10)], ctx)
        path = "fast" if f.fast else "sandbox"
        print(f"  {label:28} {us_f:8.2f} / {us_s:8.2f}   ({path})")
    print(load())


if __name__ == "__main__":
    main()
