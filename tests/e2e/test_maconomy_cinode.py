"""Maconomy -> Cinode end to end: every row of seed 001 against the Maconomy and Cinode sandboxes.

The real spec (specs/maconomy-cinode) runs through `run_sync` (and, for the schedules,
the runner's Scheduler) with the real adapters over in-process ASGI transports whose
traffic the contract checkers see. Expected values are worked out here from the Maconomy
sandbox's own records (not through the spec's templates), then compared with what the
Cinode sandbox holds.

Every test runs twice: as the spec says, with changed-since reads restricted on the
Maconomy server (the connection lists the unconfirmed options they need, which the
simulated tenant accepts), and without those options, where each run reads every record
and keeps those whose transactiontimestamp changed. The outcome must be the same.

Seed 001, row by row (`covers` below each test names them):
- customer field mapping, one-to-one and multi-field templates ({0} - {1});
- Customer/Project ID Components and Separator;
- External (externalId in Cinode, adopting what exists) and Internal (Cinode's own id)
  matching;
- Project Filters with AND, OR and NOT and the operators equals, not equals, greater
  than, less than, true, false;
- new projects land in the configured pipeline and default stage; later stage changes
  in Cinode are kept;
- delta sync: only changed records, with an overlap window for changes that landed close
  to the previous run;
- independent schedules for customers and projects (and Never while confirming).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.adapters.ratelimit import RateBudgets
from engine.runner.schedule import ScheduledSync, Scheduler, parse_schedule
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.cinode.seed import COUNTRIES, CURRENCIES
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.platform import ManualClock, SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec, build_spec
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.pipeline import RunReport, run_sync
from engine.sync.runtime import Runtime
from tests.contracts.maconomy.optin import allow_from_options
from tests.contracts.recording import contract_transport, current_ledger

ROOT = Path(__file__).parents[2]
SPEC = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
INTEGRATION = "maconomy-cinode"
RECORDS = 40
CURSOR = "transactiontimestamp"
# The spec's setup, restated: the document's choices for this installation.
COUNTRY_CODES = {"sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI",
                 "germany": "DE", "united kingdom": "GB"}
PROJECT_TYPES = ("T&M", "Fixed")
EXCLUDED_CUSTOMERS = ("1000", "1001")


def sandbox_env() -> dict[str, str]:
    return {
        "MACONOMY_URL": "http://maconomy.test", "MACONOMY_USER": MaconomyCredentials().user,
        "MACONOMY_PASSWORD": MaconomyCredentials().password,
        "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
        "CINODE_URL": "http://cinode.test", "CINODE_ACCESS_ID": CinodeCredentials().access_id,
        "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret,
        "CINODE_COMPANY_ID": str(CinodeCredentials().company_id),
    }


class InstantTime:
    """The rate budgets' clock: waiting for a window advances it at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_750_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def without_server_delta(spec: Spec) -> Spec:
    """The spec with the Maconomy connection's unconfirmed options taken out."""
    connection = spec.connections["maconomy"]
    options = {k: v for k, v in connection.options.items() if k != "unconfirmed"}
    return replace(spec, connections={**spec.connections,
                                      "maconomy": replace(connection, options=options)})


