"""Transport faults over real sockets: a Starlette app served by uvicorn on 127.0.0.1.

Timeouts and dropped connections only exist on a real connection, so these tests do not
use ASGITransport. Retry waits go through an injected sleep; only the client timeouts
(a quarter second each) take real time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from engine.adapters.http import HttpSession
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, RetriableError
from engine.redact import Redactor

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT = 0.25
SLOW = 1.0  # longer than CLIENT_TIMEOUT: the client gives up first


class FaultyServer:
    """Counts requests per `key` query parameter; the first `times` of them misbehave."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = Starlette(
            routes=[
                Route("/slow", self.slow, methods=["GET", "POST"]),
                Route("/drop", self.Drop(self), methods=["GET", "POST"]),
            ]
        )

    def _hit(self, request_or_scope: Any) -> tuple[int, int, float]:
        params = (
            request_or_scope.query_params
            if isinstance(request_or_scope, Request)
            else Request(request_or_scope).query_params
        )
        key = params["key"]
        self.hits[key] += 1
        return self.hits[key], int(params.get("times", "1")), float(params.get("delay", SLOW))

    async def slow(self, request: Request) -> Response:
        n, times, delay = self._hit(request)
        await request.body()
        if n <= times:
            await asyncio.sleep(delay)
        return JSONResponse({"attempt": n})

    class Drop:
        """Raw ASGI: starts a 100-byte response, sends 11 bytes, then the connection dies."""

        def __init__(self, server: FaultyServer) -> None:
            self.server = server

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            n, times, _ = self.server._hit(scope)
            if n > times:
                await JSONResponse({"attempt": n})(scope, receive, send)
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"100"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
            raise ConnectionAbortedError("simulated crash mid-response")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FaultyServer, str]]:
    faulty = FaultyServer()
    config = uvicorn.Config(
        faulty.app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    uv = uvicorn.Server(config)
    # The simulated crash is logged by uvicorn as an application error; keep it quiet.
    uv_error = logging.getLogger("uvicorn.error")
    previous_level = uv_error.level
    uv_error.setLevel(logging.CRITICAL)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield faulty, f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        uv_error.setLevel(previous_level)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def _session(base_url: str, sleeps: Sleeps, max_attempts: int = 3) -> HttpSession:
    client = httpx.AsyncClient(base_url=base_url)
    return HttpSession(
        client,
        name="faulty",
        budget=None,
        retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.5, rng=random.Random(5)),
        redactor=Redactor(),
        timeout=httpx.Timeout(CLIENT_TIMEOUT, connect=1.0),
        sleep=sleeps,
    )


@pytest.fixture
def key() -> str:
    return uuid.uuid4().hex


async def test_slow_response_within_timeout_succeeds(server, key) -> None:
    _faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        response = await session.request("GET", "/slow", params={"key": key, "delay": 0.05})
    assert response.json() == {"attempt": 1}
    assert sleeps.waits == []


async def test_get_timing_out_is_retried(server, key) -> None:
    faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        response = await session.request("GET", "/slow", params={"key": key, "times": 1})
    assert response.json() == {"attempt": 2}
    assert faulty.hits[key] == 2
    assert len(sleeps.waits) == 1
    assert session.stats.transport_errors == 1


async def test_get_timing_out_every_time_is_retriable(server, key) -> None:
    faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps, max_attempts=2)
    async with session.client:
        with pytest.raises(RetriableError, match="ReadTimeout"):
            await session.request("GET", "/slow", params={"key": key, "times": 9})
    assert faulty.hits[key] == 2


async def test_post_create_timing_out_is_ambiguous_and_sent_once(server, key) -> None:
    faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        with pytest.raises(AmbiguousWriteError, match="look the record up"):
            await session.request(
                "POST", "/slow", params={"key": key, "times": 9}, json={"name": "Acme"}
            )
        # Give a late duplicate the chance to arrive, were one sent.
        await asyncio.sleep(0.05)
    assert faulty.hits[key] == 1
    assert sleeps.waits == []


async def test_idempotent_post_timing_out_is_retried(server, key) -> None:
    _faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        response = await session.request(
            "POST", "/slow", params={"key": key, "times": 1}, json={}, idempotent=True
        )
    assert response.json() == {"attempt": 2}


async def test_get_dropped_mid_response_is_retried(server, key) -> None:
    faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        response = await session.request("GET", "/drop", params={"key": key, "times": 2})
    assert response.json() == {"attempt": 3}
    assert faulty.hits[key] == 3
    assert session.stats.transport_errors == 2


async def test_post_dropped_mid_response_is_ambiguous(server, key) -> None:
    faulty, base = server
    sleeps = Sleeps()
    session = await _session(base, sleeps)
    async with session.client:
        with pytest.raises(AmbiguousWriteError) as info:
            await session.request("POST", "/drop", params={"key": key}, json={"name": "Acme"})
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError | httpx.ReadError)
    assert faulty.hits[key] == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connect_error_is_retried_even_for_a_create() -> None:
    sleeps = Sleeps()
    session = await _session(f"http://127.0.0.1:{_closed_port()}", sleeps, max_attempts=3)
    async with session.client:
        with pytest.raises(RetriableError, match="ConnectError") as info:
            await session.request("POST", "/users", json={"name": "Acme"})
    assert not isinstance(info.value, AmbiguousWriteError)
    assert session.stats.transport_errors == 3
    assert len(sleeps.waits) == 2
