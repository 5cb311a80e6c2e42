"""Kleer <-> Cinode end to end: the real spec against the Kleer and Cinode sandboxes.

Every sync of specs/kleer-cinode runs through `run_sync` with the real adapters over
in-process ASGI transports. Expected values are worked out here from the Kleer
sandbox's own records (not through the spec's templates), then compared with what
the Cinode (or, for projects, Kleer) sandbox holds. A second run must write nothing.

The projects sync is webhook-triggered: the runner re-reads the project a Cinode
event names and hands it to `run_sync(records=...)`; these tests do exactly that.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from engine.adapters.base import Record
from engine.adapters.ratelimit import RateBudgets
from engine.cli import main as cli_main
from engine.runner.app import build_app
from engine.runner.inbox import InboxWorker
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.cinode.seed import CURRENCIES
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.kleer.credentials import KleerCredentials
from engine.sandbox.kleer.seed import DIMENSION_ENTRIES, SCHEDULES
from engine.sandbox.platform import ManualClock, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import SqliteStateStore, open_store
from engine.state.base import StateStore
from engine.sync.pipeline import RunReport, run_sync
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport

ROOT = Path(__file__).parents[2]
SPEC = ROOT / "specs" / "kleer-cinode" / "spec.yaml"
INTEGRATION = "kleer-cinode"


def sandbox_env(config: SandboxConfig) -> dict[str, str]:
    return {
        "KLEER_URL": "http://kleer.test", "KLEER_TOKEN": KleerCredentials().token,
        "KLEER_COMPANY_ID": str(KleerCredentials().company_id),
        "CINODE_URL": "http://cinode.test", "CINODE_ACCESS_ID": CinodeCredentials().access_id,
        "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret,
        "CINODE_COMPANY_ID": str(CinodeCredentials().company_id),
        "CINODE_WEBHOOK_SECRET": "cinode-webhook-secret",
    }


def _writes(sandbox: Any) -> list[str]:
    """Requests that changed something (searches and token calls only read)."""
    return [f"{e.method} {e.path}" for e in sandbox.requests
            if e.method in ("POST", "PUT", "PATCH", "DELETE")
            and not e.path.endswith("/search") and "/token" not in e.path
            and not e.path.startswith("/_sandbox")]


class InstantTime:
    """The rate budgets' clock: waiting for a window advances it at once.

    The adapters keep Cinode's 40 requests per 2 s and Kleer's 5 per second, which in
    real time would make these tests wait; the budgets are not what is tested here.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_750_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass
class World:
    kleer: KleerSandbox
    cinode: CinodeSandbox
    store: StateStore
    spec: Spec
    config: SandboxConfig

    def runtime(self) -> Runtime:
        time = InstantTime()
        return Runtime(spec=self.spec, store=self.store, environ=sandbox_env(self.config),
                       transports={"kleer": contract_transport(self.kleer),
                                   "cinode": contract_transport(self.cinode)},
                       budgets=RateBudgets(clock=time.monotonic, sleep=time.sleep,
                                           wall_clock=time.wall))

    async def run(self, sync: str, *, project_ids: list[int] | None = None) -> RunReport:
        """One run of `sync`; with `project_ids`, as the runner does for webhook events."""
        runtime = self.runtime()
        try:
            if project_ids is None:
                return await run_sync(runtime, sync)
            return await run_sync(runtime, sync, trigger="webhook",
                                  records=_fetched(runtime, project_ids))
        finally:
            await runtime.aclose()

    def target_of(self, sync: str, key: Any) -> str | None:
        link = self.store.get_links(INTEGRATION, sync, [str(key)]).get(str(key))
        return link.target_id if link and link.active else None

    async def control(self, sandbox: Any, method: str, path: str, body: Any = None
                      ) -> httpx.Response:
        """A user's change in the vendor's UI, through the sandbox control API."""
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
            response = await client.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response

    # Kleer's records as Kleer holds them.
    def kleer_users(self) -> list[dict[str, Any]]:
        return list(self.kleer.store["user"].iter())

    def contract(self, user_id: int) -> dict[str, Any] | None:
        return self.kleer.store["payroll"].get(user_id)

    def subcontractor_user_ids(self) -> set[int]:
        return {ref["id"] for sub in self.kleer.store["subcontractor"].iter()
                for ref in sub.get("users", [])}

    # Cinode's records as Cinode holds them, by the Kleer id they carry.
    def cinode_users(self) -> dict[str, dict[str, Any]]:
        return {u["internalIdentifier"]: u for u in self.cinode.users.iter()
                if u.get("internalIdentifier")}

    def cinode_subcontractors(self) -> dict[str, dict[str, Any]]:
        return {s["internalIdentifier"]: s for s in self.cinode.subcontractors.iter()
                if s.get("internalIdentifier")}

    def cinode_customers(self) -> dict[str, dict[str, Any]]:
        return {c["identification"]: c for c in self.cinode.customers.iter()
                if c.get("identification")}

    def kleer_projects(self) -> dict[str, dict[str, Any]]:
        """Kleer client projects by number: the Cinode project id they were made from
        (Kleer projects have no foreign-id)."""
        return {p["number"]: p for p in self.kleer.store["client-project"].iter()
                if p["number"].isdigit() and int(p["number"]) > 50_000}


