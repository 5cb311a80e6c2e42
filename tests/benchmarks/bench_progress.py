"""What live progress costs a run: `LiveRun.update` is called once per batch by the
pipeline; `LiveRun.view` once per console poll (every second per open page).

    python tests/benchmarks/bench_progress.py

Prints nanoseconds per batch and microseconds per poll (medians of five rounds). A batch
is 100 records, and a no-change reconcile spends about 30 µs per record (bench_sync.py),
so the figure to compare with is ~3 ms per batch.
"""

from __future__ import annotations

import statistics
import timeit
from datetime import UTC, datetime

from engine.adapters.ratelimit import RateBudget
from engine.runner.progress import LiveRun


def main() -> None:
    source, target = RateBudget("src", 20, 1.0), RateBudget("dst", 40, 2.0)
    live = LiveRun("integration", "sync", "schedule", datetime.now(UTC),
                   (("source", (source,)), ("target", (target,))), lambda: 100_000)
    counts = {"read": 100, "create": 5, "update": 3, "adopt": 0, "deactivate": 0,
              "delete": 0, "error": 0}
    updates, views = 100_000, 2_000
    per_update = statistics.median(
        timeit.timeit(lambda: live.update(counts), number=updates) / updates
        for _ in range(5))
    per_view = statistics.median(
        timeit.timeit(live.view, number=views) / views for _ in range(5))
    print(f"LiveRun.update (per batch of 100 records): {per_update * 1e9:,.0f} ns "
          f"({per_update / 3e-3:.3%} of a 3 ms batch)")
    print(f"LiveRun.view (per console poll): {per_view * 1e6:,.1f} µs")


if __name__ == "__main__":
    main()
