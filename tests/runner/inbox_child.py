"""A runner process that claims inbox events and then hangs mid-batch (to be SIGKILLed).

    python tests/runner/inbox_child.py STATE_DB SPEC MARKER

Runs the real InboxWorker; the `crm` connection's transport writes MARKER and never
answers, so the worker is killed while its events are claimed and unprocessed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from engine.runner.context import RunnerContext
from engine.runner.deployment import Deployment
from engine.runner.inbox import InboxWorker
from engine.state import SqliteStateStore


class Hanging(httpx.AsyncBaseTransport):
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.marker.write_text(request.url.path)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def main(db: str, spec: str, marker: str) -> None:
    store = SqliteStateStore(db)
    hang = Hanging(Path(marker))
    deployment = Deployment.load([spec], store, environ=dict(os.environ),
                                 transports={"crm": hang, "delivery": hang})
    worker = InboxWorker(RunnerContext(deployment, store), worker_id="child", lease_seconds=30)
    await worker.process_once()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
