"""Independent requests of one batch in flight together, within the credential's budget.

An API without batch writes costs a round trip per record; sent one after the other, a
run waits for each answer and spends far less than the vendor's rate limit allows. The
rate budget (ratelimit.py) still paces every request, so running a few at once only
fills the time spent waiting for answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["DEFAULT_CONCURRENCY", "in_order"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 8


async def in_order(items: Sequence[T], work: Callable[[T], Awaitable[R]],
                   limit: int = DEFAULT_CONCURRENCY) -> list[R]:
    """`work(item)` for every item, at most `limit` at once; the results in item order.

    An exception from one item is raised after the others have finished, so no request
    is left running unobserved (`work` should turn per-item failures into results).
    """
    if limit <= 1 or len(items) <= 1:
        return [await work(item) for item in items]
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    outcomes = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]