@dataclass
class World:
    maconomy: MaconomySandbox
    cinode: CinodeSandbox
    clock: ManualClock  # Maconomy's: when users change records
    store: StateStore
    spec: Spec
    delta: str  # "server" (as the spec says) or "local"

    def variant(self, *, setup: dict[str, Any] | None = None,
                projects: dict[str, Any] | None = None) -> Spec:
        """The spec with other setup values or project sync settings (a new version)."""
        raw = dict(self.spec.raw)
        raw["setup"] = {**raw["setup"], **(setup or {})}
        syncs = dict(raw["syncs"])
        syncs["projects"] = {**syncs["projects"], **(projects or {})}
        raw["syncs"] = syncs
        spec = build_spec(self.spec.path, raw, f"variant-{len(str(raw))}")
        return spec if self.delta == "server" else without_server_delta(spec)

    def runtime(self, spec: Spec | None = None) -> Runtime:
        spec = spec or self.spec
        allow_from_options(spec.connections["maconomy"].options)
        time = InstantTime()
        return Runtime(spec=spec, store=self.store, environ=sandbox_env(),
                       transports={"maconomy": contract_transport(self.maconomy),
                                   "cinode": contract_transport(self.cinode)},
                       budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep,
                                           wall_clock=time.wall))

    async def run(self, sync: str, spec: Spec | None = None, *,
                  full: bool = False) -> RunReport:
        runtime = self.runtime(spec)
        try:
            return await run_sync(runtime, sync, full=full)
        finally:
            await runtime.aclose()

    async def control(self, sandbox: Any, method: str, path: str, body: Any = None) -> Any:
        """A user's change in the vendor's UI, through the sandbox control API."""
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
            response = await client.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    # Maconomy's records as Maconomy holds them.
    def customers(self) -> list[dict[str, Any]]:
        return list(self.maconomy.customers.iter())

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.maconomy.jobs.iter())

    # Cinode's records, by the key they carry.
    def cinode_customers(self) -> dict[str, dict[str, Any]]:
        return {c["identification"]: c for c in self.cinode.customers.iter()
                if c.get("identification")}

    def cinode_projects(self) -> dict[str, dict[str, Any]]:
        return {p["identifier"]: p for p in self.cinode.projects.iter()
                if p.get("identifier") and "_" in p["identifier"]}

    def restricted_reads(self) -> int:
        """Maconomy reads restricted on transactiontimestamp so far in this test."""
        return sum(1 for e in current_ledger().of("maconomy")
                   if any(k == "restriction" and v.startswith(f"{CURSOR} >=")
                          for k, v in e.query))


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Callable[..., World]]:
    stores: list[StateStore] = []

    def make(delta: str = "server", records: int = RECORDS,
             defect_rate: float = 0.0) -> World:
        clock = ManualClock()
        maconomy = MaconomySandbox(SandboxConfig(records=records, rate_limits=False,
                                                 clock=clock, defect_rate=defect_rate))
        cinode = CinodeSandbox(SandboxConfig(records=10, rate_limits=False))
        store = open_store(str(tmp_path / f"state-{len(stores)}.db"))
        stores.append(store)
        spec = load_spec(SPEC)
        return World(maconomy, cinode, clock, store,
                     spec if delta == "server" else without_server_delta(spec), delta)

    yield make
    for store in stores:
        store.close()


@pytest.fixture(params=["server", "local"])
async def world(world_factory: Callable[..., World],
                request: pytest.FixtureRequest) -> AsyncIterator[World]:
    yield world_factory(request.param)


def _expected_customer(record: dict[str, Any]) -> dict[str, Any]:
    country = {c["code"]: c["countryId"] for c in COUNTRIES}.get(
        COUNTRY_CODES.get(record["country"], ""))
    currency = {c["currencyCode"]: c["id"] for c in CURRENCIES}.get(record["currency"])
    return {
        "identification": record["customernumber"],
        "name": record["name1"],
        "description": f"{record['customernumber']} - {record['name1']}",
        "corporateIdentityNumber": record["companyregistrationnumber"],
        "vatNumber": record["vatnumber"],
        "phone": record["telephone"],
        "email": record["electronicmailaddress"],
        "countryId": country,
        "turnOverCurrencyId": currency,
        "status": 0 if record["blocked"] else 1,
    }


def _selected(job: dict[str, Any]) -> bool:
    """The spec's Project Filters, restated: active, of the set types, not excluded."""
    return (job["active"] is True and job["jobtype"] in PROJECT_TYPES
            and job["customernumber"] not in EXCLUDED_CUSTOMERS)


# --------------------------------------------------------------------------- customers


async def test_customer_sync_maps_every_field_then_writes_nothing(world: World) -> None:
    """covers: Customer Field Mapping (customername -> name, one-to-one, {0} - {1}),
    Customer ID Components, External matching (stored as the Cinode customer's
    identification)."""
    report = await world.run("customers")
    assert report.outcome == "success" and report.counts["create"] == RECORDS
    held = world.cinode_customers()
    assert sorted(held) == sorted(c["customernumber"] for c in world.customers())
    for record in world.customers():
        customer = held[record["customernumber"]]
        assert {k: customer.get(k) for k in _expected_customer(record)} == \
            _expected_customer(record)
        [address] = customer["addresses"]
        assert (address["street1"], address["street2"] or "", address["zipCode"],
                address["city"]) == (record["name2"], record["name3"], record["zipcode"],
                                     record["postaldistrict"])
    again = await world.run("customers")
    assert sum(again.counts[k] for k in ("create", "update", "adopt")) == 0, again.counts
    # Maconomy is a source only: nothing but reads reached it.
    assert {e.method for e in current_ledger().of("maconomy")} == {"GET"}


