"""Alerts: one notification when something goes wrong, one when it has cleared.

Conditions, looked at every `alert_interval` seconds and right after each run:

- `run_failed`   the newest finished run of a sync failed (clears when one does not);
- `breaker`      a circuit breaker is open (`RunnerContext.breakers()`);
- `overdue`      a scheduled, unpaused sync has had no successful (or partial) run since
                 two of its slots passed, plus a grace period (one missed slot is a blip);
- `failing`      a sync has `failing_threshold` or more failing records nobody has
                 acknowledged.

Each condition is an incident in the state store (`open_incident` / `clear_incident`),
so a restart neither repeats nor forgets one, and several runners sharing a store send
each notification once (`claim_notifications`). Delivery is a POST of a Slack- and
Teams-compatible JSON body (`{"text": ...}`, plus the same facts under `specsync` for
other receivers) to the configured URL, through the egress policy of engine/adapters/
egress.py; a failed delivery is retried with exponential backoff. The monitor runs as a
task of its own beside the runs, which never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx

from engine.adapters.egress import EgressPolicy, GuardedTransport
from engine.console.settings import ConsoleSettings
from engine.redact import Redactor
from engine.runner.context import RunnerContext
from engine.runner.schedule import parse_schedule
from engine.state.base import Incident

__all__ = ["AlertMonitor", "Condition", "alert_body"]

log = logging.getLogger(__name__)

_TITLES = {"run_failed": "Run failed", "breaker": "Circuit breaker open",
           "overdue": "No successful run", "failing": "Failing records"}
_MAX_BACKOFF = 900.0
_STALE_NOTICE = timedelta(days=1)  # older news is recorded as sent, not sent


@dataclass(frozen=True)
class Condition:
    kind: str
    integration: str
    sync: str
    summary: str


def alert_body(incident: Incident, phase: Literal["open", "clear"],
               console_url: str | None = None) -> dict[str, Any]:
    """The JSON a Slack or Teams incoming webhook shows as a message."""
    title = _TITLES.get(incident.kind, incident.kind)
    where = f"{incident.integration}/{incident.sync}"
    if phase == "open":
        text = f"[specsync] {title}: {where}: {incident.summary}"
    else:
        lasted = ""
        if incident.cleared_at is not None:
            minutes = (incident.cleared_at - incident.opened_at).total_seconds() / 60
            lasted = f" after {minutes:.0f} min"
        text = f"[specsync] Resolved{lasted}: {title}: {where}"
    link = None
    if console_url and incident.kind != "breaker":
        link = (f"{console_url.rstrip('/')}/console/syncs/{quote(incident.integration)}/"
                f"{quote(incident.sync)}")
        text += f" ({link})"
    return {"text": text, "specsync": {
        "event": "opened" if phase == "open" else "cleared", "incident": incident.id,
        "kind": incident.kind, "integration": incident.integration, "sync": incident.sync,
        "summary": incident.summary, "opened_at": incident.opened_at.isoformat(),
        "cleared_at": incident.cleared_at.isoformat() if incident.cleared_at else None,
        "console": link}}


class AlertMonitor:
    """Opens and clears incidents and delivers their notifications (module docstring)."""

    def __init__(self, ctx: RunnerContext, settings: ConsoleSettings, *,
                 public_url: str | None = None, lease_seconds: float = 60.0,
                 backoff_seconds: float = 5.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.ctx = ctx
        self.settings = settings
        self.public_url = public_url
        self.lease_seconds = lease_seconds
        self.backoff = backoff_seconds
        self.clock = clock or ctx.clock
        self.started_at = self.clock()
        self.redact = Redactor()
        self._client: httpx.AsyncClient | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- conditions ---------------------------------------------------------------------
    def conditions(self, now: datetime) -> dict[str, Condition]:
        """The alert conditions holding now, by incident key (calls the store: a thread)."""
        store, threshold = self.ctx.store, self.settings.failing_threshold
        paused = store.paused_syncs()
        counts = store.failure_counts()
        grace = timedelta(seconds=self.settings.stale_grace)
        found: dict[str, Condition] = {}
        for spec in self.ctx.deployment.specs.values():
            for sync in spec.syncs.values():
                where = f"{spec.integration}/{sync.name}"
                runs = [r for r in store.list_runs(spec.integration, sync.name, limit=50)
                        if r.status != "running"]
                if runs and runs[0].status == "failed":
                    error = self.redact.text(runs[0].error or "no reason recorded")[:300]
                    found[f"run_failed:{where}"] = Condition(
                        "run_failed", spec.integration, sync.name,
                        f"run {runs[0].id} failed: {error}")
                failing, acknowledged = counts.get((spec.integration, sync.name), (0, 0))
                if failing - acknowledged >= threshold:
                    found[f"failing:{where}"] = Condition(
                        "failing", spec.integration, sync.name,
                        f"{failing - acknowledged} failing records (alert at {threshold})")
                schedule = parse_schedule(sync.schedule)
                if schedule.never or (spec.integration, sync.name) in paused:
                    continue
                ok = next((r for r in runs if r.status in ("success", "partial")), None)
                since = ok.started_at if ok else self.started_at
                first = schedule.next_after(since)
                second = schedule.next_after(first) if first else None
                if second is not None and now > second + grace:
                    last = (f"since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if ok
                            else "since the runner started")
                    found[f"overdue:{where}"] = Condition(
                        "overdue", spec.integration, sync.name,
                        f"no successful run {last} (schedule: {sync.schedule})")
        for breaker in self.ctx.breakers():
            if breaker.state == "open":
                scope = breaker.integration or "*"
                found[f"breaker:{scope}:{breaker.system}/{breaker.endpoint}"] = Condition(
                    "breaker", breaker.integration or "-", breaker.system,
                    f"{breaker.endpoint} is refused after {breaker.failures} failures"
                    + (f": {self.redact.text(breaker.reason)[:200]}" if breaker.reason else ""))
        return found

    async def evaluate(self) -> tuple[list[str], list[str]]:
        """Open incidents for new conditions and clear those that no longer hold."""
        now = self.clock()
        store = self.ctx.store
        holding = await asyncio.to_thread(self.conditions, now)
        open_now = {i.key for i in await asyncio.to_thread(store.open_incidents)}
        opened, cleared = [], []
        for key, condition in holding.items():
            if key not in open_now and await asyncio.to_thread(
                    store.open_incident, key, condition.kind, condition.integration,
                    condition.sync, condition.summary, at=now):
                opened.append(key)
                log.warning("alert: %s", condition.summary, extra={
                    "kind": condition.kind, "integration": condition.integration,
                    "sync": condition.sync})
        for key in sorted(open_now - set(holding)):
            if await asyncio.to_thread(store.clear_incident, key, at=now):
                cleared.append(key)
                log.info("alert cleared", extra={"incident": key})
        return opened, cleared

    # -- delivery ---------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            url = self.settings.alert_webhook or ""
            policy = EgressPolicy.from_environ(self.settings.environ)
            self._client = httpx.AsyncClient(
                transport=GuardedTransport(httpx.AsyncHTTPTransport(), url, policy),
                timeout=httpx.Timeout(10.0), follow_redirects=False,
                headers={"User-Agent": "specsync-alerts/0.1"})
        return self._client

    async def deliver(self) -> int:
        """Send what is owed and due; returns how many notifications went out."""
        url = self.settings.alert_webhook
        if not url:
            return 0
        store = self.ctx.store
        sent = 0
        for _ in range(20):  # an opening sent makes its clearing due: go round again
            now = self.clock()
            claimed = await asyncio.to_thread(store.claim_notifications, now,
                                              self.lease_seconds)
            if not claimed:
                break
            for incident in claimed:
                phase = incident.pending_phase
                if phase is None:
                    continue
                moment = incident.opened_at if phase == "open" else incident.cleared_at
                if moment is not None and now - moment > _STALE_NOTICE:
                    await asyncio.to_thread(store.notification_sent, incident.id, phase,
                                            at=now)
                    continue
                problem = await self._post(url, alert_body(incident, phase, self.public_url))
                if problem is None:
                    sent += 1
                    await asyncio.to_thread(store.notification_sent, incident.id, phase,
                                            at=self.clock())
                    continue
                delay = min(_MAX_BACKOFF, self.backoff * 2 ** incident.attempts)
                log.warning("alert delivery failed (%s); trying again in %.0f s", problem,
                            delay, extra={"incident": incident.key,
                                          "attempt": incident.attempts + 1})
                await asyncio.to_thread(store.notification_failed, incident.id, problem,
                                        retry_at=now + timedelta(seconds=delay))
        return sent

    async def _post(self, url: str, body: dict[str, Any]) -> str | None:
        """None when the receiver took it; else what went wrong (never the URL: it is
        a credential)."""
        try:
            response = await self._http().post(url, json=body)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        except Exception as exc:  # the egress policy refusing the URL, and the like
            return f"{type(exc).__name__}: {self.redact.text(str(exc))[:200]}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    # -- the loop ----------------------------------------------------------------------------
    def poke(self, *_: object) -> None:
        """Look now (a run finished); safe from any thread."""
        if self._wake is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has stopped
            self._loop.call_soon_threadsafe(self._wake.set)

    async def round(self) -> None:
        try:
            await self.evaluate()
        except Exception:
            log.exception("alert conditions could not be evaluated; trying again")
        try:
            await self.deliver()
        except Exception:
            log.exception("alert delivery round failed; trying again")

    async def aclose(self) -> None:
        """Close the HTTP client (`run` does it when it stops)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate and deliver every `alert_interval` seconds (or when poked) until stop."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while not stop.is_set():
                self._wake.clear()
                await self.round()
                waiters = {asyncio.ensure_future(self._wake.wait()),
                           asyncio.ensure_future(stop.wait())}
                try:
                    await asyncio.wait(waiters, timeout=self.settings.alert_interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                    await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            self._wake = None
            await self.aclose()