async def _fetched(runtime: Runtime, ids: list[int]) -> AsyncIterator[Record]:
    adapter = runtime.adapter("cinode")
    for project_id in ids:
        record = await adapter.get("projects", str(project_id))
        if record is not None:
            yield record


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Any]:
    stores: list[StateStore] = []

    def make(records: int = 40) -> World:
        config = SandboxConfig(records=records, rate_limits=False, seed=7)
        store = open_store(str(tmp_path / f"state-{len(stores)}.db"))
        stores.append(store)
        return World(KleerSandbox(config), CinodeSandbox(config), store, load_spec(SPEC),
                     config)

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def world(world_factory: Any) -> World:
    return world_factory()


# --------------------------------------------------------------------------- expectations
# Worked out independently of the spec's templates: what the seed table says Cinode
# should hold for a Kleer record.

ACCESS_LEVELS = {"CompanyUser": 200, "TeamManager": 270, "CompanyManager": 300}
ENTRY_NAMES = {e["id"]: e["name"] for entries in DIMENSION_ENTRIES.values() for e in entries}
LEVELS = {s["id"]: s["level-of-employment"] for s in SCHEDULES}
SPEC_SETUP = load_spec(SPEC).setup


def birth_and_gender(ssn: str) -> tuple[str, int]:
    """Birth date (ISO) and Cinode gender code of a personnummer, by the textbook rule."""
    plus = "+" in ssn
    digits = ssn.replace("-", "").replace("+", "")
    if len(digits) == 10:
        yy, this_year = int(digits[:2]), date.today().year
        year = this_year - (this_year - yy) % 100 - (100 if plus else 0)
        digits = f"{year}{digits[2:]}"
    day = int(digits[6:8])
    born = date(int(digits[:4]), int(digits[4:6]), day - 60 if day > 60 else day)
    return born.isoformat(), 1 if int(digits[10]) % 2 else 2


def current_level(contract: dict[str, Any]) -> float:
    """The employment rate of the open-ended schedule (the one in force today)."""
    open_ended = [s for s in contract["schedules"] if not s.get("end-date")]
    return LEVELS[(open_ended or contract["schedules"])[-1]["schedule"]["id"]]


def tag_names(record: dict[str, Any]) -> list[str]:
    return [t["name"] if isinstance(t, dict) else str(t) for t in record.get("tags") or []]


def day(value: Any) -> str | None:
    return None if value in (None, "") else str(value)[:10]


def expected_user(world: World, user: dict[str, Any]) -> dict[str, Any]:
    contract = world.contract(user["id"])
    assert contract is not None
    words = user["name"].split()
    born, gender = birth_and_gender(contract["ssn"])
    # A Kleer user's categories: its dimension-entry and its dimensions distribution.
    entries = [user["dimension-entry"], *user.get("dimensions", [])]
    tags = list(dict.fromkeys(ENTRY_NAMES[e["id"]] for e in entries
                              if ENTRY_NAMES[e["id"]] in SPEC_SETUP["user_tags"]))
    return {
        "firstName": " ".join(words[:-1]), "lastName": words[-1],
        "companyUserEmail": user["email"], "employmentNumber": str(user["internal-id"]),
        "gender": gender, "dateOfBirth": born,
        "phone": contract["phone"],  # Kleer's user has none: the contract's
        "employmentStartDate": contract["employment-start-date"],
        "employmentEndDate": contract.get("employment-end-date"),
        "availabilityPercent": round(current_level(contract)),
        "languageId": 1, "defaultCurrencyId": 1, "locationId": 1,
        "baseSalary": (contract["monthly-salary"] + 50) // 100,
        "taxTable": str(contract["tax-table"]), "status": 3, "tags": tags,
        # Roles: the setup's access-level names as Cinode's AccessLevel values.
        "permissions": [ACCESS_LEVELS[name] for name in SPEC_SETUP["roles"]],
    }


