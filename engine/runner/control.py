"""Runs an operator asks for: run a sync now, retry one failing record or all of them.

The console asks on the server's loop; the run itself starts on the work loop, where
scheduled and webhook-triggered runs live, inside the sync's gate (never beside another
run of the same sync in this process; the state-store lease keeps other processes out).
Asking does not wait for the run: the answer says whether it started.

    outcome = await runner.control.request_run("maconomy-cinode", "customers", by="alice")
    # "started" | "busy" (a run is in progress) | "paused" | "unknown" (no such sync)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from engine.sync.retry import FailingRecords

if TYPE_CHECKING:
    from engine.runner.app import Runner

__all__ = ["RequestOutcome", "RunControl"]

log = logging.getLogger(__name__)

RequestOutcome = Literal["started", "busy", "paused", "unknown"]


class RunControl:
    """Starts operator-requested runs; `tasks` are awaited at a graceful stop."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.tasks: set[asyncio.Task[None]] = set()

    async def _check(self, integration: str, sync: str) -> RequestOutcome | None:
        ctx = self.runner.ctx
        runtime = ctx.deployment.runtimes.get(integration)
        if runtime is None or sync not in runtime.spec.syncs:
            return "unknown"
        paused = await asyncio.to_thread(ctx.store.paused_syncs)
        if (integration, sync) in paused:
            return "paused"
        if ctx.gate.busy(integration, sync) or ctx.progress.running(integration, sync):
            return "busy"
        return None

    async def request_run(self, integration: str, sync: str, *,
                          trigger: str = "console") -> RequestOutcome:
        """Start a run of the sync (a delta run, as its schedule would)."""
        refused = await self._check(integration, sync)
        if refused:
            return refused

        async def work() -> None:
            await self.runner.run_now(integration, sync, trigger=trigger)

        self._spawn(integration, sync, work)
        return "started"

    async def request_retry(self, integration: str, sync: str,
                            keys: Sequence[str] | None = None) -> RequestOutcome:
        """Retry failing records now: these keys, or every failing record of the sync."""
        refused = await self._check(integration, sync)
        if refused:
            return refused

        async def work() -> None:
            runtime = self.runner.ctx.deployment.runtimes[integration]
            failing = FailingRecords(runtime, sync, keys)
            await self.runner.run_now(integration, sync, trigger="retry",
                                      records=failing.read())
            if failing.missing:
                log.warning("%d failing record(s) of %s/%s are gone from the source; they "
                            "stay listed until acknowledged", len(failing.missing),
                            integration, sync)

        self._spawn(integration, sync, work)
        return "started"

    def _spawn(self, integration: str, sync: str,
               work: Callable[[], Awaitable[None]]) -> None:
        gate = self.runner.ctx.gate

        async def guarded() -> None:
            try:
                async with gate.hold(integration, sync):
                    await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("requested run of %s/%s failed", integration, sync)

        def start() -> None:
            task = asyncio.get_running_loop().create_task(
                guarded(), name=f"console:{integration}/{sync}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        work_loop = self.runner.work
        if work_loop is not None and work_loop.running:
            work_loop.call_soon(start)
        else:  # not started (in-process tests): the caller's loop is the work loop
            start()
