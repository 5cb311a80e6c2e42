"""The Maconomy simulator's fast paths answer exactly as its general scan does.

Delta reads (`transactiontimestamp >= t`, ordered `+transactiontimestamp,+customernumber`)
come from a cursor
index instead of a scan and sort; filter answers are served from a cache until the next
write. Both are checked against a brute-force evaluation of the same restriction over
every live record, after random user changes, creations and deletions.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.sandbox.maconomy import MaconomySandbox, compile_restriction, seed
from engine.sandbox.platform import ManualClock, SandboxConfig

FILTER = "/containers/v1/sandbox/customercard/filter"
BASIC = "Basic " + base64.b64encode(b"sandbox:sandbox-password").decode()
ORDER = "+transactiontimestamp,+customernumber"
RECORDS = 60


def _literal(stamp: str) -> str:
    """`2024-03-05 12:13:14.123` as `timestamp(2024, 3, 5, 12, 13, 14, 123)`."""
    day, time = stamp.split(" ")
    hms, millis = time.split(".")
    parts = [*day.split("-"), *hms.split(":"), millis]
    return f"timestamp({', '.join(str(int(p)) for p in parts)})"


def _expected(sandbox: MaconomySandbox, restriction: str) -> list[str]:
    matches = compile_restriction(restriction, seed.CUSTOMER_FIELDS).matches
    found = [r for r in sandbox.customers if matches(r)]
    found.sort(key=lambda r: (r["transactiontimestamp"], r["customernumber"]))
    return [r["customernumber"] for r in found]


async def _read(client: httpx.AsyncClient, restriction: str, limit: int) -> list[str]:
    numbers: list[str] = []
    offset = 0
    while True:
        response = await client.get(FILTER, headers={"Authorization": BASIC}, params={
            "restriction": restriction, "orderby": ORDER, "limit": limit, "offset": offset})
        assert response.status_code == 200, response.text
        page = [r["data"]["customernumber"]
                for r in response.json()["panes"]["filter"]["records"]]
        numbers.extend(page)
        if len(page) < limit:
            return numbers
        offset += limit


Op = tuple[str, int, int]
operations = st.lists(st.tuples(st.sampled_from(["patch", "create", "delete"]),
                                st.integers(0, RECORDS - 1), st.integers(0, 90)), max_size=12)


async def _scenario(ops: list[Op], pick: int, strict: bool, extra: str | None,
                    limit: int) -> None:
    clock = ManualClock()
    sandbox = MaconomySandbox(SandboxConfig(records=RECORDS, clock=clock, defect_rate=0.1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://maconomy.test") as client:
        # A first delta read builds the index before anything changes.
        await _read(client, f"transactiontimestamp >= {_literal('2000-01-01 00:00:00.000')}",
                    limit)
        for op, index, seconds in ops:
            clock.advance(seconds)  # 0 leaves several changes on one timestamp: ties
            number = seed.customer_number(index)
            if op == "patch":
                await client.patch(f"/_sandbox/records/customercard/{number}",
                                   json={"telephone": f"08-{seconds:03d}"})
            elif op == "delete":
                await client.delete(f"/_sandbox/records/customercard/{number}")
            else:
                await client.post("/_sandbox/records/customercard",
                                  json={"name1": f"Ny kund {seconds} AB"})
        stamps = sorted({r["transactiontimestamp"] for r in sandbox.customers
                         if "transactiontimestamp" in r})
        bound = stamps[pick % len(stamps)]
        restriction = f"transactiontimestamp {'>' if strict else '>='} {_literal(bound)}"
        if extra:
            restriction = f"{extra} and {restriction}"
        expected = _expected(sandbox, restriction)
        assert await _read(client, restriction, limit) == expected
        assert await _read(client, restriction, limit) == expected  # from the caches


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, pick=st.integers(0, 10_000), strict=st.booleans(),
       extra=st.sampled_from([None, "blocked = false", "region = 'north'",
                              "name1 like '*AB'", "not blocked"]),
       limit=st.sampled_from([7, 100]))
def test_delta_reads_from_the_index_equal_a_full_scan(ops: list[Op], pick: int, strict: bool,
                                                      extra: str | None, limit: int) -> None:
    asyncio.run(_scenario(ops, pick, strict, extra, limit))


async def test_a_delta_read_does_not_scan_every_record_again() -> None:
    clock = ManualClock()
    sandbox = MaconomySandbox(SandboxConfig(records=500, clock=clock))
    container = sandbox.containers["customercard"]
    calls = {"light": 0}
    light = container.light_factory

    def counting(index: int) -> dict[str, Any]:
        calls["light"] += 1
        return light(index)

    container.light_factory = counting
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://maconomy.test") as client:
        await _read(client, f"transactiontimestamp >= {_literal('2000-01-01 00:00:00.000')}",
                    100)
        assert calls["light"] == 500  # the index: every record once
        clock.advance(60)
        await client.patch("/_sandbox/records/customercard/100007", json={"zipcode": "11122"})
        since = _literal(seed.format_timestamp(clock.now().date().isoformat(), 0, 0))
        assert await _read(client, f"transactiontimestamp >= {since}", 100) == ["100007"]
        assert calls["light"] == 500  # later reads bisect it: no record generated again


async def test_a_write_invalidates_cached_answers() -> None:
    clock = ManualClock()
    sandbox = MaconomySandbox(SandboxConfig(records=30, clock=clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://maconomy.test") as client:
        params = {"limit": 5, "offset": 10}

        async def names() -> list[str]:
            response = await client.get(FILTER, headers={"Authorization": BASIC}, params=params)
            return [r["data"]["name1"] for r in response.json()["panes"]["filter"]["records"]]

        before = await names()
        assert await names() == before
        await client.patch("/_sandbox/records/customercard/100012", json={"name1": "Bytt AB"})
        after = await names()
        assert after[2] == "Bytt AB" and after[:2] == before[:2]
