"""The Maconomy contract checker catches each class of violation and passes real shapes.

Exchanges are built by hand (or recorded into a private ledger), so nothing here reaches
the suite-wide ledger check in tests/conftest.py.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

from tests.contracts.maconomy import checker
from tests.contracts.maconomy.checker import (
    FACTS,
    check_request,
    check_response,
    restriction_problems,
    route_of,
)
from tests.contracts.maconomy.optin import (
    OPTIONS,
    allow_from_options,
    allow_unconfirmed,
    enabled_options,
)
from tests.contracts.recording import ContractTransport, Exchange, Ledger

API = "/maconomy-api"
ACCEPT = "application/vnd.deltek.maconomy.containers+json; version=5.0"
CONTENT = "application/vnd.deltek.maconomy.containers+json"
AUTH_ACCEPT = "application/vnd.deltek.maconomy.authentication+json; charset=utf-8; version=2.0"
BASIC = "Basic " + base64.b64encode(b"integration:secret").decode()
TOKEN = "tok-1"
SEARCH = (f"{API}/containers/acme/timeregistration/search/table"
          ";foreignkey=notblockedjobnumber_jobheader")
FILTER = f"{API}/containers/acme/customercard/filter"


def exchange(method: str, path: str, *, headers: Mapping[str, str] | None = None,
             body: Any = None, query: Sequence[tuple[str, str]] = (), status: int = 200,
             answer: Any = None, answer_headers: Mapping[str, str] | None = None) -> Exchange:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    reply = b"" if answer is None else json.dumps(answer).encode()
    return Exchange(vendor="maconomy", method=method, url=f"http://maconomy.test{path}",
                    path=path, query=tuple(query),
                    headers={k.lower(): v for k, v in (headers or {}).items()}, body=raw,
                    status=status, response_headers={k.lower(): v for k, v in
                                                     (answer_headers or {}).items()},
                    response_body=reply)


def login(token: str = TOKEN) -> Exchange:
    return exchange("GET", f"{API}/auth/acme", status=204,
                    headers={"Authorization": BASIC, "Maconomy-Authentication": "X-Reconnect",
                             "Accept": AUTH_ACCEPT},
                    answer_headers={"Maconomy-Reconnect": token})


def authed(extra: Mapping[str, str] | None = None, token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"X-Reconnect {token}", "Accept": ACCEPT, **(extra or {})}


def filter_answer(rows: list[dict[str, Any]], offset: int = 0, **meta: Any) -> dict[str, Any]:
    return {"panes": {"filter": {
        "meta": {"paneName": "filter", "rowCount": len(rows), "rowOffset": offset, **meta},
        "records": [{"data": row} for row in rows]}}}


def search(body: Any, *, headers: Mapping[str, str] | None = None, answer: Any = None,
           query: Sequence[tuple[str, str]] = ()) -> Exchange:
    return exchange("POST", SEARCH, body=body, query=query,
                    headers=headers if headers is not None else authed({"Content-Type": CONTENT}),
                    answer=answer if answer is not None else filter_answer([{"jobnumber": "1"}]))


def has(problems: list[str], *needles: str) -> bool:
    return any(all(n in p for n in needles) for p in problems)


# ---------------------------------------------------------------------- valid traffic


def test_the_confirmed_login_and_search_pass() -> None:
    first = login()
    assert check_request(first, history=[]) == []
    assert check_response(first) == []
    body = {"restriction": "(customernumber = 'ACME' or jobnumber = 'ACME' or name1 = 'ACME')",
            "fields": ["jobnumber"]}
    found = search(body)
    assert check_request(found, history=[first]) == []
    assert check_response(found) == []
    by_data = search({"data": {"jobnumber": "1000"}, "fields": ["taskname", "description"]},
                     answer=filter_answer([{"taskname": "a", "description": "b"}]))
    assert check_request(by_data, history=[first]) == []
    assert check_response(by_data) == []


def test_the_confirmed_v1_link_walk_passes() -> None:
    base = "/containers/v1/x1demo"
    href = f"http://host:4111{base}/customercard/filter"
    handshake = exchange("GET", base, headers={"Accept": "application/json"},
                         answer={"shortname": "x1demo", "authenticated": False})
    container = exchange("GET", f"{base}/customercard",
                         headers={"Accept": "application/json", "Authorization": BASIC,
                                  "Maconomy-Authentication": "X-Reconnect"},
                         answer={"containerName": "customercard",
                                 "links": {"data:filter": {"rel": "data:filter", "href": href}}},
                         answer_headers={"Maconomy-Reconnect": TOKEN})
    query = [("restriction", "customernumber='1000'"), ("limit", "10"), ("offset", "20"),
             ("fields", "customernumber,name1"), ("orderby", "+customernumber,-name1")]
    page = exchange("GET", f"{base}/customercard/filter", query=query,
                    headers={"Accept": "application/json", "Authorization": f"X-Reconnect {TOKEN}"},
                    answer=filter_answer([{"customernumber": "1000", "name1": "A"}], offset=20))
    history: list[Exchange] = []
    for step in (handshake, container, page):
        assert check_request(step, history=history) == [], step
        assert check_response(step) == [], step
        history.append(step)


def test_route_of_names_confirmed_routes_only() -> None:
    assert route_of("GET", f"{API}/auth/acme") == "GET {api}/auth/{shortname}"
    assert str(route_of("POST", SEARCH)).endswith("/search/table;foreignkey={fk}")
    assert route_of("POST", f"{API}/containers/acme/jobs/instances").endswith("/instances")
    assert route_of("GET", "/containers/v1/x1demo/jobs") is not None
    assert route_of("POST", FILTER) is None  # unconfirmed
    assert route_of("GET", f"{API}/containers/acme/jobs") is None  # unconfirmed
    assert route_of("POST", f"{API}/auth/acme") is None  # wrong method
    assert route_of("POST", "/_sandbox/records/jobs") is None


# ---------------------------------------------------------------------- headers


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_a_missing_or_wildcard_accept_is_caught(accept: str | None) -> None:
    headers = {"Authorization": f"X-Reconnect {TOKEN}", "Content-Type": CONTENT}
    if accept is not None:
        headers["Accept"] = accept
    problems = check_request(search({"restriction": "jobnumber = '1'"}, headers=headers),
                             history=[login()])
    assert has(problems, "Accept", "F-ACCEPT-V2")


def test_an_accept_version_must_be_named_and_confirmed() -> None:
    bare = check_request(search({"fields": ["jobnumber"]},
                                headers=authed({"Accept": CONTENT, "Content-Type": CONTENT})),
                         history=[login()])
    assert has(bare, "names no version", "F-ACCEPT-V2")
    nine = authed({"Accept": f"{CONTENT}; charset=utf-8; version=9.0", "Content-Type": CONTENT})
    assert has(check_request(search({"fields": ["jobnumber"]}, headers=nine),
                             history=[login()], enabled=()), "accept_version")
    assert check_request(search({"fields": ["jobnumber"]}, headers=nine), history=[login()],
                         enabled={"accept_version"}) == []
    v2 = authed({"Accept": "application/vnd.deltek.maconomy.containers-v2+json",
                 "Content-Type": CONTENT})
    assert check_request(search({"fields": ["jobnumber"]}, headers=v2), history=[login()]) == []


def test_a_wrong_content_type_is_caught() -> None:
    problems = check_request(search({"fields": ["jobnumber"]},
                                    headers=authed({"Content-Type": "application/json"})),
                             history=[login()])
    assert has(problems, "Content-Type", "F-CT-V2")


def test_the_login_accept_is_the_authentication_type() -> None:
    wrong = exchange("GET", f"{API}/auth/acme",
                     headers={"Authorization": BASIC, "Maconomy-Authentication": "X-Reconnect",
                              "Accept": "application/vnd.deltek.maconomy.authentication+json; "
                                        "charset=utf-8; version=3.0"})
    assert has(check_request(wrong, history=[], enabled=()), "version 3.0", "accept_version")


# ---------------------------------------------------------------------- auth


def test_basic_needs_the_reconnect_mode() -> None:
    bare = exchange("GET", f"{API}/auth/acme", headers={"Authorization": BASIC,
                                                       "Accept": AUTH_ACCEPT})
    assert has(check_request(bare, history=[]), "Basic", "F-AUTH-LOGIN")


def test_a_token_must_come_from_an_answer_and_follow_rotation() -> None:
    body = {"fields": ["jobnumber"]}
    stranger = search(body, headers=authed({"Content-Type": CONTENT}, token="made-up"))
    assert has(check_request(stranger, history=[login()]), "F-AUTH-RECONNECT")
    rotated = exchange("POST", SEARCH, body=body, headers=authed({"Content-Type": CONTENT}),
                       answer=filter_answer([]), answer_headers={"Maconomy-Reconnect": "tok-2"})
    history = [login(), rotated]
    in_flight = search(body)  # sent before the rotating answer arrived: tolerated
    assert check_request(in_flight, history=history) == []
    later = history + [search(body, headers=authed({"Content-Type": CONTENT}, token="tok-2"))
                       for _ in range(checker.ROTATION_SLACK)]
    assert has(check_request(search(body), history=later), "rotated", "F-AUTH-ROTATION")
    assert check_request(search(body, headers=authed({"Content-Type": CONTENT}, token="tok-2")),
                         history=later) == []


def test_a_second_login_starts_a_session_and_rotates_no_other_token() -> None:
    body = {"fields": ["jobnumber"]}
    # Two connections, each with its own session: the second login hands out tok-2, and
    # the first connection's token stays good however many requests follow.
    history = [login(), login("tok-2")] + [
        search(body, headers=authed({"Content-Type": CONTENT}, token="tok-2"))
        for _ in range(checker.ROTATION_SLACK + 2)]
    assert check_request(search(body), history=history) == []


def test_x_cookie_needs_its_cookie() -> None:
    headers = {"Authorization": "X-Cookie Maconomy-abc", "Accept": ACCEPT, "Content-Type": CONTENT}
    assert has(check_request(search({"fields": ["jobnumber"]}, headers=headers)),
               "F-AUTH-XCOOKIE")
    headers["Cookie"] = "Maconomy-abc=secret"
    assert check_request(search({"fields": ["jobnumber"]}, headers=headers)) == []


def test_logout_through_the_auth_resource_is_unconfirmed() -> None:
    logout = exchange("GET", f"{API}/auth/acme", status=401,
                      headers={"Authorization": f"X-Reconnect {TOKEN}",
                               "Maconomy-Authentication": "X-Log-Out", "Accept": AUTH_ACCEPT})
    assert has(check_request(logout, history=[login()], enabled=()), "logout_via_auth")
    assert check_request(logout, history=[login()], enabled={"logout_via_auth"}) == []


# ---------------------------------------------------------------------- bodies


def test_extra_keys_in_a_search_body_are_caught() -> None:
    problems = check_request(search({"restriction": "jobnumber = '1'", "fields": ["jobnumber"],
                                     "limit": 100, "offset": 0, "orderby": "jobnumber"}),
                             history=[login()])
    assert has(problems, "limit, offset, orderby", "F-SEARCH-TABLE")
    both = check_request(search({"restriction": "jobnumber = '1'", "data": {"jobnumber": "1"}}),
                         history=[login()])
    assert has(both, "not both", "F-SEARCH-TABLE")
    paged = check_request(search({"fields": ["jobnumber"]}, query=[("limit", "100")]),
                          history=[login()])
    assert has(paged, "query parameters", "F-SEARCH-TABLE")


def test_an_unquoted_or_malformed_restriction_is_caught() -> None:
    assert has(restriction_problems("customernumber = ACME"), "not quoted", "F-R-QUOTE")
    assert has(restriction_problems("customernumber = 'it's'"), "malformed")
    assert has(restriction_problems("(jobnumber = '1' or jobnumber = '2'"), "malformed")
    assert has(restriction_problems("jobnumber = '1' or"), "malformed")
    assert has(restriction_problems("JobNumber = '1'"), "lower case", "F-R-LOWER")


def test_confirmed_restriction_syntax_passes() -> None:
    assert restriction_problems("notenumber='42'") == []
    assert restriction_problems("(customernumber = 'A' or jobnumber = 'A')") == []
    assert restriction_problems("true") == []


@pytest.mark.parametrize(("text", "option"), [
    ("customernumber = 'it''s'", "quote_doubling"),
    ("blocked = false and region = 'north'", "restriction_extended"),
    ("versionnumber >= 25", "restriction_extended"),
    ("not(closed)", "restriction_extended"),
    ("name1 like '*konsult*'", "restriction_extended"),
    ("createddate >= date(2024, 0, 1)", "date_literal"),
    ("transactiontimestamp >= timestamp(2025, 1, 15, 9, 0, 0, 0)", "timestamp_literal"),
    ("transactiontimestamp >= timestamp(2025, 1, 15, 9, 0, 0, 0)",
     "transactiontimestamp_restriction"),
])
def test_unconfirmed_restriction_syntax_needs_its_option(text: str, option: str) -> None:
    assert has(restriction_problems(text), option)
    assert not has(restriction_problems(text, OPTIONS), option)
    assert restriction_problems(text, OPTIONS) == []


def test_an_empty_restriction_is_caught() -> None:
    assert has(check_request(search({"restriction": "", "fields": ["jobnumber"]}),
                             history=[login()]), "empty restriction", "F-R-EMPTY")


# ---------------------------------------------------------------------- unconfirmed endpoints


def test_the_filter_endpoint_is_unconfirmed_until_opted_in() -> None:
    body = {"restriction": "customernumber = '1000'", "fields": ["customernumber"],
            "limit": 100, "offset": 200}
    page = exchange("POST", FILTER, body=body, headers=authed({"Content-Type": CONTENT}),
                    answer=filter_answer([{"customernumber": "1000"}], offset=200))
    assert has(check_request(page, history=[login()], enabled=()), "filter_endpoint")
    assert check_request(page, history=[login()], enabled={"filter_endpoint"}) == []
    assert check_response(page) == []
    ordered = exchange("POST", FILTER, body={**body, "orderby": "customernumber"},
                       headers=authed({"Content-Type": CONTENT}))
    assert has(check_request(ordered, history=[login()], enabled={"filter_endpoint"}),
               "orderby", "filter_orderby")
    assert check_request(ordered, history=[login()],
                         enabled={"filter_endpoint", "filter_orderby"}) == []


def test_the_specification_path_is_unconfirmed_and_fields_must_be_an_object() -> None:
    path = f"{API}/containers/acme/jobs"
    as_list = exchange("GET", path, headers=authed(), answer={
        "containerName": "jobs",
        "panes": {"filter": {"fields": [{"name": "jobnumber", "type": "string"}]}}})
    assert has(check_request(as_list, history=[login()], enabled=()), "specification_path")
    assert has(check_response(as_list), "fields is a list", "F-RESP-SPEC")
    as_object = exchange("GET", path, headers=authed(), answer={
        "containerName": "jobs",
        "panes": {"filter": {"paneName": "filter", "fields": {
            "jobnumber": {"name": "jobnumber", "type": "string", "key": True, "maxLength": 255},
            "transactiontimestamp": {"name": "transactiontimestamp", "type": "Auto Timestamp",
                                     "unfilterable": True}}}}})
    assert check_request(as_object, history=[login()], enabled={"specification_path"}) == []
    assert check_response(as_object) == []
    odd = exchange("GET", path, headers=authed(), answer={"panes": {"filter": {"fields": {
        "transactiontimestamp": {"name": "transactiontimestamp", "type": "timestamp",
                                 "indexed": True}}}}})
    problems = check_response(odd)
    assert has(problems, "timestamp", "F-RESP-TYPES") and has(problems, "indexed", "F-RESP-FIELD")


def test_an_unknown_route_and_a_wrong_method_are_caught() -> None:
    assert has(check_request(exchange("GET", f"{API}/customers/acme")), "no real client")
    assert has(check_request(exchange("PUT", SEARCH, headers=authed())), "PUT")
    assert check_request(exchange("POST", "/_sandbox/records/jobs", body={"x": 1})) == []


def test_a_v1_url_not_taken_from_a_link_is_caught() -> None:
    built = exchange("GET", "/containers/v1/x1demo/customercard/filter",
                     headers={"Accept": "application/json", "Authorization": BASIC,
                              "Maconomy-Authentication": "X-Force-Maconomy-Credentials"})
    assert has(check_request(built, history=[]), "link", "F-V1-LINKS")
    wrong_order = exchange("GET", "/containers/v1/x1demo/customercard/filter",
                           query=[("orderby", "customernumber desc")])
    assert has(check_request(wrong_order), "'+field' or '-field'")


# ---------------------------------------------------------------------- answers


def test_filter_answer_shapes_are_checked() -> None:
    rows = [{"jobnumber": "1", "transactiontimestamp": "2016-08-16 13:13:17.213"}]
    good = search({"fields": ["jobnumber", "transactiontimestamp"]}, answer=filter_answer(rows))
    assert check_response(good) == []
    iso = search({"fields": ["jobnumber", "transactiontimestamp"]}, answer=filter_answer(
        [{"jobnumber": "1", "transactiontimestamp": "2025-01-15T09:00:00.000"}]))
    assert has(check_response(iso), "'T'", "F-RESP-VALUES")
    counted = filter_answer(rows)
    counted["panes"]["filter"]["meta"].update(rowCount=25, rowOffset=5, total=9)
    counted["extra"] = True
    problems = check_response(search({"fields": ["jobnumber", "transactiontimestamp"]},
                                     answer=counted))
    assert has(problems, "rowCount is 25", "F-V1-PAGING")
    assert has(problems, "rowOffset is 5", "F-V1-PAGING")
    assert has(problems, "total", "F-RESP-FILTER")
    assert has(problems, "extra", "F-RESP-FILTER")
    more = search({"fields": ["jobnumber"]}, answer=filter_answer(rows))
    assert has(check_response(more), "not asked for")
    assert has(check_response(search({"fields": ["jobnumber"]}, answer={"panes": {}})),
               "no panes.filter")


def test_error_answers_use_the_confirmed_envelope() -> None:
    good = {"errorMessage": "Maconomy system error: x", "errorFamily": "request",
            "errorSeverity": "error", "focus": {"paneName": "filter", "fieldName": None,
                                                "rowNumber": 0}, "data": None}
    assert check_response(exchange("POST", SEARCH, status=400, answer=good)) == []
    bad = exchange("POST", SEARCH, status=400, answer={"error": "nope"})
    assert has(check_response(bad), "F-RESP-ERROR")


def test_a_login_answer_must_carry_the_token() -> None:
    silent = exchange("GET", f"{API}/auth/acme", status=204,
                      headers={"Authorization": BASIC, "Maconomy-Authentication": "X-Reconnect"})
    assert has(check_response(silent), "Maconomy-Reconnect", "F-AUTH-LOGIN")


# ---------------------------------------------------------------------- opt-in and recording


def test_options_declared_by_the_test_reach_the_checker() -> None:
    page = exchange("POST", FILTER, body={"fields": ["customernumber"], "limit": 1},
                    headers=authed({"Content-Type": CONTENT}))
    assert has(check_request(page, history=[login()]), "filter_endpoint")
    allow_from_options({"shortname": "acme", "unconfirmed": ["filter_endpoint"]})
    assert "filter_endpoint" in enabled_options()
    assert check_request(page, history=[login()]) == []
    with pytest.raises(ValueError, match="unknown Maconomy option"):
        allow_unconfirmed("filter-endpoint")


async def test_httpx_default_accept_is_caught_through_the_transport_seam() -> None:
    """An Accept set with setdefault after httpx built the request is never sent."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=filter_answer([]),
                              headers={"Content-Type": ACCEPT})

    ledger = Ledger()  # private: the suite-wide check does not see these exchanges
    transport = ContractTransport(httpx.MockTransport(answer), "maconomy", ledger=ledger)
    async with httpx.AsyncClient(transport=transport, base_url="http://maconomy.test") as client:
        request = client.build_request("POST", SEARCH, json={"fields": ["jobnumber"]},
                                       headers={"Authorization": f"X-Reconnect {TOKEN}",
                                                "Content-Type": CONTENT})
        request.headers.setdefault("Accept", ACCEPT)  # too late: httpx already set */*
        await client.send(request)
    [sent] = ledger.exchanges
    assert sent.headers["accept"] == "*/*"
    assert has(check_request(sent), "'*/*'", "F-ACCEPT-V2")