def cinode_user_view(user: dict[str, Any]) -> dict[str, Any]:
    view = {k: user.get(k) for k in (
        "firstName", "lastName", "companyUserEmail", "employmentNumber", "gender", "phone",
        "availabilityPercent", "languageId", "defaultCurrencyId", "locationId", "baseSalary",
        "taxTable", "status", "permissions")}
    view.update(dateOfBirth=day(user.get("dateOfBirth")),
                employmentStartDate=day(user.get("employmentStartDate")),
                employmentEndDate=day(user.get("employmentEndDate")), tags=tag_names(user))
    return view


# --------------------------------------------------------------------------- users


async def test_users_sync_writes_the_users_table_then_nothing(world: World) -> None:
    report = await world.run("users")
    assert report.outcome == "success", report.failures

    subcontractors = world.subcontractor_user_ids()
    employees = [u for u in world.kleer_users()
                 if u["active"] and u["id"] not in subcontractors and world.contract(u["id"])]
    skipped = [u for u in world.kleer_users() if u not in employees]
    assert employees and skipped  # inactive users, subcontractors, no contract yet
    synced = world.cinode_users()
    # Only active employees; the Kleer user id is the Internal/External ID.
    assert sorted(synced) == sorted(str(u["id"]) for u in employees)
    assert report.counts["create"] == len(employees)
    assert report.counts["filtered"] == len(skipped)
    for user in employees:
        assert cinode_user_view(synced[str(user["id"])]) == expected_user(world, user), \
            user["id"]

    # Roles went through PUT users/{id}/permissions, once per new user.
    permissions = [e for e in world.cinode.requests if e.path.endswith("/permissions")]
    assert [(e.method, e.status) for e in permissions] == [("PUT", 200)] * len(employees)

    world.cinode.requests.clear()
    again = await world.run("users")
    assert again.counts["skip"] == len(employees)
    assert again.counts["create"] == again.counts["update"] == 0
    assert _writes(world.cinode) == []


async def test_roles_chosen_at_setup_become_cinode_access_levels(world: World) -> None:
    """Seed row Users / Roles ("Configured during setup"): the setup names Cinode access
    levels; each new user gets them through PUT users/{id}/permissions, and Cinode (the
    sandbox) stores them and shows them as the user's roles."""
    world.spec = dataclasses.replace(world.spec, setup={
        **world.spec.setup, "roles": ["CompanyUser", "TeamManager"]})
    report = await world.run("users")
    assert report.outcome == "success", report.failures
    synced = world.cinode_users()
    assert synced and {tuple(u["permissions"]) for u in synced.values()} == {(200, 270)}
    puts = [e for e in world.cinode.requests
            if e.method == "PUT" and e.path.endswith("/permissions")]
    assert len(puts) == len(synced) and {e.status for e in puts} == {200}
    # Read back through the API, they are the user's roles, by name.
    runtime = world.runtime()
    try:
        user = await runtime.adapter("cinode").get("users", str(next(iter(synced.values()))
                                                                ["id"]))
    finally:
        await runtime.aclose()
    assert user is not None and user["roles"] == ["CompanyUser", "TeamManager"]


async def test_user_edge_cases_fail_the_record_not_the_run(world: World) -> None:
    await world.run("users")
    employees = [u for u in world.kleer_users() if str(u["id"]) in world.cinode_users()]
    renamed, bad_ssn, leaving, changed = employees[:4]
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{renamed['id']}",
                        {"name": "Madonna"})
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/payroll/{bad_ssn['id']}",
                        {"ssn": "19811218-9875"})
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{leaving['id']}",
                        {"active": False})
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/payroll/{changed['id']}",
                        {"tax-table": 35, "monthly-salary": 6_000_000})
    before = world.cinode_users()

    report = await world.run("users")
    assert report.outcome == "partial"
    errors = {c.key: c.code for c in report.failures}
    assert errors == {str(renamed["id"]): "name.missing-last",
                      str(bad_ssn["id"]): "identity.invalid"}
    assert report.counts["update"] == 1 and report.counts["deactivate"] == 1
    after = world.cinode_users()
    # A failing record keeps what Cinode had: never a half-written or guessed value.
    assert after[str(renamed["id"])]["lastName"] == before[str(renamed["id"])]["lastName"]
    assert after[str(bad_ssn["id"])]["gender"] == before[str(bad_ssn["id"])]["gender"]
    # A user no longer active in Kleer is disconnected; the others keep their status.
    assert after[str(leaving["id"])]["status"] == 0
    assert (after[str(changed["id"])]["taxTable"], after[str(changed["id"])]["baseSalary"]) \
        == ("35", 60_000)
    # Internal/External ID and employment number stay as they were.
    assert after[str(changed["id"])]["internalIdentifier"] == str(changed["id"])
    # Nobody's SSN reaches the run report.
    assert "9875" not in str([c.reason for c in report.failures])

    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{leaving['id']}",
                        {"active": True})
    await world.run("users")
    assert world.cinode_users()[str(leaving["id"])]["status"] == 3


