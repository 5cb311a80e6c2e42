"""Background work on its own loop: the receiver answers while a sync holds the work loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engine.adapters.hubspot.signatures import sign_v3
from engine.runner.app import build_app
from engine.runner.workloop import WorkLoop
from tests.runner.conftest import ENVIRON, HUBSPOT_SECRET, RUNNER_URL, SPEC, Harness
from tests.runner.test_actions import ACTION_URL, created_for, define
from tests.runner.test_webhooks import hubspot_events


async def test_the_work_loop_runs_coroutines_on_its_own_thread() -> None:
    work = WorkLoop(name="test-work")
    work.start()

    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    async def fails() -> None:
        raise ValueError("from the work loop")

    try:
        assert work.running
        assert await work.run(where()) == "test-work"
        with pytest.raises(ValueError, match="from the work loop"):
            await work.run(fails())
        poked = threading.Event()
        work.call_soon(poked.set)
        assert await asyncio.to_thread(poked.wait, 5)
    finally:
        await work.aclose()
    assert not work.running
    with pytest.raises(RuntimeError):
        await work.run(where())


async def test_a_cancelled_caller_leaves_the_work_to_finish() -> None:
    work = WorkLoop()
    work.start()
    go, finished = threading.Event(), threading.Event()

    async def settle() -> None:
        await asyncio.to_thread(go.wait, 5)
        finished.set()

    try:
        caller = asyncio.create_task(work.run(settle()))
        await asyncio.sleep(0.05)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        go.set()
        assert await asyncio.to_thread(finished.wait, 5)
    finally:
        await work.aclose()


class Blocking(httpx.AsyncBaseTransport):
    """A sandbox transport whose first request blocks the calling THREAD (not just its
    task) until released: a sync run doing long synchronous work on its loop."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.unblocked = threading.Event()
        self.threads: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.threads.add(threading.current_thread().name)
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
            self.unblocked.set()
        return await self.inner.handle_async_request(request)


def signed(h: Harness, body: bytes) -> dict[str, str]:
    url = f"{RUNNER_URL}/webhooks/mirror/hubspot"
    ts = int(h.clock.now().timestamp() * 1000)
    return {"content-type": "application/json",
            "x-hubspot-request-timestamp": str(ts),
            "x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, "POST", url, body, ts)}


async def test_webhooks_are_answered_while_a_sync_blocks_the_work_loop(
        harness: Harness) -> None:
    company = next(iter(harness.hubspot.records("companies")))
    blocking = Blocking(harness.hubspot.app)
    app = build_app([str(SPEC)], store=harness.store, environ=ENVIRON, clock=harness.clock.now,
                    transports={"hubspot": blocking, "crm": harness.crm_io,
                                "delivery": harness.delivery_io},
                    schedule=False, inbox=True, grace_seconds=5)
    url = f"{RUNNER_URL}/webhooks/mirror/hubspot"
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=RUNNER_URL) as client:
        first = hubspot_events(1, object_id=company["id"])
        assert (await client.post(url, content=first, headers=signed(harness, first))
                ).status_code == 200
        assert await asyncio.to_thread(blocking.entered.wait, 10), "the worker never read"

        second = hubspot_events(2, object_id=company["id"])
        answer = await client.post(url, content=second, headers=signed(harness, second))
        # Answered, and stored, while the sync still held its loop's thread.
        assert not blocking.unblocked.is_set()
        assert (answer.status_code, answer.json()["stored"]) == (200, 1)

        blocking.release.set()
        deadline = time.monotonic() + 20
        while harness.store.inbox_depth() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert harness.store.inbox_depth() == 0
    assert blocking.threads == {"specsync-work"}
    assert [c["name"] for c in harness.crm.customers
            if c.get("identification") == str(company["id"])] == [
        company["properties"]["name"]]


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.threads: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.threads.add(threading.current_thread().name)
        return await self.inner.handle_async_request(request)


async def chunks(chunk: bytes, count: int) -> AsyncIterator[bytes]:
    """A body without Content-Length, so only reading it tells its size."""
    for _ in range(count):
        yield chunk


async def test_workflow_actions_run_on_the_work_loop(harness: Harness) -> None:
    crm = Recording(harness.crm_io)
    app = build_app([str(SPEC)], store=harness.store, environ=ENVIRON, clock=harness.clock.now,
                    transports={"hubspot": httpx.ASGITransport(app=harness.hubspot.app),
                                "crm": crm, "delivery": harness.delivery_io},
                    schedule=False, inbox=False, max_body_bytes=4000, grace_seconds=5)
    harness.late.app = app  # the HubSpot sandbox fires executions at this app
    company = next(iter(harness.hubspot.records("companies")))
    async with app.router.lifespan_context(app):
        execution = await harness.hubspot.fire_action(define(harness), company["id"],
                                                      input_fields={"segment": "SMB"})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=RUNNER_URL) as client:
            too_large = await client.post(ACTION_URL, content=b"x" * 5000)
            streamed = await client.post(ACTION_URL, content=chunks(b"y" * 3000, 2))
    [attempt] = execution.attempts
    assert attempt["status"] == 200, attempt
    [record] = created_for(harness, company["id"])
    assert attempt["response"]["outputFields"]["crm_customer_id"] == str(record["id"])
    assert crm.threads == {"specsync-work"}
    # A body over the bound is refused by the action handler itself (read only so far).
    assert (too_large.status_code, streamed.status_code) == (413, 413)


async def test_a_full_inbox_is_answered_503_without_waiting_for_a_count(
        harness: Harness) -> None:
    app = build_app([str(SPEC)], store=harness.store, environ=ENVIRON, clock=harness.clock.now,
                    schedule=False, inbox=False, max_inbox_depth=3)
    harness.store.inbox_put_many(
        [("mirror/hubspot", str(n), b"{}") for n in range(3)], received_at=harness.clock.now())
    ctx = app.state.runner
    assert ctx.inbox_depth_nowait() is None  # not counted yet: the request path never waits
    for _ in range(500):
        if ctx.inbox_depth_nowait() is not None:
            break
        await asyncio.sleep(0.01)
    assert ctx.inbox_depth_nowait() == 3

    body = hubspot_events(9)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=RUNNER_URL) as client:
        response = await client.post("/webhooks/mirror/hubspot", content=body,
                                     headers=signed(harness, body))
    assert (response.status_code, response.headers["retry-after"]) == (503, "60")
    assert json.loads(response.text) == {"error": "the inbox is full; retry later"}
    assert harness.store.inbox_depth() == 3


async def test_adapters_are_built_before_the_first_run(harness: Harness) -> None:
    """Building a client holds the GIL for tens of ms: done at start, not mid-traffic."""
    from engine.runner.deployment import Deployment

    full = Deployment.load([str(SPEC)], harness.store, environ=ENVIRON)
    partial = Deployment.load([str(SPEC)], harness.store, environ={
        k: v for k, v in ENVIRON.items() if k != "HUBSPOT_URL"})
    try:
        assert full.prepare_adapters() == 3  # crm, delivery, hubspot
        assert partial.prepare_adapters() == 2  # hubspot is reported at its first use
        assert full.runtimes["mirror"].adapter("hubspot") is \
            full.runtimes["mirror"].adapter("hubspot")
    finally:
        await full.aclose()
        await partial.aclose()
