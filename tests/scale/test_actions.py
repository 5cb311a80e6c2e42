"""Workflow actions as jobs: `serve --distributed` answers pending, a worker executes.

HubSpot's sandbox fires a signed execution at the distributed server over loopback; the
server claims it and defers its job in one transaction and answers BLOCK; a `specsync
worker` process creates the Cinode customer and completes the execution through
HubSpot's callback. HubSpot's retries of the same execution never write twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from tests.runner.conftest import (
    ACCESS_ID,
    ACCESS_SECRET,
    ENVIRON,
    HUBSPOT_SECRET,
    HUBSPOT_TOKEN,
    SPEC,
)
from tests.scale.conftest import Cluster, wait_for
from tests.scale.support import jobs, queue_idle, workers_ready

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_an_action_is_answered_pending_and_executed_once_by_a_worker(
        cluster: Cluster, pg_url: str) -> None:
    credentials = CinodeCredentials(access_id=ACCESS_ID, access_secret=ACCESS_SECRET)
    crm = CinodeSandbox(SandboxConfig(records=3, rate_limits=False), credentials)
    delivery = CinodeSandbox(SandboxConfig(records=0, rate_limits=False), credentials)
    hubspot = HubSpotSandbox(SandboxConfig(records=3, rate_limits=False),
                             HubSpotCredentials(token=HUBSPOT_TOKEN,
                                                client_secret=HUBSPOT_SECRET))
    with serve_in_thread(crm.app) as crm_url, serve_in_thread(delivery.app) as delivery_url, \
            serve_in_thread(hubspot.app) as hubspot_url:
        cluster.env.update({**ENVIRON, "CRM_URL": crm_url, "DELIVERY_URL": delivery_url,
                            "HUBSPOT_URL": hubspot_url})
        server = cluster.server(str(SPEC), pg_url)
        company = next(iter(hubspot.records("companies")))
        definition = hubspot.define_action({
            "actionUrl": f"{server}/actions/mirror/create_customer",
            "objectTypes": ["COMPANY"],
            "objectRequestOptions": {"properties": ["name", "domain"]},
            "inputFields": [{"typeDefinition": {"name": "segment", "type": "string"}}]})

        async def fire() -> Any:
            execution = await hubspot.fire_action(str(definition["id"]), company["id"],
                                                  input_fields={"segment": "Enterprise"})
            await asyncio.to_thread(lambda: None)
            return execution

        execution = asyncio.run(fire())
        [first] = execution.attempts
        assert first["status"] == 200, first
        assert first["response"] == {"outputFields": {"hs_execution_state": "BLOCK"}}
        [job] = [j for j in jobs(pg_url) if j["task"] == "specsync.action"]
        assert job["status"] == "todo"  # no worker yet: the job waits, durable

        cluster.worker(str(SPEC), pg_url, "w1")
        wait_for(lambda: workers_ready(pg_url, 1), 60, "the worker did not start")
        wait_for(lambda: bool(execution.completions) and queue_idle(pg_url), 90,
                 "the worker did not complete the execution")

        created = [c for c in crm.customers.iter()
                   if c.get("identification") == f"hs-{company['id']}"]
        assert len(created) == 1
        assert created[0]["description"] == "Enterprise"
        [completion] = execution.completions
        assert completion["hs_execution_state"] == "SUCCESS"
        assert completion["crm_customer_id"] == str(created[0]["id"])

        # HubSpot retries the very same execution: the stored answer, no second write.
        import httpx

        retried = httpx.post(f"{hubspot_url}/_sandbox/actions/executions/"
                             f"{execution.callback_id}/retry", timeout=30)
        assert retried.status_code == 200
        assert execution.attempts[-1]["response"]["outputFields"]["crm_customer_id"] == \
            str(created[0]["id"])
        assert len([c for c in crm.customers.iter()
                    if c.get("identification") == f"hs-{company['id']}"]) == 1
    for name in ("w1", "serve"):
        assert "Traceback" not in cluster.log(name), cluster.log(name)[-3000:]