# --------------------------------------------------------------------------- subcontractors


async def test_subcontractors_sync_writes_the_table_then_nothing(world_factory: Any) -> None:
    world = world_factory(100)  # ten subcontractors, one through a supplier without org. no.
    report = await world.run("subcontractors")
    assert report.outcome == "success", report.failures
    synced = world.cinode_subcontractors()
    users = {u["id"]: u for u in world.kleer_users()}
    suppliers = {s["id"]: s for s in world.kleer.store["supplier"].iter()}
    expected_keys = []
    without_orgno = 0
    for sub in world.kleer.store["subcontractor"].iter():
        supplier = suppliers[sub["supplier"]["id"]]
        for ref in sub["users"]:
            user = users[ref["id"]]
            if not user["active"]:
                assert str(user["id"]) not in synced
                continue
            expected_keys.append(str(user["id"]))
            cinode = synced[str(user["id"])]
            words = user["name"].split()
            assert (cinode["firstName"], cinode["lastName"]) == (" ".join(words[:-1]),
                                                                  words[-1])
            assert cinode["email"] == user["email"]
            # Kleer keeps a phone on the payroll contract only, which they lack.
            assert cinode.get("phone") is None
            assert cinode["gender"] == 0  # no payroll contract, so no SSN
            assert (cinode["languageId"], cinode["currencyId"], cinode["companyAddressId"]) \
                == (1, 1, 1)
            assert cinode["companyName"] == supplier["name"]
            assert cinode.get("companyIdentifier") == supplier.get("orgno")
            without_orgno += "orgno" not in supplier
    assert sorted(synced) == sorted(expected_keys)
    assert without_orgno >= 1  # a supplier without organisation number still synced

    world.cinode.requests.clear()
    again = await world.run("subcontractors")
    assert again.counts["skip"] == len(expected_keys)
    assert _writes(world.cinode) == []


async def test_a_subcontractor_changed_in_kleer_is_left_as_cinode_has_it(
        world_factory: Any) -> None:
    """Cinode cannot update a subcontractor: a later change in Kleer writes nothing."""
    world = world_factory(100)
    await world.run("subcontractors")
    key, before = next(iter(world.cinode_subcontractors().items()))
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{key}",
                        {"name": "Nytt Namn"})
    world.cinode.requests.clear()
    report = await world.run("subcontractors")
    assert report.outcome == "success", report.failures
    assert report.counts["update"] == 0
    assert _writes(world.cinode) == []
    after = world.cinode_subcontractors()[key]
    assert (after["firstName"], after["lastName"]) == (before["firstName"], before["lastName"])


async def test_a_change_cinode_cannot_take_is_reported_by_run_plan_and_status(
        world_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """issue 15: a source change to a field the target sets at creation only is never
    dropped silently: the run warns, `plan` shows it old -> new as not written, `status`
    lists the record until the source agrees again."""
    from engine.cli.sync import render_plan
    from engine.sync.pipeline import plan_sync

    world = world_factory(100)
    await world.run("subcontractors")
    key, before = next(iter(world.cinode_subcontractors().items()))
    assert world.store.list_held() == []
    name = world.kleer.store["user"].get(int(key))["name"]
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{key}",
                        {"name": "Nytt Namn"})

    runtime = world.runtime()
    try:
        plan = await plan_sync(runtime, "subcontractors")
    finally:
        await runtime.aclose()
    assert plan.held == 1 and plan.counts["update"] == 0
    text = render_plan(plan)
    assert "1 with changes the target cannot take (set at creation only)" in text
    assert (f'      firstName: "{before["firstName"]}" -> "Nytt" (not written: set at '
            "creation only)") in text
    assert f'      lastName: "{before["lastName"]}" -> "Namn"' in text

    world.cinode.requests.clear()
    report = await world.run("subcontractors")
    assert report.counts["update"] == 0 and _writes(world.cinode) == []
    assert report.held == {"firstName": 1, "lastName": 1}
    assert any(w.startswith("source changes not written, the target sets these fields at "
                            "creation only: firstName (1 record), lastName (1 record)")
               for w in report.warnings)
    [held] = world.store.list_held(INTEGRATION, "subcontractors")
    assert held.source_key == key
    assert held.held == {"firstName": (before["firstName"], "Nytt"),
                         "lastName": (before["lastName"], "Namn")}

    state = str(tmp_path / "state-0.db")
    assert cli_main(["status", "--state", state]) == 0
    out = capsys.readouterr().out
    assert "changes not written: the target sets these fields at creation only" in out
    assert "subcontractors" in out and '"Nytt"' in out

    # The source set back: nothing held any more.
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/user/{key}", {"name": name})
    report = await world.run("subcontractors")
    assert report.held == {} and world.store.list_held() == []


