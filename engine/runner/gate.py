"""One in-process lock per sync, shared by the scheduler, the inbox worker and actions.

The state-store lease in `run_sync` keeps other processes out; this gate keeps this
process's own tasks from racing each other for it (a webhook-triggered run waits for
the scheduled run of the same sync instead of failing on the lease).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["SyncGate"]


class SyncGate:
    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _lock(self, integration: str, sync: str) -> asyncio.Lock:
        return self._locks.setdefault((integration, sync), asyncio.Lock())

    def busy(self, integration: str, sync: str) -> bool:
        lock = self._locks.get((integration, sync))
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def hold(self, integration: str, sync: str) -> AsyncIterator[None]:
        """Run the block as the only task of this process working on the sync."""
        async with self._lock(integration, sync):
            yield