async def test_customer_id_components_joined_by_the_separator(world: World) -> None:
    """covers: Customer ID Components (region plus customer number), Customer ID
    Separator."""
    spec = world.variant(setup={"customer_id_components": ["region", "customernumber"],
                                "customer_id_separator": "_"})
    report = await world.run("customers", spec)
    assert report.counts["create"] == RECORDS
    assert sorted(world.cinode_customers()) == sorted(
        f"{c['region']}_{c['customernumber']}" for c in world.customers())


async def test_external_matching_adopts_the_cinode_customer_holding_the_id(
        world: World) -> None:
    """covers: External ID (Maconomy's id stored in Cinode): an existing Cinode customer
    with that id is updated, never duplicated."""
    target = world.customers()[3]
    await world.control(world.cinode, "PATCH", "/records/customers/9001",
                        {"identification": target["customernumber"]})
    report = await world.run("customers")
    assert report.counts["adopt"] == 1 and report.counts["create"] == RECORDS - 1
    adopted = world.cinode_customers()[target["customernumber"]]
    assert adopted["id"] == 9001 and adopted["name"] == target["name1"]
    assert len(world.cinode_customers()) == RECORDS


async def test_internal_matching_updates_the_cinode_customer_by_its_own_id(
        world: World) -> None:
    """covers: Internal ID (Cinode's own id): Maconomy records that carry a Cinode id
    update that customer; records without one cannot be matched and say so."""
    spec = world.variant(setup={"customer_id_components": ["name5"],
                                "customer_id_match": "internal"})
    mapped = {"100004": 9002, "100011": 9005}
    for number, cinode_id in mapped.items():
        await world.control(world.maconomy, "PATCH", f"/records/customercard/{number}",
                            {"name5": str(cinode_id)})
    report = await world.run("customers", spec)
    # The first run links each to the Cinode customer it names (adopts it) and writes it.
    assert report.counts["adopt"] == 2 and report.counts["create"] == 0
    assert report.counts["error"] == RECORDS - 2
    assert {f.code for f in report.failures} == {"key.missing-component"}
    names = {c["id"]: c["name"] for c in world.cinode.customers.iter()}
    for number, cinode_id in mapped.items():
        assert names[cinode_id] == world.maconomy.customers.get(number)["name1"]


async def test_internal_matching_on_a_fresh_cinode_says_so_before_and_during_the_run(
        world: World) -> None:
    """covers: Internal ID on a Cinode that holds none of the ids (issue 15): the plan
    says up front that no record names an existing customer, that none will be created
    and what to do; each failing record says the same, and the run's summary shows the
    reason once instead of once per record."""
    from engine.cli.sync import failure_lines, internal_matching_note
    from engine.sync.pipeline import plan_sync

    spec = world.variant(setup={"customer_id_match": "internal"})
    runtime = world.runtime(spec)
    try:
        plan = await plan_sync(runtime, "customers")
        note = internal_matching_note(runtime, plan)
    finally:
        await runtime.aclose()
    assert plan.counts["create"] == 0 and plan.counts["error"] == RECORDS
    assert note is not None
    assert note.startswith("internal matching: all selected records name no existing "
                           "Cinode customer (`customernumber` is not one of its ids)")
    assert "creates nothing" in note and "choose external matching" in note

    report = await world.run("customers", spec)
    assert report.counts["error"] == RECORDS and report.counts["create"] == 0
    assert {f.code for f in report.failures} == {"key.not-found"}
    first = report.failures[0]
    assert first.reason.startswith(f"no Cinode customer has id {first.key}: internal "
                                   "matching uses Cinode's own id as the key and never "
                                   "creates a record")
    assert "put the Cinode id of an existing customer in `customernumber`" in first.reason
    assert not world.cinode_customers()  # nothing created
    lines = failure_lines(report.failures, total=report.counts["error"])
    assert len(lines) == 1 and lines[0].startswith(f"{RECORDS} records [key.not-found], e.g. ")
    assert lines[0].endswith(f"and {RECORDS - 11} more)")

    # The way out the messages name: external matching creates them all.
    report = await world.run("customers", world.variant(setup={}))
    assert report.counts["create"] == RECORDS and report.counts["error"] == 0


# --------------------------------------------------------------------------- projects


