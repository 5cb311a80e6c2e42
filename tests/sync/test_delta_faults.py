"""Delta reads that break between pages: equal timestamps (S7) and an expired page (S11).

Maconomy reads in pages of 10 and the sync commits in batches of 10, so each page is a
committed batch. A page read is refused part-way through a run (a 400, as Maconomy's
paging answers an offset it no longer honours; or the process dying there): the
batches before it stay committed, the cursor never passes what was written, and the
next run resumes from the committed cursor (re-reading its overlap, not the whole
source) and writes exactly what was missing. Nothing is skipped, nothing written twice.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from engine.errors import FatalError
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
