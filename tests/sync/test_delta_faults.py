"""Delta reads that break between pages: equal timestamps (S7) and an expired page (S11).

Maconomy reads in pages of 10 and the sync commits in batches of 10, so each page is a
committed batch. A page read is refused part-way through a run (a 400, as Maconomy's
paging answers an offset it no longer honours; or the process dying there): the
batches before it stay committed, the cursor never passes what was written, and the
next run resumes from the committed cursor (re-reading its overlap, not the whole
source) and writes exactly what was missing. Nothing is skipped, nothing written twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.errors import FatalError, RetriableError
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import ManualClock, SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.sync.conftest import MACONOMY_CINODE, World
from tests.sync.test_pipeline import _patch

RECORDS = 40
CHANGED = 30


class PageRefused(httpx.AsyncBaseTransport):
    """Answers the `fail_at`-th filter read (a page) with a 400, once armed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fail_at: int | None = None
        self.pages = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fail_at is not None and request.url.path.endswith("/filter"):
            self.pages += 1
            if self.pages == self.fail_at:
                self.fail_at = None
                return httpx.Response(400, json={
                    "errorMessage": "The requested page is no longer available.",
                    "errorCode": "InvalidRequest"}, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _paged(spec: Spec) -> Spec:
    """Pages and batches of 10: every page a committed batch."""
    maconomy = spec.connections["maconomy"]
    sync = spec.syncs["customers"]
    return replace(
        spec, connections={**spec.connections, "maconomy": replace(
            maconomy, options={**maconomy.options, "page_size": 10})},
        syncs={**spec.syncs, "customers": replace(sync, batch_size=10)})


def _world(tmp_path: Path) -> World:
    """The sandboxes on a manual clock: changes happen at the instants the test says."""
    config = SandboxConfig(records=RECORDS, rate_limits=False, seed=1, clock=ManualClock())
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False))
    return World(MaconomySandbox(config), cinode,
                 open_store(str(tmp_path / "state.db")), load_spec(MACONOMY_CINODE), config)


def _runtime(world: World, pages: PageRefused) -> Runtime:
    runtime = world.runtime(_paged(world.spec))
    runtime.transports = {**runtime.transports, "maconomy": pages}
    return runtime


@pytest.mark.scenario("S7", "S11")
@pytest.mark.parametrize("instants", [1, 2], ids=["one-instant", "two-instants"])
async def test_a_page_refused_mid_delta_resumes_from_the_committed_cursor(
        tmp_path: Path, instants: int) -> None:
    world = _world(tmp_path)
    pages = PageRefused(world.runtime().transports["maconomy"])
    runtime = _runtime(world, pages)
    first = await run_sync(runtime, "customers")
    assert first.outcome == "success" and first.counts["create"] == RECORDS

    # 30 customers change: all at one instant (equal timestamps across pages), or half
    # of them 15 minutes later (past the sync's 10-minute overlap).
    numbers = sorted(c["customernumber"] for c in world.maconomy.customers.iter())[:CHANGED]
    for i, number in enumerate(numbers):
        if i == CHANGED // 2 and instants == 2:
            world.maconomy.clock.advance(15 * 60)
        elif i == 0:
            world.maconomy.clock.advance(60)
        await _patch(world, "customercard", number, {"name1": f"Changed {i} AB"})

    pages.pages, pages.fail_at = 0, 3  # two pages in, the third refused
    with pytest.raises(FatalError, match="no longer available"):
        await run_sync(runtime, "customers")
    [broken, _] = world.store.list_runs()
    assert broken.status == "failed"
    done = broken.counts["update"]
    assert 0 < done < CHANGED, broken.counts
    committed = world.store.get_cursor("maconomy-cinode", "customers")
    assert committed is not None and committed != first.cursor  # moved, and no further:
    written = {c["identification"]: c["name"] for c in world.cinode_customers()}
    assert sum(written[n].startswith("Changed") for n in numbers) == done

    again = await run_sync(runtime, "customers")
    assert again.outcome == "success", again.error
    assert again.counts["update"] == CHANGED - done, again.counts  # exactly the rest
    # Resumed from the committed cursor: its overlap re-read (and skipped, by hash) what
    # the broken run wrote, and never the ten untouched customers (no restart from zero).
    assert again.counts["read"] == CHANGED and again.counts["skip"] == done, again.counts
    names = {c["identification"]: c["name"] for c in world.cinode_customers()}
    assert [names[n] for n in numbers] == [f"Changed {i} AB" for i in range(CHANGED)]
    assert len(world.cinode_customers()) == RECORDS
    await runtime.aclose()
    world.store.close()


class HtmlPages(httpx.AsyncBaseTransport):
    """Answers filter reads 2.. with a load balancer's HTML error page and 200, `times`
    times (the real vendors sit behind proxies that do this during an incident)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, times: int) -> None:
        self.inner = inner
        self.times = times
        self.pages = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/filter"):
            self.pages += 1
            if self.pages >= 2 and self.times > 0:
                self.times -= 1
                return httpx.Response(200, text="<html><body>Service unavailable</body></html>",
                                      headers={"content-type": "text/html"}, request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.scenario("S17")
@pytest.mark.parametrize("times", [1, 100], ids=["once", "throughout"])
async def test_an_html_page_answered_with_200_is_never_read_as_data(
        tmp_path: Path, times: int) -> None:
    world = _world(tmp_path)
    runtime = world.runtime(_paged(world.spec))
    pages = HtmlPages(runtime.transports["maconomy"], times)
    runtime.transports = {**runtime.transports, "maconomy": pages}
    if times == 1:  # retried: the run reads every page
        report = await run_sync(runtime, "customers")
        assert report.outcome == "success" and report.counts["create"] == RECORDS
    else:  # past the retry budget the run fails; nothing counted as "no more records"
        with pytest.raises(RetriableError, match="an HTML page instead of the API's data"):
            await run_sync(runtime, "customers")
        assert world.store.get_cursor("maconomy-cinode", "customers") is None
        [run] = world.store.list_runs()
        assert run.status == "failed" and run.counts["create"] == 10  # page one only
    await runtime.aclose()
    world.store.close()


@pytest.mark.scenario("S6")
async def test_a_store_that_cannot_commit_stops_the_writes_and_the_rerun_completes(
        tmp_path: Path) -> None:
    world = _world(tmp_path)
    runtime = world.runtime(_paged(world.spec))
    store = world.store
    commit = store.commit_batch
    calls = 0

    def disk_full(batch: Any) -> Any:  # the real store, its disk filling on batch two
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return commit(batch)

    store.commit_batch = disk_full  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        await run_sync(runtime, "customers")
    # Never "write now, record later": the batch that could not be recorded was the
    # last one written; nothing after it was sent.
    assert len(world.cinode_customers()) == 20
    assert store.count_links("maconomy-cinode", "customers") == 10
    assert store.get_cursor("maconomy-cinode", "customers") is None

    store.commit_batch = commit  # type: ignore[method-assign]
    again = await run_sync(runtime, "customers")
    assert again.outcome == "success", again.error
    # The ten written but not recorded are found by their external id, not duplicated.
    assert again.counts["adopt"] == 10 and again.counts["create"] == 20, again.counts
    keys = [c["identification"] for c in world.cinode_customers()]
    assert len(keys) == len(set(keys)) == RECORDS
    await runtime.aclose()
    store.close()
