from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.retry import RetryPolicy, parse_retry_after, server_delay
from engine.errors import RetriableError

NOW = 1_700_000_000.0


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(1, 30),
    base=st.floats(0.01, 5),
    cap=st.floats(0.1, 120),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_stays_within_the_capped_exponential(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap, rng=random.Random(seed))
    delay = policy.backoff(attempt)
    assert 0.0 <= delay <= min(cap, base * 2 ** (attempt - 1))


def test_seeded_rng_makes_delays_reproducible() -> None:
    a = RetryPolicy(rng=random.Random(7))
    b = RetryPolicy(rng=random.Random(7))
    assert [a.backoff(n) for n in range(1, 6)] == [b.backoff(n) for n in range(1, 6)]


def test_without_jitter_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=False)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_spreads_retries() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60, rng=random.Random(1))
    delays = [policy.backoff(6) for _ in range(200)]
    assert len({round(d, 3) for d in delays}) > 150
    assert 8 < sum(delays) / len(delays) < 24  # mean of U(0, 32) is 16


def test_server_hint_wins_over_backoff() -> None:
    policy = RetryPolicy(base_delay=100, max_delay=100, jitter=False)
    assert policy.delay(1, 2.5) == 2.5
    assert policy.delay(1, -3) == 0.0
    assert policy.delay(1, None) == 100


def test_hint_beyond_max_wait_is_surfaced() -> None:
    policy = RetryPolicy(max_wait=60)
    with pytest.raises(RetriableError) as info:
        policy.delay(1, 86_400)
    assert info.value.retry_after == 86_400


def test_should_retry_counts_every_send() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(n) for n in (1, 2, 3)] == [True, True, False]
    with pytest.raises(ValueError, match="max_attempts=0"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(" 0 ", 0.0, id="zero"),
        pytest.param("1.5", 1.5, id="fraction"),
        pytest.param("-4", 0.0, id="negative"),
        pytest.param(formatdate(NOW + 30, usegmt=True), 30.0, id="http-date"),
        pytest.param(formatdate(NOW - 30, usegmt=True), 0.0, id="http-date-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param(429, {"Retry-After": "3"}, 3.0, id="retry-after"),
        pytest.param(503, {"Retry-After": "3"}, 3.0, id="retry-after-503"),
        pytest.param(477, {"Retry-After": "3600"}, 3600.0, id="hubspot-477"),
        pytest.param(
            429,
            {"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"},
            2.0,
            id="cinode-reset",
        ),
        pytest.param(200, {"x-ratelimit-reset": "2"}, None, id="reset-on-success-ignored"),
        pytest.param(
            429, {"X-HubSpot-RateLimit-Secondly-Remaining": "0"}, 1.0, id="hubspot-secondly"
        ),
        pytest.param(
            429,
            {
                "X-HubSpot-RateLimit-Remaining": "0",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            },
            10.0,
            id="hubspot-interval",
        ),
        pytest.param(429, {}, None, id="no-hint"),
    ],
)
def test_server_delay(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert server_delay(status, httpx.Headers(headers), now=NOW) == expected