async def test_projects_filter_place_and_link_new_projects(world: World) -> None:
    """covers: Project Filters (AND, OR via a list, NOT), Project ID Components and
    Separator, Project Field Mapping ({0} - {1}), Cinode Project Pipeline (pipeline and
    default stage for new projects), customers linked through the customer sync."""
    await world.run("customers")
    report = await world.run("projects")
    assert report.outcome == "success", report.failures
    selected = [j for j in world.jobs() if _selected(j)]
    assert 0 < len(selected) < RECORDS
    assert report.counts["create"] == len(selected)
    assert report.counts["filtered"] == RECORDS - len(selected)
    projects = world.cinode_projects()
    assert sorted(projects) == sorted(f"{j['region']}_{j['jobnumber']}" for j in selected)
    by_number = {k: c["id"] for k, c in world.cinode_customers().items()}
    for job in selected:
        project = projects[f"{job['region']}_{job['jobnumber']}"]
        assert (project["title"], project["description"]) == (
            job["jobname"], f"{job['jobnumber']} - {job['jobname']}")
        assert project["customerId"] == by_number[job["customernumber"]]
        assert project["customerIdentifier"] == job["customernumber"]
        assert project["estimatedValue"] == int(job["budgetamount"])
        assert (project["pipelineId"], project["currentStageId"]) == (1, 11)


async def test_a_stage_chosen_in_cinode_is_kept_when_maconomy_changes(world: World) -> None:
    """covers: "New projects from Maconomy always land in that stage, and subsequent stage
    changes happen in Cinode"."""
    await world.run("customers")
    await world.run("projects")
    job = next(j for j in world.jobs() if _selected(j))
    project = world.cinode_projects()[f"{job['region']}_{job['jobnumber']}"]
    await world.control(world.cinode, "PATCH", f"/records/projects/{project['id']}",
                        {"currentStageId": 13})
    world.clock.advance(3600)
    await world.control(world.maconomy, "PATCH", f"/records/jobs/{job['jobnumber']}",
                        {"jobname": "Renamed in Maconomy"})
    report = await world.run("projects")
    assert report.counts["update"] == 1 and report.counts["create"] == 0
    after = world.cinode.projects.get(project["id"])
    assert after["title"] == "Renamed in Maconomy"
    assert (after["pipelineId"], after["currentStageId"]) == (1, 13)


async def test_project_filters_with_and_or_not_and_every_operator(world: World) -> None:
    """covers: Project Filters: "AND, OR and NOT conditions with a full set of operators
    (equals, not equals, greater than, less than, true, false)"."""
    rule = ("(jobtype = 'T&M' or jobtype = 'Fixed') and closed is false and active is true"
            " and budget > 0 and theyear < 2100 and customernumber != '100000'"
            " and not region = 'west'")
    spec = world.variant(projects={"filter": rule})
    await world.run("customers", spec)
    report = await world.run("projects", spec)
    selected = [j for j in world.jobs()
                if j["jobtype"] in ("T&M", "Fixed") and j["closed"] is False
                and j["active"] is True and j["budgetamount"] > 0 and j["theyear"] < 2100
                and j["customernumber"] != "100000" and j["region"] != "west"]
    assert 0 < len(selected) < RECORDS
    assert report.counts["create"] == len(selected), report.counts
    assert sorted(world.cinode_projects()) == sorted(
        f"{j['region']}_{j['jobnumber']}" for j in selected)


async def test_project_internal_matching_updates_by_the_cinode_project_id(
        world: World) -> None:
    """covers: Cinode Project ID: Internal."""
    spec = world.variant(setup={"project_id_components": ["description1"],
                                "project_id_match": "internal"})
    job = next(j for j in world.jobs() if _selected(j))
    await world.control(world.maconomy, "PATCH", f"/records/jobs/{job['jobnumber']}",
                        {"description1": "55002"})
    before = world.cinode.projects.get(55002)
    await world.run("customers", spec)
    report = await world.run("projects", spec)
    assert report.counts["adopt"] == 1 and report.counts["create"] == 0
    updated = world.cinode.projects.get(55002)
    assert updated["title"] == job["jobname"]
    # Placement is for new projects only: the existing one keeps its pipeline and stage.
    assert (updated["pipelineId"], updated["currentStageId"]) == (
        before["pipelineId"], before["currentStageId"])
    # The other selected jobs carry no Cinode id: they fail, saying so, and create nothing.
    assert report.counts["error"] > 0
    assert {f.code for f in report.failures} == {"key.not-an-id"}
    assert world.cinode_projects() == {}


