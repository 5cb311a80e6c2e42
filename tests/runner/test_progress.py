"""Live progress: rates over a window, the request rate against the budget's limit, ETA."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.adapters.ratelimit import RateBudget
from engine.runner.progress import LiveRun, RateUse

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rates_eta_and_the_share_of_the_vendor_limit() -> None:
    clock = Clock()
    budget = RateBudget("cred-x", limit=40, per_seconds=2.0)  # 20 requests/s allowed
    total = [10_000]
    live = LiveRun("maconomy-cinode", "customers", "schedule", T0,
                   (("cinode", (budget,)),), lambda: total[0], clock)
    counts = {"read": 0, "create": 0, "update": 0, "error": 0}
    for _ in range(20):  # 500 records read and 10 written per second, 15 requests/s
        clock.now += 1
        counts["read"] += 500
        counts["create"] += 10
        budget.stats.acquired += 15
        live.update(counts)
    view = live.view()
    assert (view.read, view.written, view.failed) == (10_000, 200, 0)
    assert round(view.read_rate) == 500 and round(view.write_rate) == 10
    [use] = view.rates
    assert use == RateUse("cinode", 15.0, 20.0) and use.share == 0.75
    assert view.eta_seconds == 0.0 and view.percent == 100.0

    total[0] = 20_000
    assert live.view().eta_seconds == 20.0  # 10,000 more at 500/s
    total[0] = None  # type: ignore[call-overload]
    later = live.view()
    assert later.eta_seconds is None and later.percent is None


def test_a_source_that_cannot_count_gives_no_eta_and_a_slow_start_no_division() -> None:
    clock = Clock()

    def broken() -> int | None:
        raise RuntimeError("no total here")

    live = LiveRun("i", "s", "console", T0, (), broken, clock)
    view = live.view()
    assert (view.read, view.read_rate, view.eta_seconds, view.rates) == (0, 0.0, None, ())
