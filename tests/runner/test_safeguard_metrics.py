"""The safeguards in `/metrics`: circuit breakers, quarantined records and the runs a
safeguard stopped, with labels that name specs and endpoints, never a record's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.runner.conftest import Harness
from tests.runner.test_app import specsync_lines


@pytest.mark.scenario("S15", "S27")
async def test_breakers_quarantine_and_trips_are_scraped(harness: Harness) -> None:
    from engine.state.base import BreakerRecord

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    harness.store.save_breakers([BreakerRecord(
        "mirror", "cinode", "POST /v0.1/companies/{id}/customers", "open", 5, now,
        now + timedelta(minutes=1), "HTTP 503")], at=now)
    for _ in range(3):
        harness.store.count_writes("mirror", "back+forth", {"crm.customers#17": "forth=C-17"},
                                   at=now, window=timedelta(hours=1), max_writes=2)
    harness.ctx.metrics.observe_run("mirror", "customers", "schedule", "failed",
                                    {"read": 3}, "deletions")
    text = (await harness.client.get("/metrics")).text
    lines = [line for line in specsync_lines(text) if "_created" not in line and (
        "breaker" in line or "quarantined" in line or "trips" in line)]
    assert lines == [
        'specsync_circuit_breaker_failures{endpoint="POST /v0.1/companies/{id}/customers",'
        'integration="mirror",system="cinode"} 5.0',
        'specsync_circuit_breaker_state{endpoint="POST /v0.1/companies/{id}/customers",'
        'integration="mirror",system="cinode"} 2.0',
        'specsync_quarantined_records{integration="mirror",pair="back+forth"} 1.0',
        'specsync_safeguard_trips_total{integration="mirror",safeguard="deletions",'
        'sync="customers"} 1.0',
    ]
    assert "C-17" not in text and "#17" not in text  # no record data in any label
