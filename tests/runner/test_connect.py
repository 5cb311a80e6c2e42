"""`specsync connect` / `check`'s registrations, through the vendors' real APIs.

Cinode's company webhook (OpenAPI `WebhookAddModel`), HubSpot's webhook target,
subscriptions and workflow action definitions (the SDK's developer APIs), each held to
the vendor's contract by the recording transport. Expected registrations are derived
from the seed specs' triggers and actions, never typed in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine.runner.connect import ConnectionReport, reconcile_spec
from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import Sandbox, SandboxConfig
from engine.spec.load import load_spec
from engine.state import open_store
from engine.sync.runtime import Runtime
from tests.contracts.recording import contract_transport

SPECS = Path(__file__).parents[2] / "specs"
PUBLIC = "https://sync.example.com"
SECRET = "cinode-webhook-secret-for-connect"


@dataclass
class Vendors:
    kleer: KleerSandbox
    cinode: CinodeSandbox
    hubspot: HubSpotSandbox
    environ: dict[str, str]
    tmp: Path

    def runtime(self, integration: str) -> Runtime:
        sandboxes: dict[str, Sandbox] = {"kleer": self.kleer, "cinode": self.cinode,
                                         "hubspot": self.hubspot}
        return Runtime(spec=load_spec(SPECS / integration / "spec.yaml"),
                       store=open_store(str(self.tmp / f"{integration}.db")),
                       environ=self.environ,
                       transports={n: contract_transport(s) for n, s in sandboxes.items()})

    async def reconcile(self, integration: str, *, apply: bool,
                        public_url: str | None = PUBLIC) -> list[ConnectionReport]:
        runtime = self.runtime(integration)
        try:
            return await reconcile_spec(runtime, public_url, apply=apply)
        finally:
            await runtime.aclose()
            runtime.store.close()

    async def developer(self, method: str, path: str, body: object = None) -> httpx.Response:
        """A call to HubSpot's developer API, as an admin in the app's settings would."""
        key = self.environ["HUBSPOT_DEVELOPER_KEY"]
        async with httpx.AsyncClient(transport=contract_transport(self.hubspot),
                                     base_url="http://hubspot.test") as client:
            return await client.request(method, path, params={"hapikey": key}, json=body)


@pytest.fixture
async def vendors(tmp_path: Path) -> AsyncIterator[Vendors]:
    config = SandboxConfig(records=0, rate_limits=False)
    kleer, cinode, hubspot = KleerSandbox(config), CinodeSandbox(config), HubSpotSandbox(config)
    environ: dict[str, str] = {}
    for name, sandbox in (("kleer", kleer), ("cinode", cinode), ("hubspot", hubspot)):
        environ.update(dict(sandbox.environment(f"http://{name}.test")))
    environ["CINODE_WEBHOOK_SECRET"] = SECRET
    yield Vendors(kleer, cinode, hubspot, environ, tmp_path)


def states(reports: list[ConnectionReport]) -> dict[str, int]:
    out: dict[str, int] = {}
    for report in reports:
        assert report.error is None, report.error
        for item in report.registrations:
            out[item.state] = out.get(item.state, 0) + 1
    return out


async def test_connect_registers_cinode_s_company_webhook_with_the_credential_header(
        vendors: Vendors) -> None:
    spec = load_spec(SPECS / "kleer-cinode" / "spec.yaml")
    webhooks = spec.connections["cinode"].webhooks
    assert states(await vendors.reconcile("kleer-cinode", apply=False)) == {"missing": 1}
    created = await vendors.reconcile("kleer-cinode", apply=True)
    assert states(created) == {"created": 1}
    [hook] = vendors.cinode.store.webhooks.values()
    assert hook["endpointUrl"] == f"{PUBLIC}/webhooks/kleer-cinode/cinode"
    assert hook["credentials"] == [{"isBasicAuthentication": False,
                                    "headerName": webhooks["header"], "headerValue": SECRET}]
    # projects.created and projects.updated: Created (2) and Updated (3) of CompanyProject (6)
    assert sorted((c["entityType"], c["actionType"]) for c in hook["configurations"]) == \
        [(6, 2), (6, 3)]
    assert SECRET not in repr(created)
    # Idempotent: a second connect finds it and registers nothing.
    assert states(await vendors.reconcile("kleer-cinode", apply=True)) == {"ok": 1}
    assert len(vendors.cinode.store.webhooks) == 1

    # Drift: the public URL moved (an old webhook of ours) and a duplicate appeared.
    assert states(await vendors.reconcile(
        "kleer-cinode", apply=False, public_url="https://new.example.com")) == \
        {"missing": 1, "differs": 1}
    duplicate = dict(hook, id="0b4b5c8e-0000-4000-8000-000000000001")
    vendors.cinode.store.webhooks[duplicate["id"]] = duplicate
    assert states(await vendors.reconcile("kleer-cinode", apply=False)) == \
        {"ok": 1, "extra": 1}
    assert states(await vendors.reconcile("kleer-cinode", apply=True)) == \
        {"ok": 1, "deleted": 1}
    assert list(vendors.cinode.store.webhooks) == [hook["id"]]


async def test_connect_registers_hubspot_subscriptions_and_workflow_actions(
        vendors: Vendors) -> None:
    spec = load_spec(SPECS / "kleer-hubspot" / "spec.yaml")
    properties = [(s.source_object, p) for s in spec.syncs.values()
                  if s.trigger is not None for p in s.trigger.properties]
    wanted = 1 + len(properties) + len(spec.actions)  # target URL, subscriptions, actions
    # A fresh app holds the subscriptions its manifest declares: the spec's triggering
    # properties among them, and some no trigger of the spec needs.
    declared = {(s.event_type, s.property_name) for s in vendors.hubspot.subscriptions.values()}
    needed = {("company.propertyChange" if obj == "companies" else "object.propertyChange", p)
              for obj, p in properties}
    assert needed <= declared and declared - needed
    assert states(await vendors.reconcile("kleer-hubspot", apply=False)) == {
        "missing": 1 + len(spec.actions), "ok": len(needed),
        "extra": len(declared - needed)}
    assert states(await vendors.reconcile("kleer-hubspot", apply=True)) == {
        "created": 1 + len(spec.actions), "ok": len(needed),
        "deleted": len(declared - needed)}
    hubspot = vendors.hubspot
    assert hubspot.webhooks.targets == [f"{PUBLIC}/webhooks/kleer-hubspot/hubspot"]
    subscribed = sorted((s.event_type, s.object_type_id, s.property_name)
                        for s in hubspot.subscriptions.values())
    expected = sorted(("company.propertyChange", None, p) if obj == "companies"
                      else ("object.propertyChange", "0-970", p) for obj, p in properties)
    assert subscribed == expected
    assert all(s.active for s in hubspot.subscriptions.values())
    definitions = {d["actionUrl"]: d for d in hubspot.action_definitions.values()}
    assert sorted(definitions) == sorted(f"{PUBLIC}/actions/kleer-hubspot/{name}"
                                         for name in spec.actions)
    for name, action in spec.actions.items():
        definition = definitions[f"{PUBLIC}/actions/kleer-hubspot/{name}"]
        assert definition["published"] is True
        assert definition["objectTypes"] == [action.object_type]
        assert definition["labels"]["en"]["actionName"] == action.title
        assert [f["typeDefinition"]["name"] for f in definition["inputFields"]] == \
            list(action.inputs)
    # Idempotent.
    assert states(await vendors.reconcile("kleer-hubspot", apply=True)) == {"ok": wanted}
    assert len(hubspot.subscriptions) == len(properties)
    assert len(hubspot.action_definitions) == len(spec.actions)

    # Drift made in HubSpot: a subscription removed, one added, a definition renamed.
    first = min(hubspot.subscriptions)
    assert (await vendors.developer("DELETE", f"/webhooks/v3/1/subscriptions/{first}")
            ).status_code == 204
    assert (await vendors.developer("POST", "/webhooks/v3/1/subscriptions", {
        "eventType": "company.propertyChange", "propertyName": "hs_lead_status",
        "active": True})).status_code == 201
    some = next(iter(hubspot.action_definitions))
    assert (await vendors.developer("PATCH", f"/automation/v4/actions/1/{some}", {
        "labels": {"en": {"actionName": "Renamed by hand"}}})).status_code == 200
    drift = await vendors.reconcile("kleer-hubspot", apply=False)
    assert states(drift) == {"ok": wanted - 2, "missing": 1, "extra": 1, "differs": 1}
    assert {r.state: r.name for r in drift[0].registrations if r.state != "ok"}["extra"] == \
        "company.propertyChange hs_lead_status"
    assert states(await vendors.reconcile("kleer-hubspot", apply=True)) == \
        {"ok": wanted - 2, "created": 1, "deleted": 1, "updated": 1}
    assert states(await vendors.reconcile("kleer-hubspot", apply=False)) == {"ok": wanted}


async def test_a_connection_without_the_app_s_key_says_what_to_set(vendors: Vendors) -> None:
    del vendors.environ["HUBSPOT_DEVELOPER_KEY"]
    [report] = await vendors.reconcile("kleer-hubspot", apply=True)
    assert report.error is not None and "HUBSPOT_DEVELOPER_KEY" in report.error
    assert "webhooks" in report.error and not report.registrations


async def test_check_compares_without_the_webhook_secret_connect_needs_it(
        vendors: Vendors) -> None:
    del vendors.environ["CINODE_WEBHOOK_SECRET"]
    assert states(await vendors.reconcile("kleer-cinode", apply=False)) == {"missing": 1}
    [report] = await vendors.reconcile("kleer-cinode", apply=True)
    assert report.error is not None and "CINODE_WEBHOOK_SECRET" in report.error
    assert vendors.cinode.store.webhooks == {}
