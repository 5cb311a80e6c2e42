"""`AsyncStateStore`: the store's calls awaited from async code, run in order on one thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from typing import Any

import pytest
from state_support import at

from engine.state import BatchCommit, Link, StateStore
from engine.state.asyncstore import AsyncStateStore

INTEG, S = "kleer-cinode", "customers"


def _protocol_methods() -> list[str]:
    """Every call of the protocol but `close` (the facade does not own the store)."""
    return sorted(name for name, value in vars(StateStore).items()
                  if callable(value) and not name.startswith("_") and name != "close")


def test_it_mirrors_every_method_of_the_protocol() -> None:
    names = _protocol_methods()
    assert "commit_batch" in names and "inbox_claim" in names
    for name in names:
        ours = getattr(AsyncStateStore, name, None)
        assert ours is not None, f"AsyncStateStore has no {name}"
        assert inspect.iscoroutinefunction(ours) or inspect.isasyncgenfunction(ours), name
        expected = inspect.signature(getattr(StateStore, name))
        got = inspect.signature(ours)
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in expected.parameters.values()], name


async def test_calls_go_through_in_order_and_links_stream(store: StateStore) -> None:
    async with AsyncStateStore(store) as astore:
        links = [Link(f"k{n:05d}", f"t{n}", "h") for n in range(2_345)]
        await astore.commit_batch(BatchCommit(INTEG, S, at(0), links=links, cursor="c1"))
        assert await astore.get_cursor(INTEG, S) == "c1"
        assert await astore.count_links(INTEG, S) == 2_345
        streamed = [link.source_key async for link in astore.iter_links(INTEG, S)]
        assert streamed == [link.source_key for link in links]
        found = await astore.get_links(INTEG, S, ["k00007", "nope"])
        assert list(found) == ["k00007"]
        states = await astore.link_states(INTEG, S, ["k00007", "nope"])
        assert list(states) == ["k00007"] and states["k00007"][1] == "t7"
        cursor, count = await astore.run(lambda s: (s.get_cursor(INTEG, S),
                                                    s.count_links(INTEG, S)))
        assert (cursor, count) == ("c1", 2_345)
        run_id = await astore.start_run(INTEG, S, spec_hash="h", git_commit=None,
                                        trigger="manual", started_at=at(1))
        await astore.finish_run(run_id, outcome="success", counts={"read": 1}, error=None,
                                finished_at=at(2))
        assert (await astore.get_run(run_id)).status == "success"  # type: ignore[union-attr]


class _Recording:
    """A store stand-in that notes the thread of each call and can be slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, str]] = []

    def get_cursor(self, integration: str, sync: str) -> str | None:
        time.sleep(self.delay)
        self.calls.append((sync, threading.current_thread().name))
        return sync


async def test_the_loop_runs_while_a_call_waits_and_one_thread_serves_them_all() -> None:
    slow = _Recording(delay=0.2)
    astore = AsyncStateStore(slow, name="test-state")  # type: ignore[arg-type]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(astore.get_cursor(INTEG, f"s{n}") for n in range(3)))
    task.cancel()
    await astore.aclose()
    assert results == ["s0", "s1", "s2"]
    assert ticks >= 20  # the loop was never held up for the 0.6 s the calls took
    assert [sync for sync, _ in slow.calls] == ["s0", "s1", "s2"]  # in the order made
    threads = {thread for _, thread in slow.calls}
    assert len(threads) == 1 and threads.pop().startswith("test-state")


async def test_a_cancelled_caller_does_not_withdraw_its_call() -> None:
    slow = _Recording(delay=0.1)
    astore = AsyncStateStore(slow)  # type: ignore[arg-type]
    first = asyncio.create_task(astore.get_cursor(INTEG, "first"))
    queued = asyncio.create_task(astore.get_cursor(INTEG, "queued"))
    await asyncio.sleep(0.02)
    queued.cancel()  # queued behind `first`, not started yet
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await astore.get_cursor(INTEG, "after") == "after"
    assert await first == "first"
    assert [sync for sync, _ in slow.calls] == ["first", "queued", "after"]
    await astore.aclose()


async def test_errors_come_back_to_the_caller(store: StateStore) -> None:
    async with AsyncStateStore(store) as astore:
        def broken(state: Any) -> None:
            raise ValueError("nope")

        with pytest.raises(ValueError, match="nope"):
            await astore.run(broken)
        assert await astore.get_cursor(INTEG, S) is None  # and the thread goes on serving
