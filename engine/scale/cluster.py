"""What a worker and a distributed `serve` both set up: the store, the queue, the scopes.

    cluster = open_cluster(spec_paths, state_url="postgresql://db/specsync",
                           tenants="tenants.yaml")
    cluster.deployment.runtimes["acme:maconomy-cinode"]

The state store must be PostgreSQL (a SQLite file cannot be shared by processes on
several machines; `specsync state move` moves one over). Rate budgets are the shared
ones, so every process of the cluster draws from one budget per credential.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from engine.errors import StateError
from engine.redact import Redactor
from engine.runner.deployment import Deployment
from engine.scale.budget import SharedRateBudgets
from engine.scale.queue import QueueConfig, ensure_schema
from engine.scale.tenants import load_tenants, tenant_deployment
from engine.spec.load import iter_specs
from engine.state import open_store
from engine.sync.runtime import utc_now

__all__ = ["Cluster", "QueueingStore", "open_cluster", "queue_config"]


def queue_config(state_url: str | None, **options: Any) -> QueueConfig:
    """The queue of a `postgresql://...[?schema=name]` state URL; StateError otherwise."""
    scheme = (state_url or "").partition("://")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise StateError(
            "workers share their state and jobs through PostgreSQL: give --state "
            "postgresql://user@host/db (move an embedded store there with `specsync state "
            "move`)")
    assert state_url is not None
    parts = urlsplit(state_url)
    schema, kept = "specsync", []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    dsn = urlunsplit(parts._replace(query=urlencode(kept)))
    return QueueConfig(dsn=dsn, schema=schema, **{**tuning(os.environ), **options})


_TUNING = {"SPECSYNC_QUEUE_TICK_SECONDS": ("tick_seconds", int),
           "SPECSYNC_QUEUE_STALL_SECONDS": ("stall_seconds", float),
           "SPECSYNC_QUEUE_HEARTBEAT_SECONDS": ("heartbeat_seconds", float),
           "SPECSYNC_QUEUE_COALESCE_SECONDS": ("coalesce_seconds", float),
           "SPECSYNC_QUEUE_POLL_SECONDS": ("poll_seconds", float)}


def tuning(environ: Mapping[str, str]) -> dict[str, Any]:
    """Queue timings an operator may set through the environment (see QueueConfig)."""
    found: dict[str, Any] = {}
    for variable, (name, kind) in _TUNING.items():
        text = environ.get(variable)
        if not text:
            continue
        try:
            value = kind(text)
        except ValueError:
            raise StateError(f"{variable}={text!r} is not a number") from None
        if value <= 0:
            raise StateError(f"{variable} must be positive, got {text}")
        found[name] = value
    return found


class QueueingStore:
    """The PostgreSQL store, except that stored webhook events defer their inbox job in
    the same transaction (what `serve` in distributed mode hands its receiver)."""

    def __init__(self, store: Any, config: QueueConfig,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._config = config
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __enter__(self) -> QueueingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._store.close()

    def inbox_put_many(self, items: Sequence[tuple[str, str, bytes]], *,
                       received_at: datetime) -> list[bool]:
        from engine.scale.queue import defer_in, inbox_job, later

        with self._store.transaction() as cur:
            flags: list[bool] = self._store.insert_events(cur, items, received_at=received_at)
            sources = sorted({source for (source, _, _), new in zip(items, flags, strict=True)
                              if new})
            at = later(self._config.coalesce_seconds, self._clock())
            defer_in(cur, [inbox_job(source, at=at) for source in sources])
        return flags

    def inbox_put(self, source: str, event_id: str, payload: bytes, *,
                  received_at: datetime, not_before: datetime | None = None) -> bool:
        if not_before is not None:
            stored: bool = self._store.inbox_put(source, event_id, payload,
                                                 received_at=received_at,
                                                 not_before=not_before)
            return stored  # the tick defers its job once it is due
        return self.inbox_put_many([(source, event_id, payload)], received_at=received_at)[0]


@dataclass
class Cluster:
    store: Any  # PostgresStateStore
    config: QueueConfig
    deployment: Deployment
    budgets: SharedRateBudgets
    loader: Callable[[], Deployment] = field(repr=False)

    async def aclose(self) -> None:
        await self.deployment.aclose()
        await self.budgets.aclose()
        self.store.close()


def open_cluster(spec_paths: Sequence[str], *, state_url: str | None,
                 tenants: str | None = None, environ: Mapping[str, str] | None = None,
                 transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                 redactor: Redactor | None = None, hold_seconds: float = 20.0,
                 **queue_options: Any) -> Cluster:
    """Open the store, install the queue if needed, load specs (and tenants)."""
    config = queue_config(state_url, **queue_options)
    ensure_schema(config)
    store = open_store(state_url)
    budgets = SharedRateBudgets(config.dsn, schema=config.schema, hold_seconds=hold_seconds)
    paths = list(spec_paths)

    def load() -> Deployment:
        specs = list(iter_specs(paths))
        if tenants:
            return tenant_deployment(specs, load_tenants(tenants, environ), store,
                                     transports=transports, budgets=budgets,
                                     redactor=redactor)
        return Deployment.from_specs(specs, store, environ=environ, transports=transports,
                                     budgets=budgets, redactor=redactor)

    try:
        deployment = load()
    except BaseException:
        store.close()
        raise
    return Cluster(store, config, deployment, budgets, load)
