"""MaconomyAdapter against the real Maconomy sandbox app, in-process over ASGITransport.

The adapter's retry sleeps move the sandbox's ManualClock, so reconnect-token expiry and
429 waits behave as in real time without a test ever sleeping.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.base import AdapterContext, ConnectionConfig, WriteOp
from engine.adapters.maconomy import MaconomyAdapter, restriction_literal
from engine.adapters.ratelimit import RateBudgets
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError
from engine.redact import Redactor
from engine.sandbox.maconomy import MaconomySandbox, compile_restriction, maconomy_timestamp
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig
from tests.adapters.conformance import (
    RecordingTransport as _RecordingTransport,
)
from tests.adapters.conformance import (
    SharedTime,
    assert_conforms,
    collect,
)
from tests.contracts.recording import contract_transport

USER = "integration"
PASSWORD = "maconomy-test-password-41"


class RecordingTransport(_RecordingTransport):
    """The shared recorder, plus the Maconomy filter bodies it saw."""

    def filter_bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.content) for r in self.sent if r.url.path.endswith("/filter")]


class Harness:
    def __init__(self, sandbox: MaconomySandbox, adapter: MaconomyAdapter, clock: ManualClock,
                 time: SharedTime, client: httpx.AsyncClient,
                 transport: RecordingTransport) -> None:
        self.sandbox = sandbox
        self.adapter = adapter
        self.clock = clock
        self.time = time
        self.client = client
        self.transport = transport

    def statuses(self, path_part: str = "") -> list[int | None]:
        return [e.status for e in self.sandbox.requests if path_part in e.path]

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


def make_harness(records: int = 55, *, options: dict[str, Any] | None = None,
                 adapter_options: dict[str, Any] | None = None, password: str = PASSWORD,
                 defect_rate: float = 0.0) -> Harness:
    clock = ManualClock()
    sandbox = MaconomySandbox(SandboxConfig(
        records=records, clock=clock, defect_rate=defect_rate, options=options or {}),
        MaconomyCredentials(user=USER, password=PASSWORD, shortname="acme"))
    time = SharedTime(clock)
    transport = RecordingTransport(contract_transport(sandbox))
    client = httpx.AsyncClient(transport=transport, base_url="http://maconomy.test")
    context = AdapterContext(
        budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep, wall_clock=time.wall),
        redactor=Redactor(), now=clock.now)
    config = ConnectionConfig(name="maconomy", adapter="maconomy",
                              base_url="http://maconomy.test",
                              auth={"username": USER, "password": password},
                              options={"shortname": "acme", "page_size": 10,
                                       **(adapter_options or {})})
    adapter = MaconomyAdapter(config, client, context, sleep=time.sleep,
                              retry=RetryPolicy(rng=random.Random(3)))
    return Harness(sandbox, adapter, clock, time, client, transport)


@pytest.fixture
async def maconomy() -> AsyncIterator[Harness]:
    harness = make_harness()
    async with harness.client:
        yield harness


# ---------------------------------------------------------------------- auth and check


async def test_check_logs_in_and_reads(maconomy: Harness) -> None:
    result = await maconomy.adapter.check()
    assert result.ok, result.message
    assert "'acme'" in result.message and "customercard" in result.message


async def test_check_with_a_wrong_password_says_so_without_the_password() -> None:
    harness = make_harness(password="not-the-password-99")
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok
    assert "refused" in result.message and "not-the-password-99" not in result.message


async def test_one_login_then_reconnect_tokens(maconomy: Harness) -> None:
    await collect(maconomy.adapter.read("customers"))
    await collect(maconomy.adapter.read("jobs"))
    assert maconomy.adapter.logins == 1
    assert maconomy.statuses("/auth/") == [204]
    after_login = [r for r in maconomy.transport.sent if "/auth/" not in r.url.path]
    assert after_login and all(
        r.headers["authorization"].startswith("X-Reconnect ") for r in after_login)


async def test_rotated_tokens_are_kept() -> None:
    # Every second call rotates the token, and the old one dies at once.
    harness = make_harness(options={"maconomy_rotate_every": 2,
                                    "maconomy_rotation_grace": 0})
    async with harness.client:
        first = None
        customers = await collect(harness.adapter.read("customers"))
        first = harness.adapter._token
        jobs = await collect(harness.adapter.read("jobs"))
    assert len(customers) == len(jobs) == 55
    assert 401 not in harness.statuses()
    assert harness.adapter.logins == 1
    assert harness.adapter._token != first
    tokens = {r.headers["authorization"] for r in harness.transport.sent
              if r.headers.get("authorization", "").startswith("X-Reconnect")}
    assert len(tokens) > 5  # the rotated tokens were used, not the first one throughout


async def test_an_expired_session_logs_in_again_once(maconomy: Harness,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await collect(maconomy.adapter.read("customers"))
    maconomy.clock.advance(1801)  # the sandbox forgets tokens idle for 30 minutes
    customers = await collect(maconomy.adapter.read("customers"))
    assert len(customers) == 55
    assert maconomy.adapter.logins == 2
    assert maconomy.statuses().count(401) == 1
    assert PASSWORD not in caplog.text
    assert all(token not in caplog.text for token in maconomy.sandbox.tokens)


async def test_logout_on_close_ends_the_session(maconomy: Harness) -> None:
    await maconomy.adapter.check()
    token = maconomy.adapter._token
    assert token in maconomy.sandbox.tokens
    await maconomy.adapter.aclose()
    assert token not in maconomy.sandbox.tokens


# ---------------------------------------------------------------------- reads


@pytest.mark.parametrize("obj", ["customers", "jobs"])
async def test_full_read_pages_to_the_end_with_catalog_types(maconomy: Harness,
                                                             obj: str) -> None:
    records = await collect(maconomy.adapter.read(obj))
    info = maconomy.adapter.describe().objects[obj]
    assert len(records) == 55
    assert len({r[info.id_field] for r in records}) == 55
    # Pages of 10 re-read one record each to notice shifts: 10 + 5 * 9 new records
    # fill six pages, and a seventh (only the overlap) says the end is reached.
    assert len(maconomy.statuses("/filter")) == 7
    offsets = [b["offset"] for b in maconomy.transport.filter_bodies()]
    assert offsets == [0, 9, 18, 27, 36, 45, 54]
    for record in records:
        assert_conforms(record, info)
        assert isinstance(record["transactiontimestamp"], datetime)
        assert isinstance(record["createddate"], date)
    if obj == "jobs":
        assert all(isinstance(r["budget"], float) for r in records)  # from budgetamount
        assert "budgetamount" not in records[0]


async def test_full_read_in_one_big_page(maconomy: Harness) -> None:
    harness = make_harness(records=2500, adapter_options={"page_size": 5000})
    async with harness.client:
        records = await collect(harness.adapter.read("customers"))
    assert len(records) == 2500
    assert harness.transport.filter_bodies()[0]["limit"] == 5000


async def test_changed_since_returns_exactly_the_changed_records_oldest_first(
        maconomy: Harness) -> None:
    since = maconomy.clock.now()  # after every generated change
    changed = ["100040", "100003", "100021"]
    for number in changed:
        maconomy.clock.advance(61)
        await maconomy.control("PATCH", f"/records/customercard/{number}",
                               {"telephone": "08-123 45 67"})
    records = await collect(maconomy.adapter.read("customers", since=since,
                                                  cursor_field="transactiontimestamp"))
    assert [r["customernumber"] for r in records] == changed
    assert [r["versionnumber"] for r in records] == [
        maconomy.sandbox.customers.get(n)["versionnumber"] for n in changed]
    assert records[0]["transactiontimestamp"] == since + timedelta(seconds=61)
    [body] = maconomy.transport.filter_bodies()
    assert body["restriction"] == "transactiontimestamp >= timestamp(2025, 1, 15, 9, 0, 0, 0)"
    assert body["orderby"] == "transactiontimestamp, customernumber"


async def test_a_change_during_a_delta_read_loses_nothing(maconomy: Harness) -> None:
    since = datetime(2000, 1, 1, tzinfo=UTC)
    read = maconomy.adapter.read("jobs", since=since, cursor_field="transactiontimestamp")
    seen: list[dict[str, Any]] = []
    async for record in read:
        seen.append(record)
        if len(seen) == 10:  # page one is in; the next record fetches page two
            maconomy.clock.advance(60)
            # A job on page one changes: it moves to the end, everything shifts by one.
            await maconomy.control("PATCH", f"/records/jobs/{seen[2]['jobnumber']}",
                                   {"jobname": "Renamed"})
    numbers = [r["jobnumber"] for r in seen]
    assert set(numbers) == {j["jobnumber"] for j in maconomy.sandbox.jobs}
    assert numbers.count(seen[2]["jobnumber"]) == 2 and seen[-1]["jobname"] == "Renamed"
    stamps = [r["transactiontimestamp"] for r in seen]
    assert stamps == sorted(stamps)
    restrictions = [b["restriction"] for b in maconomy.transport.filter_bodies()]
    assert any(" or (transactiontimestamp = timestamp(" in r for r in restrictions)


async def test_a_deletion_during_a_full_read_loses_nothing(maconomy: Harness) -> None:
    seen: list[str] = []
    async for record in maconomy.adapter.read("customers"):
        seen.append(record["customernumber"])
        if len(seen) == 10:
            await maconomy.control("DELETE", f"/records/customercard/{seen[4]}")
    assert len(seen) == 55 and len(set(seen)) == 55
    assert maconomy.transport.filter_bodies()[-1]["restriction"].startswith(
        "customernumber > '")


async def test_records_without_a_timestamp_are_read_in_full_but_not_in_deltas() -> None:
    harness = make_harness(records=200, defect_rate=0.2)
    async with harness.client:
        full = await collect(harness.adapter.read("customers"))
        delta = await collect(harness.adapter.read(
            "customers", since=datetime(2000, 1, 1, tzinfo=UTC),
            cursor_field="transactiontimestamp"))
    info = harness.adapter.describe().objects["customers"]
    for record in full:
        assert_conforms(record, info)
    undated = [r for r in full if r.get("transactiontimestamp") is None]
    assert undated and len(delta) == len(full) - len(undated)


async def test_local_server_time_is_converted_to_utc() -> None:
    harness = make_harness(adapter_options={"timezone": "Europe/Stockholm"})
    async with harness.client:
        record = await harness.adapter.get("customers", "100007")
    assert record is not None
    wire = harness.sandbox.customers.get("100007")["transactiontimestamp"]
    local = datetime.fromisoformat(wire)
    offset = timedelta(hours=2 if 4 <= local.month <= 9 else 1)
    assert abs(record["transactiontimestamp"] - (local.replace(tzinfo=UTC) - offset)) <= \
        timedelta(hours=1)  # DST edges: the exact offset is the zone database's business
    assert record["transactiontimestamp"].utcoffset() == timedelta(0)


async def test_cursor_fields_the_containers_lack_are_fatal(maconomy: Harness) -> None:
    with pytest.raises(FatalError, match="changeddate"):
        maconomy.adapter.read("customers", since=maconomy.clock.now(),
                              cursor_field="changeddate")


async def test_a_429_burst_is_waited_out(maconomy: Harness) -> None:
    await maconomy.adapter.check()
    maconomy.sandbox.set_faults(Faults(burst_429=3))
    records = await collect(maconomy.adapter.read("customers"))
    assert len(records) == 55
    assert maconomy.statuses().count(429) == 3
    assert maconomy.adapter.session.stats.retries == 3
    assert sum(maconomy.time.sleeps) >= 3.0  # Retry-After: 1 each


# ---------------------------------------------------------------------- look-ups, writes


async def test_get_and_find_external(maconomy: Harness) -> None:
    record = await maconomy.adapter.get("jobs", "1000012")
    assert record is not None and record["jobnumber"] == "1000012"
    assert_conforms(record, maconomy.adapter.describe().objects["jobs"])
    assert await maconomy.adapter.get("jobs", "9999999") is None
    found = await maconomy.adapter.find_external(
        "customers", "customernumber", ["100001", "100054", "nope", "1000'1"])
    assert sorted(found) == ["100001", "100054"]
    assert found["100054"]["name1"] == maconomy.sandbox.customers.get("100054")["name1"]
    with pytest.raises(FatalError, match="cannot be looked up"):
        await maconomy.adapter.find_external("customers", "name1", ["x"])


async def test_writes_are_refused_as_a_source_only_system(maconomy: Harness) -> None:
    with pytest.raises(FatalError, match="source only"):
        await maconomy.adapter.write("customers", [WriteOp("create", "k", {"name1": "x"})])
    assert maconomy.adapter.max_batch("customers") == 1
    assert maconomy.adapter.total("customers") is None


# ---------------------------------------------------------------------- literals


_FIELDS = ("customernumber", "transactiontimestamp")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_string_literals_match_exactly_what_they_quote(value: str) -> None:
    restriction = compile_restriction(f"customernumber = {restriction_literal(value)}",
                                      _FIELDS)
    assert restriction.matches({"customernumber": value})
    assert not restriction.matches({"customernumber": value + "x"})


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                    timezones=st.just(UTC)))
def test_timestamp_literals_split_records_at_the_millisecond(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    restriction = compile_restriction(
        f"transactiontimestamp >= {restriction_literal(moment)}", _FIELDS)
    assert restriction.matches({"transactiontimestamp": maconomy_timestamp(moment)})
    earlier = moment - timedelta(milliseconds=1)
    assert not restriction.matches({"transactiontimestamp": maconomy_timestamp(earlier)})
