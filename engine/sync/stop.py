"""A request to stop the runs of a process at their next batch boundary (SIGTERM, SIGINT).

A deploy sends SIGTERM; an operator presses Ctrl-C. Killing the run there would leave it
`running` in the history and its lease held until expiry, so the signal only asks: the
run stops reading (no new page is fetched), lets the writes of the batch in flight
finish and commits them, marks itself `interrupted` and releases its lease. The next run
resumes from the last commit. Whoever handles the signal abandons the writes in flight
(cancels the run's task) when they outlast a grace period.

Signal handlers and other threads set it (serve's work loop runs on a thread of its own),
so it is a `threading.Event`, not an asyncio one:

    stop = StopRequest()
    stop.request("SIGTERM")              # from a signal handler or another thread
    async for record in stop.guard(stream): ...   # ends once a stop is requested
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import TypeVar

__all__ = ["StopRequest"]

T = TypeVar("T")


class StopRequest:
    """Asks the runs of one process to stop at their next batch boundary."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def __repr__(self) -> str:
        return f"StopRequest(requested={self.requested}, reason={self.reason!r})"

    def request(self, reason: str) -> None:
        """Ask for a stop (the first reason given is kept); safe from any thread."""
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    async def guard(self, stream: AsyncIterator[T]) -> AsyncIterator[T]:
        """The items of `stream` until a stop is requested; then no further one is read
        (the source's next page is never fetched)."""
        if self.requested:
            return
        async for item in stream:
            yield item
            if self.requested:
                return
