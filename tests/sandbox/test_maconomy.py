"""The Maconomy simulator, in-process through httpx.ASGITransport (and once over uvicorn).

Requests here are written as real clients write them (the v1 API's links, `+field`
orderby, Basic then X-Reconnect); what the answers look like is checked against the
contract in test_maconomy_contract.py.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from engine.sandbox.maconomy import (
    MaconomySandbox,
    MaconomySettings,
    RestrictionError,
    compile_restriction,
    seed,
)
from engine.sandbox.maconomy.restriction import Dialect
from engine.sandbox.platform import Faults, ManualClock, SandboxConfig

V1 = "/containers/v1/sandbox"
FILTER = V1 + "/{}/filter"
BASIC = "Basic " + base64.b64encode(b"sandbox:sandbox-password").decode()
LOGIN = {"Authorization": BASIC, "Maconomy-Authentication": "X-Reconnect"}


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def make(records: int = 120, settings_: MaconomySettings | None = None,
         **kwargs) -> tuple[MaconomySandbox, ManualClock]:
    clock = kwargs.pop("clock", None) or ManualClock()
    return MaconomySandbox(SandboxConfig(records=records, clock=clock, **kwargs),
                           settings=settings_), clock


def client_for(sandbox: MaconomySandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                             base_url="http://maconomy.test")


@pytest.fixture
async def maconomy() -> AsyncIterator[tuple[MaconomySandbox, httpx.AsyncClient]]:
    sandbox, _ = make()
    async with client_for(sandbox) as client:
        yield sandbox, client


async def login(client: httpx.AsyncClient) -> dict:
    response = await client.get("/maconomy-api/auth/sandbox", headers=LOGIN)
    assert response.status_code == 204
    return {"Authorization": f"X-Reconnect {response.headers['Maconomy-Reconnect']}"}


async def read(client: httpx.AsyncClient, headers: dict, container: str = "customercard",
               **params) -> httpx.Response:
    """GET the data:filter link with v1 query parameters."""
    return await client.get(FILTER.format(container), params=params,
                            headers={**headers, "Accept": "application/json"})


def rows(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [r["data"] for r in response.json()["panes"]["filter"]["records"]]


# --------------------------------------------------------------------------- auth


async def test_login_returns_a_reconnect_token(maconomy) -> None:
    _, client = maconomy
    headers = await login(client)
    assert (await read(client, headers, limit=1)).status_code == 200


async def test_credentials_on_the_first_container_request_return_a_token(maconomy) -> None:
    _, client = maconomy
    first = await client.get(f"{V1}/customercard", headers=LOGIN)
    assert first.status_code == 200 and first.headers["maconomy-reconnect"]
    token = {"Authorization": f"X-Reconnect {first.headers['maconomy-reconnect']}"}
    assert (await read(client, token, limit=1)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        pytest.param({}, 401, "authentication required", id="none"),
        pytest.param({"Authorization": "Basic " + base64.b64encode(b"sandbox:nope").decode()},
                     401, "invalid username or password", id="bad-password"),
        pytest.param({"Authorization": "Basic !!!"}, 401, "invalid username", id="garbage"),
        pytest.param({"Authorization": "X-Reconnect made-up"}, 401, "unknown or has expired",
                     id="unknown-token"),
    ],
)
async def test_auth_failures_use_the_error_envelope(maconomy, headers, status, message) -> None:
    _, client = maconomy
    response = await read(client, headers, limit=1)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"errorMessage", "errorFamily", "errorSeverity", "focus", "data"}
    assert message in body["errorMessage"] and body["errorFamily"] == "authentication"


async def test_unknown_shortname_container_and_paths_are_404_in_the_envelope(maconomy) -> None:
    _, client = maconomy
    assert (await client.get("/maconomy-api/auth/other", headers=LOGIN)).status_code == 404
    headers = await login(client)
    response = await read(client, headers, container="invoices")
    assert response.status_code == 404 and "customercard" in response.json()["errorMessage"]
    for method, path in [("GET", "/maconomy-api/containers/sandbox/jobs"),
                         ("POST", "/maconomy-api/containers/sandbox/jobs/filter"),
                         ("GET", "/maconomy-api/auth/sandbox/login")]:
        missing = await client.request(method, path, headers=headers)
        assert missing.status_code == 404 and missing.json()["errorFamily"] == "notFound"
    wrong = await client.post(FILTER.format("jobs"), headers=headers)
    assert wrong.status_code == 405 and "errorMessage" in wrong.json()


async def test_basic_auth_works_per_call(maconomy) -> None:
    _, client = maconomy
    response = await read(client, {"Authorization": BASIC}, limit=1)
    assert response.status_code == 200 and "maconomy-reconnect" not in response.headers


async def test_token_expires_when_idle() -> None:
    sandbox, clock = make(settings_=MaconomySettings(token_ttl=600))
    async with client_for(sandbox) as client:
        headers = await login(client)
        clock.advance(599)
        assert (await read(client, headers, limit=1)).status_code == 200  # slides
        clock.advance(599)
        assert (await read(client, headers, limit=1)).status_code == 200
        clock.advance(601)
        assert (await read(client, headers, limit=1)).status_code == 401


async def test_token_rotation_and_grace() -> None:
    sandbox, clock = make(settings_=MaconomySettings(rotate_every=3, rotation_grace=30))
    async with client_for(sandbox) as client:
        old = await login(client)
        answers = [await read(client, old, limit=1) for _ in range(3)]
        assert [("maconomy-reconnect" in a.headers) for a in answers] == [False, False, True]
        new = {"Authorization": f"X-Reconnect {answers[2].headers['maconomy-reconnect']}"}
        assert new != old
        assert (await read(client, old, limit=1)).status_code == 200  # within the grace
        clock.advance(31)
        assert (await read(client, old, limit=1)).status_code == 401
        assert (await read(client, new, limit=1)).status_code == 200


async def test_log_out_on_a_request_ends_the_session_after_it(maconomy) -> None:
    _, client = maconomy
    headers = await login(client)
    out = await client.get(f"{V1}/customercard",
                           headers={**headers, "Maconomy-Authentication": "X-Log-Out"})
    assert out.status_code == 200
    assert (await read(client, headers, limit=1)).status_code == 401


# --------------------------------------------------------------------------- the v1 API


async def test_container_resource_links_to_specification_and_filter(maconomy,
                                                                    snapshot_json) -> None:
    _, client = maconomy
    headers = await login(client)
    resource = await client.get(f"{V1}/jobs", headers=headers)
    assert resource.headers["content-type"].startswith("application/json")
    assert resource.json() == snapshot_json
    links = resource.json()["links"]
    spec = await client.get(links["specification"]["href"], headers=headers)
    fields = spec.json()["panes"]["filter"]["fields"]
    assert list(fields) == list(seed.JOB_FIELDS)  # an object keyed by field name
    assert fields["jobnumber"] == {"name": "jobnumber", "type": "string", "mandatory": True,
                                   "key": True, "unfilterable": False, "maxLength": 255}
    assert fields["active"]["type"] == "boolean"
    assert fields["budgetamount"]["type"] == "amount"
    assert fields["transactiontimestamp"]["type"] == "string"  # subType autotimestamp
    page = await client.get(links["data:filter"]["href"], params={"limit": 1},
                            headers=headers)
    assert rows(page)


async def test_filter_response_shape(maconomy, snapshot_json) -> None:
    _, client = maconomy
    headers = await login(client)
    response = await read(client, headers, limit=2, offset=3)
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["maconomy-requestid"]
    assert response.json() == snapshot_json
    jobs = await read(client, headers, container="jobs", limit=1)
    assert jobs.json() == snapshot_json
    stamp = rows(jobs)[0]["transactiontimestamp"]
    assert stamp[10] == " " and len(stamp) == 23  # yyyy-MM-dd HH:mm:ss.SSS


async def test_paging_to_the_end_sees_every_record_once(maconomy) -> None:
    sandbox, client = maconomy
    headers = await login(client)
    seen: list[str] = []
    offset = 0
    while True:
        response = await read(client, headers, limit=50, offset=offset,
                              fields="customernumber", orderby="+customernumber")
        meta = response.json()["panes"]["filter"]["meta"]
        page = [r["customernumber"] for r in rows(response)]
        assert meta == {"paneName": "filter", "rowCount": len(page), "rowOffset": offset}
        if not page:
            break
        seen += page
        offset += len(page)
    assert len(seen) == len(set(seen)) == len(sandbox.customers) == 120
    assert seen == sorted(seen)


async def test_without_limit_a_read_answers_25_rows(maconomy) -> None:
    _, client = maconomy
    assert len(rows(await read(client, await login(client)))) == 25


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"fields": "customernumber,nmae1"}, "Unknown field 'nmae1'", id="field"),
        pytest.param({"limit": 10_001}, "may not exceed 10000", id="limit"),
        pytest.param({"offset": -1}, "'offset' must be a whole number", id="offset"),
        pytest.param({"restriction": "name1 = 'x' or"}, "found the end", id="syntax"),
        pytest.param({"restriction": "nmae1 = 'x'"}, "unknown field 'nmae1'", id="unknown"),
        pytest.param({"orderby": "name1 desc"}, "invalid orderby", id="orderby"),
        pytest.param({"sort": "name1"}, "Unknown filter parameter 'sort'", id="parameter"),
    ],
)
async def test_filter_errors(maconomy, params: dict, message: str) -> None:
    _, client = maconomy
    response = await read(client, await login(client), **params)
    assert response.status_code == 400
    assert message in response.json()["errorMessage"]


async def test_restriction_error_focuses_the_field(maconomy, snapshot_json) -> None:
    _, client = maconomy
    response = await read(client, await login(client), restriction="nmae1 = 'Acme'")
    assert response.json() == snapshot_json


@pytest.mark.parametrize(("orderby", "key"), [
    ("+name1", lambda r: r["name1"]),
    ("-versionnumber,+customernumber", lambda r: (-r["versionnumber"], r["customernumber"])),
])
async def test_orderby_plus_and_minus(maconomy, orderby: str, key) -> None:
    sandbox, client = maconomy
    got = rows(await read(client, await login(client), limit=500, orderby=orderby))
    assert got == sorted(sandbox.customers.iter(), key=key)


async def test_an_unencoded_plus_in_orderby_still_means_ascending(maconomy) -> None:
    _, client = maconomy
    headers = {**await login(client), "Accept": "application/json"}
    raw = await client.get(FILTER.format("customercard") + "?orderby=+region,-customernumber"
                           "&limit=500&fields=region,customernumber", headers=headers)
    pairs = [(r["region"], r["customernumber"]) for r in rows(raw)]
    want = sorted(pairs, key=lambda p: p[1], reverse=True)
    want.sort(key=lambda p: p[0])
    assert pairs == want


# --------------------------------------------------------------------------- the current API


async def test_current_api_routes_only_when_the_tenant_has_them() -> None:
    tenant = MaconomySettings(filter_endpoint=True, specification_path=True)
    sandbox, _ = make(settings_=tenant)
    async with client_for(sandbox) as client:
        headers = {**await login(client),
                   "Accept": "application/vnd.deltek.maconomy.containers+json; version=6.1"}
        spec = await client.get("/maconomy-api/containers/sandbox/jobs", headers=headers)
        assert spec.headers["content-type"].endswith("version=6.1")
        assert "jobnumber" in spec.json()["panes"]["filter"]["fields"]
        body = {"restriction": "jobtype = 'Fixed'", "fields": "jobnumber,jobtype",
                "limit": 3, "offset": 1}
        found = rows(await client.post("/maconomy-api/containers/sandbox/jobs/filter",
                                       json=body, headers=headers))
        assert len(found) == 3 and {r["jobtype"] for r in found} == {"Fixed"}
        refused = await client.get("/maconomy-api/containers/sandbox/jobs", headers={
            **headers, "Accept": "application/vnd.deltek.maconomy.containers+json; "
                                 "version=9.0"})
        assert refused.status_code == 406 and "5.0, 6.1" in refused.json()["errorMessage"]


# --------------------------------------------------------------------------- restrictions


def _all(container: str, sandbox: MaconomySandbox) -> list[dict]:
    return list(sandbox.containers[container].collection.iter())


@pytest.mark.parametrize(
    ("restriction", "expected"),
    [
        ("blocked", lambda r: r["blocked"]),
        ("not(blocked)", lambda r: not r["blocked"]),
        ("blocked = false and region = 'north'",
         lambda r: not r["blocked"] and r["region"] == "north"),
        ("region <> 'north' or versionnumber >= 25",
         lambda r: r["region"] != "north" or r["versionnumber"] >= 25),
        ("versionnumber > '9'", lambda r: r["versionnumber"] > 9),
        ("customernumber < '100010'", lambda r: r["customernumber"] < "100010"),
        ("createddate >= date(2020, 1, 1)", lambda r: r["createddate"] >= "2020-01-01"),
        ("transactiontimestamp > timestamp(2022, 6, 1, 12, 0, 0)",
         lambda r: r["transactiontimestamp"] > "2022-06-01 12:00:00.000"),
        ("transactiontimestamp > '2022-06-01 12:00:00.000'",
         lambda r: r["transactiontimestamp"] > "2022-06-01 12:00:00.000"),
        ("transactiontimestamp >= date(2023,1,1)",
         lambda r: r["transactiontimestamp"] >= "2023-01-01"),
        ("name1 like '*konsult*'", lambda r: "konsult" in r["name1"].lower()),
        ('name1 NOT LIKE "N%"', lambda r: not r["name1"].startswith("N")),
        ("zipcode like '11? *'", lambda r: r["zipcode"][:2] == "11"),
        ("(region = 'east' or region = 'west') and not (blocked or versionnumber < 5)",
         lambda r: r["region"] in ("east", "west") and not (r["blocked"]
                                                            or r["versionnumber"] < 5)),
        ("name2 < name1", lambda r: r["name2"] < r["name1"]),
        ("'north' = region", lambda r: r["region"] == "north"),
        ("10 < versionnumber", lambda r: r["versionnumber"] > 10),
        ("true", lambda r: True),
        ("1 = 2", lambda r: False),
        ("(region = 'east' or region='west')", lambda r: r["region"] in ("east", "west")),
    ],
)
async def test_restrictions_select_what_they_say(maconomy, restriction, expected) -> None:
    sandbox, client = maconomy
    got = rows(await read(client, await login(client), restriction=restriction, limit=500,
                          fields="customernumber"))
    want = [r["customernumber"] for r in _all("customercard", sandbox) if expected(r)]
    assert [r["customernumber"] for r in got] == want
    assert 0 < len(want) < 120 or restriction in ("true", "1 = 2")


async def test_job_filter_from_the_seed_document(maconomy) -> None:
    sandbox, client = maconomy
    text = ("active and (jobtype = 'T&M' or jobtype = 'Fixed') "
            "and not (customernumber = '100000' or customernumber = '100001')")
    got = rows(await read(client, await login(client), container="jobs", restriction=text,
                          limit=500))
    want = [r for r in _all("jobs", sandbox)
            if r["active"] and r["jobtype"] in ("T&M", "Fixed")
            and r["customernumber"] not in ("100000", "100001")]
    assert got == want and got


@pytest.mark.parametrize(("text", "message"), [
    ("region = 'south' and region = 'north'", "'and' is not supported"),
    ("not(region = 'north')", "'not' is not supported"),
    ("versionnumber >= '3'", "the comparison '>=' is not supported"),
    ("versionnumber = 3", "a number as a value is not supported"),
    ("blocked = true", "true/false as a value is not supported"),
    ("blocked", "a field without a comparison is not supported"),
    ('name1 = "x"', "double-quoted values are not supported"),
    ("name1 like 'A*'", "'like' is not supported"),
    ("name1 = 'O''Brien'", "a value may not contain a quote"),
    ("createddate = date(2024, 1, 1)", "unknown function 'date'"),
    ("transactiontimestamp = timestamp(2024, 1, 1, 0, 0, 0)", "unknown function 'timestamp'"),
])
def test_a_strict_tenant_accepts_only_the_confirmed_syntax(text: str, message: str) -> None:
    strict = MaconomySettings().strict().dialect()
    fields = seed.CUSTOMER_FIELDS
    with pytest.raises(RestrictionError, match=message):
        compile_restriction(text, fields, strict)
    for confirmed in ("customernumber='100001'", "(region = 'east' or region='west')",
                      "true"):
        assert compile_restriction(confirmed, fields, strict).matches(
            {"customernumber": "100001", "region": "east"})


def test_unfilterable_fields_and_month_numbering() -> None:
    unfilterable = Dialect(unfilterable=frozenset({"transactiontimestamp"}))
    with pytest.raises(RestrictionError, match="cannot be used in a restriction") as caught:
        compile_restriction("transactiontimestamp >= date(2024, 1, 1)",
                            ["transactiontimestamp"], unfilterable)
    assert caught.value.field_name == "transactiontimestamp"
    zero = Dialect(month_base=0)
    march = compile_restriction("createddate = date(2024, 2, 5)", ["createddate"], zero)
    assert march.matches({"createddate": "2024-03-05"})
    with pytest.raises(RestrictionError, match="invalid date"):
        compile_restriction("createddate = date(2024, 12, 5)", ["createddate"], zero)


def test_string_escapes_and_keywords() -> None:
    match = compile_restriction("name1 = 'O''Brien AB' AND NOT Blocked", ["name1", "blocked"])
    assert match.matches({"name1": "O'Brien AB", "blocked": False})
    assert not match.matches({"name1": "O'Brien AB", "blocked": True})
    assert match.fields == {"name1", "blocked"}
    quoted = compile_restriction('name1 = "say ""hi"""', ["name1"])
    assert quoted.matches({"name1": 'say "hi"'})
    assert not compile_restriction("name1 = 'x'", ["name1"]).matches({})  # missing field


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("name1 = ", "expected a field or a value, found the end", 9),
        ("name1 = 'x' name2", "expected 'and', 'or'", 13),
        ("(name1 = 'x'", "expected ')'", 13),
        ("name1 = 'unterminated", "unexpected character", 9),
        ("date(2024, 13, 1) < createddate", "invalid date", 1),
        ("timestamp(2024, 1, 1) < createddate", "timestamp(y, m, d, h, mi, s[, ms])", 1),
        ("name1 like 5", "quoted pattern", 12),
        ("5", "expected a comparison", 1),
        ("name1 = 'a' or or", "expected a field or a value, found 'or'", 16),
        ("name1 ~ 'a'", "unexpected character '~'", 7),
    ],
)
def test_restriction_syntax_errors_point_at_the_problem(text, message, position) -> None:
    with pytest.raises(RestrictionError) as caught:
        compile_restriction(text, ["name1", "name2", "createddate"])
    assert message in str(caught.value)
    assert caught.value.position + 1 == position


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(RestrictionError, match="nested too deeply"):
        compile_restriction("(" * 500 + "a" + ")" * 500, ["a"])
    with pytest.raises(RestrictionError, match="longer than"):
        compile_restriction("a and " * 3000 + "a", ["a"])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abn1() ='\"<>,.-andortlike")), max_size=60),
       st.booleans())
