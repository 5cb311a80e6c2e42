"""The live part of the demo: real changes in the sandboxes, real webhooks, real runner.

Each event changes something the way a user would (a sandbox control call), then waits
for its effect by looking into the target sandbox until it appears or a timeout passes.
Nothing here calls the engine directly: the sandboxes deliver webhooks and workflow
action executions to the runner over loopback, and the runner does the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from engine.demo.world import DemoError, DemoWorld
from engine.sync.pipeline import RunReport, run_sync

__all__ = ["LiveEvent", "echo_is_ignored", "hubspot_rename", "invoice_from_deal",
           "last_run", "runner_idle", "wait_for", "won_project"]

T = TypeVar("T")

#: Longest wait for one effect; HubSpot itself gives an action 20 s to answer.
TIMEOUT = 25.0

_WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class LiveEvent:
    """One thing that happened, as one line a newcomer understands."""

    text: str
    seconds: float


async def wait_for(check: Callable[[], T | None], what: str, *,
                   timeout: float = TIMEOUT, interval: float = 0.05,
                   why: Callable[[], str] | None = None) -> tuple[T, float]:
    """Poll `check` until it returns something; (that value, seconds waited).

    On a timeout, `why()` may add what the runner recorded meanwhile.
    """
    started = time.monotonic()
    while True:
        found = check()
        if found is not None:
            return found, time.monotonic() - started
        if time.monotonic() - started > timeout:
            detail = why() if why is not None else ""
            raise DemoError(f"gave up after {timeout:.0f} s waiting for {what}"
                            + (f"; {detail}" if detail else ""))
        await asyncio.sleep(interval)


def last_run(world: DemoWorld, integration: str, sync: str) -> str:
    """What the state store says about the latest run of a sync (for a failure message)."""
    runs = world.store.list_runs(integration, sync, limit=1)
    if not runs:
        return f"the runner has not run {integration}/{sync}"
    run = runs[0]
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v) or "nothing"
    text = f"the last {run.trigger} run of {sync} ended {run.status} ({counts})"
    if run.error:
        text += f": {run.error}"
    failures = world.store.list_failures(integration, sync, limit=1)
    if failures:
        text += f"; failing record {failures[0].source_key}: [{failures[0].code}] " \
                f"{failures[0].message}"
    return world.redactor.text(text)[:500]


def _kleer(world: DemoWorld, collection: str) -> Any:
    return world.sandboxes["kleer"].store[collection]  # type: ignore[attr-defined]


def _target(world: DemoWorld, integration: str, sync: str, key: Any) -> str | None:
    link = world.store.get_links(integration, sync, [str(key)]).get(str(key))
    return link.target_id if link is not None and link.active else None


# --------------------------------------------------------------------------- Cinode


async def won_project(world: DemoWorld) -> LiveEvent:
    """A Cinode project of a Kleer client is marked Won -> a Kleer client project."""
    integration = "kleer-cinode"
    client = next((c for c in _kleer(world, "client").iter()
                   if _target(world, integration, "customers", c["id"])
                   and _target(world, integration, "users", (c.get("user") or {}).get("id"))),
                  None)
    if client is None:
        raise DemoError("no Kleer client reached Cinode with its sales manager; the "
                        "customers and users syncs must run first")
    customer_id = int(_target(world, integration, "customers", client["id"]) or 0)
    manager_id = int(_target(world, integration, "users", client["user"]["id"]) or 0)
    title = "Kundportal 2.0"
    project = await world.control("cinode", "POST", "records/projects", {
        "title": title, "customerId": customer_id, "salesManagerIds": [manager_id],
        "pipelineStageId": 11, "estimatedValue": 450000, "currencyId": 1})
    project_id = str(project["id"])
    started = time.monotonic()
    await world.control("cinode", "PATCH", f"records/projects/{project_id}",
                        {"currentState": 30})
    made, _ = await wait_for(
        lambda: next((p for p in _kleer(world, "client-project").iter()
                      if p.get("number") == project_id), None),  # Kleer keeps the key there
        f"a Kleer client project for Cinode project {project_id}",
        why=lambda: last_run(world, integration, "projects"))
    return LiveEvent(f"Cinode project '{title}' marked Won -> Kleer client project "
                     f"#{made['_id']} '{made['name']}' created for {client['name']}",
                     time.monotonic() - started)


# --------------------------------------------------------------------------- HubSpot


def _linked_company(world: DemoWorld, skip: int = 0) -> tuple[dict[str, Any], str]:
    """A Kleer client and the HubSpot company the companies sync made of it."""
    linked = [(c, target) for c in _kleer(world, "client").iter()
              if (target := _target(world, "kleer-hubspot", "companies", c["id"]))]
    if len(linked) <= skip:
        raise DemoError("too few Kleer clients reached HubSpot; the companies sync must "
                        "run first")
    return linked[skip]


async def hubspot_rename(world: DemoWorld) -> LiveEvent:
    """A user renames a company in HubSpot -> the Kleer client follows."""
    client, company_id = _linked_company(world)
    new_name = f"{client['name']} Nordic"
    started = time.monotonic()
    await world.control("hubspot", "PATCH", f"records/companies/{company_id}",
                        {"name": new_name})
    clients = _kleer(world, "client")
    await wait_for(lambda: True if (clients.get(client["id"]) or {}).get("name") == new_name
                   else None, f"Kleer client {client['id']} to be renamed",
                   why=lambda: last_run(world, "kleer-hubspot", "clients_inbound"))
    seconds = time.monotonic() - started
    await runner_idle(world)  # the event is settled: the next step starts from quiet
    return LiveEvent(f"HubSpot company '{client['name']}' renamed to '{new_name}' by a user "
                     f"-> Kleer client #{client['id']} updated", seconds)


async def runner_idle(world: DemoWorld, timeout: float = TIMEOUT) -> None:
    """Wait until the runner's inbox holds no unfinished event (its public /readyz)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await world.client.get(f"{world.runner_url}/readyz")
        if response.status_code == 200 and response.json().get("inbox_depth") == 0:
            return
        if time.monotonic() > deadline:
            raise DemoError(f"the runner's inbox did not empty within {timeout:.0f} s "
                            f"({response.text[:200]})")
        await asyncio.sleep(0.05)


