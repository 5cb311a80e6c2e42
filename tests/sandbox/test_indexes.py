"""Secondary indexes of the sandbox collections: the same answers as a scan, at any size."""

from __future__ import annotations

import base64

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.platform import Collection, ManualClock, SandboxConfig
from tests.contracts.recording import contract_transport


def _item(i: int) -> dict[str, object]:
    return {"id": i, "code": f"C{i % 7}", "rank": (i * 37) % 11}


def _index_of(record_id: object) -> int | None:
    return record_id if isinstance(record_id, int) else None


_ops = st.lists(st.tuples(st.sampled_from(["put", "patch", "delete"]),
                          st.integers(0, 30), st.integers(0, 9)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ops=_ops, early=st.booleans())
def test_indexes_agree_with_a_scan_after_any_writes(ops: list, early: bool) -> None:
    items = Collection("items", key="id", size=20, factory=_item, clock=ManualClock(),
                       index_of=_index_of)
    if early:  # built before the writes: kept current by them
        items.value_index("code")
        items.ordered_index("rank", lambda v: v)
    for op, record_id, value in ops:
        if op == "put":
            items.put({"id": record_id, "code": f"C{value}", "rank": value})
        elif op == "patch":
            items.patch(record_id, {"rank": value})
        else:
            items.delete(record_id)
    every = list(items.iter())
    for value in range(10):
        assert sorted(r["id"] for r in items.find("code", f"C{value}")) == \
            sorted(r["id"] for r in every if r["code"] == f"C{value}")
    ordered = items.ordered_index("rank", lambda v: v)
    expected = [r["id"] for r in sorted(every, key=lambda r: (r["rank"], r["id"]))]
    assert ordered.page(0, 1000) == expected
    assert ordered.page(3, 5, descending=True) == list(reversed(expected))[3:8]
    assert ordered.ids_from(5) == [i for i in expected if items.get(i)["rank"] >= 5]


async def test_cinode_search_by_identification_uses_the_index_and_sees_writes() -> None:
    sandbox = CinodeSandbox(SandboxConfig(records=2_000, rate_limits=False))
    store = sandbox.store
    customer = next(iter(store.customers))
    store.customers.put({**customer, "identification": "MAC-42"})
    basic = "Basic " + base64.b64encode(
        f"{CinodeCredentials().access_id}:{CinodeCredentials().access_secret}".encode()).decode()
    async with httpx.AsyncClient(transport=contract_transport(sandbox),
                                 base_url="http://cinode.test") as client:
        token = (await client.get("/token", headers={"authorization": basic})).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        path = f"/v0.1/companies/{store.company_id}/customers/search"
        exact = {"identification": "mac-42", "identificationOperator": 3}
        found = (await client.post(path, json=exact)).json()
        store.customers.patch(customer["id"], {"identification": "MAC-43"})
        gone = (await client.post(path, json=exact)).json()
        newest = (await client.post(path, json={"pageAndSortBy": {
            "sortBy": 13, "sortOrder": 1, "page": 2, "itemsPerPage": 3}})).json()
    every = sorted(store.customers, key=lambda c: (c["updatedDateTime"], c["id"]))
    assert [c["id"] for c in found["result"]] == [customer["id"]]
    assert found["totalItems"] == 1
    assert gone["result"] == [] and gone["totalItems"] == 0
    assert [c["id"] for c in newest["result"]] == [c["id"] for c in reversed(every[-6:-3])]
    assert newest["totalItems"] == len(store.customers)


def test_hubspot_search_candidates_match_a_scan_after_writes() -> None:
    from engine.sandbox.hubspot import HubSpotSandbox
    from engine.sandbox.hubspot.search import _candidates, filter_matches

    clock = ManualClock()
    sandbox = HubSpotSandbox(SandboxConfig(records=300, rate_limits=False, clock=clock))
    crm = sandbox.crm
    store = crm.object_store("companies")
    kinds = {n: p["type"] for n, p in store.properties.items()}
    some = list(store.collection.page(10, 3))
    floor = max(r["properties"]["hs_lastmodifieddate"] for r in store.collection.iter())
    queries = [
        [[{"propertyName": "city", "operator": "EQ",
           "value": some[0]["properties"]["city"].upper()}]],
        [[{"propertyName": "name", "operator": "IN",
           "values": [r["properties"]["name"] for r in some]}]],
        [[{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": floor}]],
    ]
    for query in queries:  # indexes built before the writes below
        _candidates(store, query, kinds)
    clock.advance(60)
    crm.update(store, some[1], {"city": some[0]["properties"]["city"]})
    crm.create(store, {"name": some[2]["properties"]["name"], "city": "Nowhere"})
    for query in queries:
        scan = [r["id"] for r in store.collection.iter()
                if all(filter_matches(f, kinds[f["propertyName"]],
                                      r["properties"].get(f["propertyName"]))
                       for f in query[0])]
        found = _candidates(store, query, kinds)
        assert found is not None
        assert [r["id"] for r in found if all(
            filter_matches(f, kinds[f["propertyName"]], r["properties"].get(f["propertyName"]))
            for f in query[0])] == scan
        assert len(scan) >= 2


def test_cinode_customer_index_fields_are_those_of_the_record() -> None:
    store = CinodeSandbox(SandboxConfig(records=300, rate_limits=False)).store
    for i in (0, 7, 123, 299):
        full = store.customers.factory(i)
        partial = store.customer_index_fields(i)
        assert partial == {k: full[k] for k in partial}
