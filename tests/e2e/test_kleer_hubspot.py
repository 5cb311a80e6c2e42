"""Kleer <-> HubSpot end to end: the real spec against the Kleer and HubSpot sandboxes.

Seed 002's three patterns, each through the engine's real code: outbound syncs on a
schedule (`run_sync`), inbound syncs the way the runner runs them for a webhook (the
record re-read by id, `run_sync(records=...)`, after the runner's echo check), and the
workflow actions through the runner's `ActionRunner.run_action`. Expected values are
computed from the Kleer records the syncs read, never typed in.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.adapters.base import ActionExecution, WebhookEvent
from engine.adapters.hubspot.actions import HubSpotActions
from engine.adapters.hubspot.webhooks import parse_events as parse_hubspot
from engine.errors import RecordError
from engine.runner.actions import ActionRunner
from engine.runner.context import RunnerContext
from engine.runner.deployment import Deployment
from engine.runner.inbox import InboxWorker, is_echo
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.spec.load import load_spec
from engine.spec.model import Spec
from engine.state import open_store
from engine.state.base import StateStore
from engine.sync.pipeline import RunReport, run_sync
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport, current_ledger


class LosingTransport(httpx.AsyncBaseTransport):
    """Delivers every request, and loses the answer of the ones `lose` picks: the write
    happened, the caller never hears of it (a dropped connection)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lose: Any) -> None:
        self.inner = inner
        self.lose = lose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.lose(request):
            await response.aread()
            raise httpx.ReadError("the connection dropped before the answer",
                                  request=request)
        return response

SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot" / "spec.yaml"
OUTBOUND = ("companies", "products", "invoices", "agreements", "projects",
            "invoice_line_items", "agreement_line_items")
WRITES = ("create", "update", "adopt", "deactivate", "delete")


def sandbox_env(kleer: KleerSandbox, hubspot: HubSpotSandbox) -> dict[str, str]:
    return {**dict(kleer.environment("http://kleer.test")),
            **dict(hubspot.environment("http://hubspot.test"))}


@dataclass
class World:
    kleer: KleerSandbox
    hubspot: HubSpotSandbox
    store: StateStore
    spec: Spec
    environ: dict[str, str]

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {"kleer": contract_transport(self.kleer),
                "hubspot": contract_transport(self.hubspot)}

    def runtime(self) -> Runtime:
        return Runtime(spec=self.spec, store=self.store, environ=self.environ,
                       transports=self.transports())

    def deployment(self) -> Deployment:
        return Deployment.from_specs([self.spec], self.store, environ=self.environ,
                                     transports=self.transports())

    def hubspot_by(self, object_type: str, prop: str, value: Any) -> list[dict[str, Any]]:
        return [r for r in self.hubspot.records(object_type)
                if r["properties"].get(prop) == str(value)]

    def associated(self, object_type: str, record_id: str, to_type: str) -> set[str]:
        return {oid for (otype, oid) in self.hubspot.associations.of(object_type, record_id)
                if otype == to_type}

    async def edit(self, app: Any, path: str, changes: dict[str, Any]) -> None:
        """Change a record as a user in the vendor's UI would (sandbox control call)."""
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://sandbox.test") as client:
            response = await client.patch(f"/_sandbox/records/{path}", json=changes)
            assert response.status_code == 200, response.text


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Any]:
    stores: list[StateStore] = []

    def make(*, clients: int = 12, hubspot_companies: int = 0) -> World:
        # A fresh HubSpot portal by default (the integration creates what it needs);
        # `hubspot_companies` seeds a portal that already holds the same companies.
        kleer_config = SandboxConfig(records=clients, rate_limits=False)
        hubspot_config = SandboxConfig(records=hubspot_companies, rate_limits=False)
        store = open_store(str(tmp_path / f"state-{len(stores)}.db"))
        stores.append(store)
        kleer, hubspot = KleerSandbox(kleer_config), HubSpotSandbox(hubspot_config)
        return World(kleer, hubspot, store, load_spec(SPEC), sandbox_env(kleer, hubspot))

    yield make
    for store in stores:
        store.close()


@pytest.fixture
async def world(world_factory: Any) -> World:
    return world_factory()


