"""`specsync serve`'s first round on a fresh deployment, and its schedules on a clock.

The three seed specs, fresh sandboxes, a fresh state store: the real runner app
(`build_app`) and its real scheduler, every exchange held to the vendors' contracts.
Time is the sandboxes' `ManualClock`, shared with the runner: nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.adapters.base import WebhookEvent
from engine.runner.app import Runner, build_app
from engine.runner.inbox import InboxWorker
from engine.runner.schedule import Scheduler
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import ManualClock, Sandbox, SandboxConfig
from engine.state import open_store
from engine.state.base import StateStore
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport

SPECS = Path(__file__).parents[2] / "specs"
SEEDS = ("maconomy-cinode", "kleer-cinode", "kleer-hubspot")
VENDORS = {"kleer": KleerSandbox, "cinode": CinodeSandbox, "maconomy": MaconomySandbox,
           "hubspot": HubSpotSandbox}


@dataclass
class Served:
    sandboxes: dict[str, Sandbox]
    store: StateStore
    runner: Runner
    clock: ManualClock
    started: list[tuple[str, str]]
    reports: dict[tuple[str, str], Any]

    @property
    def scheduler(self) -> Scheduler:
        assert self.runner.scheduler is not None
        return self.runner.scheduler

    async def round(self) -> list[tuple[str, str]]:
        """Tick until nothing is due or running: what `serve` does after each wake-up."""
        began = len(self.started)
        while True:
            self.scheduler.tick()
            running = list(self.scheduler.tasks.values())
            if not running:
                return self.started[began:]
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)

    def failures(self) -> list[Any]:
        return self.store.list_failures(limit=10_000)


async def _serve(tmp_path: Path, integrations: tuple[str, ...], records: int,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 clock: ManualClock | None = None,
                 seeded_targets: bool = False) -> AsyncIterator[Served]:
    clock = clock or ManualClock()
    sandboxes: dict[str, Sandbox] = {}
    for name, cls in VENDORS.items():
        # By default the target systems start empty, as on a first installation: the
        # integrations fill them. `seeded_targets` starts them as the demo's sandboxes
        # do, Cinode with customers and won projects of its own.
        size = 0 if name in ("hubspot", "cinode") and not seeded_targets else records
        sandboxes[name] = cls(SandboxConfig(records=size, clock=clock, rate_limits=False))
    environ: dict[str, str] = {"CINODE_WEBHOOK_SECRET": "first-round-secret"}
    for name, sandbox in sandboxes.items():
        environ.update(dict(sandbox.environment(f"http://{name}.test")))
    store = open_store(str(tmp_path / "state.db"))
    app = build_app([str(SPECS / name) for name in integrations], store=store,
                    environ=environ, clock=clock.now, sleep=sleep, inbox=False,
                    transports={name: contract_transport(sb) for name, sb in sandboxes.items()})
    runner: Runner = app.state.runner_control
    for spec in runner.ctx.deployment.specs.values():  # as the spec's connection opts in
        if "maconomy" in spec.connections:
            allow_from_options(spec.connections["maconomy"].options)
    started: list[tuple[str, str]] = []
    reports: dict[tuple[str, str], Any] = {}
    run_now = runner.run_now

    async def recording(integration: str, sync: str, **kwargs: Any) -> Any:
        started.append((integration, sync))
        reports[(integration, sync)] = report = await run_now(integration, sync, **kwargs)
        return report

    runner.run_now = recording  # type: ignore[method-assign]
    try:
        yield Served(sandboxes, store, runner, clock, started, reports)
    finally:
        await runner.ctx.deployment.aclose()
        store.close()


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in _serve(tmp_path, SEEDS, records=12):
        yield served


async def test_a_fresh_deployment_of_the_seeds_ends_its_first_round_with_nothing_failed(
        fresh: Served) -> None:
    started = await fresh.round()
    runs = {(run.integration, run.sync): run for run in fresh.store.list_runs(limit=100)}
    scheduled = {(job.integration, job.sync) for job in fresh.scheduler.jobs.values()}
    assert set(started) == scheduled  # every scheduled sync ran once, none twice
    assert len(started) == len(scheduled)
    failures = fresh.failures()
    assert [f"{f.integration}/{f.sync} {f.source_key}: {f.code}" for f in failures] == []
    assert {key: run.counts.get("error", 0) for key, run in runs.items()
            if run.counts.get("error")} == {}
    assert all(run.status == "success" for run in runs.values()), \
        {key: (run.status, run.error) for key, run in runs.items()}
    # Something was written: the round did the real work, not nothing.
    created = sum(run.counts.get("create", 0) for run in runs.values())
    assert created > 50
    # Each sync started after every sync whose links it reads had finished.
    for position, (integration, sync) in enumerate(started):
        for upstream in fresh.runner.ctx.deployment.upstream(integration, sync):
            assert (integration, upstream) in started[:position], (sync, upstream)


async def test_projects_of_cinode_s_own_customers_are_skipped_and_named_not_failed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The sandboxes as the demo starts them: Cinode already holds customers of its own,
    some with won projects. Those projects cannot become Kleer projects (Kleer has no
    client for them): the first round skips them, says which and why, and fails
    nothing; every won project of a customer from Kleer is created."""
    async for served in _serve(tmp_path, SEEDS, records=12, seeded_targets=True):
        await served.round()
        assert [f"{f.integration}/{f.sync} {f.source_key}: {f.code}"
                for f in served.failures()] == []
        cinode, kleer = served.sandboxes["cinode"], served.sandboxes["kleer"]
        store = served.store
        from_kleer = {link.target_id for link in
                      store.iter_links("kleer-cinode", "customers")}
        stages = served.runner.ctx.deployment.specs["kleer-cinode"].setup["project_stages"]
        selected = [p for p in cinode.projects.iter()
                    if p.get("currentState") == 30 or p.get("currentStageId") in stages]
        own = sorted(str(p["id"]) for p in selected if str(p["customerId"]) not in from_kleer)
        ours = sorted(str(p["id"]) for p in selected if str(p["customerId"]) in from_kleer)
        assert own, "the seeded Cinode has won projects of its own customers"
        run = store.list_runs("kleer-cinode", "projects", limit=1)[0]
        assert run.status == "success"
        assert run.counts["filtered"] >= len(own)
        report = served.reports[("kleer-cinode", "projects")]
        warning = next(w for w in report.warnings if "skipped, not failed" in w)
        assert warning.startswith(f"{len(own)} record")
        shown = warning.split("(", 1)[1].split(")", 1)[0].split(" and ")[0].split(", ")
        assert set(shown) <= set(own) and len(shown) == min(5, len(own))
        assert "has not written target id" in warning and "has completed a run" in warning
        logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"
                  and "kleer-cinode/projects" in r.getMessage()]
        assert logged == [f"schedule run of kleer-cinode/projects: {warning}"]
        linked = {link.source_key for link in store.iter_links("kleer-cinode", "projects")}
        assert linked.isdisjoint(own)
        assert set(ours) <= linked
        numbers = {str(p.get("number")) for p in kleer.store["client-project"].iter()}
        assert set(ours) <= numbers and numbers.isdisjoint(own)


