"""Background webhook delivery with retries, faults and a delivery log, plus `drain()`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from engine.sandbox.platform.clock import Clock
from engine.sandbox.platform.faults import Faults

HeaderSource = Mapping[str, str] | Callable[[str, bytes], Mapping[str, str]]


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery attempt, as the log records it."""

    url: str
    body: bytes
    headers: dict[str, str]
    attempt: int
    status: int | None  # None when the attempt failed without an answer
    error: str | None
    duplicate: bool
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Pending:
    url: str
    body: bytes
    headers: HeaderSource
    duplicate: bool = False


class WebhookDispatcher:
    """Delivers webhooks in the background, retrying 5xx, timeouts and transport errors.

    Deliveries queued while one batch is being sent form the next batch; with
    `Faults.webhook_reorder` each batch is shuffled (seeded). `headers` may be a callable
    `(url, body) -> headers` evaluated per attempt, for signatures that include a
    timestamp. Works without an ASGI lifespan (in-process tests): the worker starts on
    the first `enqueue` from a running event loop.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        client: httpx.AsyncClient | None = None,
        faults: Callable[[], Faults] = Faults,
        max_attempts: int = 4,
        backoff_seconds: float = 0.05,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.clock = clock
        self.targets: list[str] = []
        self.log: list[WebhookDelivery] = []
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._faults = faults
        self._client = client
        self._own_client: httpx.AsyncClient | None = None
        self._pending: deque[_Pending] = deque()
        self._busy = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._rng = random.Random(faults().seed)

    def register(self, url: str) -> None:
        if url not in self.targets:
            self.targets.append(url)

    def unregister(self, url: str) -> None:
        if url in self.targets:
            self.targets.remove(url)

    def reset_faults(self, faults: Faults) -> None:
        self._rng = random.Random(faults.seed)

    def enqueue(self, url: str, body: bytes, headers: HeaderSource | None = None) -> None:
        """Queue one delivery to `url`. Call from the app's event loop (any async handler)."""
        self._pending.append(_Pending(url, body, headers or {}))
        self._busy += 1
        self._kick()

    def broadcast(self, body: bytes, headers: HeaderSource | None = None) -> int:
        """Queue `body` to every registered target; returns how many were queued."""
        for url in self.targets:
            self.enqueue(url, body, headers)
        return len(self.targets)

    @property
    def delivered(self) -> list[WebhookDelivery]:
        """Successful attempts, in delivery order."""
        return [d for d in self.log if d.ok]

    async def start(self) -> None:
        self._ensure_worker()

    async def stop(self) -> None:
        if self._task is not None and self._loop is asyncio.get_running_loop():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        if self._own_client is not None:
            await self._own_client.aclose()
            self._own_client = None

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery (with its retries) is finished."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and self._loop.is_running():
            # Served by uvicorn in another thread: wait on the server's loop.
            future = asyncio.run_coroutine_threadsafe(self._drain_here(timeout), self._loop)
            await asyncio.wrap_future(future)
            return
        await self._drain_here(timeout)

    async def _drain_here(self, timeout: float) -> None:
        if not self._busy:
            return
        self._ensure_worker()
        assert self._idle is not None
        await asyncio.wait_for(self._idle.wait(), timeout)

    def _kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            if self._loop is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._kick)
            return  # started later by start()/drain()
        self._ensure_worker()
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()

    def _ensure_worker(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        if self._busy:
            self._wake.set()
        else:
            self._idle.set()
        self._task = loop.create_task(self._run(), name="sandbox-webhooks")

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                self._pending.clear()
                faults = self._faults()
                if faults.webhook_reorder and len(batch) > 1:
                    self._rng.shuffle(batch)
                for item in batch:
                    try:
                        await self._deliver(item, faults)
                        if (faults.webhook_duplicate_rate
                                and self._rng.random() < faults.webhook_duplicate_rate):
                            await self._deliver(replace(item, duplicate=True), faults)
                    finally:
                        self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def _deliver(self, item: _Pending, faults: Faults) -> None:
        client = self._client or await self._default_client()
        for attempt in range(1, self.max_attempts + 1):
            if faults.webhook_delay_ms:
                await asyncio.sleep(faults.webhook_delay_ms / 1000.0)
            headers = dict(item.headers(item.url, item.body) if callable(item.headers)
                           else item.headers)
            headers.setdefault("content-type", "application/json")
            status: int | None = None
            error: str | None = None
            try:
                response = await client.post(item.url, content=item.body, headers=headers,
                                             timeout=self.timeout_seconds)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.log.append(WebhookDelivery(item.url, item.body, headers, attempt, status, error,
                                            item.duplicate, self.clock.now()))
            if status is not None and status < 500:
                return  # delivered, or refused for good (4xx is not retried)
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    async def _default_client(self) -> httpx.AsyncClient:
        if self._own_client is None:
            self._own_client = httpx.AsyncClient()
        return self._own_client
