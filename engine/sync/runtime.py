"""Everything one process needs to run a spec: adapters on their connections, the store.

`Runtime` resolves each connection's `${ENV}` references, builds its adapter on an httpx
client (a test or the demo may hand in a transport per connection, e.g. an ASGI transport
to a sandbox), shares one rate budget per credential across every sync using it, and
gives templates a `linked()` that reads other syncs' links from the state store.

Async code reaches the store through `runtime.astore` (an `AsyncStateStore` on a thread
of its own, made on first use and stopped by `aclose`), never by calling it on the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.adapters.base import Adapter, AdapterContext, ConnectionConfig, client_for
from engine.adapters.breaker import BreakerTransport, CircuitBreakers
from engine.adapters.egress import EgressPolicy
from engine.adapters.ratelimit import RateBudget, RateBudgets
from engine.adapters.registry import AdapterRegistry, default_registry
from engine.adapters.text import NO_RULES, TextRules
from engine.errors import FatalError
from engine.redact import Redactor
from engine.spec.environment import resolve_connection
from engine.spec.model import Spec
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import Link, StateStore
from engine.sync.first_run import first_run_done
from engine.sync.lease import Host
from engine.sync.stop import StopRequest

__all__ = ["Runtime", "StoreLinks", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _target_of(link: Link | None) -> str | None:
    return link.target_id if link and link.active else None


def _source_of(link: Link | None) -> str | None:
    return link.source_key if link and link.active else None


class StoreLinks:
    """`linked('sync')` for templates: target ids other syncs wrote, cached per run.

    A link not cached yet is read from the store when a template asks for it. Async code
    must not wait for the store like that, so the pipeline probes first: renders a
    batch's templates `probing()` (a link not cached reads as None and is noted), loads
    the noted links in one trip (`load_missing`), and then renders for real from cache.
    """

    def __init__(self, store: StateStore, integration: str):
        self.store = store
        self.integration = integration
        self._cache: dict[tuple[str, str], str | None] = {}
        self._reverse: dict[tuple[str, str], str | None] = {}
        self._probing = False
        self._missing: set[tuple[str, str]] = set()
        self._missing_reverse: set[tuple[str, str]] = set()
        self._settled: dict[str, bool] = {}
        self._missing_settled: set[str] = set()

    def linked(self, sync: str, key: Any) -> str | None:
        text = str(key)
        slot = (sync, text)
        if slot not in self._cache:
            if self._probing:
                self._missing.add(slot)
                return None
            link = self.store.get_links(self.integration, sync, [text]).get(text)
            self._cache[slot] = _target_of(link)
        return self._cache[slot]

    def source_of(self, sync: str, target_id: Any) -> str | None:
        text = str(target_id)
        slot = (sync, text)
        if slot not in self._reverse:
            if self._probing:
                self._missing_reverse.add(slot)
                return None
            link = self.store.link_for_target(self.integration, sync, text)
            self._reverse[slot] = _source_of(link)
        return self._reverse[slot]

    def settled(self, sync: str) -> bool:
        if sync not in self._settled:
            if self._probing:
                self._missing_settled.add(sync)
                return False
            self._settled[sync] = first_run_done(self.store, self.integration, sync)
        return self._settled[sync]

    @contextmanager
    def probing(self) -> Iterator[None]:
        """Within the block, links not cached read as None and are noted for `load_missing`."""
        self._probing = True
        try:
            yield
        finally:
            self._probing = False

    async def load_missing(self, store: AsyncStateStore) -> int:
        """Read the links noted while probing, in one trip; how many were noted."""
        wanted, reverse, settled = self._missing, self._missing_reverse, self._missing_settled
        if not wanted and not reverse and not settled:
            return 0
        self._missing, self._missing_reverse, self._missing_settled = set(), set(), set()
        by_sync: dict[str, list[str]] = {}
        for sync, key in sorted(wanted):
            by_sync.setdefault(sync, []).append(key)
        integration = self.integration

        def read(state: StateStore) -> tuple[dict[str, dict[str, Link]],
                                             dict[tuple[str, str], Link | None],
                                             dict[str, bool]]:
            found = {sync: state.get_links(integration, sync, keys)
                     for sync, keys in by_sync.items()}
            pointed = {slot: state.link_for_target(integration, *slot)
                       for slot in sorted(reverse)}
            done = {sync: first_run_done(state, integration, sync) for sync in settled}
            return found, pointed, done

        found, pointed, done = await store.run(read)
        self._settled.update(done)
        for sync, keys in by_sync.items():
            for key in keys:
                self._cache[(sync, key)] = _target_of(found[sync].get(key))
        for slot, link in pointed.items():
            self._reverse[slot] = _source_of(link)
        return len(wanted) + len(reverse) + len(settled)

    def prefetch(self, sync: str, keys: list[str]) -> None:
        """Load many links in one query (a batch of projects naming their customers)."""
        wanted = [k for k in keys if (sync, k) not in self._cache]
        if not wanted:
            return
        found = self.store.get_links(self.integration, sync, wanted)
        for key in wanted:
            link = found.get(key)
            self._cache[(sync, key)] = _target_of(link)

    def forget(self) -> None:
        self._cache.clear()
        self._reverse.clear()


class _NotingBudgets(RateBudgets):
    """The shared budgets, noting which ones one connection's adapter draws from (the
    console shows a running sync's request rate against them)."""

    def __init__(self, shared: RateBudgets, noted: list[RateBudget]) -> None:
        self.shared = shared
        self.noted = noted

    def for_credential(self, key: str, limit: int, per_seconds: float) -> RateBudget:
        budget = self.shared.for_credential(key, limit, per_seconds)
        if budget not in self.noted:
            self.noted.append(budget)
        return budget

    def __iter__(self) -> Iterator[RateBudget]:
        return iter(self.shared)

    def __len__(self) -> int:
        return len(self.shared)


