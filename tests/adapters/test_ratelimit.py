from __future__ import annotations

import asyncio
import bisect
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.ratelimit import Budget, RateBudget, RateBudgets, credential_key
from engine.errors import RetriableError


class FakeClock:
    """Monotonic and wall clock in one; `sleep` advances time instead of waiting."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _budget(clock: FakeClock, limit: int = 5, per: float = 2.0) -> RateBudget:
    return RateBudget(
        "cred-test", limit, per, clock=clock, sleep=clock.sleep, wall_clock=clock.wall
    )


def _max_in_window(times: list[float], per: float) -> int:
    """Largest number of timestamps in any half-open interval [t, t + per)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + per) - i for i, t in enumerate(times)), default=0)


@settings(max_examples=50, deadline=None)
@given(
    limit=st.integers(1, 12),
    per=st.sampled_from([0.5, 1.0, 2.0, 10.0]),
    callers=st.integers(1, 40),
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.3, 1.5]), min_size=1, max_size=40),
)
def test_window_never_exceeded(limit: int, per: float, callers: int, gaps: list[float]) -> None:
    async def scenario() -> list[float]:
        clock = FakeClock()
        budget = _budget(clock, limit, per)
        stamps: list[float] = []

        async def caller(i: int) -> None:
            await clock.sleep(gaps[i % len(gaps)])
            await budget.acquire()
            stamps.append(clock())

        await asyncio.gather(*(caller(i) for i in range(callers)))
        assert budget.stats.acquired == callers
        return stamps

    stamps = asyncio.run(scenario())
    assert _max_in_window(stamps, per) <= limit


async def test_waits_are_counted_and_fifo() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=2, per=1.0)
    waited = [await budget.acquire() for _ in range(5)]
    assert waited == [0.0, 0.0, 1.0, 0.0, 1.0]
    assert budget.stats.waits == 2
    assert budget.stats.waited_seconds == pytest.approx(2.0)
    assert clock() == pytest.approx(1002.0)


async def test_cinode_remaining_zero_waits_for_reset() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=40, per=2.0)
    await budget.acquire()
    headers = httpx.Headers(
        {"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1.5"}
    )
    await budget.observe(200, headers)
    assert await budget.acquire() == pytest.approx(1.5)
    # The window reset: the vendor's count is forgotten until it tells us again.
    assert await budget.acquire() == 0.0


async def test_cinode_remaining_counts_down_locally() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=100, per=2.0)
    await budget.acquire()
    await budget.observe(
        200, httpx.Headers({"x-ratelimit-remaining": "2", "x-ratelimit-reset": "2"})
    )
    assert [await budget.acquire() for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]


async def test_vendor_limit_lowers_configured_limit_never_raises_it() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=40, per=2.0)
    await budget.observe(200, httpx.Headers({"x-ratelimit-limit": "10"}))
    assert budget.limit == 10
    await budget.observe(200, httpx.Headers({"x-ratelimit-limit": "400"}))
    assert budget.limit == 10


async def test_hubspot_headers_teach_interval_and_secondly_windows() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=1000, per=10.0)
    await budget.observe(
        200,
        httpx.Headers(
            {
                "X-HubSpot-RateLimit-Max": "100",
                "X-HubSpot-RateLimit-Remaining": "99",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Secondly": "3",
                "X-HubSpot-RateLimit-Secondly-Remaining": "2",
            }
        ),
    )
    stamps = []
    for _ in range(9):
        await budget.acquire()
        stamps.append(clock())
    assert _max_in_window(stamps, 1.0) <= 3
    assert clock.sleeps  # the learned per-second cap made us wait


async def test_hubspot_secondly_remaining_zero_blocks_a_second() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=100, per=10.0)
    await budget.observe(200, httpx.Headers({"X-HubSpot-RateLimit-Secondly-Remaining": "0"}))
    assert await budget.acquire() == pytest.approx(1.0)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_on_429_blocks_every_caller(form: str) -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=100, per=10.0)
    value = "7" if form == "seconds" else formatdate(clock.wall() + 7, usegmt=True)
    await budget.observe(429, httpx.Headers({"Retry-After": value}))
    waits = await asyncio.gather(budget.acquire(), budget.acquire())
    # HTTP dates have whole-second precision; the first caller waits, the second does not.
    assert waits[0] == pytest.approx(7.0, abs=1.0)
    assert waits[1] == 0.0