# --------------------------------------------------------------------------- delta sync


@pytest.mark.scenario("S10")
async def test_delta_runs_read_only_changes_with_an_overlap_window(world: World) -> None:
    """covers: "Each scheduled run pulls only records that have changed in Maconomy since
    the previous run, with a short overlap window ... Change detection relies on the
    transactiontimestamp field"."""
    first = await world.run("customers")
    assert first.full and first.cursor is not None
    cursor = datetime.fromisoformat(first.cursor)
    numbers = sorted(c["customernumber"] for c in world.customers())
    # Two ordinary changes after the run.
    world.clock.advance(3600)
    for number in numbers[:2]:
        await world.control(world.maconomy, "PATCH", f"/records/customercard/{number}",
                            {"name1": f"Changed {number} AB"})
    # One that landed just before the previous run's newest timestamp (within the 10
    # minute overlap), and one well before it (outside the overlap).
    late = numbers[5]
    world.clock.set(cursor - timedelta(minutes=5))
    await world.control(world.maconomy, "PATCH", f"/records/customercard/{late}",
                        {"name1": "Late AB"})
    too_late = numbers[6]
    world.clock.set(cursor - timedelta(minutes=30))
    await world.control(world.maconomy, "PATCH", f"/records/customercard/{too_late}",
                        {"name1": "Too Late AB"})
    world.clock.set(cursor + timedelta(hours=2))

    delta = await world.run("customers")
    assert not delta.full
    assert delta.counts["update"] == 3, delta.counts
    assert delta.counts["read"] == 3 + delta.counts["skip"], delta.counts
    names = {k: c["name"] for k, c in world.cinode_customers().items()}
    assert names[late] == "Late AB" and names[too_late] != "Too Late AB"
    # A full run reconciles what no delta can see.
    full = await world.run("customers", full=True)
    assert full.counts["update"] == 1
    assert world.cinode_customers()[too_late]["name"] == "Too Late AB"
    # As the spec says, the Maconomy server restricted the delta; without its options
    # the same records were found by comparing transactiontimestamp here.
    assert (world.restricted_reads() > 0) == (world.delta == "server")


async def test_a_record_without_transactiontimestamp_is_reported(
        world_factory: Callable[..., World]) -> None:
    """covers: troubleshooting, "confirm that the transactiontimestamp field exists on the
    record and updates whenever the record changes"."""
    world = world_factory(records=200, defect_rate=0.2)
    undated = [c for c in world.customers() if not c.get(CURSOR)]
    assert undated
    report = await world.run("customers")
    [warning] = [w for w in report.warnings if CURSOR in w]
    assert warning.startswith(f"{len(undated)} record(s) have no {CURSOR}")


# --------------------------------------------------------------------------- schedules


async def test_customers_and_projects_run_on_their_own_schedules(world: World) -> None:
    """covers: "Independent schedules for each, so you can refresh customers daily and
    projects hourly"; Customer Refresh Schedule Never while confirming mappings."""
    now = [datetime(2025, 3, 3, 10, 30, tzinfo=UTC)]

    async def run(integration: str, sync: str) -> None:
        await world.run(sync)

    def scheduler(spec: Spec) -> Scheduler:
        jobs = [ScheduledSync(INTEGRATION, s.name, parse_schedule(s.schedule))
                for s in spec.syncs.values()]
        return Scheduler(world.store, jobs, run=run, clock=lambda: now[0])

    assert {s.name: s.schedule for s in world.spec.syncs.values()} == {
        "customers": "daily", "projects": "hourly"}
    daily_hourly = scheduler(world.spec)
    for _ in range(16):  # 10:30 on Monday to 01:30 on Tuesday
        await asyncio.gather(*daily_hourly.tick())
        now[0] += timedelta(hours=1)
    runs = world.store.list_runs(INTEGRATION, limit=100)
    count = {name: sum(1 for r in runs if r.sync == name) for name in ("customers",
                                                                      "projects")}
    assert count == {"customers": 2, "projects": 16}
    assert len(world.cinode_projects()) == sum(1 for j in world.jobs() if _selected(j))

    never = scheduler(world.variant(setup={"customer_schedule": "never"}))
    assert [job.sync for job in never.jobs.values()] == ["projects"]