@dataclass
class Runtime:
    spec: Spec
    store: StateStore
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transports: Mapping[str, httpx.AsyncBaseTransport] = field(default_factory=dict)
    registry: AdapterRegistry = field(default_factory=default_registry)
    budgets: RateBudgets = field(default_factory=RateBudgets)
    redactor: Redactor = field(default_factory=Redactor)
    clock: Callable[[], datetime] = utc_now
    host: Host | None = None  # who holds sync leases; None: this process (Host.local())
    breakers: CircuitBreakers | None = None  # per (system, endpoint); made for the spec
    stop: StopRequest = field(default_factory=StopRequest)  # SIGTERM: stop at a batch's end
    _astore: AsyncStateStore | None = field(default=None, init=False, repr=False)
    _adapters: dict[str, Adapter] = field(default_factory=dict, init=False, repr=False)
    _configs: dict[str, ConnectionConfig] = field(default_factory=dict, init=False, repr=False)
    _budgets_of: dict[str, list[RateBudget]] = field(default_factory=dict, init=False,
                                                     repr=False)
    _clients: list[httpx.AsyncClient] = field(default_factory=list, init=False, repr=False)

    def config(self, connection: str) -> ConnectionConfig:
        if connection not in self._configs:
            config = resolve_connection(self.spec.connections[connection], self.environ)
            self.redactor.add(*[v for v in config.auth.values() if v])
            self._configs[connection] = config
        return self._configs[connection]

    def adapter(self, connection: str) -> Adapter:
        """The adapter of a connection, built once per runtime."""
        if connection not in self._adapters:
            config = self.config(connection)
            try:
                factory = self.registry.factory(config.adapter)
            except KeyError:
                raise FatalError(f"no adapter `{config.adapter}` is installed") from None
            client = client_for(config, self.transports.get(connection),
                                policy=EgressPolicy.from_environ(self.environ),
                                wrap=lambda inner: BreakerTransport(
                                    inner, self.circuit_breakers, config.adapter))
            self.circuit_breakers.configure(
                config.adapter, self.spec.connections[connection].circuit_breaker)
            self._clients.append(client)  # adapters use the client; the runtime owns it
            noted = self._budgets_of.setdefault(connection, [])
            context = AdapterContext(budgets=_NotingBudgets(self.budgets, noted),
                                     redactor=self.redactor, now=self.clock)
            self._adapters[connection] = factory(config, client, context)
        return self._adapters[connection]

    @property
    def circuit_breakers(self) -> CircuitBreakers:
        """The breakers of this spec's connections (engine/adapters/breaker.py)."""
        if self.breakers is None:
            self.breakers = CircuitBreakers(self.spec.integration)
        return self.breakers

    def text_rules(self, connection: str) -> TextRules:
        """What the connection's system does with control characters (its vendor's)."""
        vendor = self.registry.find(self.spec.connections[connection].adapter)
        return vendor.text if vendor is not None else NO_RULES

    def budgets_of(self, connection: str) -> list[RateBudget]:
        """The rate budgets a connection's adapter draws from (none before it is built)."""
        return list(self._budgets_of.get(connection, ()))

    def links(self) -> StoreLinks:
        return StoreLinks(self.store, self.spec.integration)

    @property
    def astore(self) -> AsyncStateStore:
        """The state store for async code (its calls run on a thread of their own)."""
        if self._astore is None or self._astore.store is not self.store:
            if self._astore is not None:
                self._astore.shutdown()  # the store was swapped: its thread is not needed
            self._astore = AsyncStateStore(self.store)
        return self._astore

    async def aclose(self) -> None:
        if self._astore is not None:
            await self._astore.aclose()
            self._astore = None
        for adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