def test_random_restrictions_never_crash(text: str, strict: bool) -> None:
    dialect = MaconomySettings().strict().dialect() if strict else Dialect()
    try:
        restriction = compile_restriction(text, ["a", "b", "n1"], dialect)
    except RestrictionError:
        return
    assert restriction.matches({"a": "x", "b": 1, "n1": True}) in (True, False)


# --------------------------------------------------------------------------- delta sync


async def test_delta_sync_sees_user_changes_with_new_timestamps() -> None:
    sandbox, clock = make()
    async with client_for(sandbox) as client:
        headers = await login(client)
        everything = rows(await read(client, headers, limit=500,
                                     orderby="+transactiontimestamp",
                                     restriction="transactiontimestamp > date(2000,1,1)"))
        stamps = [r["transactiontimestamp"] for r in everything]
        assert stamps == sorted(stamps) and len(stamps) == 120
        watermark = stamps[-1]
        before = await client.get("/_sandbox/records/customercard/100007")
        version = before.json()["data"]["versionnumber"]
        clock.advance(3600)
        changed = await client.patch("/_sandbox/records/customercard/100007",
                                     json={"name1": "Omdöpt AB", "blocked": True})
        assert changed.status_code == 200
        assert (await read(client, headers, limit=1)).status_code == 401  # idle an hour
        headers = await login(client)
        delta = rows(await read(client, headers, limit=500, orderby="+transactiontimestamp",
                                restriction=f"transactiontimestamp > '{watermark}'"))
        assert [r["customernumber"] for r in delta] == ["100007"]
        assert delta[0]["name1"] == "Omdöpt AB" and delta[0]["blocked"] is True
        assert delta[0]["transactiontimestamp"] == "2025-01-15 10:00:00.000"
        assert delta[0]["changeddate"] == "2025-01-15"
        assert delta[0]["versionnumber"] == version + 1
        # the cached match list is invalidated by the write
        again = rows(await read(client, headers, limit=1, orderby="-transactiontimestamp",
                                restriction="transactiontimestamp > date(2000,1,1)"))
        assert again[0]["customernumber"] == "100007"


