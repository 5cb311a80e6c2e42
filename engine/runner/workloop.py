"""A second event loop on a thread of its own, where the runner's background work runs.

The receiver promises an answer within milliseconds while work is being processed. It
cannot keep that promise if sync runs share its loop: a run does CPU work (mapping,
hashing) and synchronous state-store calls (each commit an fsync) between its awaits,
and every webhook waiting meanwhile waits for it. So the scheduler, the inbox worker
and workflow-action executions run on this loop, and the server's loop only verifies,
persists and answers. They all stay on ONE loop because what they share belongs to
one: the sync gate's locks, adapters' connection pools and rate budgets.

    work = WorkLoop()
    work.start()
    result = await work.run(some_coroutine())   # from the server's loop
    work.call_soon(event.set)                   # thread-safe poke
    await work.aclose()

One process still has one GIL. A thread that waits for it waits until the holder's
switch interval runs out (5 ms by default), and the receiver waits for it a dozen times
per delivery (each socket read, each store statement releases it), so `serve` shortens
the interval (`prefer_responsiveness`). bench_webhooks.py at 2,000 events/s with the
worker busy beside the receiver: 1 ms gave a p99 of 21-55 ms over three runs, 0.2 ms
11-25 ms; with the sandboxes' CPU in the process too, 5 ms gave ~220 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["SWITCH_INTERVAL", "WorkLoop", "prefer_responsiveness"]

T = TypeVar("T")

SWITCH_INTERVAL = 0.0002  # seconds a thread may keep the GIL while another waits


def prefer_responsiveness() -> None:
    """Make threads hand the GIL over sooner (process-wide: call it in a server's main)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


class WorkLoop:
    """One event loop on one thread, started and stopped by the runner's lifespan."""

    def __init__(self, name: str = "specsync-work") -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None and self.loop.is_running()

    def start(self) -> None:
        """Start the thread and its loop; returns once the loop runs."""
        if self._thread is not None:
            raise RuntimeError("this work loop was started already")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        loop.call_soon(started.set)

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                try:
                    _cancel_leftovers(loop)
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.run_until_complete(loop.shutdown_default_executor())
                finally:
                    asyncio.set_event_loop(None)
                    loop.close()

        self.loop = loop
        # A daemon: a process whose lifespan never ran its shutdown must still exit. An
        # end mid-transaction is as safe as SIGKILL (SQLite rolls it back; claims expire).
        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        started.wait()

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Call `callback(*args)` on the work loop (from any thread)."""
        if self.loop is None:
            raise RuntimeError("the work loop is not running")
        self.loop.call_soon_threadsafe(callback, *args)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the work loop and wait for its result on the caller's loop.

        If the caller is cancelled, the work carries on (it owns state-store leases
        and claims that must be settled, not abandoned).
        """
        if not self.running:
            coro.close()
            raise RuntimeError("the work loop is not running")
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.shield(asyncio.wrap_future(future))

    async def aclose(self) -> None:
        """Stop the loop (tasks still pending are cancelled) and join the thread."""
        thread, loop = self._thread, self.loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # closed already
            loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