async def test_subcontractors_are_not_synced_as_employees(world: World) -> None:
    await world.run("users")
    await world.run("subcontractors")
    assert world.subcontractor_user_ids()
    assert not set(world.cinode_users()) & {str(i) for i in world.subcontractor_user_ids()}


# --------------------------------------------------------------------------- customers


async def test_customers_sync_writes_the_table_then_nothing(world: World) -> None:
    await world.run("users")
    report = await world.run("customers")
    assert report.outcome == "success", report.failures
    clients = list(world.kleer.store["client"].iter())
    synced = world.cinode_customers()
    assert sorted(synced) == sorted(str(c["id"]) for c in clients)
    currencies = {c["currencyCode"]: c["id"] for c in CURRENCIES}
    responsible = 0
    for client in clients:
        customer = world.cinode.customers.get(synced[str(client["id"])]["id"])
        assert customer is not None
        assert customer["name"] == client["name"]
        assert (customer.get("description") or "") == client["notes"]
        assert customer["corporateIdentityNumber"] == client["orgno"]
        assert customer["vatNumber"] == client["vat-nr"]
        assert customer["phone"] == client["phone"]
        assert customer["countryId"] == 1  # SE
        assert customer["turnOverCurrencyId"] == currencies[client["currency-type"]]
        [invoice] = [a for a in customer["addresses"] if a["addressType"] == 2]
        address = client["address"]
        assert (invoice["street1"], invoice["zipCode"], invoice["city"]) == (
            address["address1"], address["zip-code"], address["state"])
        assert (invoice.get("street2") or "") == address["address2"]
        # Our Reference -> Customer Responsible: the Cinode user made from that Kleer user.
        reference = client.get("user", {}).get("id")
        manager = world.target_of("users", reference) if reference else None
        if manager is not None:
            assert int(manager) in customer["managers"]
            responsible += 1
        contacts = [f"{c['firstName']} {c['lastName']}" for c in customer["contacts"]]
        assert contacts == ([client["contact"]] if client["contact"] else [])
        categories = [ENTRY_NAMES[e["id"]] for e in client["dimension-entries"]]
        assert tag_names(customer) == [f"BV={client['payment-days']}", *categories]
    assert responsible > 0

    world.cinode.requests.clear()
    again = await world.run("customers")
    assert again.counts["skip"] == len(clients)
    assert _writes(world.cinode) == []


async def test_customer_changes_in_kleer_update_cinode_but_never_its_id(world: World) -> None:
    await world.run("customers")
    client = next(iter(world.kleer.store["client"].iter()))
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/client/{client['id']}",
                        {"notes": "Ramavtal förlängt", "payment-days": 60})
    report = await world.run("customers")
    assert (report.counts["update"], report.counts["skip"]) == (
        1, len(world.cinode_customers()) - 1)
    customer = world.cinode_customers()[str(client["id"])]
    assert customer["description"] == "Ramavtal förlängt"
    assert "BV=60" in tag_names(customer) and f"BV={client['payment-days']}" not in \
        tag_names(customer)
    assert customer["identification"] == str(client["id"])


async def test_a_country_and_currency_changed_in_kleer_reach_the_cinode_customer(
        world: World) -> None:
    """issue 15 said Cinode sets a customer's country and currency at creation only. Its
    contract says otherwise: `PATCH customers/{id}` (CompanyCustomerPatchModel) takes
    /countryid and /turnovercurrencyid, so a change in Kleer is written, not dropped."""
    await world.run("customers")
    client = next(iter(world.kleer.store["client"].iter()))
    currencies = {c["currencyCode"]: c["id"] for c in CURRENCIES}
    new_currency = next(code for code in ("NOK", "EUR", "USD")
                        if code in currencies and code != client["currency-type"])
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/client/{client['id']}",
                        {"country-code": "NO", "currency-type": new_currency})
    report = await world.run("customers")
    assert report.counts["update"] == 1 and report.held == {}
    customer = world.cinode.customers.get(world.cinode_customers()[str(client["id"])]["id"])
    assert customer is not None
    assert (customer["countryId"], customer["turnOverCurrencyId"]) == (
        2, currencies[new_currency])  # NO=2 in the spec's country_ids
    assert world.store.list_held() == []


