"""Plans and runs never call the state store on the event loop: every call is awaited on
the store's own thread, `linked()` lookups of templates included."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from engine.sync.pipeline import plan_sync, run_sync

World = Any  # tests/sync/conftest.py builds it


class ThreadNotingStore:
    """Passes every call to the real store, noting its name, arguments and thread."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: list[tuple[str, tuple[Any, ...], int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, threading.get_ident()))
            return attr(*args, **kwargs)

        return call

    def on(self, thread: int, where: Callable[[str, tuple[Any, ...]], bool]) -> list[str]:
        return [name for name, args, ident in self.calls if ident == thread and where(name, args)]


async def _patch(world: World, number: str, changes: dict[str, Any]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.maconomy.app),
                                 base_url="http://maconomy.test") as client:
        response = await client.patch(f"/_sandbox/records/customercard/{number}", json=changes)
        assert response.status_code == 200, response.text


async def test_plan_and_run_call_the_store_only_off_the_loop(world: World) -> None:
    noting = ThreadNotingStore(world.store)
    world.store = noting
    runtime = world.runtime()
    loop_thread = threading.get_ident()

    await run_sync(runtime, "customers")
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())
    await _patch(world, numbers[2], {"name1": "X" * 600})  # fails: recorded, retried
    await plan_sync(runtime, "customers")
    delta = await run_sync(runtime, "customers")
    assert delta.counts["error"] == 1
    await run_sync(runtime, "customers")  # a delta run that retries the failure
    before = len(noting.calls)
    plan = await plan_sync(runtime, "projects")
    report = await run_sync(runtime, "projects")  # {{ customernumber | linked('customers') }}
    assert report.outcome == "success" and report.counts["create"] == plan.counts["create"] > 0

    assert noting.calls
    assert noting.on(loop_thread, lambda name, args: True) == []
    # The projects' customers were read from the store (by the thread, as the rest).
    assert [name for name, args, _ in noting.calls[before:]
            if args[:2] == ("maconomy-cinode", "customers")] == ["get_links"] * 2
    await runtime.aclose()
