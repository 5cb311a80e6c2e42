"""The circuit breaker's states (engine/adapters/breaker.py): closed -> open after N
consecutive failures, refused while cooling down, one half-open probe, closed on success,
open again on a failed probe; an answer below 500 resets the count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.adapters.breaker import CircuitBreakers, CircuitOpenError
from engine.spec.safeguards import BreakerSettings

ENDPOINT = "POST /v0.1/companies/{id}/customers"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.scenario("S15")
def test_open_half_open_closed() -> None:
    clock = Clock()
    breakers = CircuitBreakers("i", clock=clock)
    breakers.configure("cinode", BreakerSettings(3, timedelta(seconds=30)))
    for _ in range(2):
        breakers.failed(breakers.admit("cinode", ENDPOINT), "HTTP 503")
    breakers.succeeded(breakers.admit("cinode", ENDPOINT))  # a 4xx or 2xx: up again
    for _ in range(3):
        breakers.failed(breakers.admit("cinode", ENDPOINT), "HTTP 502")
    assert breakers.get("cinode", ENDPOINT).state == "open"
    with pytest.raises(CircuitOpenError, match="a probe goes out in 30s"):
        breakers.admit("cinode", ENDPOINT)
    breakers.admit("cinode", "GET /v0.1/companies/{id}/customers")  # another endpoint: open

    clock.now += 30
    probe = breakers.admit("cinode", ENDPOINT)
    assert probe.state == "half-open"
    with pytest.raises(CircuitOpenError):
        breakers.admit("cinode", ENDPOINT)  # one probe at a time
    breakers.failed(probe, "ReadTimeout")  # the probe failed: another cool-down
    assert probe.state == "open" and probe.retry_at == clock.now + 30
    clock.now += 30
    breakers.succeeded(breakers.admit("cinode", ENDPOINT))
    assert breakers.get("cinode", ENDPOINT).state == "closed"
    assert [(r.endpoint, r.state, r.failures) for r in breakers.changed()] == [
        (ENDPOINT, "closed", 0)]  # the other endpoint never changed
    assert breakers.changed() == []  # saved: nothing new