async def test_control_create_change_delete_job(maconomy) -> None:
    sandbox, client = maconomy
    headers = await login(client)
    created = await client.post("/_sandbox/records/jobs",
                                json={"jobname": "Nytt projekt", "customernumber": "100003"})
    assert created.status_code == 201
    job = created.json()["data"]
    assert job["jobnumber"] == "1000120" and job["versionnumber"] == 1 and job["active"]
    assert job["createddate"] == "2025-01-15"
    closed = await client.patch(f"/_sandbox/records/jobs/{job['jobnumber']}",
                                json={"closed": True})
    assert closed.json()["data"]["active"] is False
    assert closed.json()["data"]["versionnumber"] == 2
    found = rows(await read(client, headers, container="jobs",
                            restriction="jobname = 'Nytt projekt'"))
    assert [r["jobnumber"] for r in found] == ["1000120"]
    assert (await client.delete("/_sandbox/records/jobs/1000005")).status_code == 204
    assert (await client.get("/_sandbox/records/jobs/1000005")).status_code == 404
    assert len(sandbox.jobs) == 120
    bad = await client.patch("/_sandbox/records/jobs/1000001", json={"colour": "red"})
    assert bad.status_code == 400
    dup = await client.post("/_sandbox/records/customercard", json={"customernumber": "100001"})
    assert dup.status_code == 409


