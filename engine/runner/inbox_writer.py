"""Group commit for the webhook inbox: concurrent deliveries share one durable write.

Every verified event must be in the state store before its sender gets a 2xx. One
transaction per delivery costs an fsync each (3-5 ms on a plain disk), which caps a
receiver at a few hundred events per second. Here requests hand their events to one
writer task and wait; the writer commits everything that queued up meanwhile in ONE
transaction (off the event loop, in a thread) and then answers all of them. Under load
each commit carries many deliveries; when idle a delivery is committed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from engine.state.base import StateStore

__all__ = ["InboxWriter"]

Item = tuple[str, str, bytes]  # (source, event_id, payload)


class InboxWriter:
    def __init__(self, store: StateStore, clock: Callable[[], datetime],
                 max_items: int = 2_000):
        self.store = store
        self.clock = clock
        self.max_items = max_items
        self._pending: list[tuple[Sequence[Item], asyncio.Future[list[bool]]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._committing = False
        self.commits = 0

    async def put(self, items: Sequence[Item]) -> list[bool]:
        """Store the items durably; one flag per item (False: a duplicate event id)."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="inbox-writer")
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._pending.append((items, future))
        assert self._wake is not None
        self._wake.set()
        return await future

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch: list[tuple[Sequence[Item], asyncio.Future[list[bool]]]] = []
                count = 0
                while self._pending and (not batch or count + len(self._pending[0][0])
                                         <= self.max_items):
                    entry = self._pending.pop(0)
                    batch.append(entry)
                    count += len(entry[0])
                flat = [item for items, _ in batch for item in items]
                self._committing = True
                try:
                    flags = await asyncio.to_thread(self.store.inbox_put_many, flat,
                                                    received_at=self.clock())
                except Exception as exc:  # every waiting request answers 503
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                finally:
                    self._committing = False
                self.commits += 1
                offset = 0
                for items, future in batch:
                    if not future.done():
                        future.set_result(flags[offset:offset + len(items)])
                    offset += len(items)

    async def aclose(self, timeout: float = 10.0) -> None:
        """Commit and answer what is queued, then stop the writer task."""
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return
        deadline = time.monotonic() + timeout
        while (self._pending or self._committing) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
