"""SIGTERM and SIGINT during `specsync run`: stop at the batch's end, abandon after a grace.

The first signal asks the run to stop (`Runtime.stop`): no new page is read, the writes
of the batch in flight finish and are committed, the run is marked `interrupted` and
its lease released. If those writes outlast the grace period, or a second signal
comes, the run's task is cancelled: the writes in flight are abandoned (a create whose
answer never came is looked up by external id on the next run, never sent blindly).
The command then exits 128 + the signal's number (143 for SIGTERM, 130 for Ctrl-C).

    async with GracefulStop(runtime.stop, grace=30.0, say=print) as stopping:
        report = await stopping.shield(run_sync(runtime, "customers"))
    stopping.signum  # the signal that stopped it, or None
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from engine.sync.stop import StopRequest

__all__ = ["GracefulStop"]

T = TypeVar("T")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    """The signal handlers of one command (see the module docstring)."""

    def __init__(self, stop: StopRequest, *, grace: float,
                 say: Callable[[str], None]) -> None:
        self.stop = stop
        self.grace = grace
        self.say = say
        self.signum: int | None = None
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> GracefulStop:
        self._loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            self._loop.add_signal_handler(sig, self._received, sig)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._loop is not None
        for sig in _SIGNALS:
            self._loop.remove_signal_handler(sig)
        if self._timer is not None:
            self._timer.cancel()

    @property
    def stopped(self) -> bool:
        return self.signum is not None

    async def shield(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run `work` as a task the grace timer may cancel; None if it was cancelled so."""
        self._task = asyncio.ensure_future(work)
        try:
            return await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this command itself is being cancelled, not just the run
            return None
        finally:
            self._task = None

    def _received(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signum is None:
            self.signum = signum
            self.stop.request(name)
            self.say(f"{name}: stopping after the writes in flight (at most {self.grace:g} s; "
                     "signal again to abandon them now)")
            assert self._loop is not None
            self._timer = self._loop.call_later(self.grace, self._abandon, "the grace period "
                                                "is over")
        else:
            self._abandon(f"{name} again")

    def _abandon(self, why: str) -> None:
        if self._task is not None and not self._task.done():
            self.say(f"{why}: abandoning the writes in flight")
            self._task.cancel()
