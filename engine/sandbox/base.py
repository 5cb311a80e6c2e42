"""The platform every vendor simulator stands on.

A simulator is a `Sandbox` subclass that contributes its vendor routes (and, if it
needs them, extra control routes); this module supplies everything the four share:

- `Clock`, `SystemClock`, `ManualClock`: time is injected so tests can jump an hour
  ahead and watch tokens expire or rate windows reset.
- `SandboxConfig` and `Faults`: size, seed, credentials and the fault knobs. Faults are
  seeded, so the same configuration replays the same failures.
- `FaultMiddleware`: applies `Faults` to vendor routes only (never `/_sandbox/*`) and
  records the request log.
- `RateLimiter`: fixed windows per key; vendors wrap the decision in their own headers.
- `WebhookDispatcher`: a background task delivering signed webhooks with retries, faults
  and a delivery log, plus `drain()` for tests.
- `Collection`: one object type's store: lazily generated base records plus an overlay
  of changes, so a million-record sandbox never holds a million dicts.
- The control API under `/_sandbox`: health, faults, clock, request log, webhook
  registration and delivery log.

Usage::

    sandbox = MaconomySandbox(SandboxConfig(records=1000, clock=ManualClock()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://maconomy.test") as client:
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_START",
    "Clock",
    "Collection",
    "FaultMiddleware",
    "Faults",
    "FaultsError",
    "ManualClock",
    "RateDecision",
    "RateLimiter",
    "RequestLogEntry",
    "Sandbox",
    "SandboxConfig",
    "SystemClock",
    "WebhookDelivery",
    "WebhookDispatcher",
    "isoformat_z",
]

#: Where a `ManualClock` starts unless told otherwise: after every generated timestamp
#: (see `engine.sandbox.seed.common.REFERENCE_TIME`), so generated data is in the past.
DEFAULT_START = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)


def isoformat_z(moment: datetime) -> str:
    """`2025-01-15T09:00:00Z`: the UTC form the sandboxes print (no microseconds)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# --------------------------------------------------------------------------- clocks


@runtime_checkable
class Clock(Protocol):
    """The sandbox's notion of now; always an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, for the demo."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """Time that only moves when a test says so (`advance`, `set`)."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _aware_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> datetime:
        with self._lock:
            self._now = _aware_utc(moment)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({isoformat_z(self._now)})"


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


# --------------------------------------------------------------------------- faults


class FaultsError(ValueError):
    """A fault specification could not be understood; the message says which part."""


