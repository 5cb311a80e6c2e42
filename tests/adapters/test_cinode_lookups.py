"""Request economy of Cinode look-ups: many unlinked keys cost one paged listing, not a
search each (engine/adapters/listing.py), and a listing never hides a later create."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.adapters.base import WriteOp
from engine.adapters.listing import ListingLookups
from tests.adapters.test_cinode_adapter import Harness, make_harness


@pytest.fixture
async def cinode() -> AsyncIterator[Harness]:
    harness, client = await make_harness(records=60, adapter_options={"page_size": 25})
    async with client:
        yield harness


def _searches(harness: Harness) -> int:
    return sum(1 for e in harness.sandbox.requests
               if e.method == "POST" and e.path.endswith("/customers/search"))


async def test_many_keys_are_answered_from_one_listing(cinode: Harness) -> None:
    customers = list(cinode.sandbox.customers)
    for n in (3, 17, 41):
        await cinode.control("PATCH", f"/records/customers/{customers[n]['id']}",
                             {"identification": f"K{n}"})
    keys = [f"K{n}" for n in range(100)]
    before = _searches(cinode)
    found = await cinode.adapter.find_external("customers", "identification", keys)
    assert sorted(found) == ["K17", "K3", "K41"]
    assert found["K17"]["id"] == customers[17]["id"]
    # One count probe and ceil(60 / 25) = 3 listing pages instead of 100 searches.
    assert _searches(cinode) - before == 4

    # Created by this adapter after the listing: found without a search.
    [created] = await cinode.adapter.write("customers", [
        WriteOp("create", "K200", {"name": "Nya AB", "identification": "K200"},
                external_field="identification")])
    assert created.ok
    # A create whose outcome was unknown: that value is searched for again.
    cinode.adapter._lookups.unsure("customers", "identification", "K300")
    before = _searches(cinode)
    again = await cinode.adapter.find_external("customers", "identification",
                                               ["K200", "K3", "K300"])
    assert again["K200"]["id"] == int(created.target_id)
    assert "K300" not in again
    assert _searches(cinode) - before == 1  # only the unsure value


async def test_few_keys_are_searched_one_by_one() -> None:
    harness, client = await make_harness(records=600, adapter_options={"page_size": 25})
    async with client:
        before = _searches(harness)
        found = await harness.adapter.find_external("customers", "identification",
                                                    ["a", "b"])
        assert found == {}
        # A probe for the count, then two exact searches: 24 pages would cost more.
        assert _searches(harness) - before == 3


def test_ski_rental_lists_once_searches_would_cost_a_listing() -> None:
    now = [0.0]
    lookups = ListingLookups(max_age=60, clock=lambda: now[0])
    assert not lookups.worth_listing("c", "f", 5, total=1_000, page_size=100)
    lookups.spend("c", "f", 5)
    assert lookups.worth_listing("c", "f", 5, total=1_000, page_size=100)
    lookups.keep("c", "f", {"a": "1"})
    assert lookups.fresh("c", "f") is not None
    now[0] = 61
    assert lookups.fresh("c", "f") is None  # too old: taken again


async def test_a_create_cut_short_is_not_hidden_by_the_listing(
        cinode: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped mid-batch (a stop, a cancelled job, an error in a sibling write) never
    learns a create's answer: the next lookup of that value asks Cinode, so a create that
    landed is adopted, not made again (the w5-scale duplicate after a cut run)."""
    import asyncio

    await cinode.adapter.find_external("customers", "identification",
                                       [f"K{n}" for n in range(100)])  # takes a listing
    landed = asyncio.Event()
    send = cinode.adapter._send

    async def cut_after_the_create(method: str, tail: str, **kwargs: object) -> object:
        answer = await send(method, tail, **kwargs)  # type: ignore[arg-type]
        if method == "POST" and tail == "customers":
            landed.set()
            await asyncio.Event().wait()  # the run is cut before it reads the answer
        return answer

    monkeypatch.setattr(cinode.adapter, "_send", cut_after_the_create)
    write = asyncio.ensure_future(cinode.adapter.write("customers", [
        WriteOp("create", "K500", {"name": "Avbruten AB", "identification": "K500"},
                external_field="identification")]))
    await asyncio.wait_for(landed.wait(), 10)
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write
    monkeypatch.undo()
    found = await cinode.adapter.find_external("customers", "identification", ["K500"])
    assert "K500" in found  # adopted by the next run, not created twice
