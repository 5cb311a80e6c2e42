"""MaconomyAdapter against the real Maconomy sandbox app, in-process over ASGITransport.

Every exchange goes through `contract_transport`, so the contract checker
(tests/contracts/maconomy/checker.py) sees it: by default the adapter sends only what
real clients confirm. Tests that enable an unconfirmed option declare it with
`allow_from_options`, exactly as the connection lists it. The adapter's retry sleeps move
the sandbox's ManualClock, so token expiry and 429 waits behave as in real time without
a test ever sleeping.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.adapters.base import AdapterContext, ConnectionConfig, WriteOp
from engine.adapters.maconomy import MaconomyAdapter, restriction_literal
from engine.adapters.maconomy.wire import FieldSpec, parse_specification
from engine.adapters.ratelimit import RateBudgets
from engine.adapters.retry import RetryPolicy
from engine.errors import FatalError
from engine.redact import Redactor
from engine.sandbox.maconomy import (
    MaconomySandbox,
    MaconomySettings,
    compile_restriction,
    maconomy_timestamp,
)
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
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport

USER = "integration"
PASSWORD = "maconomy-test-password-41"
SERVER_DELTA = ["transactiontimestamp_restriction", "timestamp_literal", "restriction_extended"]
CURSOR = "transactiontimestamp"


class RecordingTransport(_RecordingTransport):
    """The shared recorder, plus the Maconomy filter reads it saw."""

    def filter_reads(self) -> list[dict[str, Any]]:
        """Each filter read's parameters (v1 query, or the filter resource's body)."""
        reads = []
        for request in self.sent:
            if not request.url.path.endswith("/filter"):
                continue
            if request.method == "GET":
                reads.append(dict(request.url.params))
            else:
                reads.append(orjson.loads(request.content))
        return reads


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


def make_harness(records: int = 55, *, tenant: MaconomySettings | None = None,
                 adapter_options: dict[str, Any] | None = None, password: str = PASSWORD,
                 defect_rate: float = 0.0, declare: bool = True) -> Harness:
    clock = ManualClock()
    sandbox = MaconomySandbox(
        SandboxConfig(records=records, clock=clock, defect_rate=defect_rate),
        MaconomyCredentials(user=USER, password=PASSWORD, shortname="acme"),
        tenant or MaconomySettings())
    time = SharedTime(clock)
    transport = RecordingTransport(contract_transport(sandbox))
    client = httpx.AsyncClient(transport=transport, base_url="http://maconomy.test")
    context = AdapterContext(
        budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep, wall_clock=time.wall),
        redactor=Redactor(), now=clock.now)
    options = {"shortname": "acme", "page_size": 10, **(adapter_options or {})}
    if declare:
        allow_from_options(options)  # the contract checker allows what the connection lists
    config = ConnectionConfig(name="maconomy", adapter="maconomy",
                              base_url="http://maconomy.test",
                              auth={"username": USER, "password": password}, options=options)
    adapter = MaconomyAdapter(config, client, context, sleep=time.sleep,
                              retry=RetryPolicy(rng=random.Random(3)))
    return Harness(sandbox, adapter, clock, time, client, transport)


@pytest.fixture
async def maconomy() -> AsyncIterator[Harness]:
    harness = make_harness()
    async with harness.client:
        yield harness


async def changed(harness: Harness, numbers: list[str], container: str = "customercard",
                  body: dict[str, Any] | None = None) -> datetime:
    """Change `numbers` a minute apart, as a user would; returns when the first changed."""
    since = harness.clock.now()
    for number in numbers:
        harness.clock.advance(61)
        await harness.control("PATCH", f"/records/{container}/{number}",
                              body or {"telephone": "08-123 45 67"})
    return since


# ---------------------------------------------------------------------- auth and check


async def test_check_logs_in_reads_and_says_how_changes_are_read(maconomy: Harness,
                                                                 snapshot) -> None:
    result = await maconomy.adapter.check()
    assert result.ok, result.message
    assert result.message == snapshot


@pytest.mark.parametrize("tenant", [
    pytest.param(MaconomySettings(), id="accepts"),
    pytest.param(MaconomySettings(unfilterable=frozenset({CURSOR})), id="unfilterable"),
    pytest.param(MaconomySettings().strict(), id="refuses"),
    pytest.param(MaconomySettings(month_base=0), id="zero-based-months"),
])
async def test_check_probes_the_server_side_delta_options(tenant: MaconomySettings,
                                                          snapshot) -> None:
    harness = make_harness(tenant=tenant, adapter_options={
        "unconfirmed": [*SERVER_DELTA, "quote_doubling"]})
    async with harness.client:
        result = await harness.adapter.check()
    assert (result.ok, result.message) == snapshot


async def test_check_probes_the_current_api_options(snapshot) -> None:
    tenant = MaconomySettings(filter_endpoint=True, specification_path=True)
    harness = make_harness(tenant=tenant, adapter_options={"unconfirmed": [
        "filter_endpoint", "filter_orderby", "specification_path", "logout_via_auth"]})
    async with harness.client:
        result = await harness.adapter.check()
    assert (result.ok, result.message) == snapshot


async def test_check_says_when_a_listed_route_is_missing(snapshot) -> None:
    harness = make_harness(adapter_options={"unconfirmed": ["filter_endpoint",
                                                            "specification_path"]})
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok
    assert result.message == snapshot


async def test_check_says_where_the_v1_api_was_looked_for(snapshot) -> None:
    harness = make_harness(adapter_options={"v1_path": "/rest/containers/v1"})
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok
    assert result.message == snapshot


async def test_check_with_a_wrong_password_says_so_without_the_password() -> None:
    harness = make_harness(password="not-the-password-99")
    async with harness.client:
        result = await harness.adapter.check()
    assert not result.ok
    assert result.message == "Maconomy refused the user name or password for system 'acme' (401)."
    assert harness.statuses() == [401]  # the credentials are not sent twice


async def test_credentials_once_then_reconnect_tokens_with_a_named_format(
        maconomy: Harness) -> None:
    await collect(maconomy.adapter.read("customers"))
    await collect(maconomy.adapter.read("jobs"))
    assert maconomy.adapter.logins == 1
    first, *rest = maconomy.transport.sent
    assert first.headers["authorization"].startswith("Basic ")
    assert first.headers["maconomy-authentication"] == "X-Reconnect"
    assert rest and all(r.headers["authorization"].startswith("X-Reconnect ") for r in rest)
    # The v1 API is asked for JSON on every request (httpx's own "*/*" never goes out).
    assert {r.headers["accept"] for r in maconomy.transport.sent} == {"application/json"}
    assert not any("/auth/" in r.url.path for r in maconomy.transport.sent)


async def test_rotated_tokens_are_kept() -> None:
    # Every second call rotates the token, and the old one dies at once.
    harness = make_harness(tenant=MaconomySettings(rotate_every=2, rotation_grace=0))
    async with harness.client:
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


async def test_logout_on_close_rides_on_a_container_request(maconomy: Harness) -> None:
    await maconomy.adapter.check()
    token = maconomy.adapter._token
    assert token in maconomy.sandbox.tokens
    await maconomy.adapter.aclose()
    assert token not in maconomy.sandbox.tokens
    last = maconomy.transport.sent[-1]
    assert last.url.path == "/containers/v1/acme/customercard"
    assert last.headers["maconomy-authentication"] == "X-Log-Out"


async def test_logout_through_auth_when_listed() -> None:
    harness = make_harness(adapter_options={"unconfirmed": ["logout_via_auth"]})
    async with harness.client:
        await collect(harness.adapter.read("customers"))
        token = harness.adapter._token
        await harness.adapter.aclose()
    assert token not in harness.sandbox.tokens
    last = harness.transport.sent[-1]
    assert (last.url.path, last.headers["maconomy-authentication"]) == (
        "/maconomy-api/auth/acme", "X-Log-Out")
    assert last.headers["accept"].endswith("version=2.0")


@pytest.mark.parametrize(("options", "message"), [
    ({"unconfirmed": ["filter_everything"]}, "does not know; known: accept_version"),
    ({"unconfirmed": ["transactiontimestamp_restriction"]}, "needs timestamp_literal"),
    ({"unconfirmed": ["filter_orderby"]}, "without filter_endpoint"),
    ({"containers_version": "9.0"}, "add accept_version"),
    ({"timezone": "Mars/Olympus"}, "not a time zone"),
    ({"month_base": 2}, "month_base is 1"),
    ({"shortname": ""}, "shortname"),
])
def test_options_are_checked_when_the_adapter_is_built(options: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(FatalError, match=message):
        make_harness(adapter_options=options, declare=False)


# ---------------------------------------------------------------------- full reads


@pytest.mark.parametrize("obj", ["customers", "jobs"])
async def test_full_read_follows_links_and_pages_to_the_end(maconomy: Harness,
                                                            obj: str) -> None:
    records = await collect(maconomy.adapter.read(obj))
    info = maconomy.adapter.describe().objects[obj]
    assert len(records) == 55
    assert len({r[info.id_field] for r in records}) == 55
    container = {"customers": "customercard", "jobs": "jobs"}[obj]
    paths = [r.url.path for r in maconomy.transport.sent]
    assert paths[:2] == [f"/containers/v1/acme/{container}",
                         f"/containers/v1/acme/{container}/specification"]
    # Pages of 10 start at the last row read: 10 + 5 * 9 new rows fill six pages, and a
    # seventh (only that row) says the end is reached.
    reads = maconomy.transport.filter_reads()
    assert [int(r.get("offset", 0)) for r in reads] == [0, 9, 18, 27, 36, 45, 54]
    assert all(r["orderby"] == f"+{info.id_field}" and "restriction" not in r
               for r in reads)
    for record in records:
        assert_conforms(record, info)
        assert isinstance(record[CURSOR], datetime)
        assert isinstance(record["createddate"], date)
    if obj == "jobs":
        assert all(isinstance(r["budget"], float) for r in records)  # from budgetamount
        assert "budgetamount" not in records[0]


async def test_full_read_in_one_big_page() -> None:
    harness = make_harness(records=2500, adapter_options={"page_size": 5000})
    async with harness.client:
        records = await collect(harness.adapter.read("customers"))
    assert len(records) == 2500
    assert [r["limit"] for r in harness.transport.filter_reads()] == ["5000", "5000"]


@pytest.mark.scenario("S8")
@pytest.mark.parametrize("action", ["delete", "create"])
async def test_records_deleted_or_added_during_a_full_read_lose_nothing(
        maconomy: Harness, action: str) -> None:
    seen: list[str] = []
    async for record in maconomy.adapter.read("customers"):
        seen.append(record["customernumber"])
        if len(seen) == 10:
            if action == "delete":  # every later row moves one place back
                await maconomy.control("DELETE", f"/records/customercard/{seen[4]}")
            else:  # a record sorting first: every later row moves one place on
                await maconomy.control("POST", "/records/customercard",
                                       {"customernumber": "0999", "name1": "First AB"})
    live = {c["customernumber"] for c in maconomy.sandbox.customers.iter()}
    assert len(seen) == len(set(seen))
    assert live - set(seen) <= {"0999"}  # only a record added behind the read is missed
    assert all(not r.get("restriction") for r in maconomy.transport.filter_reads())


@pytest.mark.scenario("S8")
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["delete", "create"]), st.integers(0, 54)),
                min_size=1, max_size=8), st.integers(1, 5))
async def test_shifts_of_less_than_a_page_never_lose_a_record(
        operations: list[tuple[str, int]], every: int) -> None:
    harness = make_harness()
    async with harness.client:
        present = {c["customernumber"] for c in harness.sandbox.customers.iter()}
        deleted: set[str] = set()
        seen: list[str] = []
        pending = list(operations)
        async for record in harness.adapter.read("customers"):
            seen.append(record["customernumber"])
            if pending and len(seen) % (every * 3) == 0:
                action, index = pending.pop(0)
                number = str(100_000 + index)
                if action == "delete" and number in present - deleted:
                    await harness.control("DELETE", f"/records/customercard/{number}")
                    deleted.add(number)
                elif action == "create":
                    await harness.control("POST", "/records/customercard",
                                          {"name1": "New AB"})
    assert len(seen) == len(set(seen))
    untouched = present - deleted
    assert untouched <= set(seen)


# ---------------------------------------------------------------------- changed-since


async def test_changed_since_compares_locally_by_default(maconomy: Harness) -> None:
    since = await changed(maconomy, ["100040", "100003", "100021"])
    records = await collect(maconomy.adapter.read("customers", since=since,
                                                  cursor_field=CURSOR))
    assert [r["customernumber"] for r in records] == ["100040", "100003", "100021"]
    assert records[0][CURSOR] == since + timedelta(seconds=61)
    assert [r["versionnumber"] for r in records] == [
        maconomy.sandbox.customers.get(n)["versionnumber"] for n in ("100040", "100003",
                                                                      "100021")]
    reads = maconomy.transport.filter_reads()
    assert len(reads) == 7 and all("restriction" not in r for r in reads)


async def test_changed_since_restricts_on_the_server_when_listed() -> None:
    harness = make_harness(adapter_options={"unconfirmed": SERVER_DELTA})
    async with harness.client:
        since = await changed(harness, ["100040", "100003", "100021"])
        records = await collect(harness.adapter.read("customers", since=since,
                                                     cursor_field=CURSOR))
    assert [r["customernumber"] for r in records] == ["100040", "100003", "100021"]
    read, end = harness.transport.filter_reads()  # three rows, then only the last again
    assert read["restriction"] == end["restriction"] == \
        "transactiontimestamp >= timestamp(2025, 1, 15, 9, 0, 0, 0)"
    assert read["orderby"] == "+transactiontimestamp,+customernumber"
    assert "offset" not in read and end["offset"] == "2"


@pytest.mark.parametrize(("tenant", "logged"), [
    pytest.param(MaconomySettings(unfilterable=frozenset({CURSOR})),
                 "marks transactiontimestamp as not filterable", id="unfilterable"),
    pytest.param(MaconomySettings().strict(), "Maconomy refused the restriction",
                 id="refused"),
])
async def test_changed_since_falls_back_to_comparing_locally(
        tenant: MaconomySettings, logged: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "engine.adapters.maconomy")
    harness = make_harness(tenant=tenant, adapter_options={"unconfirmed": SERVER_DELTA})
    async with harness.client:
        since = await changed(harness, ["1000040", "1000003"], "jobs", {"jobname": "X"})
        first = await collect(harness.adapter.read("jobs", since=since, cursor_field=CURSOR))
        again = await collect(harness.adapter.read("jobs", since=since, cursor_field=CURSOR))
    assert [r["jobnumber"] for r in first] == [r["jobnumber"] for r in again] == [
        "1000040", "1000003"]
    assert logged in caplog.text
    restricted = [r for r in harness.transport.filter_reads() if r.get("restriction")]
    assert len(restricted) == (1 if tenant.unfilterable == frozenset() else 0)


@pytest.mark.scenario("S8")
async def test_a_change_during_a_server_side_delta_read_loses_nothing() -> None:
    harness = make_harness(adapter_options={"unconfirmed": SERVER_DELTA})
    async with harness.client:
        read = harness.adapter.read("jobs", since=datetime(2000, 1, 1, tzinfo=UTC),
                                    cursor_field=CURSOR)
        seen: list[dict[str, Any]] = []
        async for record in read:
            seen.append(record)
            if len(seen) == 10:  # page one is in; the next record fetches page two
                harness.clock.advance(60)
                # A job on page one changes: it moves to the end, everything shifts by one.
                await harness.control("PATCH", f"/records/jobs/{seen[2]['jobnumber']}",
                                      {"jobname": "Renamed"})
    numbers = [r["jobnumber"] for r in seen]
    assert set(numbers) == {j["jobnumber"] for j in harness.sandbox.jobs}
    assert numbers.count(seen[2]["jobnumber"]) == 2 and seen[-1]["jobname"] == "Renamed"
    stamps = [r[CURSOR] for r in seen]
    assert stamps == sorted(stamps)


@pytest.mark.scenario("S9")
async def test_a_server_that_ignores_the_order_is_noticed_and_nothing_is_lost(
        caplog: pytest.LogCaptureFixture) -> None:
    harness = make_harness(tenant=MaconomySettings(ignore_orderby=True),
                           adapter_options={"unconfirmed": SERVER_DELTA})
    async with harness.client:
        since = await changed(harness, [str(100_054 - i) for i in range(0, 30, 2)])
        records = await collect(harness.adapter.read("customers", since=since,
                                                     cursor_field=CURSOR))
    assert sorted(r["customernumber"] for r in records) == sorted(
        str(100_054 - i) for i in range(0, 30, 2))
    assert "came out of the order asked for" in caplog.text
    tail = [r[CURSOR] for r in records[10:]]  # after the first page: sorted here
    assert tail == sorted(tail)


@pytest.mark.scenario("S7")
@pytest.mark.parametrize("unconfirmed", [[], SERVER_DELTA], ids=["local", "server"])
async def test_identical_timestamps_across_page_boundaries_are_each_read_once(
        unconfirmed: list[str]) -> None:
    harness = make_harness(adapter_options={"unconfirmed": unconfirmed})
    async with harness.client:
        harness.clock.advance(60)
        since = harness.clock.now()
        same = [str(100_000 + i) for i in range(0, 50, 2)]  # 25 changes, one instant
        for number in same:
            await harness.control("PATCH", f"/records/customercard/{number}",
                                  {"telephone": "08-1"})
        records = await collect(harness.adapter.read("customers", since=since,
                                                     cursor_field=CURSOR))
    assert [r["customernumber"] for r in records] == same  # oldest first, then by key
    assert {r[CURSOR] for r in records} == {since}


@pytest.mark.parametrize("unconfirmed", [[], SERVER_DELTA], ids=["local", "server"])
async def test_records_without_a_timestamp_are_read_in_full_but_not_in_deltas(
        unconfirmed: list[str]) -> None:
    harness = make_harness(records=200, defect_rate=0.2,
                           adapter_options={"unconfirmed": unconfirmed})
    async with harness.client:
        full = await collect(harness.adapter.read("customers"))
        delta = await collect(harness.adapter.read(
            "customers", since=datetime(2000, 1, 1, tzinfo=UTC), cursor_field=CURSOR))
    info = harness.adapter.describe().objects["customers"]
    for record in full:
        assert_conforms(record, info)
    undated = [r for r in full if r.get(CURSOR) is None]
    assert undated and len(delta) == len(full) - len(undated)
    stamps = [r[CURSOR] for r in delta]
    assert stamps == sorted(stamps)


async def test_local_server_time_is_converted_to_utc() -> None:
    harness = make_harness(adapter_options={"timezone": "Europe/Stockholm"})
    async with harness.client:
        record = await harness.adapter.get("customers", "100007")
    assert record is not None
    wire = harness.sandbox.customers.get("100007")[CURSOR]
    assert " " in wire and "T" not in wire  # printed as Maconomy prints it
    local = datetime.fromisoformat(wire)
    offset = timedelta(hours=2 if 4 <= local.month <= 9 else 1)
    assert abs(record[CURSOR] - (local.replace(tzinfo=UTC) - offset)) <= \
        timedelta(hours=1)  # DST edges: the exact offset is the zone database's business
    assert record[CURSOR].utcoffset() == timedelta(0)


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


# ---------------------------------------------------------------------- the current API


async def test_the_filter_resource_and_specification_path_when_listed() -> None:
    tenant = MaconomySettings(filter_endpoint=True, specification_path=True)
    harness = make_harness(tenant=tenant, adapter_options={"unconfirmed": [
        "filter_endpoint", "filter_orderby", "specification_path", *SERVER_DELTA]})
    async with harness.client:
        full = await collect(harness.adapter.read("jobs"))
        since = await changed(harness, ["1000040"], "jobs", {"jobname": "X"})
        delta = await collect(harness.adapter.read("jobs", since=since, cursor_field=CURSOR))
    assert len(full) == 55 and [r["jobnumber"] for r in delta] == ["1000040"]
    paths = {r.url.path for r in harness.transport.sent if "/_sandbox/" not in r.url.path}
    assert paths == {"/maconomy-api/containers/acme/jobs",
                     "/maconomy-api/containers/acme/jobs/filter"}
    posts = [r for r in harness.transport.sent if r.method == "POST"]
    assert {r.headers["content-type"] for r in posts} == {
        "application/vnd.deltek.maconomy.containers+json; version=5.0"}
    bodies = harness.transport.filter_reads()
    assert bodies[0] == {"limit": 10, "offset": 0, "orderby": "+jobnumber"}
    assert bodies[-1]["orderby"] == "+transactiontimestamp,+jobnumber"


async def test_without_filter_orderby_a_server_side_delta_is_sorted_here() -> None:
    tenant = MaconomySettings(filter_endpoint=True)
    harness = make_harness(tenant=tenant, adapter_options={"unconfirmed": [
        "filter_endpoint", *SERVER_DELTA]})
    async with harness.client:
        since = await changed(harness, ["1000040", "1000003", "1000021"], "jobs",
                              {"jobname": "X"})
        delta = await collect(harness.adapter.read("jobs", since=since, cursor_field=CURSOR))
    assert [r["jobnumber"] for r in delta] == ["1000040", "1000003", "1000021"]
    assert all("orderby" not in b for b in harness.transport.filter_reads())


# ---------------------------------------------------------------------- look-ups, writes


async def test_get_and_find_external(maconomy: Harness) -> None:
    record = await maconomy.adapter.get("jobs", "1000012")
    assert record is not None and record["jobnumber"] == "1000012"
    assert_conforms(record, maconomy.adapter.describe().objects["jobs"])
    assert await maconomy.adapter.get("jobs", "9999999") is None
    found = await maconomy.adapter.find_external(
        "customers", "customernumber", ["100001", "100054", "nope"])
    assert sorted(found) == ["100001", "100054"]
    assert found["100054"]["name1"] == maconomy.sandbox.customers.get("100054")["name1"]
    restrictions = [r["restriction"] for r in maconomy.transport.filter_reads()]
    assert restrictions == ["jobnumber='1000012'", "jobnumber='9999999'",
                            "(customernumber='100001' or customernumber='100054' or "
                            "customernumber='nope')"]
    with pytest.raises(FatalError, match="cannot be looked up"):
        await maconomy.adapter.find_external("customers", "name1", ["x"])


@pytest.mark.parametrize(("unconfirmed", "tenant", "local"), [
    pytest.param([], MaconomySettings(), True, id="matched-locally"),
    pytest.param(["quote_doubling"], MaconomySettings(), False, id="doubled"),
    pytest.param(["quote_doubling"], MaconomySettings().strict(), True, id="refused"),
])
async def test_values_with_a_quote(unconfirmed: list[str], tenant: MaconomySettings,
                                   local: bool) -> None:
    harness = make_harness(tenant=tenant, adapter_options={"unconfirmed": unconfirmed})
    async with harness.client:
        await harness.control("POST", "/records/customercard",
                              {"customernumber": "O'Hara", "name1": "O'Hara AB"})
        found = await harness.adapter.find_external("customers", "customernumber",
                                                    ["100001", "O'Hara"])
        one = await harness.adapter.get("customers", "O'Hara")
    assert sorted(found) == ["100001", "O'Hara"] and one is not None
    full_reads = [r for r in harness.transport.filter_reads() if not r.get("restriction")]
    assert bool(full_reads) == local


async def test_writes_are_refused_as_a_source_only_system(maconomy: Harness) -> None:
    with pytest.raises(FatalError, match="source only"):
        await maconomy.adapter.write("customers", [WriteOp("create", "k", {"name1": "x"})])
    assert maconomy.adapter.max_batch("customers") == 1
    assert maconomy.adapter.total("customers") is None


# ---------------------------------------------------------------------- specifications


def test_specification_fields_are_read_in_both_shapes() -> None:
    keyed = {"panes": {"filter": {"fields": {
        "jobnumber": {"name": "jobnumber", "type": "string", "key": True},
        "TransactionTimestamp": {"type": "Auto Timestamp", "unfilterable": True}}}}}
    listed = {"panes": {"filter": {"fields": [
        {"name": "jobnumber", "type": "string"},
        {"name": "transactiontimestamp", "type": "autotimestamp", "unfilterable": True}]}}}
    expected = {"jobnumber": FieldSpec("string"),
                "transactiontimestamp": FieldSpec("autotimestamp", True)}
    assert parse_specification(keyed) == parse_specification(listed) == expected
    assert parse_specification({"containerName": "jobs", "links": {}}) is None


async def test_catalog_fields_are_asked_for_by_name_when_the_container_has_more() -> None:
    harness = make_harness()
    async with harness.client:
        container = await harness.adapter.wire.container("customers")
        container.fields = {**(container.fields or {}), "extra": FieldSpec("string")}
        records = await collect(harness.adapter.read("customers"))
    assert len(records) == 55
    fields = harness.transport.filter_reads()[0]["fields"].split(",")
    assert "customernumber" in fields and "extra" not in fields


class _FilterAnswers(httpx.AsyncBaseTransport):
    """The sandbox, but each filter read answered with `body(the sandbox's answer)`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, body: Any) -> None:
        self.inner, self.body = inner, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/filter"):
            return response
        answer = orjson.loads(await response.aread())
        return httpx.Response(200, content=self.body(answer),
                              headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("body", "message"), [
    (lambda answer: b"<html>gateway error</html>", "customers filter answer is not JSON"),
    (lambda answer: orjson.dumps({"panes": {"filter": {"rows": []}}}),
     "has no panes.filter.records"),
    (lambda answer: orjson.dumps({"panes": {"filter": {"records": [{"meta": {}}]}}}),
     "has no panes.filter.records"),
    (lambda answer: orjson.dumps([answer]), "has no panes.filter.records"),
])
async def test_a_filter_answer_of_another_shape_is_a_clear_error(body: Any,
                                                                 message: str) -> None:
    harness = make_harness()
    harness.client._transport = _FilterAnswers(harness.client._transport, body)
    async with harness.client:
        with pytest.raises(FatalError, match=message):
            await collect(harness.adapter.read("customers"))