@dataclass(frozen=True)
class Faults:
    """Failure knobs, all off by default. Seeded so a run with the same faults replays.

    Rates are probabilities per request (0..1). Frozen: change faults through
    `Sandbox.set_faults` (or `PUT /_sandbox/faults`) so the seeded state restarts.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0  # answered 500/502/503 in the vendor's 5xx envelope
    burst_429: int = 0  # the next N vendor requests are answered 429
    timeout_rate: float = 0.0  # processed, but answered only after timeout_seconds
    timeout_seconds: float = 35.0
    drop_rate: float = 0.0  # processed, headers sent, connection dropped
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    webhook_delay_ms: float = 0.0
    seed: int = 0

    _ALIASES: ClassVar[dict[str, str]] = {
        "latency": "latency_ms",
        "errors": "error_rate",
        "timeouts": "timeout_rate",
        "timeout": "timeout_seconds",
        "drops": "drop_rate",
        "duplicate_rate": "webhook_duplicate_rate",
        "reorder": "webhook_reorder",
        "webhook_delay": "webhook_delay_ms",
    }
    _RATES: ClassVar[frozenset[str]] = frozenset(
        {"error_rate", "timeout_rate", "drop_rate", "webhook_duplicate_rate"}
    )

    def __post_init__(self) -> None:
        for name in self._RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultsError(f"fault {name!r} has value {value!r}; expected a rate 0..1")
        for name in ("latency_ms", "timeout_seconds", "webhook_delay_ms", "burst_429"):
            if getattr(self, name) < 0:
                raise FaultsError(f"fault {name!r} has value {getattr(self, name)!r}; "
                                  "expected a number >= 0")

    @property
    def http_active(self) -> bool:
        """True when any request-side knob is on (the middleware's fast path test)."""
        return bool(self.latency_ms or self.error_rate or self.burst_429 or self.timeout_rate
                    or self.drop_rate)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`"latency=50ms,error_rate=0.1,burst_429=5,drop_rate=0.01,seed=7"` -> Faults.

        Durations take `ms` or `s` suffixes (bare numbers are the field's unit);
        booleans take true/false/yes/no/1/0. An empty string means no faults.
        """
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "=" not in part:
                if part in ("webhook_reorder", "reorder"):
                    values["webhook_reorder"] = True
                    continue
                raise FaultsError(f"fault {part!r} needs a value, e.g. {part}=0.1")
            key, _, raw = (s.strip() for s in part.partition("="))
            name = cls._ALIASES.get(key, key)
            if name not in known:
                raise FaultsError(
                    f"unknown fault {key!r}; known faults: {', '.join(sorted(known))}"
                )
            values[name] = _parse_fault_value(name, raw)
        return cls(**values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Build from a JSON object (the `PUT /_sandbox/faults` body); unknown keys fail."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = cls._ALIASES.get(key, key)
            if name not in known:
                raise FaultsError(
                    f"unknown fault {key!r}; known faults: {', '.join(sorted(known))}"
                )
            values[name] = (_parse_fault_value(name, value) if isinstance(value, str)
                            else _coerce_fault(name, value))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_fault_value(name: str, raw: str) -> Any:
    text = raw.strip().lower()
    try:
        if name == "webhook_reorder":
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if name in ("burst_429", "seed"):
            return int(text)
        if name in ("latency_ms", "webhook_delay_ms", "timeout_seconds"):
            scale_ms = 1.0 if name != "timeout_seconds" else 0.001
            if text.endswith("ms"):
                return float(text[:-2]) * scale_ms
            if text.endswith("s"):
                return float(text[:-1]) * 1000.0 * scale_ms
            return float(text)
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        expected = {
            "webhook_reorder": "true or false",
            "burst_429": "a whole number",
            "seed": "a whole number",
            "latency_ms": "a duration such as 50ms or 0.5s",
            "webhook_delay_ms": "a duration such as 50ms or 0.5s",
            "timeout_seconds": "a duration such as 35s or 500ms",
        }.get(name, "a rate such as 0.1 or 10%")
        raise FaultsError(f"fault {name!r} has value {raw!r}; expected {expected}") from None


def _coerce_fault(name: str, value: Any) -> Any:
    if name == "webhook_reorder":
        if not isinstance(value, bool):
            raise FaultsError(f"fault {name!r} has value {value!r}; expected true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultsError(f"fault {name!r} has value {value!r}; expected a number")
    if name in ("burst_429", "seed"):
        if value != int(value):
            raise FaultsError(f"fault {name!r} has value {value!r}; expected a whole number")
        return int(value)
    return float(value)


# --------------------------------------------------------------------------- config


@dataclass
class SandboxConfig:
    """Everything a simulator is built from. Defaults are what `specsync sandbox up` uses."""

    seed: int = 1
    records: int = 50
    clock: Clock = field(default_factory=SystemClock)
    faults: Faults = field(default_factory=Faults)
    rate_limits: bool = True
    # A fraction of generated records that deliberately break a rule (missing cursor
    # field, missing required field) so troubleshooting paths can be exercised.
    defect_rate: float = 0.0
    # Kleer
    kleer_token: str = "kleer-sandbox-token"
    kleer_company_id: int = 1
    # Cinode
    cinode_access_id: str = "cinode-sandbox-access-id"
    cinode_access_secret: str = "cinode-sandbox-access-secret"
    cinode_company_id: int = 1
    # Maconomy
    maconomy_user: str = "sandbox"
    maconomy_password: str = "sandbox-password"
    maconomy_shortname: str = "sandbox"
    # HubSpot
    hubspot_token: str = "pat-sandbox-token"
    hubspot_client_secret: str = "hubspot-sandbox-secret"
    hubspot_portal_id: int = 1
    hubspot_app_id: int = 1
    # Deliveries go through this client when given (e.g. ASGITransport to a receiver app).
    webhook_client: httpx.AsyncClient | None = None
    # Vendor-specific knobs (token lifetimes, page caps, ...); each vendor documents its keys.
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Secrets stay out of reprs (they end up in logs and test output).
        return (f"SandboxConfig(seed={self.seed}, records={self.records}, clock={self.clock!r}, "
                f"faults={self.faults!r}, rate_limits={self.rate_limits}, "
                f"defect_rate={self.defect_rate})")


# --------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class RateDecision:
    """One rate-limit answer; vendors turn it into their own headers and 429 bodies."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float  # until the current window ends


class RateLimiter:
    """Fixed windows per key, aligned to the epoch so a `ManualClock` makes them exact."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(f"RateLimiter needs limit >= 1 and window > 0, "
                             f"got {limit}/{window_seconds}s")
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._windows: dict[Hashable, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def check(self, key: Hashable = "") -> RateDecision:
        """Count one request for `key` and say whether it may proceed."""
        now = self.clock.now().timestamp()
        window = int(now // self.window_seconds)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                count = 0
            count += 1
            self._windows[key] = (window, count)
        reset = (window + 1) * self.window_seconds - now
        allowed = count <= self.limit
        return RateDecision(allowed, self.limit, max(0, self.limit - count), reset)


# --------------------------------------------------------------------------- webhooks

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


# --------------------------------------------------------------------------- collections

Record = dict[str, Any]


class Collection:
    """The store of one object type: generated base records plus an overlay of changes.

    Base record `i` (0 <= i < size) is `factory(i)`, produced only when read. Changes go
    to an overlay (`put`, `patch`, `delete`); records created through `put` follow the
    base ones in iteration order. `stamp(record, now, previous)` runs on every write so
    vendors maintain their own modification fields (timestamps, version numbers);
    `modified_at(id)` is tracked here too. Reads return shallow copies.
    """

    def __init__(
        self,
        name: str,
        *,
        key: str,
        size: int,
        factory: Callable[[int], Record],
        clock: Clock,
        index_of: Callable[[Any], int | None] | None = None,
        stamp: Callable[[Record, datetime, Record | None], None] | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.size = size
        self.factory = factory
        self.clock = clock
        self._index_of = index_of
        self._stamp = stamp
        self._overlay: dict[Any, Record] = {}
        self._created: dict[Any, None] = {}  # ids not in the base, in creation order
        self._deleted_ids: set[Any] = set()
        self._deleted_index: list[int] = []  # sorted base indices that were deleted
        self._modified: dict[Any, datetime] = {}
        self._scan_index: dict[Any, int] | None = None
        self._lock = threading.RLock()
        #: Bumped on every write, so callers can cache query results per version.
        self.version = 0

    # -- lookups

    def index_of(self, record_id: Any) -> int | None:
        """Base index of `record_id`, or None when it is not a generated record."""
        if self._index_of is not None:
            index = self._index_of(record_id)
            return index if index is not None and 0 <= index < self.size else None
        if self._scan_index is None:
            # No inverse given: learn it once by generating every base record.
            self._scan_index = {self.factory(i)[self.key]: i for i in range(self.size)}
        return self._scan_index.get(record_id)

    def get(self, record_id: Any) -> Record | None:
        with self._lock:
            if record_id in self._deleted_ids:
                return None
            found = self._overlay.get(record_id)
            if found is not None:
                return dict(found)
        index = self.index_of(record_id)
        return None if index is None else self.factory(index)

    def __contains__(self, record_id: object) -> bool:
        return self.get(record_id) is not None

    def __len__(self) -> int:
        return self.size - len(self._deleted_index) + len(self._created)

    def modified_at(self, record_id: Any) -> datetime | None:
        """When the sandbox last changed this record (None: untouched since generated)."""
        return self._modified.get(record_id)

    # -- writes

    def put(self, record: Record) -> Record:
        """Create or replace the record with `record[key]`; returns the stored copy."""
        record_id = record[self.key]
        with self._lock:
            previous = self.get(record_id)
            stored = dict(record)
            now = self.clock.now()
            if self._stamp is not None:
                self._stamp(stored, now, previous)
            if previous is None:
                if record_id in self._deleted_ids:
                    self._undelete(record_id)
                if self.index_of(record_id) is None:
                    self._created[record_id] = None
            self._overlay[record_id] = stored
            self._modified[record_id] = now
            self.version += 1
            return dict(stored)

    def patch(self, record_id: Any, changes: Mapping[str, Any]) -> Record | None:
        """Apply `changes` to an existing record; None when there is no such record."""
        with self._lock:
            current = self.get(record_id)
            if current is None:
                return None
            current.update(changes)
            current[self.key] = record_id
            return self.put(current)

    def delete(self, record_id: Any) -> bool:
        with self._lock:
            if self.get(record_id) is None:
                return False
            self._overlay.pop(record_id, None)
            self._modified[record_id] = self.clock.now()
            self.version += 1
            if record_id in self._created:
                del self._created[record_id]
                return True
            self._deleted_ids.add(record_id)
            index = self.index_of(record_id)
            assert index is not None
            pos = bisect_right(self._deleted_index, index)
            self._deleted_index.insert(pos, index)
            return True

    def _undelete(self, record_id: Any) -> None:
        self._deleted_ids.discard(record_id)
        index = self.index_of(record_id)
        if index is not None:
            self._deleted_index.remove(index)

    # -- reads in order

    def iter(self, factory: Callable[[int], Record] | None = None) -> Iterator[Record]:
        """Every live record: base records by index, then created ones.

        `factory` may replace the base factory for this scan, e.g. with one that builds
        only the fields a query looks at; changed records still come from the overlay.
        Records from a replacement factory must carry the key field.
        """
        return self._records_from(0, factory)

    def __iter__(self) -> Iterator[Record]:
        return self.iter()

    def page(self, offset: int, limit: int) -> list[Record]:
        """Records `offset .. offset+limit` of `iter()`, generating only those."""
        if offset < 0 or limit < 0:
            raise ValueError(f"page needs offset >= 0 and limit >= 0, got {offset}, {limit}")
        out: list[Record] = []
        if limit == 0:
            return out
        for record in self._records_from(offset):
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def _records_from(self, offset: int,
                      factory: Callable[[int], Record] | None = None) -> Iterator[Record]:
        deleted = self._deleted_index
        live_base = self.size - len(deleted)
        if offset < live_base:
            # The offset-th live base index b is the least fixed point of
            # b = offset + (number of deleted indices <= b).
            index = offset
            while True:
                candidate = offset + bisect_right(deleted, index)
                if candidate == index:
                    break
                index = candidate
            overlay = self._overlay
            deleted_set = set(deleted)
            factory = factory or self.factory
            key = self.key
            for i in range(index, self.size):
                if i in deleted_set:
                    continue
                if overlay:
                    record = factory(i)
                    changed = overlay.get(record[key])
                    yield dict(changed) if changed is not None else record
                else:
                    yield factory(i)
            offset = live_base
        for record_id in list(self._created)[offset - live_base:]:
            record = self._overlay.get(record_id)
            if record is not None:
                yield dict(record)


# --------------------------------------------------------------------------- middleware


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


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Base of the four simulators: subclass, set `vendor`, implement `routes()`.

    Subclasses may override `control_routes()` (extra `/_sandbox/...` calls, such as
    `PATCH /_sandbox/records/{object}/{id}`), `error_response()` (the vendor's 5xx
    envelope, used by the error fault) and `too_many_requests_response()` (the vendor's
    429, used by `burst_429` and by their own rate limiters). `.app` is built lazily on
    first access, after the subclass's `__init__` has set up its state.
    """

    vendor: ClassVar[str] = "sandbox"
    request_log_size: ClassVar[int] = 1000

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.clock: Clock = self.config.clock
        self.faults: Faults = self.config.faults
        self.requests: deque[RequestLogEntry] = deque(maxlen=self.request_log_size)
        self.webhooks = WebhookDispatcher(self.clock, client=self.config.webhook_client,
                                          faults=lambda: self.faults)
        self._fault_rng = random.Random(self.faults.seed)
        self._burst_left = self.faults.burst_429
        self._app: Starlette | None = None

    # -- hooks for vendors

    def routes(self) -> list[BaseRoute]:
        """The vendor API's routes."""
        raise NotImplementedError

    def control_routes(self) -> list[BaseRoute]:
        """Extra control calls, mounted under `/_sandbox` beside the shared ones."""
        return []

    def error_response(self, status: int, message: str) -> Response:
        """The vendor's error envelope for `status`; override per vendor."""
        return JSONResponse({"error": message, "status": status}, status_code=status)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        """The vendor's 429 answer; override to add its headers and body."""
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        return JSONResponse({"error": "Too many requests"}, status_code=429,
                            headers={"Retry-After": str(retry_after)})

    def health(self) -> dict[str, Any]:
        """Extra fields for `GET /_sandbox/health` (record counts and the like)."""
        return {}

    # -- shared behaviour

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults and restart their seeded randomness and burst counter."""
        self.faults = faults
        self._fault_rng = random.Random(faults.seed)
        self._burst_left = faults.burst_429
        self.webhooks.reset_faults(faults)

    def _draw_fault(self) -> str | None:
        faults = self.faults
        if self._burst_left > 0:
            self._burst_left -= 1
            return "burst_429"
        # Always draw three numbers so one knob does not shift another's sequence.
        rng = self._fault_rng
        error, timeout, drop = rng.random(), rng.random(), rng.random()
        if error < faults.error_rate:
            return "error"
        if timeout < faults.timeout_rate:
            return "timeout"
        if drop < faults.drop_rate:
            return "drop"
        return None

    def _draw_5xx(self) -> int:
        return self._fault_rng.choice((500, 502, 503))

    def _log_request(self, scope: Scope, status: int | None, fault: str | None) -> None:
        self.requests.append(RequestLogEntry(scope["method"], scope["path"], status, fault,
                                             self.clock.now()))

    def _build_app(self) -> Starlette:
        control = [
            Route("/health", self._control_health, methods=["GET"]),
            Route("/faults", self._control_faults, methods=["GET", "PUT"]),
            Route("/clock", self._control_clock, methods=["GET", "POST"]),
            Route("/requests", self._control_requests, methods=["GET", "DELETE"]),
            Route("/webhooks/register", self._control_register, methods=["POST"]),
            Route("/webhooks", self._control_webhooks, methods=["GET"]),
            Route("/webhooks/drain", self._control_drain, methods=["POST"]),
            *self.control_routes(),
        ]
        return Starlette(
            routes=[Mount("/_sandbox", routes=control), *self.routes()],
            middleware=[Middleware(FaultMiddleware, sandbox=self)],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.webhooks.start()
        try:
            yield
        finally:
            await self.webhooks.stop()

    # -- control endpoints

    async def _control_health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "vendor": self.vendor,
                             "now": isoformat_z(self.clock.now()), **self.health()})

    async def _control_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await request.json()
                if isinstance(body, dict) and set(body) == {"spec"}:
                    faults = Faults.parse(str(body["spec"]))
                elif isinstance(body, dict):
                    faults = Faults.from_dict(body)
                else:
                    raise FaultsError("expected a JSON object of fault settings")
            except (FaultsError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.set_faults(faults)
        return JSONResponse(self.faults.to_dict())

    async def _control_clock(self, request: Request) -> Response:
        if request.method == "POST":
            if not isinstance(self.clock, ManualClock):
                return JSONResponse({"error": "the clock is the system clock; start the "
                                     "sandbox with a ManualClock to move time"},
                                    status_code=409)
            try:
                body = await request.json()
                if "advance" in body:
                    self.clock.advance(float(body["advance"]))
                elif "set" in body:
                    self.clock.set(datetime.fromisoformat(str(body["set"]).replace("Z",
                                                                                 "+00:00")))
                else:
                    raise ValueError("expected {\"advance\": seconds} or {\"set\": iso time}")
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"now": isoformat_z(self.clock.now())})

    async def _control_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
            return Response(status_code=204)
        limit = int(request.query_params.get("limit", self.request_log_size))
        entries = list(self.requests)[-limit:] if limit else []
        return JSONResponse({"requests": [e.to_dict() for e in entries]})

    async def _control_register(self, request: Request) -> Response:
        try:
            body = await request.json()
            url = body["url"]
            httpx.URL(url)
        except (ValueError, KeyError, TypeError, httpx.InvalidURL):
            return JSONResponse({"error": "expected {\"url\": \"http://...\"}"}, status_code=400)
        self.webhooks.register(url)
        return JSONResponse({"targets": self.webhooks.targets}, status_code=201)

    async def _control_webhooks(self, request: Request) -> Response:
        return JSONResponse({
            "targets": self.webhooks.targets,
            "deliveries": [
                {"url": d.url, "attempt": d.attempt, "status": d.status, "error": d.error,
                 "duplicate": d.duplicate, "at": isoformat_z(d.at),
                 "body": d.body.decode("utf-8", "replace")}
                for d in self.webhooks.log
            ],
        })

    async def _control_drain(self, request: Request) -> Response:
        await self.webhooks.drain()
        return JSONResponse({"delivered": len(self.webhooks.delivered)})
