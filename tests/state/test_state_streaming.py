"""iter_links streams: walking 200,000 links keeps memory to about a page of rows."""

from __future__ import annotations

import tracemalloc

from state_support import T0

from engine.state import BatchCommit, Link, StateStore

N = 200_000
PEAK_LIMIT = 4 * 1024 * 1024  # all 200,000 Link objects would take well over 50 MB


def test_iter_links_over_200k_links_stays_small(store: StateStore) -> None:
    links = [Link(f"k{n:07d}", f"target-{n}", "0123456789abcdef") for n in range(N)]
    store.commit_batch(BatchCommit("big", "links", T0, links=links))
    del links

    tracemalloc.start()
    try:
        count, previous = 0, ""
        for link in store.iter_links("big", "links"):
            assert link.source_key > previous
            previous = link.source_key
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == N
    assert previous == f"k{N - 1:07d}"
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB while streaming"
