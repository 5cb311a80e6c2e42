"""Serve ASGI apps with uvicorn on loopback inside the running event loop.

The demo keeps four sandboxes, the runner and its own driver in one loop: everything
talks over real sockets, yet one Ctrl-C (or one `stop()`) ends it all, in order.
uvicorn's own signal handling is off; the demo owns Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["LoopbackServer"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LoopbackServer:
    """One app on 127.0.0.1 (a free port unless given); `url` once started."""

    def __init__(self, app: Any, name: str, *, host: str = "127.0.0.1", port: int = 0,
                 grace_seconds: int = 5) -> None:
        self.name = name
        self.host = host
        self._server = _Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False,
            lifespan="on", timeout_graceful_shutdown=grace_seconds))
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self, timeout: float = 15.0) -> str:
        """Start serving; returns the base URL. Raises RuntimeError when it cannot."""
        self._task = asyncio.create_task(self._server.serve(), name=f"demo-{self.name}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._server.started:
            if self._task.done():
                with contextlib.suppress(BaseException):
                    self._task.result()
                raise RuntimeError(f"{self.name} could not start on {self.host}")
            if loop.time() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s")
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop accepting requests, finish those in flight, run the app's shutdown."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._task
        self._task = None