async def test_without_the_dependency_wait_the_first_round_fails_links_missing(
        fresh: Served) -> None:
    """The same deployment with the dependencies dropped fires everything at once, as
    serve did before: dependents run beside their upstream and miss its links. Which
    finishes first is then up to timing; here every upstream run is held until the
    dependents are done (the unlucky order, made certain)."""
    jobs = fresh.scheduler.jobs
    deployment = fresh.runner.ctx.deployment
    upstream = {(integration, up) for integration, sync in
                ((job.integration, job.sync) for job in jobs.values())
                for up in deployment.upstream(integration, sync)}
    dependents = {(job.integration, job.sync) for job in jobs.values()
                  if deployment.upstream(job.integration, job.sync)}
    assert upstream and dependents
    done: set[tuple[str, str]] = set()
    dependents_done = asyncio.Event()
    run_now = fresh.runner.run_now

    async def upstream_last(integration: str, sync: str, **kwargs: Any) -> Any:
        if (integration, sync) in upstream and (integration, sync) not in dependents:
            await dependents_done.wait()
        report = await run_now(integration, sync, **kwargs)
        done.add((integration, sync))
        if not dependents - upstream - done:
            dependents_done.set()
        return report

    fresh.runner.run_now = upstream_last  # type: ignore[method-assign]
    fresh.scheduler.replace_jobs(
        [type(job)(job.integration, job.sync, job.schedule) for job in jobs.values()])
    await fresh.round()
    codes = {f.code for f in fresh.failures()}
    assert "links.missing" in codes