async def test_a_created_record_sorts_by_its_key(maconomy) -> None:
    _, client = maconomy
    headers = await login(client)
    await client.post("/_sandbox/records/customercard", json={"customernumber": "0999"})
    first = rows(await read(client, headers, limit=1, orderby="+customernumber"))
    assert first[0]["customernumber"] == "0999"
    natural = rows(await read(client, headers, limit=1, offset=120))
    assert natural[0]["customernumber"] == "0999"  # without an order: as stored


async def test_defective_records_lack_cursor_or_name() -> None:
    sandbox, _ = make(records=400, defect_rate=0.2)
    records = list(sandbox.customers.iter())
    no_stamp = [r for r in records if "transactiontimestamp" not in r]
    no_name = [r for r in records if "name1" not in r]
    assert no_stamp and no_name and len(no_stamp) + len(no_name) < 160
    async with client_for(sandbox) as client:
        got = rows(await read(client, await login(client), limit=1000,
                              restriction="transactiontimestamp > date(2000,1,1)"))
    assert len(got) == 400 - len(no_stamp)


@settings(max_examples=200, deadline=None)
@given(seed_=st.integers(0, 3), index=st.integers(0, 500_000), defects=st.sampled_from([0, .3]))
def test_light_records_agree_with_full_records(seed_: int, index: int, defects: float) -> None:
    full = seed.customer(seed_, index, defects)
    light = seed.customer_light(seed_, index, defects)
    assert {k: full[k] for k in light} == light
    assert set(light) <= set(seed.CUSTOMER_LIGHT_FIELDS)
    job = seed.job(seed_, index, 1000, defects)
    job_light = seed.job_light(seed_, index, 1000, defects)
    assert {k: job[k] for k in job_light} == job_light
    assert job["active"] is not job["closed"]
    assert seed.customer_index(full["customernumber"]) == index
    assert seed.job_index(job["jobnumber"]) == index


