"""Prometheus metrics of one runner, in its own registry (several apps per test process).

    specsync_runs_total{integration,sync,trigger,outcome}
    specsync_records_total{integration,sync,kind}          read, written, skipped, failed
    specsync_webhook_events_total{integration,connection,outcome}
        received, stored, duplicate, ignored, processed, failed, echo
    specsync_webhook_requests_rejected_total{integration,connection,reason}
        signature, malformed, too_large, unknown, unavailable, overloaded
    specsync_inbox_depth                                   events not yet processed
    specsync_rate_limit_waits_total / _seconds_total       waits for a rate budget
    specsync_safeguard_trips_total{integration,sync,safeguard}
        deletions, failures, circuit_breaker: runs a safeguard stopped
    circuit breakers and quarantined records: see safeguard_metrics.py

Labels carry names from specs only, never record ids or values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.adapters.ratelimit import RateBudget
from engine.runner.safeguard_metrics import SafeguardCollector

__all__ = ["CONTENT_TYPE", "RunnerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_WRITTEN = ("create", "update", "adopt", "deactivate", "delete")


class _Live(Collector):
    """Values read when scraped: inbox depth and rate-limit waits."""

    def __init__(self, depth: Callable[[], int | None],
                 budgets: Callable[[], Iterable[RateBudget]]) -> None:
        self.depth = depth
        self.budgets = budgets

    def collect(self) -> Iterator[Metric]:
        depth = self.depth()
        gauge = GaugeMetricFamily("specsync_inbox_depth",
                                  "Webhook events received and not yet processed")
        gauge.add_metric([], float(depth or 0))
        yield gauge
        stats = [b.stats for b in self.budgets()]
        yield CounterMetricFamily("specsync_rate_limit_waits",
                                  "Times a request waited for its credential's rate budget",
                                  value=sum(s.waits for s in stats))
        yield CounterMetricFamily("specsync_rate_limit_wait_seconds",
                                  "Seconds spent waiting for rate budgets",
                                  value=sum(s.waited_seconds for s in stats))


class RunnerMetrics:
    def __init__(self, depth: Callable[[], int | None] = lambda: 0,
                 budgets: Callable[[], Iterable[RateBudget]] = tuple,
                 store: Callable[[], object] = lambda: None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("specsync_runs", "Sync runs by how they ended",
                            ["integration", "sync", "trigger", "outcome"], registry=r)
        self.records = Counter("specsync_records", "Records read, written, skipped, failed",
                               ["integration", "sync", "kind"], registry=r)
        self.events = Counter("specsync_webhook_events", "Webhook events by what became of them",
                              ["integration", "connection", "outcome"], registry=r)
        self.rejected = Counter("specsync_webhook_requests_rejected",
                                "Webhook and action requests refused",
                                ["integration", "connection", "reason"], registry=r)
        self.trips = Counter("specsync_safeguard_trips", "Runs a safeguard stopped",
                             ["integration", "sync", "safeguard"], registry=r)
        self.registry.register(_Live(depth, budgets))
        self.registry.register(SafeguardCollector(store))

    def observe_run(self, integration: str, sync: str, trigger: str, outcome: str,
                    counts: dict[str, int], tripped: str | None = None) -> None:
        self.runs.labels(integration, sync, trigger, outcome).inc()
        if tripped:
            self.trips.labels(integration, sync, tripped).inc()
        written = sum(counts.get(k, 0) for k in _WRITTEN)
        for kind, value in (("read", counts.get("read", 0)), ("written", written),
                            ("skipped", counts.get("skip", 0)),
                            ("failed", counts.get("error", 0))):
            if value:
                self.records.labels(integration, sync, kind).inc(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
