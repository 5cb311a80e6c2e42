"""When to try a request again, and how long to wait first.

Backoff is exponential with *full jitter* (a uniform draw between 0 and the capped
exponential delay, as in the AWS architecture blog's "Exponential Backoff and Jitter"), so
many workers retrying the same failing system do not retry in lockstep. A delay the
server asks for (`Retry-After`, Cinode's `x-ratelimit-reset`, HubSpot's rate-limit
headers) wins over the computed one, because the server knows when it will accept us
again. A server delay longer than `max_wait` is not slept through: it is raised as
`RetriableError(retry_after=...)` so the run can checkpoint, stop and resume later instead
of holding a worker for hours (HubSpot's 477 may ask for up to a day).

Usage::

    policy = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=30, rng=random.Random(7))
    hint = server_delay(response.status_code, response.headers, now=time.time())
    await asyncio.sleep(policy.delay(attempt, hint))
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

from engine.errors import RetriableError

__all__ = ["RetryPolicy", "parse_retry_after", "server_delay"]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how long between them, and the longest server-imposed wait.

    `max_attempts` counts every send, the first included. `rng` is injectable (seed it
    in tests) so jittered delays are reproducible.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True
    max_wait: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy max_attempts={self.max_attempts}: must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_wait < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def backoff(self, attempt: int) -> float:
        """The computed delay after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds to wait before the next attempt; the server's `hint` wins if given.

        Raises `RetriableError` when the server asks for longer than `max_wait`.
        """
        if hint is None:
            return self.backoff(attempt)
        hint = max(0.0, hint)
        if hint > self.max_wait:
            raise RetriableError(
                f"server asked to wait {hint:.0f}s, more than the {self.max_wait:.0f}s we wait "
                "in-process; resume later",
                retry_after=hint,
            )
        return hint

    def should_retry(self, attempt: int) -> bool:
        """True if another attempt is allowed after attempt number `attempt`."""
        return attempt < self.max_attempts


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP-date).

    `now` is the wall clock (epoch seconds) used for the HTTP-date form. Returns None
    for a missing or unreadable value, never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "assume UTC"
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


def server_delay(status: int, headers: Mapping[str, str], *, now: float) -> float | None:
    """The wait a response asks for, from whichever header the vendor uses, or None.

    `headers` must look names up case-insensitively (an `httpx.Headers` does).
    Order: `Retry-After`; then, on a 429 only, Cinode's `x-ratelimit-reset` (seconds
    left in the window; Cinode sends no Retry-After) and HubSpot's secondly / interval
    limits when their remaining count is zero.
    """
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    if status != 429:
        return None
    reset = _number(headers, "x-ratelimit-reset")
    if reset is not None:
        return max(0.0, reset)
    if _number(headers, "x-hubspot-ratelimit-secondly-remaining") == 0:
        return 1.0
    interval_ms = _number(headers, "x-hubspot-ratelimit-interval-milliseconds")
    if _number(headers, "x-hubspot-ratelimit-remaining") == 0 and interval_ms is not None:
        return interval_ms / 1000.0
    return None
