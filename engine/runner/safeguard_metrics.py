"""The safeguards in `/metrics`, read from the state store when scraped:

    specsync_circuit_breaker_state{integration,system,endpoint}   0 closed, 1 half-open, 2 open
    specsync_circuit_breaker_failures{integration,system,endpoint} consecutive failures
    specsync_quarantined_records{integration,pair}                 held by the write-rate breaker

(`specsync_safeguard_trips_total{integration,sync,safeguard}` is counted per run in
metrics.py.) Labels carry spec names and endpoint templates, whose ids are left out
(engine/adapters/breaker.py), so no record data reaches a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["SafeguardCollector"]

_STATE = {"closed": 0.0, "half-open": 1.0, "open": 2.0}


class SafeguardCollector(Collector):
    def __init__(self, store: Callable[[], Any]) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        store = self.store()
        breakers, held = [], []
        if store is not None:
            try:
                breakers = list(store.breakers())
                held = list(store.quarantined())
            except Exception:  # a scrape never fails because the store is busy or gone
                breakers, held = [], []
        labels = ["integration", "system", "endpoint"]
        state = GaugeMetricFamily("specsync_circuit_breaker_state",
                                  "Circuit breaker per system and endpoint: 0 closed, "
                                  "1 half-open, 2 open", labels=labels)
        failures = GaugeMetricFamily("specsync_circuit_breaker_failures",
                                     "Consecutive failures a circuit breaker has counted",
                                     labels=labels)
        for b in breakers:
            where = [b.integration, b.system, b.endpoint]
            state.add_metric(where, _STATE.get(b.state, 0.0))
            failures.add_metric(where, float(b.failures))
        yield state
        yield failures
        quarantined = GaugeMetricFamily("specsync_quarantined_records",
                                        "Records the write-rate breaker of two-way syncs holds",
                                        labels=["integration", "pair"])
        for (integration, pair), count in sorted(Counter(
                (q.integration, q.pair) for q in held).items()):
            quarantined.add_metric([integration, pair], float(count))
        yield quarantined