# ---------------------------------------------------------------------- the facts file


def test_the_facts_file_is_consistent() -> None:
    facts = {f["id"]: f for f in FACTS["facts"]}
    sources = FACTS["sources"]
    assert FACTS["read_on"] and "TRANSCRIBED" in " ".join(FACTS["header"])
    for fact in facts.values():
        assert fact["status"] in {"confirmed", "corroborated", "inferred", "unconfirmed"}
        for evidence in fact["evidence"]:
            assert evidence["source"] in sources, (fact["id"], evidence)
        if fact["status"] == "confirmed":
            assert any(sources[e["source"]]["repository"] and e.get("file")
                       for e in fact["evidence"]), fact["id"]
        if fact.get("option"):
            assert fact["option"] in FACTS["options"], fact["id"]
            assert fact["status"] != "confirmed", fact["id"]
    for name, option in FACTS["options"].items():
        assert option["facts"] and option["probe"], name
        for fact_id in option["facts"]:
            assert facts[fact_id].get("option") == name, (name, fact_id)
    for entry in FACTS["adapter_relies_on_unconfirmed"]:
        assert all(f in facts for f in entry["facts"]), entry


def test_the_adapter_takes_the_fact_options_and_its_docstring_cites_them() -> None:
    import engine.adapters.maconomy.adapter as adapter_module
    from engine.adapters.maconomy.options import UNCONFIRMED

    facts = {f["id"]: f for f in FACTS["facts"]}
    for name, (fact_id, _) in UNCONFIRMED.items():
        assert name in FACTS["options"], name
        assert fact_id in FACTS["options"][name]["facts"], (name, fact_id)
        assert facts[fact_id]["status"] != "confirmed", fact_id
    assert {e["option"] for e in FACTS["adapter_relies_on_unconfirmed"]} == set(UNCONFIRMED)
    doc = adapter_module.__doc__ or ""
    for name, (fact_id, _) in UNCONFIRMED.items():
        assert f"`{name}`" in doc and fact_id in doc, name
    # Every confirmed fact the adapter names is one facts.json holds.
    named = set(re.findall(r"F-[A-Z0-9-]+[A-Z0-9]", doc))
    assert named <= set(facts), named - set(facts)