async def test_wait_beyond_max_wait_is_retriable() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await budget.observe(429, httpx.Headers({"Retry-After": "86400"}))
    with pytest.raises(RetriableError) as info:
        await budget.acquire(max_wait=60)
    assert info.value.retry_after == pytest.approx(86400)
    assert clock.sleeps == []


@pytest.mark.parametrize("header", ["x-daily-requests-left", "X-HubSpot-RateLimit-Daily-Remaining"])
async def test_spent_daily_quota_defers_until_midnight_utc(header: str) -> None:
    clock = FakeClock(wall=1_700_000_000.0)  # 22:13:20 UTC
    budget = _budget(clock)
    await budget.observe(200, httpx.Headers({header: "0"}))
    with pytest.raises(RetriableError) as info:
        await budget.acquire(max_wait=300)
    assert info.value.retry_after == pytest.approx(6400.0)
    await budget.observe(200, httpx.Headers({header: "0"}))  # still spent, nothing changes
    clock.now += 6400.0
    assert await budget.acquire(max_wait=300) == 0.0


def test_registry_shares_budget_per_credential_and_hides_the_secret() -> None:
    budgets = RateBudgets()
    a = budgets.for_credential("pat-na1-secret-token", 100, 10)
    b = budgets.for_credential("pat-na1-secret-token", 100, 10)
    c = budgets.for_credential("another-token", 40, 2)
    assert a is b
    assert a is not c
    assert len(budgets) == 2
    assert "secret" not in a.key and "secret" not in repr(a)
    assert a.key == credential_key("pat-na1-secret-token")
    assert isinstance(a, Budget)


def test_registry_later_lower_limit_tightens() -> None:
    budgets = RateBudgets()
    budgets.for_credential("tok-1", 100, 10)
    assert budgets.for_credential("tok-1", 50, 10).limit == 50
    assert budgets.for_credential("tok-1", 80, 10).limit == 50


def test_registries_are_independent() -> None:
    assert RateBudgets().for_credential("t", 1, 1) is not RateBudgets().for_credential("t", 1, 1)


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="limit=0"):
        RateBudget("k", 0, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    phase=st.floats(0.0, 1.999),
    delays=st.lists(st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.25]), min_size=200, max_size=200),
    late=st.floats(0.0, 0.1),
    rounded_up=st.booleans(),
)
def test_following_the_vendor_s_fixed_windows_never_overflows_one_and_fills_them(
    phase: float, delays: list[float], late: float, rounded_up: bool
) -> None:
    """Cinode counts arrivals in fixed windows; a request arrives up to 0.25 s after the
    budget let it go, and its response is read up to 0.1 s after the vendor decided."""
    import math
    from collections import Counter

    limit, per = 40, 2.0
    clock = FakeClock()
    budget = _budget(clock, limit, per)
    arrivals: Counter[int] = Counter()

    async def scenario() -> None:
        for delay in delays:
            await budget.acquire()
            arrival = clock.now + delay
            window = math.floor((arrival - phase) / per)
            arrivals[window] += 1
            reset = (window + 1) * per + phase - arrival
            shown = str(math.ceil(reset)) if rounded_up else f"{reset:.3f}"
            budget.learn_at(arrival + late, 200, {"x-ratelimit-reset": shown})

    asyncio.run(scenario())
    assert max(arrivals.values()) <= limit
    first, last = min(arrivals), max(arrivals)
    if not rounded_up:
        # The phase known to the ms, every window is full from the third on (the first
        # burst, sent before the phase was known, may fall in a window's last fifth and
        # then counts in the second window too).
        assert [arrivals[w] for w in range(first + 2, last)] == [limit] * (last - first - 2)


def test_a_reset_longer_than_the_period_keeps_the_sliding_window() -> None:
    clock = FakeClock()
    budget = _budget(clock, limit=2, per=2.0)
    budget.learn_at(clock.now, 200, {"x-ratelimit-reset": "60"})
    assert budget.snapshot()["fixed_end"] is None
    budget.learn_at(clock.now, 200, {"x-ratelimit-reset": "1.5"})
    assert budget.snapshot()["fixed_end"] == pytest.approx(clock.now + 1.501)