async def _one(*records: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    for record in records:
        yield record


async def run_outbound(runtime: Runtime) -> dict[str, RunReport]:
    return {name: await run_sync(runtime, name) for name in OUTBOUND}


def written(report: RunReport) -> int:
    return sum(report.counts.get(kind, 0) for kind in WRITES)


def units(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


# --------------------------------------------------------------------------- outbound


async def test_outbound_fills_hubspot_and_a_second_run_writes_nothing(world: World) -> None:
    runtime = world.runtime()
    first = await run_outbound(runtime)
    for name, report in first.items():
        assert report.outcome == "success", (name, report.failures[:3])
        assert report.counts["create"] == report.counts["read"] > 0, (name, report.counts)
    assert len(list(world.hubspot.records("companies"))) == first["companies"].counts["read"]
    assert len(list(world.hubspot.records("line_items"))) == (
        first["invoice_line_items"].counts["read"] + first["agreement_line_items"].counts["read"])

    second = await run_outbound(runtime)
    assert {name: written(r) for name, r in second.items()} == dict.fromkeys(OUTBOUND, 0)
    assert all(r.counts["skip"] == r.counts["read"] for r in second.values())
    await runtime.aclose()


async def test_clients_land_as_companies_field_by_field(world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    kleer, hubspot = runtime.adapter("kleer"), runtime.adapter("hubspot")
    names = world.spec.setup["country_names"]
    checked = 0
    async for client in kleer.read("clients"):
        [raw] = world.hubspot_by("companies", "kleer_client_id", client["id"])
        company = await hubspot.get("companies", raw["id"])
        assert company is not None
        address = client["address"] or {}
        assert company["name"] == client["name"]
        assert company["phone"] == (client["phone"] or None)
        assert company["address"] == (address.get("address1") or None)
        assert company["address2"] == (address.get("address2") or None)
        assert company["zip"] == (address.get("zip-code") or None)
        assert company["city"] == (address.get("state") or None)
        assert company["country"] == names[client["country-code"]]
        assert company["orgno"] == client["orgno"]
        assert company["vat_number"] == client["vat-nr"]
        assert company["kleer_email"] == client["email"]
        assert company["kleer_payment_days"] == client["payment-days"]
        assert raw["properties"]["kleer_payment_days"] == str(client["payment-days"])
        assert company["kleer_delivery_method"] == client["delivery-type"]
        assert company["kleer_currency"] == client["currency-type"]
        assert company["description"] == (client["notes"] or None)
        assert company["kleer_your_reference"] == (client["contact"] or None)
        our = (client["user"] or {}).get("id")
        assert company["kleer_our_reference"] == (str(our) if our else None)
        assert company["kleer_categories"] == (";".join(client["categories"]) or None)
        checked += 1
    assert checked == 12
    await runtime.aclose()


async def test_invoices_agreements_projects_and_line_items_carry_their_associations(
        world: World) -> None:
    runtime = world.runtime()
    await run_outbound(runtime)
    kleer, hubspot = runtime.adapter("kleer"), runtime.adapter("hubspot")

    def company_of(client_id: int) -> str:
        [company] = world.hubspot_by("companies", "kleer_client_id", client_id)
        return str(company["id"])

    invoices = [i async for i in kleer.read("invoices")][:6]
    for invoice in invoices:
        [raw] = world.hubspot_by("invoices", "kleer_invoice_id", invoice["id"])
        target = await hubspot.get("invoices", raw["id"])
        assert target is not None
        status = ("paid" if invoice["remaining"] == 0 else "open") \
            if invoice["certified"] else "draft"
        assert target["hs_invoice_status"] == status
        assert target["hs_currency"] == invoice["currency"]
        assert target["hs_invoice_date"] == invoice["invoice-date"]
        assert target["hs_amount_billed"] == units(invoice["amount"] + invoice["vat"])
        assert target["kleer_remaining"] == units(invoice["remaining"])
        assert world.associated("invoices", raw["id"], "companies") == {
            company_of(invoice["client-ref"]["id"])}
        rows = invoice["rows"] or []
        items = [world.hubspot_by("line_items", "kleer_line_item_id", f"{invoice['id']}-{n}")
                 for n in range(1, len(rows) + 1)]
        assert [len(found) for found in items] == [1] * len(rows)
        for row, [item] in zip(rows, items, strict=True):
            assert Decimal(item["properties"]["quantity"]) == Decimal(str(row["quantity"]))
            assert Decimal(item["properties"]["price"]) == units(row["price"])
            [product] = world.hubspot_by("products", "kleer_product_id", row["product"]["id"])
            assert item["properties"]["hs_product_id"] == str(product["id"])
            assert world.associated("line_items", item["id"], "invoices") == {raw["id"]}

    async for agreement in kleer.read("agreements"):
        [raw] = world.hubspot_by("agreements", "kleer_agreement_id", agreement["id"])
        value = sum(round(r["quantity"] * r["price"]) for r in agreement["recurring-rows"])
        assert Decimal(raw["properties"]["amount"]) == units(value)
        assert raw["properties"]["revision"] == str(agreement["revision-nr"])
        assert world.associated("agreements", raw["id"], "companies") == {
            company_of(agreement["client-ref"]["id"])}
        for n in range(1, len(agreement["recurring-rows"]) + 1):
            [item] = world.hubspot_by("line_items", "kleer_line_item_id",
                                      f"{agreement['id']}-{n}")
            assert world.associated("line_items", item["id"], "agreements") == {raw["id"]}

    statuses = world.spec.setup["project_statuses"]
    async for project in kleer.read("client_projects"):
        [raw] = world.hubspot_by("projects", "kleer_project_id", project["id"])
        assert raw["properties"]["hs_name"] == project["name"]
        assert raw["properties"]["hs_status"] == statuses[project["status"]]
        assert world.associated("projects", raw["id"], "companies") == {
            company_of(project["client"]["id"])}
    await runtime.aclose()


async def test_a_change_in_kleer_reaches_hubspot_on_the_next_run(world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    await world.edit(world.kleer.app, "client/40000003",
                     {"name": "Omdöpt AB", "payment-days": 45})
    report = await run_sync(runtime, "companies")
    assert (report.counts["update"], report.counts["create"]) == (1, 0), report.counts
    [company] = world.hubspot_by("companies", "kleer_client_id", 40000003)
    assert company["properties"]["name"] == "Omdöpt AB"
    assert company["properties"]["kleer_payment_days"] == "45"
    await runtime.aclose()


async def test_a_portal_that_already_holds_the_company_adopts_it_without_duplicates(
        world_factory: Any) -> None:
    # HubSpot company i (three in four) is Kleer client i: same name, same orgno, but no
    # kleer_client_id. The first run finds them by org number (key.adopt_by), adopts them
    # and gives them the Kleer id; only the others are created.
    world = world_factory(clients=8, hubspot_companies=8)
    runtime = world.runtime()
    before = len(list(world.hubspot.records("companies")))
    report = await run_sync(runtime, "companies")
    assert report.counts["error"] == 0, report.failures
    assert report.counts["adopt"] >= 1
    assert report.counts["adopt"] + report.counts["create"] == 8
    assert len(list(world.hubspot.records("companies"))) == before + report.counts["create"]
    kleer = runtime.adapter("kleer")
    async for client in kleer.read("clients"):
        holders = world.hubspot_by("companies", "kleer_client_id", str(client["id"]))
        assert len(holders) == 1, client["id"]
        if client.get("orgno"):
            assert world.hubspot_by("companies", "orgno", client["orgno"]) == holders
    again = await run_sync(runtime, "companies")
    assert written(again) == 0, again.counts
    await runtime.aclose()


# --------------------------------------------------------------------------- inbound


def event(**fields: Any) -> WebhookEvent:
    """One HubSpot webhook event, parsed by the runner's own parser."""
    raw = {"eventId": 1, "subscriptionId": 1, "portalId": 1, "appId": 1,
           "occurredAt": 1_743_500_000_000, "attemptNumber": 0, **fields}
    [parsed] = parse_hubspot(json.dumps([raw]).encode())
    return parsed


def change(object_id: str, prop: str, value: str) -> WebhookEvent:
    return event(subscriptionType="company.propertyChange", objectId=int(object_id),
                 propertyName=prop, propertyValue=value, changeSource="CRM_UI")


async def test_a_company_edit_in_hubspot_updates_the_kleer_client_with_all_fields(
        world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    [raw] = world.hubspot_by("companies", "kleer_client_id", 40000002)
    await world.edit(world.hubspot.app, f"companies/{raw['id']}",
                     {"phone": "+46 8 999 99 99", "kleer_your_reference": "Ny Kontakt",
                      "city": "Uppsala", "kleer_payment_days": "60"})
    # What the runner does for the webhook: re-read the company, sync that record.
    company = await runtime.adapter("hubspot").get("companies", raw["id"])
    assert company is not None
    report = await run_sync(runtime, "clients_inbound", trigger="webhook",
                            records=_one(company))
    assert report.outcome == "success" and written(report) == 1, report.counts
    client = await runtime.adapter("kleer").get("clients", "40000002")
    assert client is not None
    assert client["phone"] == "+46 8 999 99 99"
    assert client["address"]["state"] == "Uppsala"
    assert client["payment-days"] == 60
    assert client["contact"] == "Ny Kontakt"  # one-way: written because a trigger fired
    assert client["name"] == company["name"]

    again = await run_sync(runtime, "clients_inbound", trigger="webhook",
                           records=_one(company))
    assert written(again) == 0 and again.counts["skip"] == 1, again.counts
    # The next scheduled run finds HubSpot holding every two-way field as Kleer has it
    # now (merged field by field against HubSpot's current values): nothing to write.
    out = await run_sync(runtime, "companies")
    assert written(out) == 0, out.counts
    await runtime.aclose()


async def test_a_field_declared_outbound_only_is_not_written_back_inbound(
        world: World, tmp_path: Path) -> None:
    # companies declares kleer_your_reference outbound only: Kleer owns the reference,
    # so the inbound sync's `contact` (which reads it) never writes it back.
    text = SPEC.read_text().replace(
        'kleer_your_reference: {value: "{{ contact or none }}", source: contact}',
        'kleer_your_reference: {value: "{{ contact or none }}", source: contact,\n'
        '                             direction: outbound}', 1)
    (tmp_path / "spec.yaml").write_text(text)
    world.spec = load_spec(tmp_path / "spec.yaml")
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    before = await runtime.adapter("kleer").get("clients", "40000002")
    assert before is not None
    [raw] = world.hubspot_by("companies", "kleer_client_id", 40000002)
    await world.edit(world.hubspot.app, f"companies/{raw['id']}",
                     {"phone": "+46 8 999 99 99", "kleer_your_reference": "Ny Kontakt"})
    company = await runtime.adapter("hubspot").get("companies", raw["id"])
    assert company is not None and company["kleer_your_reference"] == "Ny Kontakt"
    report = await run_sync(runtime, "clients_inbound", trigger="webhook",
                            records=_one(company))
    assert report.outcome == "success" and written(report) == 1, report.counts
    client = await runtime.adapter("kleer").get("clients", "40000002")
    assert client is not None
    assert client["phone"] == "+46 8 999 99 99"  # a both-ways field went back
    assert client["contact"] == before["contact"] != "Ny Kontakt"
    await runtime.aclose()


async def test_only_triggering_properties_start_the_inbound_sync(world: World) -> None:
    deployment = world.deployment()
    spec = world.spec
    trigger = spec.syncs["clients_inbound"].trigger
    assert trigger is not None
    for prop in trigger.properties:
        assert deployment.triggered(spec.integration, "hubspot",
                                    change("2500000001", prop, "x")) == ["clients_inbound"]
    for one_way in ("kleer_your_reference", "kleer_our_reference", "kleer_categories"):
        assert deployment.triggered(spec.integration, "hubspot",
                                    change("2500000001", one_way, "x")) == []
    project_event = event(subscriptionType="object.propertyChange", objectTypeId="0-970",
                          objectId=9500000001, propertyName="hs_status",
                          propertyValue="COMPLETED")
    assert deployment.triggered(spec.integration, "hubspot", project_event) == [
        "projects_inbound"]
    await deployment.aclose()


async def test_a_merge_in_hubspot_re_reads_the_survivor_and_deletions_start_nothing(
        world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    kept = next(c for c in world.hubspot.records("companies")
                if c["properties"].get("kleer_client_id") and
                not c["properties"].get("address2"))
    duplicate = world.hubspot.create_record(
        world.hubspot.object_store("companies"), {"name": "Dubblett AB", "address2": "Box 12"},
        source=("CRM_UI", "userId:1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.hubspot.app),
                                 base_url="http://sandbox.test") as ui:
        merged = await ui.post(f"/_sandbox/records/companies/{kept['id']}/merge",
                               json={"objectIdToMerge": duplicate["id"]})
        assert merged.status_code == 200, merged.text
    # HubSpot's merge event: about the record that survives, which the runner re-reads.
    merge = event(subscriptionType="company.merge", objectId=int(kept["id"]),
                  primaryObjectId=int(kept["id"]), mergedObjectIds=[int(duplicate["id"])],
                  newObjectId=int(kept["id"]), numberOfPropertiesMoved=1,
                  changeSource="CRM_UI")
    deployment = world.deployment()
    assert deployment.triggered(world.spec.integration, "hubspot", merge) == [
        "clients_inbound"]
    company = await runtime.adapter("hubspot").get("companies", merge.object_id)
    assert company is not None and company["address2"] == "Box 12"
    report = await run_sync(runtime, "clients_inbound", trigger="webhook",
                            records=_one(company))
    assert report.outcome == "success" and written(report) == 1, report.counts
    client = await runtime.adapter("kleer").get("clients", company["kleer_client_id"])
    assert client is not None and client["address"]["address2"] == "Box 12"
    # A deletion, a privacy deletion or the merged-away record start nothing.
    for gone in (event(subscriptionType="company.deletion", objectId=int(duplicate["id"])),
                 event(subscriptionType="contact.privacyDeletion", objectId=1000000001)):
        assert deployment.triggered(world.spec.integration, "hubspot", gone) == []
    await deployment.aclose()
    await runtime.aclose()


@pytest.mark.scenario("S24")
async def test_our_own_outbound_write_does_not_bounce_back(world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    deployment = world.deployment()
    sync = world.spec.syncs["clients_inbound"]
    [raw] = world.hubspot_by("companies", "kleer_client_id", 40000004)
    company = await runtime.adapter("hubspot").get("companies", raw["id"])
    assert company is not None
    # HubSpot reports the properties our companies sync just wrote: an echo.
    ours = [change(raw["id"], "name", company["name"]),
            change(raw["id"], "kleer_payment_days", str(company["kleer_payment_days"]))]
    assert is_echo(deployment, world.spec.integration, sync, company, raw["id"], ours)
    # A person then edits the phone: not an echo any more.
    await world.edit(world.hubspot.app, f"companies/{raw['id']}", {"phone": "+46 10 1"})
    edited = await runtime.adapter("hubspot").get("companies", raw["id"])
    assert edited is not None
    assert not is_echo(deployment, world.spec.integration, sync, edited, raw["id"],
                       [change(raw["id"], "phone", "+46 10 1")])
    await deployment.aclose()
    await runtime.aclose()


async def test_a_company_that_is_not_a_kleer_client_is_skipped(world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=4)
    runtime = world.runtime()
    prospect = next(r for r in world.hubspot.records("companies")
                    if not r["properties"].get("kleer_client_id"))
    company = await runtime.adapter("hubspot").get("companies", prospect["id"])
    assert company is not None
    report = await run_sync(runtime, "clients_inbound", trigger="webhook",
                            records=_one(company))
    assert report.counts["filtered"] == 1 and written(report) == 0, report.counts
    await runtime.aclose()


async def test_a_project_edit_in_hubspot_updates_the_kleer_project(world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    await run_sync(runtime, "projects")
    kleer = runtime.adapter("kleer")
    projects = [p async for p in kleer.read("client_projects") if p["status"] == "Open"]
    project = projects[0]
    [raw] = world.hubspot_by("projects", "kleer_project_id", project["id"])
    await world.edit(world.hubspot.app, f"projects/{raw['id']}",
                     {"hs_description": "Fas 2", "hs_name": "Nytt namn i HubSpot"})
    record = await runtime.adapter("hubspot").get("projects", raw["id"])
    assert record is not None
    report = await run_sync(runtime, "projects_inbound", trigger="webhook",
                            records=_one(record))
    assert written(report) == 1 and not report.failures, (report.counts, report.failures)
    after = await kleer.get("client_projects", str(project["id"]))
    assert after is not None
    assert after["comment"] == "Fas 2"
    # Kleer sets a project's name when it is created only; the client is not mapped.
    assert (after["name"], after["client"]) == (project["name"], project["client"])
    await runtime.aclose()


async def test_a_project_renamed_in_hubspot_is_reported_not_dropped(world: World) -> None:
    """issue 15: Kleer sets a project's name at creation only. A rename in HubSpot cannot
    reach Kleer, and is said so: held by the run (warning), listed by status."""
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    await run_sync(runtime, "projects")
    kleer = runtime.adapter("kleer")
    projects = [p async for p in kleer.read("client_projects") if p["status"] == "Open"]
    project = projects[0]
    [raw] = world.hubspot_by("projects", "kleer_project_id", project["id"])
    hubspot = runtime.adapter("hubspot")
    first = await hubspot.get("projects", raw["id"])
    assert first is not None
    await run_sync(runtime, "projects_inbound", trigger="webhook", records=_one(first))
    assert world.store.list_held() == []
    await world.edit(world.hubspot.app, f"projects/{raw['id']}", {"hs_name": "Nytt namn"})
    renamed = await hubspot.get("projects", raw["id"])
    assert renamed is not None
    report = await run_sync(runtime, "projects_inbound", trigger="webhook",
                            records=_one(renamed))
    assert report.held == {"name": 1} and report.outcome == "success"
    assert any("name (1 record)" in w for w in report.warnings)
    [held] = world.store.list_held("kleer-hubspot", "projects_inbound")
    assert held.held == {"name": (project["name"], "Nytt namn")}
    after = await kleer.get("client_projects", str(project["id"]))
    assert after is not None and after["name"] == project["name"]
    await runtime.aclose()


async def test_closing_a_project_in_hubspot_asks_for_it_in_kleer_and_then_settles(
        world: World) -> None:
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    await run_sync(runtime, "projects")
    kleer = runtime.adapter("kleer")
    projects = [p async for p in kleer.read("client_projects") if p["status"] == "Open"]
    project = projects[0]
    [raw] = world.hubspot_by("projects", "kleer_project_id", project["id"])
    await world.edit(world.hubspot.app, f"projects/{raw['id']}",
                     {"hs_status": "COMPLETED", "hs_description": "Levererat"})
    record = await runtime.adapter("hubspot").get("projects", raw["id"])
    assert record is not None
    report = await run_sync(runtime, "projects_inbound", trigger="webhook",
                            records=_one(record))
    # Kleer's API cannot close a project: the record fails plainly, the rest is written.
    [failure] = report.failures
    assert (failure.code, failure.key) == ("vendor.unsupported", str(project["id"]))
    assert "change it in Kleer" in failure.reason and "Open to Closed" in failure.reason
    after = await kleer.get("client_projects", str(project["id"]))
    assert after is not None
    assert (after["status"], after["comment"]) == ("Open", "Levererat")
    # Someone closes it in Kleer: the retried record has nothing left to do.
    await world.edit(world.kleer.app, f"client-project/{project['id']}",
                     {"status": "Closed", "active": False})
    world.kleer.requests.clear()
    again = await run_sync(runtime, "projects_inbound", trigger="webhook",
                           records=_one(record))
    assert again.outcome == "success" and not again.failures, again.failures
    assert [e.method for e in world.kleer.requests if e.method != "GET"] == []
    await runtime.aclose()


async def test_the_safety_net_run_changes_nothing_in_kleer_that_hubspot_did_not(
        world_factory: Any) -> None:
    # Few clients: matching by Kleer id reads each client on its own, at Kleer's 5/s.
    world = world_factory(clients=4)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    kleer = runtime.adapter("kleer")
    before = [c async for c in kleer.read("clients")]
    first = await run_sync(runtime, "clients_inbound", trigger="schedule")
    # The first run reads every company (no cursor yet) and pairs each linked one with
    # its client: nothing in Kleer changes.
    assert first.outcome == "success", first.failures[:3]
    # Kleer -> HubSpot -> Kleer is lossless: each company is adopted as it is, unwritten.
    assert first.counts["adopt"] == first.counts["read"] == 4, first.counts
    assert [c async for c in kleer.read("clients")] == before
    # Then it is a delta read of what changed in HubSpot since (the overlap re-reads
    # recent records, whose hashes are unchanged): nothing is written.
    second = await run_sync(runtime, "clients_inbound", trigger="schedule")
    assert written(second) == 0, second.counts
    await world.edit(world.hubspot.app, "companies/" + world.hubspot_by(
        "companies", "kleer_client_id", 40000003)[0]["id"], {"phone": "+46 70 555 55 55"})
    third = await run_sync(runtime, "clients_inbound", trigger="schedule")
    assert third.counts["update"] == 1, third.counts
    client = await kleer.get("clients", "40000003")
    assert client is not None and client["phone"] == "+46 70 555 55 55"
    await runtime.aclose()


# --------------------------------------------------------------------------- actions


def execution(object_id: str, object_type: str, inputs: dict[str, Any],
              callback: str = "ap-1-1-1") -> ActionExecution:
    """An execution as HubSpot sends it, read by the vendor's action protocol."""
    body = {"callbackId": callback, "origin": {"portalId": 1},
            "context": {"source": "WORKFLOWS", "workflowId": 1},
            "object": {"objectId": object_id, "objectType": object_type},
            "inputFields": inputs}
    return HubSpotActions().parse(json.dumps(body).encode())


def action_runner(world: World) -> tuple[ActionRunner, Deployment]:
    deployment = world.deployment()
    return ActionRunner(RunnerContext(deployment=deployment, store=world.store)), deployment


async def test_create_invoice_from_a_deal_pushes_invoice_and_line_items_back(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    await run_sync(runtime, "products")
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Utveckling", "amount": "150000", "deal_currency_code": "SEK",
        "kleer_client_id": "40000001"})
    runner, deployment = action_runner(world)
    action = world.spec.actions["create_invoice"]
    outputs = await runner.run_action(deployment, world.spec.integration, action, execution(
        deal["id"], "DEAL", {"kleer_product_id": 50000001, "quantity": 40, "price": 1250}))
    invoice_id = outputs["kleer_invoice_id"]
    invoice = await runtime.adapter("kleer").get("invoices", str(invoice_id))
    assert invoice is not None
    assert invoice["client-ref"] == {"id": 40000001}
    assert invoice["foreign-id"] == f"hubspot-deal-{deal['id']}"
    assert [(r["quantity"], r["price"], r["product"]) for r in invoice["rows"]] == [
        (40, 125000, {"id": 50000001})]
    # Pushed back at once: the HubSpot invoice with its company, deal and line item.
    [pushed] = world.hubspot_by("invoices", "kleer_invoice_id", invoice_id)
    assert pushed["properties"]["hs_invoice_status"] == "draft"
    assert world.associated("invoices", pushed["id"], "deals") == {deal["id"]}
    [company] = world.hubspot_by("companies", "kleer_client_id", 40000001)
    assert world.associated("invoices", pushed["id"], "companies") == {company["id"]}
    [item] = world.hubspot_by("line_items", "kleer_line_item_id", f"{invoice_id}-1")
    assert world.associated("line_items", item["id"], "invoices") == {pushed["id"]}
    await deployment.aclose()
    await runtime.aclose()


async def test_create_agreement_from_a_deal_pushes_the_agreement_back(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Support", "amount": "4900", "kleer_client_id": "40000002"})
    runner, deployment = action_runner(world)
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["create_agreement"],
        execution(deal["id"], "DEAL", {"quantity": 2, "invoice_interval_months": "3"}))
    agreement_id = outputs["kleer_agreement_id"]
    agreement = await runtime.adapter("kleer").get("agreements", str(agreement_id))
    assert agreement is not None
    assert agreement["invoice-interval-months"] == 3
    assert [(r["quantity"], r["price"]) for r in agreement["recurring-rows"]] == [(2, 490000)]
    [pushed] = world.hubspot_by("agreements", "kleer_agreement_id", agreement_id)
    assert Decimal(pushed["properties"]["amount"]) == Decimal("9800")
    assert world.associated("agreements", pushed["id"], "deals") == {deal["id"]}
    [item] = world.hubspot_by("line_items", "kleer_line_item_id", f"{agreement_id}-1")
    assert world.associated("line_items", item["id"], "agreements") == {pushed["id"]}
    await deployment.aclose()
    await runtime.aclose()


async def test_create_project_from_a_deal(world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Molnmigrering", "amount": "850000",
        "kleer_client_id": "40000003"})
    runner, deployment = action_runner(world)
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["create_project"],
        execution(deal["id"], "DEAL", {}))
    project = await runtime.adapter("kleer").get("client_projects",
                                                 str(outputs["kleer_project_id"]))
    assert project is not None
    assert (project["name"], project["status"], project["budget-amount"]) == (
        "Acme – Molnmigrering", "Open", 85_000_000)
    [pushed] = world.hubspot_by("projects", "kleer_project_id", outputs["kleer_project_id"])
    assert world.associated("projects", pushed["id"], "deals") == {deal["id"]}
    await deployment.aclose()
    await runtime.aclose()


async def test_create_client_links_the_enrolled_company(world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=4)
    runtime = world.runtime()
    prospect = next(r for r in world.hubspot.records("companies")
                    if r["properties"].get("orgno"))
    before = len(list(world.hubspot.records("companies")))
    runner, deployment = action_runner(world)
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["create_client"],
        execution(prospect["id"], "COMPANY", {"payment_days": 20}))
    client = await runtime.adapter("kleer").get("clients", str(outputs["kleer_client_id"]))
    assert client is not None and client["payment-days"] == 20
    assert client["orgno"] == prospect["properties"]["orgno"]
    # The push-back updated the enrolled company (by id) and made no second one.
    assert len(list(world.hubspot.records("companies"))) == before
    [enrolled] = world.hubspot_by("companies", "kleer_client_id", client["id"])
    assert enrolled["id"] == prospect["id"]
    assert enrolled["properties"]["kleer_payment_days"] == "20"
    # From then on the companies sync knows the pair: the new client is not created
    # again (the other clients are the portal's orgno conflicts of the test above).
    again = await run_sync(runtime, "companies")
    assert str(client["id"]) not in {c.key for c in again.failures}
    assert [r["id"] for r in world.hubspot_by("companies", "kleer_client_id",
                                              client["id"])] == [prospect["id"]]
    await deployment.aclose()
    await runtime.aclose()


async def test_update_agreement_upsell_changes_the_linked_agreement(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Support", "amount": "4900", "kleer_client_id": "40000002"})
    runner, deployment = action_runner(world)
    created = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["create_agreement"],
        execution(deal["id"], "DEAL", {}, callback="ap-1"))
    before = await runtime.adapter("kleer").get("agreements",
                                                str(created["kleer_agreement_id"]))
    assert before is not None
    # The deal does not hold the agreement's id: find.linked names create_agreement's link.
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["update_agreement"],
        execution(deal["id"], "DEAL", {"change": "upsell", "quantity": 3}, callback="ap-2"))
    assert outputs["kleer_agreement_id"] == created["kleer_agreement_id"]
    agreement = await runtime.adapter("kleer").get("agreements",
                                                   str(created["kleer_agreement_id"]))
    assert agreement is not None
    assert [r["quantity"] for r in agreement["recurring-rows"]] == [3]
    assert agreement["revision-nr"] > before["revision-nr"]
    assert outputs["kleer_agreement_revision"] == agreement["revision-nr"]
    # Pushed back at once: the HubSpot agreement shows the new value and revision.
    [pushed] = world.hubspot_by("agreements", "kleer_agreement_id", agreement["id"])
    assert Decimal(pushed["properties"]["amount"]) == units(3 * 490000)
    assert pushed["properties"]["revision"] == str(agreement["revision-nr"])
    await deployment.aclose()
    await runtime.aclose()


async def test_update_agreement_finds_the_agreement_a_deal_names_or_fails_plainly(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    kleer = runtime.adapter("kleer")
    live = [a async for a in kleer.read("agreements") if not a["deleted"]]
    seeded = live[0]
    # find.id: the deal's kleer_agreement_id property names the agreement to renew.
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Förnyelse", "kleer_agreement_id": str(seeded["id"])})
    runner, deployment = action_runner(world)
    action = world.spec.actions["update_agreement"]
    await runner.run_action(deployment, world.spec.integration, action, execution(
        deal["id"], "DEAL", {"change": "renewal", "end_date": "2031-12-31"}, callback="ap-3"))
    renewed = await kleer.get("agreements", str(seeded["id"]))
    assert renewed is not None
    assert renewed["end-date"] == date(2031, 12, 31)
    assert renewed["recurring-rows"] == seeded["recurring-rows"]  # a renewal keeps the rows
    # A deal nobody linked and that names no agreement: the execution fails, nothing is
    # written.
    stranger = world.hubspot.create_record(world.hubspot.object_store("deals"),
                                           {"dealname": "Okänd"})
    with pytest.raises(RecordError) as failed:
        await runner.run_action(deployment, world.spec.integration, action, execution(
            stranger["id"], "DEAL", {"change": "renewal", "end_date": "2031-12-31"},
            callback="ap-4"))
    assert failed.value.code == "action.not-linked"
    assert "create_agreement" in failed.value.message
    await deployment.aclose()
    await runtime.aclose()


async def _agreement_from_a_deal(world: World, runner: ActionRunner, deployment: Deployment,
                                 inputs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Support", "amount": "4900", "kleer_client_id": "40000002"})
    await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["create_agreement"],
        execution(deal["id"], "DEAL", inputs, callback=f"ap-create-{deal['id']}"))
    return deal, str(deal["id"])


def _posted_agreements(world: World) -> list[dict[str, Any]]:
    """The bodies the adapter posted to update agreements, as Kleer received them."""
    return [json.loads(e.body) for e in _kleer_exchanges(world)
            if e.method == "POST" and "/client/agreement/" in e.path]


def _kleer_exchanges(world: World) -> list[Any]:
    return current_ledger().of("kleer")


async def test_update_agreement_downgrade_lowers_the_rows_and_can_end_it_earlier(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    runner, deployment = action_runner(world)
    _, deal_id = await _agreement_from_a_deal(
        world, runner, deployment, {"quantity": 2, "end_date": "2027-12-31"})
    [created] = [a async for a in runtime.adapter("kleer").read("agreements")
                 if a["foreign-id"] == f"hubspot-deal-{deal_id}"]
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["update_agreement"],
        execution(deal_id, "DEAL", {"change": "downgrade", "quantity": 1, "price": 3900,
                                    "end_date": "2025-12-31"}, callback="ap-down"))
    assert outputs["kleer_agreement_id"] == created["id"]
    agreement = await runtime.adapter("kleer").get("agreements", str(created["id"]))
    assert agreement is not None
    assert [(r["quantity"], r["price"]) for r in agreement["recurring-rows"]] == [(1, 390000)]
    assert agreement["end-date"] == date(2025, 12, 31)
    assert agreement["revision-nr"] == created["revision-nr"] + 1
    assert outputs["kleer_agreement_revision"] == agreement["revision-nr"]
    # Kleer took the whole agreement in its update wrapper: what the action did not
    # change went back as it was read.
    [posted] = _posted_agreements(world)
    whole = posted["client-agreement"]
    assert (whole["id"], whole["revision-nr"], whole["client-ref"]) == (
        created["id"], created["revision-nr"], {"id": 40000002})
    assert whole["invoice-interval-months"] == created["invoice-interval-months"]
    # Pushed back at once: the lower value, the earlier end, the new revision.
    [pushed] = world.hubspot_by("agreements", "kleer_agreement_id", created["id"])
    assert Decimal(pushed["properties"]["amount"]) == Decimal("3900")
    assert pushed["properties"]["end_date"] == "2025-12-31"
    assert pushed["properties"]["revision"] == str(agreement["revision-nr"])
    [item] = world.hubspot_by("line_items", "kleer_line_item_id", f"{created['id']}-1")
    assert Decimal(item["properties"]["quantity"]) == 1
    assert world.associated("agreements", pushed["id"], "deals") == {deal_id}
    await deployment.aclose()
    await runtime.aclose()


async def test_update_agreement_renewal_moves_the_end_date_and_keeps_the_rows(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    runner, deployment = action_runner(world)
    _, deal_id = await _agreement_from_a_deal(
        world, runner, deployment, {"quantity": 3, "end_date": "2026-01-31"})
    [created] = [a async for a in runtime.adapter("kleer").read("agreements")
                 if a["foreign-id"] == f"hubspot-deal-{deal_id}"]
    outputs = await runner.run_action(
        deployment, world.spec.integration, world.spec.actions["update_agreement"],
        execution(deal_id, "DEAL", {"change": "renewal", "end_date": "2027-01-31"},
                  callback="ap-renew"))
    agreement = await runtime.adapter("kleer").get("agreements", str(created["id"]))
    assert agreement is not None
    assert agreement["end-date"] == date(2027, 1, 31)
    assert agreement["recurring-rows"] == created["recurring-rows"]
    assert agreement["revision-nr"] == outputs["kleer_agreement_revision"] == \
        created["revision-nr"] + 1
    [posted] = _posted_agreements(world)
    assert posted["client-agreement"]["recurring-rows"] == [
        {k: v for k, v in row.items() if v is not None} for row in created["recurring-rows"]]
    [pushed] = world.hubspot_by("agreements", "kleer_agreement_id", created["id"])
    assert pushed["properties"]["end_date"] == "2027-01-31"
    assert pushed["properties"]["revision"] == str(agreement["revision-nr"])
    assert Decimal(pushed["properties"]["amount"]) == Decimal("14700")  # 3 x 4900, kept
    await deployment.aclose()
    await runtime.aclose()


@pytest.mark.scenario("S2", "S16")
async def test_a_retried_create_project_after_a_lost_answer_makes_exactly_one_project(
        world_factory: Any) -> None:
    world = world_factory(clients=4, hubspot_companies=0)
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    deal = world.hubspot.create_record(world.hubspot.object_store("deals"), {
        "dealname": "Acme – Molnmigrering", "amount": "850000",
        "kleer_client_id": "40000003"})
    lost: list[str] = []

    def lose_the_first_create(request: httpx.Request) -> bool:
        if request.method == "PUT" and request.url.path.endswith("/client-project") \
                and not lost:
            lost.append(request.url.path)
            return True
        return False

    deployment = Deployment.from_specs([world.spec], world.store, environ=world.environ,
                                       transports={
        "kleer": LosingTransport(contract_transport(world.kleer), lose_the_first_create),
        "hubspot": contract_transport(world.hubspot)})
    runner = ActionRunner(RunnerContext(deployment=deployment, store=world.store),
                          stale_after=0.0)
    protocol = HubSpotActions()
    action = world.spec.actions["create_project"]
    the_execution = execution(deal["id"], "DEAL", {}, callback="ap-lost-1")

    def projects() -> list[dict[str, Any]]:
        return [p for p in world.kleer.store["client-project"].iter()
                if p["number"] == f"HS-{deal['id']}"]

    # Kleer created the project, but its answer was lost: the outcome is unknown, so
    # the runner answers 503 and HubSpot retries the same execution.
    first = await runner.execute(deployment, world.spec.integration, action, protocol,
                                 the_execution)
    assert first.status_code == 503 and lost
    assert len(projects()) == 1
    # The retry looks the project up by the key Kleer keeps (its number) and adopts it.
    second = await runner.execute(deployment, world.spec.integration, action, protocol,
                                  the_execution)
    assert second.status_code == 200, second.body
    outputs = json.loads(second.body)["outputFields"]
    [project] = projects()
    assert outputs["kleer_project_id"] == str(project["_id"])  # outputs are text
    assert [e.method for e in _kleer_exchanges(world)].count("PUT") == 1
    # Another execution for the same deal (the workflow enrols it again) finds the
    # action's own link: still one project.
    third = await runner.execute(deployment, world.spec.integration, action, protocol,
                                 execution(deal["id"], "DEAL", {}, callback="ap-lost-2"))
    assert third.status_code == 200
    assert json.loads(third.body)["outputFields"]["kleer_project_id"] == str(project["_id"])
    assert len(projects()) == 1
    assert [e.method for e in _kleer_exchanges(world)].count("PUT") == 1
    # The project reached HubSpot associated with the deal (its number says which).
    [pushed] = world.hubspot_by("projects", "kleer_project_id", project["_id"])
    assert world.associated("projects", pushed["id"], "deals") == {deal["id"]}
    await deployment.aclose()
    await runtime.aclose()


# --------------------------------------------------------------------------- inbound creates
# issue 15: "When you create or update certain records in HubSpot ... syncs it back to
# Kleer": a company created in HubSpot reaches Kleer through its webhook, not only
# through a workflow action.


def _kleer_clients_for(world: World, company_id: str) -> list[dict[str, Any]]:
    return [c for c in world.kleer.store["client"].iter()
            if c.get("foreign-id") == f"hubspot-company-{company_id}"]


_DELIVERIES = itertools.count()


async def _deliver(world: World, worker: InboxWorker, *events: WebhookEvent) -> None:
    """Store the events as the webhook receiver does, then one inbox round."""
    from datetime import UTC, datetime

    for one in events:
        world.store.inbox_put("kleer-hubspot/hubspot", f"delivery-{next(_DELIVERIES)}",
                              one.to_bytes(), received_at=datetime.now(UTC))
    assert await worker.process_once() == len(events)


def _created_in_hubspot(world: World, name: str) -> dict[str, Any]:
    return world.hubspot.create_record(
        world.hubspot.object_store("companies"),
        {"name": name, "phone": "+46 8 123 45 67", "city": "Lund", "country": "Sweden",
         "kleer_payment_days": "20"}, source=("CRM_UI", "userId:1"))


async def test_a_company_created_in_hubspot_becomes_a_kleer_client_linked_back(
        world: World) -> None:

    deployment = world.deployment()
    ctx = RunnerContext(deployment=deployment, store=world.store)
    worker = InboxWorker(ctx)
    company = _created_in_hubspot(world, "Nybildat AB")
    cid = company["id"]
    await _deliver(world, worker,
                   event(subscriptionType="company.creation", objectId=int(cid)),
                   change(cid, "name", "Nybildat AB"))
    [client] = _kleer_clients_for(world, cid)
    assert (client["name"], client["phone"], client["payment-days"]) == (
        "Nybildat AB", "+46 8 123 45 67", 20)
    assert client["country-code"] == "SE"
    # The new Kleer id is written back to the company: the two are linked.
    [linked] = world.hubspot_by("companies", "kleer_client_id", client["id"])
    assert linked["id"] == cid
    assert world.store.failing_keys("kleer-hubspot", "clients_inbound") == []

    # HubSpot reports what our push-back wrote: an echo, nothing goes back to Kleer.
    kleer_writes = [e for e in current_ledger().of("kleer") if e.method != "GET"]
    pushed = await world.runtime().adapter("hubspot").get("companies", cid)
    assert pushed is not None
    await _deliver(world, worker, change(cid, "name", pushed["name"]),
                   change(cid, "phone", pushed["phone"]))
    assert [e for e in current_ledger().of("kleer") if e.method != "GET"] == kleer_writes
    assert len(_kleer_clients_for(world, cid)) == 1

    # A person edits it in HubSpot later: an update of that one client.
    await world.edit(world.hubspot.app, f"companies/{cid}", {"phone": "+46 8 000 00 00"})
    await _deliver(world, worker, change(cid, "phone", "+46 8 000 00 00"))
    [client] = _kleer_clients_for(world, cid)
    assert client["phone"] == "+46 8 000 00 00"
    await deployment.aclose()


async def test_a_webhook_and_a_workflow_for_one_new_company_make_one_kleer_client(
        world: World) -> None:
    """Whichever comes first, the webhook or the Create Kleer Client workflow action, and
    also when both arrive at once: one Kleer client, linked to the company."""
    import asyncio


    deployment = world.deployment()
    ctx = RunnerContext(deployment=deployment, store=world.store)
    runner = ActionRunner(ctx)
    action = world.spec.actions["create_client"]

    # Webhook first, then the workflow: the action finds the client the webhook made.
    first = _created_in_hubspot(world, "Först Webhook AB")
    await _deliver(world, InboxWorker(ctx), change(first["id"], "name", "Först Webhook AB"))
    outputs = await runner.run_action(deployment, world.spec.integration, action,
                                      execution(first["id"], "COMPANY", {}))
    [client] = _kleer_clients_for(world, first["id"])
    assert str(outputs["kleer_client_id"]) == str(client["id"])

    # Workflow first, then the webhook: the company carries its id, nothing is created.
    second = _created_in_hubspot(world, "Först Workflow AB")
    await runner.run_action(deployment, world.spec.integration, action,
                            execution(second["id"], "COMPANY", {}, callback="ap-2"))
    await _deliver(world, InboxWorker(ctx), change(second["id"], "name", "Först Workflow AB"))
    assert len(_kleer_clients_for(world, second["id"])) == 1

    # Both at once, Kleer slow to create (each path would look first, find nothing and
    # create, were they not run one after the other for the company).
    class SlowCreates(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method != "GET":
                await asyncio.sleep(0.3)
            return await self.inner.handle_async_request(request)

    slow = Deployment.from_specs([world.spec], world.store, environ=world.environ,
                                 transports={**world.transports(),
                                             "kleer": SlowCreates(contract_transport(world.kleer))})
    ctx = RunnerContext(deployment=slow, store=world.store)
    third = _created_in_hubspot(world, "Samtidigt AB")
    await asyncio.gather(
        ActionRunner(ctx).run_action(slow, world.spec.integration, action,
                                     execution(third["id"], "COMPANY", {}, callback="ap-3")),
        _deliver(world, InboxWorker(ctx), change(third["id"], "name", "Samtidigt AB")))
    [client] = _kleer_clients_for(world, third["id"])
    assert [r["id"] for r in world.hubspot_by("companies", "kleer_client_id",
                                              client["id"])] == [third["id"]]
    # ... and neither path failed (the second found the first one's client).
    assert world.store.failing_keys("kleer-hubspot", "clients_inbound") == []
    await slow.aclose()
    await deployment.aclose()


async def test_the_safety_net_run_creates_nothing(world: World) -> None:
    """Only webhooks create: a scheduled inbound run leaves companies without a Kleer id
    alone (the first one would otherwise make every company a Kleer client)."""
    _created_in_hubspot(world, "Bara I HubSpot AB")
    before = len(list(world.kleer.store["client"].iter()))
    runtime = world.runtime()
    report = await run_sync(runtime, "clients_inbound")
    assert report.counts["create"] == 0 and report.counts["filtered"] >= 1
    assert len(list(world.kleer.store["client"].iter())) == before
    await runtime.aclose()


async def test_a_project_created_in_hubspot_becomes_a_kleer_project_linked_back(
        world: World) -> None:
    deployment = world.deployment()
    worker = InboxWorker(RunnerContext(deployment=deployment, store=world.store))
    runtime = world.runtime()
    await run_sync(runtime, "companies")
    client_id = next(iter(world.kleer.store["client"].iter()))["id"]
    project = world.hubspot.create_record(
        world.hubspot.object_store("projects"),
        {"hs_name": "Införande fas 2", "hs_description": "Andra fasen",
         "kleer_client_id": str(client_id)}, source=("CRM_UI", "userId:1"))
    pid = project["id"]
    created = event(subscriptionType="object.propertyChange", objectTypeId="0-970",
                    objectId=int(pid), propertyName="hs_name", propertyValue="Införande fas 2")
    await _deliver(world, worker, created)
    [made] = [p for p in world.kleer.store["client-project"].iter()
              if p["number"] == f"HSP-{pid}"]
    assert (made["name"], made["client"], made["comment"]) == (
        "Införande fas 2", {"id": client_id}, "Andra fasen")
    # Linked back: the HubSpot project carries the Kleer project's id.
    [linked] = world.hubspot_by("projects", "kleer_project_id", made["_id"])
    assert linked["id"] == pid
    # The event again (a redelivery, or the echo of our push-back): nothing new in Kleer.
    await _deliver(world, worker, created)
    assert len([p for p in world.kleer.store["client-project"].iter()
                if p["number"] == f"HSP-{pid}"]) == 1

    # A project that names no Kleer client: recorded plainly, nothing created.
    orphan = world.hubspot.create_record(world.hubspot.object_store("projects"),
                                         {"hs_name": "Utan kund"}, source=("CRM_UI", "u:1"))
    await _deliver(world, worker, event(subscriptionType="object.propertyChange",
                                        objectTypeId="0-970", objectId=int(orphan["id"]),
                                        propertyName="hs_name", propertyValue="Utan kund"))
    [failure] = world.store.list_failures("kleer-hubspot", "projects_inbound")
    assert (failure.source_key, failure.code) == (f"#{orphan['id']}", "field.required")
    await runtime.aclose()
    await deployment.aclose()
