"""A paged read (`page_batches`) hands out exactly the batches and read-ahead windows of
the record-by-record path (`batches` over `StopRequest.guard`): the same records, the
same stops, the same batches decided before a refused page."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.sync.read import batches, page_batches
from engine.sync.stop import StopRequest

Record = dict[str, Any]


class Refused(Exception):
    pass


def _pages(sizes: list[int]) -> list[list[Record]]:
    counter = itertools.count()
    return [[{"id": next(counter)} for _ in range(size)] for size in sizes]


async def _source(pages: list[list[Record]], stop: StopRequest, stop_at_page: int | None,
                  fail_at_page: int | None) -> AsyncIterator[list[Record]]:
    for number, page in enumerate(pages):
        if number == stop_at_page:
            stop.request("SIGTERM")  # arrives while this page is fetched
        if number == fail_at_page:
            raise Refused(f"page {number}")
        yield page


async def _records(pages: AsyncIterator[list[Record]]) -> AsyncIterator[Record]:
    async for page in pages:
        for record in page:
            yield record


async def _run(paged: bool, sizes: list[int], size: int, window: int,
               stop_at_page: int | None, stop_after_batch: int | None,
               fail_at_page: int | None) -> tuple[list[list[int]], list[list[int]], str]:
    stop = StopRequest()
    windows: list[list[int]] = []

    async def ahead(records: list[Record]) -> None:
        windows.append([r["id"] for r in records])

    source = _source(_pages(sizes), stop, stop_at_page, fail_at_page)
    stopped = lambda: stop.requested  # noqa: E731
    if paged:
        stream = page_batches(source, size, ahead=ahead, window=window, stopped=stopped)
    else:
        stream = batches(stop.guard(_records(source)), size, ahead=ahead, window=window,
                         stopped=stopped)
    handed: list[list[int]] = []
    raised = ""
    try:
        async for batch in stream:
            handed.append([r["id"] for r in batch])
            if len(handed) == stop_after_batch:
                stop.request("SIGTERM")  # while the batch is decided and written
    except Refused as exc:
        raised = str(exc)
    return handed, windows, raised


@pytest.mark.parametrize("sizes", [[7, 7, 7, 3], [10, 10, 10], [1, 5, 0, 12, 4], [25]])
@pytest.mark.parametrize("size,window", [(3, 1), (3, 2), (5, 3), (4, 10)])
async def test_a_paged_read_hands_out_the_batches_of_the_record_path(
        sizes: list[int], size: int, window: int) -> None:
    cases: list[tuple[int | None, int | None, int | None]] = [(None, None, None)]
    cases += [(page, None, None) for page in range(len(sizes) + 1)]
    cases += [(None, batch, None) for batch in range(1, 8)]
    cases += [(None, None, page) for page in range(len(sizes))]
    cases += [(None, 2, len(sizes) - 1)]
    for stop_at_page, stop_after_batch, fail_at_page in cases:
        expected = await _run(False, sizes, size, window, stop_at_page, stop_after_batch,
                              fail_at_page)
        got = await _run(True, sizes, size, window, stop_at_page, stop_after_batch,
                         fail_at_page)
        assert got == expected, (stop_at_page, stop_after_batch, fail_at_page)


async def test_a_full_run_of_a_paged_source_reads_pages_not_records(world_factory) -> None:
    from engine.sync.pipeline import SyncJob, run_sync

    world = world_factory(records=25)
    runtime = world.runtime(world.spec)
    source = SyncJob(runtime, "customers").source
    assert hasattr(source, "read_pages")
    first = await run_sync(runtime, "customers", full=True)
    assert first.counts["create"] == 25

    def by_record(*args: Any, **kwargs: Any) -> AsyncIterator[Record]:
        raise AssertionError("a full run reads pages")

    source.read = by_record  # type: ignore[method-assign]
    again = await run_sync(runtime, "customers", full=True)
    assert again.outcome == "success" and again.counts["skip"] == 25
    await runtime.aclose()
