"""The specs one `serve` process runs, with a Runtime each, and the questions the server asks.

A `Deployment` is immutable once loaded; a SIGHUP reload builds a new one and swaps it
in, so requests and runs in flight finish on the specs they started with. All runtimes
share one `RateBudgets`: two specs using one credential draw from one budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from engine.adapters.base import Vendor, WebhookEvent, WebhookSource
from engine.adapters.ratelimit import RateBudgets
from engine.errors import SpecsyncError
from engine.redact import Redactor
from engine.runner.dependencies import upstream_syncs
from engine.runner.schedule import ScheduledSync, parse_schedule
from engine.spec.environment import MissingEnvironmentError, resolve_text
from engine.spec.load import iter_specs
from engine.spec.model import Connection, Spec, Sync
from engine.state.base import StateStore
from engine.sync.runtime import Runtime, utc_now
from engine.sync.stop import StopRequest

__all__ = ["Deployment"]


@dataclass
class Deployment:
    specs: dict[str, Spec]
    runtimes: dict[str, Runtime]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _upstream: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, spec_paths: Iterable[str], store: StateStore, *,
             environ: Mapping[str, str] | None = None,
             transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
             budgets: RateBudgets | None = None, redactor: Redactor | None = None,
             clock: Callable[[], datetime] = utc_now) -> Deployment:
        """Load and validate every spec (SpecError with all diagnostics if any is wrong)."""
        environ = dict(os.environ) if environ is None else dict(environ)
        specs: dict[str, Spec] = {}
        for spec in iter_specs(spec_paths):
            if spec.integration in specs:
                raise ValueError(f"two specs are named {spec.integration!r}: "
                                 f"{specs[spec.integration].path} and {spec.path}")
            specs[spec.integration] = spec
        return cls.from_specs(specs.values(), store, environ=environ, transports=transports,
                              budgets=budgets, redactor=redactor, clock=clock)

    @classmethod
    def from_specs(cls, specs: Iterable[Spec], store: StateStore, *,
                   environ: Mapping[str, str] | None = None,
                   transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                   budgets: RateBudgets | None = None, redactor: Redactor | None = None,
                   clock: Callable[[], datetime] = utc_now) -> Deployment:
        environ = dict(os.environ) if environ is None else dict(environ)
        budgets = RateBudgets() if budgets is None else budgets  # an empty one is falsy
        redactor = redactor or Redactor()
        by_name = {spec.integration: spec for spec in specs}
        runtimes = {
            name: Runtime(spec, store, environ=environ, transports=dict(transports or {}),
                          budgets=budgets, redactor=redactor, clock=clock)
            for name, spec in by_name.items()}
        return cls(by_name, runtimes, environ)

    # -- lookups ----------------------------------------------------------------------
    def connection(self, integration: str, name: str) -> Connection | None:
        spec = self.specs.get(integration)
        return spec.connections.get(name) if spec else None

    def vendor(self, integration: str, connection: str) -> Vendor | None:
        """The vendor behind a connection (None when the spec or adapter is unknown)."""
        conn = self.connection(integration, connection)
        runtime = self.runtimes.get(integration)
        if conn is None or runtime is None:
            return None
        return runtime.registry.find(conn.adapter)

    def webhook_source(self, integration: str, connection: str) -> WebhookSource | None:
        """How the connection's vendor sends webhooks, or None when it sends none."""
        vendor = self.vendor(integration, connection)
        return vendor.webhooks if vendor is not None else None

    def webhook_secret(self, connection: Connection) -> str | None:
        """The resolved `webhooks.secret`; None if the connection configures none.

        MissingEnvironmentError names the missing variable (an operator error: answered
        5xx so the vendor retries once it is fixed).
        """
        ref = connection.webhooks.get("secret")
        if not ref:
            return None
        missing: list[str] = []
        value = resolve_text(str(ref), self.environ, missing)
        if missing:
            raise MissingEnvironmentError(sorted(set(missing)), connection.name,
                                          what="webhooks.secret")
        return value

    def problems(self) -> list[str]:
        """What keeps connections from working: missing environment variables, in words
        (names only, never values). `/readyz` is not ready while there are any."""
        found: list[str] = []
        for integration, runtime in sorted(self.runtimes.items()):
            for name, connection in runtime.spec.connections.items():
                try:
                    runtime.config(name)
                except SpecsyncError as exc:
                    found.append(f"{integration}: {exc}")
                try:
                    self.webhook_secret(connection)
                except SpecsyncError as exc:
                    found.append(f"{integration}: {exc}")
        return found

    def triggered(self, integration: str, connection: str, event: WebhookEvent) -> list[str]:
        """The syncs this event starts: their trigger names the connection, they read the
        event's object from it, and the event or property is one they listen to."""
        spec = self.specs.get(integration)
        if spec is None or event.is_deletion:
            return []
        out = []
        for sync in spec.syncs.values():
            trigger = sync.trigger
            if trigger is None or trigger.webhook != connection:
                continue
            if sync.source_connection != connection or sync.source_object != event.object:
                continue
            if trigger.events and event.name not in trigger.events:
                continue
            if event.property_name is not None and trigger.properties and \
                    event.property_name not in trigger.properties:
                continue  # a one-way field changed: not ours to push
            out.append(sync.name)
        return out

    def opposite_syncs(self, integration: str, sync: Sync) -> list[Sync]:
        """Syncs writing the other way between the same two objects (echo candidates)."""
        spec = self.specs[integration]
        return [s for s in spec.syncs.values()
                if s.name != sync.name
                and (s.source_connection, s.source_object) == (sync.target_connection,
                                                               sync.target_object)
                and (s.target_connection, s.target_object) == (sync.source_connection,
                                                               sync.source_object)]

    def prepare_adapters(self) -> int:
        """Build every connection's adapter now; returns how many were built.

        Building one builds its httpx client, which loads the CA bundle: tens of ms of C
        code that holds the GIL. Done at start (before anything listens) rather than in
        the first webhook-triggered run, it stalls no webhook's answer. A connection that
        cannot be built yet (a missing environment variable) is left for its first use,
        which reports it.
        """
        built = 0
        for runtime in self.runtimes.values():
            for name in runtime.spec.connections:
                try:
                    runtime.adapter(name)
                except Exception:
                    continue
                built += 1
        return built

    def upstream(self, integration: str, sync: str) -> frozenset[str]:
        """The syncs of the integration whose links `sync` reads (dependencies.py)."""
        spec = self.specs.get(integration)
        if spec is None:
            return frozenset()
        if integration not in self._upstream:
            self._upstream[integration] = upstream_syncs(spec)
        return self._upstream[integration].get(sync, frozenset())

    def request_stop(self, reason: str) -> None:
        """Ask every run in progress to stop at its batch's end (engine/sync/stop.py)."""
        for runtime in self.runtimes.values():
            runtime.stop.request(reason)

    def allow_runs(self) -> None:
        """Runs may go on again (a runner started after a stop): a fresh stop request."""
        for runtime in self.runtimes.values():
            runtime.stop = StopRequest()

    def scheduled_jobs(self) -> list[ScheduledSync]:
        """Every scheduled sync, with the syncs whose links it reads (it waits for them)."""
        jobs: list[ScheduledSync] = []
        for spec in self.specs.values():
            jobs.extend(ScheduledSync(spec.integration, sync.name,
                                      parse_schedule(sync.schedule),
                                      self.upstream(spec.integration, sync.name))
                        for sync in spec.syncs.values() if sync.schedule != "never")
        return jobs

    async def aclose(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.aclose()
