"""Planned backfill: a first run that needs more requests than the target's daily quota
says so in its plan, stops cleanly when the day's quota is spent, and the next runs carry
on without creating anything twice (engine/sync/quota.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from engine.cli.sync import _plan_with_estimate
from engine.sandbox.cinode import CinodeSandbox, CinodeSettings
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import ManualClock, SandboxConfig
from engine.spec.load import load_spec
from engine.state import open_store
from engine.sync.pipeline import run_sync
from engine.sync.planned import PlannedLinks
from engine.sync.quota import BACKFILL_PREFIX, DailyQuota, QuotaDays
from engine.sync.runtime import Runtime
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport
from tests.sync.conftest import MACONOMY_CINODE, sandbox_env

DAILY = 60  # requests the Cinode tenant allows a day here


def test_quota_days_counts_today_then_whole_days() -> None:
    assert QuotaDays("cinode", 100, 100, 10_000).days == 1
    assert QuotaDays("cinode", 200_000, 9_000, 10_000).days == 21
    text = QuotaDays("cinode", 200_000, 9_000, 10_000).describe()
    assert "10,000 requests a day" in text and "9,000 left today" in text
    assert "take 21 days" in text


@pytest.mark.scenario("S14")
async def test_a_backfill_stops_at_the_quota_and_resumes_next_day(tmp_path) -> None:
    clock = ManualClock()
    maconomy = MaconomySandbox(SandboxConfig(records=40, rate_limits=False, clock=clock))
    cinode = CinodeSandbox(
        SandboxConfig(records=5, rate_limits=True, clock=clock),
        settings=CinodeSettings(requests_per_window=100_000, daily_requests=DAILY))
    spec = load_spec(MACONOMY_CINODE)
    connection = replace(spec.connections["cinode"],
                         rate_limit=(100_000, timedelta(seconds=1)))
    spec = replace(spec, connections={**spec.connections, "cinode": connection})
    allow_from_options(spec.connections["maconomy"].options)

    def runtime(store) -> Runtime:
        return Runtime(spec=spec, store=store, environ={
            **sandbox_env(SandboxConfig())},
            transports={"maconomy": contract_transport(maconomy),
                        "cinode": contract_transport(cinode)})

    with open_store(str(tmp_path / "state.db")) as store:
        planning = runtime(store)
        try:
            budget = planning.adapter("cinode").session.budget
            budget.daily_limit = DAILY  # as the adapter's documented figure would say
            plan, estimate = await _plan_with_estimate(
                planning, "customers", full=False,
                links=PlannedLinks(store, spec.integration))
        finally:
            await planning.aclose()
        assert plan.counts["create"] == 40
        assert estimate.quota is not None and estimate.quota.days >= 2
        assert f"{DAILY} requests a day" in estimate.describe()
        assert estimate.to_dict()["days"] == estimate.quota.days

        outcomes, created_per_day = [], []
        for _day in range(6):
            clock.advance(86_400)  # a new day at the vendor: a fresh quota
            running = runtime(store)
            try:
                running.adapter("cinode").session.budget.daily_limit = DAILY
                report = await run_sync(running, "customers")
            finally:
                await running.aclose()
            outcomes.append(report.outcome)
            created_per_day.append(report.counts["create"])
            if report.outcome == "success":
                break
            assert report.error is not None and report.error.startswith(BACKFILL_PREFIX)
            assert "carries on" in report.error
        # Never refused by the vendor: each day stopped before the quota ran out.
        assert not [r for r in cinode.requests if r.status == 429]
        assert outcomes[-1] == "success" and len(outcomes) >= 2
        assert all(o == "partial" for o in outcomes[:-1])
        # Nothing created twice, nothing left out.
        identified = [c["identification"] for c in cinode.store.customers.iter()
                      if c.get("identification")]
        assert len(identified) == len(set(identified)) == 40 == sum(created_per_day)
        assert store.count_links(spec.integration, "customers") == 40


def test_a_quota_without_news_never_stops_a_run() -> None:
    assert DailyQuota(None).fits(())
