"""Applies the current faults to vendor routes (never `/_sandbox/*`) and logs requests."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.sandbox.platform.clock import isoformat_z
from engine.sandbox.platform.ratelimit import RateDecision

if TYPE_CHECKING:
    from engine.sandbox.platform.app import Sandbox


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str  # without the query string: queries can carry keys
    status: int | None  # None when the connection was dropped before a status
    fault: str | None  # "error", "burst_429", "timeout", "drop" when a fault answered
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status,
                "fault": self.fault, "at": isoformat_z(self.at)}


class SandboxDroppedConnection(httpx.RemoteProtocolError):
    """Raised inside the app to drop a connection mid-response.

    Under uvicorn the server aborts the connection after the headers; under
    `httpx.ASGITransport` it propagates to the client as the transport error it is.
    """


class FaultMiddleware:
    """Applies the sandbox's current `Faults` to vendor routes and logs every request."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        status: list[int | None] = [None]

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        faults = sandbox.faults
        if not faults.http_active:
            try:
                await self.app(scope, receive, logging_send)
            finally:
                sandbox._log_request(scope, status[0], None)
            return

        fault = sandbox._draw_fault()
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        if fault in ("burst_429", "error"):
            response = (sandbox.too_many_requests_response(RateDecision(False, 0, 0, 1.0))
                        if fault == "burst_429"
                        else sandbox.error_response(sandbox._draw_5xx(), "Sandbox fault: "
                                                    "simulated server error"))
            await response(scope, receive, logging_send)
            sandbox._log_request(scope, status[0], fault)
            return
        if fault is None:
            try:
                await self.app(scope, receive, logging_send)
            finally:
                sandbox._log_request(scope, status[0], None)
            return

        # timeout / drop: the server really processes the request, then misbehaves.
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if fault == "timeout":
            await _sleep_unless_disconnected(faults.timeout_seconds, receive)
            for message in messages:
                await logging_send(message)
            sandbox._log_request(scope, status[0], fault)
            return
        sandbox._log_request(scope, None, fault)
        if start is not None:
            await send(start)
            # A first chunk makes uvicorn flush the headers; then the connection dies.
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        raise SandboxDroppedConnection("sandbox fault: connection dropped mid-response")


async def _sleep_unless_disconnected(seconds: float, receive: Receive) -> None:
    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    waiter = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await waiter