# --------------------------------------------------------------------------- limits and faults


async def test_optional_rate_limit_answers_429_with_retry_after() -> None:
    sandbox, clock = make(settings_=MaconomySettings(rate_limit=2, rate_window=10))
    async with client_for(sandbox) as client:
        headers = {"Authorization": BASIC}
        statuses = [(await read(client, headers, limit=1)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        denied = await read(client, headers, limit=1)
        assert denied.headers["retry-after"] == "10"
        assert denied.json()["errorFamily"] == "rateLimit"
        clock.advance(10)
        assert (await read(client, headers, limit=1)).status_code == 200
    unlimited, _ = make()
    assert unlimited.limiter is None
    assert replace(MaconomySettings(), rate_limit=None).rate_limit is None


async def test_error_fault_uses_the_maconomy_envelope() -> None:
    sandbox, _ = make(faults=Faults(error_rate=1.0))
    async with client_for(sandbox) as client:
        response = await read(client, {"Authorization": BASIC}, limit=1)
    assert response.status_code in (500, 502, 503)
    assert response.json()["errorFamily"] == "internal"


def test_filter_over_loopback_with_drops_and_bursts(loopback) -> None:
    sandbox, _ = make(records=30_000, faults=Faults(burst_429=1))
    with loopback(sandbox.app) as url, httpx.Client(base_url=url) as client:
        headers = {"Authorization": BASIC, "Accept": "application/json"}
        resource = client.get(f"{V1}/customercard", headers=headers)
        assert resource.status_code == 429
        resource = client.get(f"{V1}/customercard", headers=headers)
        href = resource.json()["links"]["data:filter"]["href"]
        assert href == f"{url}{V1}/customercard/filter"  # links name the server it is on
        big = client.get(href, params={"limit": 5000, "offset": 25_000}, headers=headers)
        assert big.json()["panes"]["filter"]["meta"] == {"paneName": "filter",
                                                         "rowCount": 5000, "rowOffset": 25_000}
        sandbox.set_faults(Faults(drop_rate=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(href, params={"limit": 10}, headers=headers)