async def test_a_filter_answer_is_read_whatever_else_it_carries() -> None:
    """Rows are the records' `data`: other members, of a row or of the answer, and a
    `meta` of an unexpected type change nothing."""
    def extra(answer: Any) -> bytes:
        pane = answer["panes"]["filter"]
        pane["meta"] = ["not", "an", "object"]
        for row in pane["records"]:
            row["links"] = {"self": {"href": "x"}}
        return orjson.dumps({**answer, "links": {}})

    harness = make_harness()
    plain = make_harness()
    harness.client._transport = _FilterAnswers(harness.client._transport, extra)
    async with harness.client, plain.client:
        records = await collect(harness.adapter.read("customers"))
        expected = await collect(plain.adapter.read("customers"))
    assert len(records) == 55 and records == expected


# ---------------------------------------------------------------------- literals


_FIELDS = ("customernumber", CURSOR)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_string_literals_match_exactly_what_they_quote(value: str) -> None:
    restriction = compile_restriction(f"customernumber = {restriction_literal(value)}",
                                      _FIELDS)
    assert restriction.matches({"customernumber": value})
    assert not restriction.matches({"customernumber": value + "x"})


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                    timezones=st.just(UTC)), st.sampled_from([0, 1]))
def test_timestamp_literals_split_records_at_the_millisecond(moment: datetime,
                                                              month_base: int) -> None:
    from engine.sandbox.maconomy import Dialect

    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    dialect = replace(Dialect(), month_base=month_base)
    restriction = compile_restriction(
        f"{CURSOR} >= {restriction_literal(moment, month_base=month_base)}", _FIELDS,
        dialect)
    assert restriction.matches({CURSOR: maconomy_timestamp(moment)})
    earlier = moment - timedelta(milliseconds=1)
    assert not restriction.matches({CURSOR: maconomy_timestamp(earlier)})