async def _metric(world: DemoWorld, outcome: str, integration: str = "kleer-hubspot",
                  connection: str = "hubspot") -> float:
    """The runner's count of webhook events with this outcome (its public /metrics)."""
    response = await world.client.get(f"{world.runner_url}/metrics")
    response.raise_for_status()
    for family in text_string_to_metric_families(response.text):
        if family.name != "specsync_webhook_events":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels.get("outcome") == outcome and \
                    labels.get("integration") == integration and \
                    labels.get("connection") == connection:
                return sample.value
    return 0.0


async def echo_is_ignored(world: DemoWorld) -> tuple[LiveEvent, RunReport]:
    """Kleer -> HubSpot write comes back as a HubSpot webhook; Kleer is not written."""
    client, company_id = _linked_company(world, skip=1)
    new_name = f"{client['name']} Group"
    kleer = world.sandboxes["kleer"]
    await world.control("kleer", "PATCH", f"records/client/{client['id']}", {"name": new_name})
    await runner_idle(world)
    handled = {o: await _metric(world, o) for o in ("processed", "failed", "echo")}
    seen = len(kleer.requests)
    started = time.monotonic()
    runtime = world.runtime("kleer-hubspot")
    try:
        report = await run_sync(runtime, "companies", trigger="schedule")
    finally:
        await runtime.aclose()
    hubspot = world.sandboxes["hubspot"]
    company = next((r for r in hubspot.records("companies")  # type: ignore[attr-defined]
                    if r["id"] == company_id), None)
    if company is None or company["properties"].get("name") != new_name:
        raise DemoError(f"the companies run did not write the new name to HubSpot "
                        f"(updated {report.counts['update']}, failed {report.counts['error']})")
    # The delivery, then the runner's verdict: its inbox settles the event.
    deadline = time.monotonic() + TIMEOUT
    while True:
        now = {o: await _metric(world, o) for o in handled}
        if now["failed"] > handled["failed"]:
            raise DemoError("the runner failed to handle HubSpot's webhook for our write")
        if now["processed"] > handled["processed"]:
            await runner_idle(world)
            break
        if time.monotonic() > deadline:
            raise DemoError(f"no webhook for our own write reached the runner within "
                            f"{TIMEOUT:.0f} s")
        await asyncio.sleep(0.05)
    written = [f"{e.method} {e.path}" for e in list(kleer.requests)[seen:]
               if e.method in _WRITES and not e.path.startswith("/_sandbox")]
    if written:
        raise DemoError(f"our own write was written back to Kleer: {', '.join(written[:3])}")
    how = "recognised as our own write (echo)" if now["echo"] > handled["echo"] else \
        "found unchanged"
    return LiveEvent(f"Kleer client #{client['id']} renamed to '{new_name}' -> HubSpot "
                     f"company updated; HubSpot's webhook for that write was {how}: "
                     "nothing written back to Kleer", time.monotonic() - started), report


async def invoice_from_deal(world: DemoWorld, definitions: dict[str, str]) -> LiveEvent:
    """The Create Kleer Invoice workflow action on a deal -> Kleer invoice, pushed back."""
    action = "create_invoice"
    if action not in definitions:
        raise DemoError(f"kleer-hubspot defines no `{action}` action")
    client, _ = _linked_company(world)
    product = next(iter(_kleer(world, "product").iter()), None)
    if product is None:
        raise DemoError("the Kleer sandbox holds no product")
    deal_name = f"{client['name']} - Utveckling"
    deal = await world.control("hubspot", "POST", "records/deals", {
        "dealname": deal_name, "amount": "50000", "deal_currency_code": "SEK",
        "kleer_client_id": str(client["id"])})
    started = time.monotonic()
    execution = await world.control("hubspot", "POST", f"actions/{definitions[action]}/fire", {
        "objectId": deal["id"], "objectType": "DEAL",
        "inputFields": {"kleer_product_id": product["id"], "quantity": 40, "price": 1250}})
    if execution.get("state") not in ("SUCCESS", "BLOCK", "PENDING"):
        answer = (execution.get("attempts") or [{}])[-1]
        reason = answer.get("error") or answer.get("response") or execution.get("state")
        raise DemoError(f"the runner answered the workflow action with "
                        f"{world.redactor.text(str(reason))[:300]}")
    foreign = f"hubspot-deal-{deal['id']}"
    invoice, _ = await wait_for(
        lambda: next((i for i in _kleer(world, "invoice").iter()
                      if i.get("foreign-id") == foreign), None),
        f"a Kleer invoice for deal {deal['id']}")
    hubspot = world.sandboxes["hubspot"]
    await wait_for(
        lambda: next((r for r in hubspot.records("invoices")  # type: ignore[attr-defined]
                      if r["properties"].get("kleer_invoice_id") == str(invoice["id"])), None),
        f"Kleer invoice {invoice['id']} to be pushed back to HubSpot",
        why=lambda: last_run(world, "kleer-hubspot", "invoices"))
    return LiveEvent(f"HubSpot workflow 'Create Kleer Invoice' on deal '{deal_name}' -> "
                     f"Kleer invoice #{invoice['id']} created and pushed back to HubSpot",
                     time.monotonic() - started)