async def test_serve_runs_the_maconomy_schedules_on_a_controlled_clock(tmp_path: Path) -> None:
    """serve's own loop (`Scheduler.run`) over two and a half hours of sandbox time:
    customers (daily) and projects (hourly) run at once on the fresh store, projects
    after customers; each hourly slot after that runs projects once, and a job renamed
    in Maconomy between two slots reaches Cinode at the next slot, by a delta read."""
    clock = ManualClock()  # 2025-01-15 09:00 UTC: on an hourly slot
    start = clock.now()
    stop = asyncio.Event()
    holder: dict[str, Served] = {}
    renamed: dict[str, Any] = {}

    async def sleep(seconds: float) -> None:
        served = holder["served"]
        if served.scheduler.tasks:  # time moves only while nothing runs
            await asyncio.wait(list(served.scheduler.tasks.values()))
            return
        if clock.now() + timedelta(seconds=seconds) > start + timedelta(hours=2, minutes=30):
            stop.set()
            return
        clock.advance(seconds)
        if not renamed and clock.now() >= start + timedelta(minutes=30):
            renamed.update(await _rename_a_synced_job(served))
        await asyncio.sleep(0)

    async for served in _serve(tmp_path, ("maconomy-cinode",), records=12, sleep=sleep,
                               clock=clock):
        holder["served"] = served
        await asyncio.wait_for(served.scheduler.run(stop), timeout=120)
        runs = sorted(served.store.list_runs("maconomy-cinode", limit=50),
                      key=lambda run: run.id)
        assert [(run.sync, run.started_at.isoformat(timespec="minutes")) for run in runs] == [
            ("customers", "2025-01-15T09:00+00:00"),
            ("projects", "2025-01-15T09:00+00:00"),
            ("projects", "2025-01-15T10:00+00:00"),
            ("projects", "2025-01-15T11:00+00:00")]
        assert all(run.trigger == "schedule" and run.status == "success" for run in runs)
        first, at_ten, at_eleven = runs[1:]
        assert first.counts["create"] > 0
        assert at_ten.counts["update"] == 1 and at_ten.counts["create"] == 0
        assert at_eleven.counts["update"] == 0 and at_eleven.counts["read"] <= 1
        project = served.sandboxes["cinode"].projects.get(renamed["project"])
        assert project["title"] == "Renamed between two slots"
        assert served.failures() == []


async def _rename_a_synced_job(served: Served) -> dict[str, Any]:
    """A user renames, in Maconomy, a job the first run placed in Cinode."""
    cinode = served.sandboxes["cinode"]
    project = next(p for p in cinode.projects.iter()
                   if "_" in str(p.get("identifier") or ""))
    jobnumber = project["identifier"].split("_", 1)[1]
    transport = httpx.ASGITransport(app=served.sandboxes["maconomy"].app)
    async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
        response = await client.patch(f"/_sandbox/records/jobs/{jobnumber}",
                                      json={"jobname": "Renamed between two slots"})
    assert response.status_code < 300, response.text
    return {"project": project["id"]}


async def test_webhook_events_wait_for_the_first_run_of_the_syncs_they_link_to(
        tmp_path: Path) -> None:
    """A Cinode project event on a fresh store: kleer-cinode's projects sync reads the
    customers and users syncs' links, so the event is held (not read, not failed) until
    their first runs are done, then processed."""
    async for served in _serve(tmp_path, ("kleer-cinode",), records=4):
        event = WebhookEvent(provider="cinode", event_id="evt-1", name="project.updated",
                             object="projects", object_id="55001", action="updated")
        served.store.inbox_put("kleer-cinode/cinode", event.event_id, event.to_bytes(),
                               received_at=served.clock.now())
        worker = InboxWorker(served.runner.ctx, hold_seconds=30, max_attempts=1)
        for _ in range(3):  # held round after round, never dropped
            assert await worker.process_once() == 1
            assert worker.reads == 0 and served.store.inbox_depth() == 1
            served.clock.advance(31)
        await served.round()
        served.clock.advance(31)
        assert await worker.process_once() == 1
        assert worker.reads == 1 and served.store.inbox_depth() == 0