async def test_an_internal_id_changed_in_cinode_is_reported_per_record(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """covers: Customer Number / Internal ID "Required and must not be modified" (issue
    15): someone edits the id in Cinode; the next run (full, as every Kleer read is)
    fails that record `key.modified`, naming the value found and the one to set back,
    and writes nothing to it; the others go through. Set back, it clears."""
    await world.run("customers")
    client = next(iter(world.kleer.store["client"].iter()))
    key = str(client["id"])
    customer_id = world.cinode_customers()[key]["id"]
    await world.control(world.cinode, "PATCH", f"/_sandbox/records/customers/{customer_id}",
                        {"identification": "K-EDITED"})
    await world.control(world.kleer, "PATCH", f"/_sandbox/records/client/{key}",
                        {"notes": "Ändrad i Kleer"})
    world.cinode.requests.clear()
    report = await world.run("customers")
    assert report.outcome == "partial" and report.counts["error"] == 1
    [failure] = report.failures
    assert (failure.key, failure.code) == (key, "key.modified")
    assert failure.reason == (
        f"the Cinode customer {customer_id} linked to {key}: its Internal/External ID "
        f"(identification) holds 'K-EDITED', but it must keep '{key}'; someone changed it "
        f"in Cinode. Set it back to {key} there (nothing is written to this record until "
        "then)")
    assert world.cinode.customers.get(customer_id)["description"] != "Ändrad i Kleer"
    assert report.counts["skip"] == len(list(world.kleer.store["client"].iter())) - 1
    assert cli_main(["status", "--state", str(tmp_path / "state-0.db")]) == 0
    assert "key.modified" in capsys.readouterr().out

    await world.control(world.cinode, "PATCH", f"/_sandbox/records/customers/{customer_id}",
                        {"identification": key})
    report = await world.run("customers")
    assert report.outcome == "success" and report.counts["update"] == 1
    assert world.cinode.customers.get(customer_id)["description"] == "Ändrad i Kleer"
    assert world.store.failing_keys(INTEGRATION, "customers") == []


# --------------------------------------------------------------------------- projects


async def _linked_world(world: World) -> tuple[dict[str, Any], int, int, int]:
    """Users and customers synced; a Kleer client, its Cinode customer, a sales manager."""
    await world.run("users")
    await world.run("customers")
    client = next(c for c in world.kleer.store["client"].iter()
                  if world.target_of("users", c.get("user", {}).get("id")))
    customer_id = int(world.target_of("customers", client["id"]) or 0)
    manager_user = client["user"]["id"]
    manager_id = int(world.target_of("users", manager_user) or 0)
    return client, customer_id, manager_user, manager_id


async def _new_project(world: World, **fields: Any) -> int:
    response = await world.control(world.cinode, "POST", "/_sandbox/records/projects", fields)
    return int(response.json()["id"])


async def _move(world: World, project_id: int, **changes: Any) -> None:
    await world.control(world.cinode, "PATCH", f"/_sandbox/records/projects/{project_id}",
                        changes)


async def test_projects_follow_cinode_webhooks_while_won(world: World) -> None:
    client, customer_id, manager_user, manager_id = await _linked_world(world)
    project = await _new_project(world, title="Kundportal", customerId=customer_id,
                                 identifier="P-2025-0042", customerIdentifier="PO-77",
                                 salesManagerIds=[manager_id], pipelineStageId=12,
                                 estimatedValue=450000, currencyId=2)

    # project.created in an unselected stage: nothing reaches Kleer.
    report = await world.run("projects", project_ids=[project])
    assert report.counts["filtered"] == 1
    assert str(project) not in world.kleer_projects()

    # project.updated: marked Won -> a Kleer client project.
    await _move(world, project, currentState=30)
    report = await world.run("projects", project_ids=[project])
    assert report.counts["create"] == 1, report.failures
    made = world.kleer_projects()[str(project)]
    assert made["name"] == "Kundportal"
    assert made["number"] == str(project)
    assert made["client"] == {"id": client["id"]}
    assert made["our-reference"] == {"id": manager_user}
    assert made["your-reference"] == "PO-77"
    assert made["currency-type"] == "EUR"
    assert made["budget-amount"] == 45_000_000
    assert made["status"] == "Open"
    created = world.cinode.projects.get(project)
    assert created is not None
    assert made["opening-date"] == created["createdDateTime"][:10]

    # The same event delivered twice writes nothing the second time.
    world.kleer.requests.clear()
    again = await world.run("projects", project_ids=[project])
    assert again.counts["skip"] == 1
    assert _writes(world.kleer) == []

    # Still Won: every change in Cinode that Kleer's API can take follows; the name is
    # set when the project is created only, and Kleer's own status is kept.
    await world.control(world.kleer, "PATCH",
                        f"/_sandbox/records/client-project/{made['_id']}",
                        {"status": "Closed", "active": False})
    await _move(world, project, title="Kundportal fas 2", customerIdentifier="PO-78")
    report = await world.run("projects", project_ids=[project])
    assert report.counts["update"] == 1
    made = world.kleer_projects()[str(project)]
    assert (made["name"], made["your-reference"], made["status"]) == (
        "Kundportal", "PO-78", "Closed")

    # Leaving Won (lost): no longer updated; the Kleer project stays as it was.
    await _move(world, project, currentState=40, title="Kundportal (förlorad)")
    report = await world.run("projects", project_ids=[project])
    assert report.counts["filtered"] == 1
    assert world.kleer_projects()[str(project)]["your-reference"] == "PO-78"


async def test_projects_in_selected_stages_of_several_pipelines(world: World) -> None:
    client, customer_id, _, _ = await _linked_world(world)
    signed = await _new_project(world, title="Avrop Sales", customerId=customer_id,
                                pipelineStageId=15)
    contract = await _new_project(world, title="Avrop ramavtal", customerId=customer_id,
                                  pipelineStageId=23)
    lead = await _new_project(world, title="Lead", customerId=customer_id,
                              pipelineStageId=21)
    report = await world.run("projects", project_ids=[signed, contract, lead])
    assert (report.counts["create"], report.counts["filtered"]) == (2, 1)
    made = world.kleer_projects()
    assert {str(signed), str(contract)} == set(made)
    # The Kleer number is the Cinode project id; no sales manager: our reference is left
    # to Kleer.
    assert made[str(signed)]["number"] == str(signed)
    assert made[str(contract)]["client"] == {"id": client["id"]}

    # Moved out of the selected stage: left alone from then on.
    await _move(world, contract, currentStageId=22, description="Ändrad")
    report = await world.run("projects", project_ids=[contract])
    assert report.counts["filtered"] == 1
    assert world.kleer_projects()[str(contract)]["comment"] == ""


async def test_project_of_a_customer_not_from_kleer_is_skipped_with_the_reason(
        world: World) -> None:
    """The customers sync has run and did not make this Cinode customer: its won project
    cannot become a Kleer project. It is skipped and named, not failed every run; once
    the customer comes from Kleer, the project's next change syncs it."""
    await _linked_world(world)
    stranger = next(c for c in world.cinode.customers.iter() if not c.get("identification"))
    project = await _new_project(world, title="Okänd kund", customerId=stranger["id"],
                                 projectState=30)
    report = await world.run("projects", project_ids=[project])
    assert report.failures == [] and report.outcome == "success"
    assert report.counts["filtered"] == 1
    assert any(w.startswith(f"1 record skipped, not failed ({project}): ")
               for w in report.warnings), report.warnings
    assert str(project) not in world.kleer_projects()


async def test_before_the_customers_sync_ran_a_project_fails_and_is_retried(
        world: World) -> None:
    """missing='skip' skips only once the customers sync has completed a run: before
    that the link may simply not be made yet, so the project fails links.missing and
    is retried next run."""
    customer = next(c for c in world.cinode.customers.iter() if not c.get("identification"))
    project = await _new_project(world, title="Tidig", customerId=customer["id"],
                                 projectState=30)
    early = await world.run("projects", project_ids=[project])
    assert [(c.key, c.code) for c in early.failures] == [(str(project), "links.missing")]


async def test_safety_net_poll_syncs_what_a_lost_webhook_missed(world: World) -> None:
    _, customer_id, _, _ = await _linked_world(world)
    won = await _new_project(world, title="Missad leverans", customerId=customer_id,
                             projectState=30)
    report = await world.run("projects")  # the scheduled delta poll, no webhook
    assert str(won) in world.kleer_projects()
    # Won projects of customers that never came from Kleer are skipped and named; no
    # error, and nothing else is written.
    assert report.failures == []
    assert any("skipped, not failed" in w for w in report.warnings)
    assert set(world.kleer_projects()) == {str(won)}
    world.kleer.requests.clear()
    again = await world.run("projects")
    assert again.counts["create"] == again.counts["update"] == 0
    assert _writes(world.kleer) == []


# --------------------------------------------------------------------------- the runner

RUNNER_URL = "http://runner.test"


async def test_a_won_project_arrives_through_the_runner_webhook_inbox(tmp_path: Path) -> None:
    """Cinode's own webhook delivery -> the runner's endpoint -> inbox -> Kleer."""
    clock = ManualClock()
    late = httpx.ASGITransport(app=Starlette())  # pointed at the runner once it exists
    async with httpx.AsyncClient(transport=late, base_url=RUNNER_URL) as to_runner:
        config = SandboxConfig(records=40, rate_limits=False, seed=7, clock=clock,
                               webhook_client=to_runner)
        store = SqliteStateStore(tmp_path / "state.db")
        world = World(KleerSandbox(config), CinodeSandbox(config), store, load_spec(SPEC),
                      config)
        environ = sandbox_env(config)
        app = build_app([str(SPEC)], store=store, environ=environ, clock=clock.now,
                        transports={"kleer": contract_transport(world.kleer),
                                    "cinode": contract_transport(world.cinode)},
                        schedule=False, inbox=False)
        late.app = app
        try:
            client, customer_id, manager_user, manager_id = await _linked_world(world)
            await _subscribe(world, {"isBasicAuthentication": False,
                                     "headerName": "X-Specsync-Token",
                                     "headerValue": environ["CINODE_WEBHOOK_SECRET"]})
            project = await _new_project(world, title="Via webhook", customerId=customer_id,
                                         salesManagerIds=[manager_id], pipelineStageId=11)
            await _move(world, project, currentState=30)
            assert str(project) not in world.kleer_projects()
            await world.cinode.webhooks.drain()
            worker = InboxWorker(app.state.runner, sleep=_no_sleep)
            assert await worker.process_once() >= 1
            made = world.kleer_projects()[str(project)]
            assert (made["name"], made["client"], made["our-reference"]) == (
                "Via webhook", {"id": client["id"]}, {"id": manager_user})
        finally:
            await world.cinode.webhooks.stop()
            await app.state.runner_control.stop(1.0)
            store.close()


async def _no_sleep(seconds: float) -> None:
    return None


async def _subscribe(world: World, credentials: dict[str, Any]) -> None:
    """Register the runner's endpoint for project events the way a Cinode admin does."""
    transport = httpx.ASGITransport(app=world.cinode.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cinode.test") as c:
        basic = base64.b64encode(
            f"{CinodeCredentials().access_id}:{CinodeCredentials().access_secret}".encode()).decode()
        token = (await c.get("/token", headers={"authorization": f"Basic {basic}"})
                 ).json()["access_token"]
        response = await c.post(
            f"/v0.1/companies/{CinodeCredentials().company_id}/webhooks",
            headers={"authorization": f"Bearer {token}"},
            json={"endpointUrl": f"{RUNNER_URL}/webhooks/{INTEGRATION}/cinode",
                  "configurations": [{"entityType": 6, "actionType": 1}],
                  "credentials": [credentials]})
        assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- the CLI


def test_plan_validate_and_docs_say_what_cinode_cannot_update(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Subcontractors have no update in Cinode: `specsync plan` says which fields are set
    at creation only, `validate` is quiet because the spec says `on: create`, and the
    docs list what Cinode's API cannot do."""
    config = SandboxConfig(records=40, rate_limits=False, seed=7)
    kleer, cinode = KleerSandbox(config), CinodeSandbox(config)
    with serve_in_thread(kleer.app) as kleer_url, serve_in_thread(cinode.app) as cinode_url:
        env = {**sandbox_env(config), "KLEER_URL": kleer_url, "CINODE_URL": cinode_url,
               "SPECSYNC_STATE": str(tmp_path / "state.db"), "SPECSYNC_ALLOW_LOOPBACK": "1"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert cli_main(["plan", str(SPEC), "--sync", "subcontractors"]) == 0
    out = capsys.readouterr().out
    assert ("note: set when a record is created only (Cinode's API cannot change them "
            "later): lastName, firstName, email, phone, gender, languageId") in out
    assert cli_main(["validate", str(SPEC)]) == 0
    assert "create-only" not in capsys.readouterr().out
    assert cli_main(["docs", str(SPEC)]) == 0
    docs = capsys.readouterr().out
    assert "## What the real APIs cannot do" in docs
    assert "Subcontractors cannot be updated" in docs
