"""Shared fixtures for the simulator tests: a manual clock, in-process clients,
uvicorn on loopback (port 0), and a webhook receiver app that records what it gets."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from engine.sandbox.platform import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@contextmanager
def serve_on_loopback(app: ASGIApp) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (port 0) in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical",
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    else:  # pragma: no cover - only when the machine is badly overloaded
        raise RuntimeError("uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def loopback() -> Callable[[ASGIApp], object]:
    """`with loopback(app) as url:` serves an app on 127.0.0.1 for transport-level tests."""
    return serve_on_loopback


@dataclass
class Receiver:
    """A webhook receiver: records each POST; answers with the queued statuses, then 200."""

    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    app: Starlette = field(init=False)

    def __post_init__(self) -> None:
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.received.append((request.url.path, dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 200
            return Response(status_code=status)

        self.app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])

    def bodies(self) -> list[object]:
        return [json.loads(body) for _, _, body in self.received]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def receiver_client(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose requests land in `receiver.app` (give it to SandboxConfig)."""
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver.test") as client:
        yield client

