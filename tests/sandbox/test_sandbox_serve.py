"""`specsync sandbox up`: all four simulators on loopback, the printed exports work."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine.sandbox.platform import Faults, FaultsError, SandboxConfig
from engine.sandbox.serve import (
    RunningSandboxes,
    build_sandboxes,
    curl_examples,
    environment,
    run_sandboxes,
    serve_in_thread,
    serve_sandboxes,
)

URLS = {"kleer": "http://127.0.0.1:1001", "cinode": "http://127.0.0.1:1002",
        "maconomy": "http://127.0.0.1:1003", "hubspot": "http://127.0.0.1:1004"}


def test_exports_and_examples(snapshot) -> None:
    sandboxes, notes = build_sandboxes(SandboxConfig(records=1))
    assert notes == [] and sorted(sandboxes) == sorted(URLS)
    text = "\n".join(f"export {k}={v}" for k, v in environment(URLS, sandboxes))
    text += "\n" + "\n".join(curl_examples(URLS, sandboxes))
    assert text == snapshot
    names = [k for k, _ in environment(URLS, sandboxes)]
    for required in ("KLEER_URL", "KLEER_TOKEN", "KLEER_COMPANY_ID", "CINODE_URL",
                     "CINODE_ACCESS_ID", "CINODE_ACCESS_SECRET", "CINODE_COMPANY_ID",
                     "MACONOMY_URL", "MACONOMY_USER", "MACONOMY_PASSWORD", "MACONOMY_SHORTNAME",
                     "HUBSPOT_URL", "HUBSPOT_TOKEN", "HUBSPOT_CLIENT_SECRET"):
        assert required in names
    # every variable a seed spec refers to, webhook secrets included
    specs = Path(__file__).parents[2] / "specs"
    referenced = {m for path in specs.glob("*/spec.yaml")
                  for m in re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text())}
    assert "CINODE_WEBHOOK_SECRET" in referenced and referenced <= set(names)
    only = environment({"maconomy": URLS["maconomy"]}, sandboxes)
    assert [k for k, _ in only] == ["SPECSYNC_ALLOW_LOOPBACK", "MACONOMY_URL", "MACONOMY_USER",
                                    "MACONOMY_PASSWORD",
                                    "MACONOMY_SHORTNAME"]


async def test_serve_sandboxes_runs_all_four_on_loopback() -> None:
    stop = asyncio.Event()
    seen: list[RunningSandboxes] = []
    task = asyncio.create_task(serve_sandboxes(SandboxConfig(records=5), stop=stop,
                                               ready=seen.append))
    while not seen and not task.done():
        await asyncio.sleep(0.02)
    running = seen[0]
    assert running.notes == [] and set(running.urls) == {"kleer", "cinode", "maconomy",
                                                         "hubspot"}
    assert len(set(running.urls.values())) == 4
    async with httpx.AsyncClient() as client:
        for name, url in running.urls.items():
            health = await client.get(f"{url}/_sandbox/health")
            assert health.status_code == 200 and health.json()["vendor"] == name
    stop.set()
    await asyncio.wait_for(task, 10)


def test_run_sandboxes_prints_working_exports_and_stops_on_ctrl_c() -> None:
    code = "from engine.sandbox.serve import run_sandboxes; run_sandboxes(records=7, seed=3)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        env = dict(re.findall(r"^export (\w+)=(.*)$", "".join(lines), re.M))
        assert lines[0].startswith("# specsync sandboxes: seed 3, 7 records each, faults: none")
        with httpx.Client() as client:
            filtered = client.get(
                f"{env['MACONOMY_URL']}/containers/v1/{env['MACONOMY_SHORTNAME']}"
                "/customercard/filter", params={"limit": 100},
                auth=(env["MACONOMY_USER"], env["MACONOMY_PASSWORD"]))
            assert filtered.json()["panes"]["filter"]["meta"]["rowCount"] == 7
            kleer = client.get(f"{env['KLEER_URL']}/v1/company/{env['KLEER_COMPANY_ID']}/client",
                               headers={"X-Token": env["KLEER_TOKEN"],
                                        "Content-Type": "application/json"})
            assert kleer.status_code == 200
            token = client.get(f"{env['CINODE_URL']}/token",
                               auth=(env["CINODE_ACCESS_ID"], env["CINODE_ACCESS_SECRET"]))
            assert token.status_code == 200 and "access_token" in token.json()
            hubspot = client.get(f"{env['HUBSPOT_URL']}/crm/v3/objects/companies",
                                 headers={"Authorization": f"Bearer {env['HUBSPOT_TOKEN']}"})
            assert hubspot.status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "sandboxes stopped" in out
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def test_bad_fault_spec_fails_before_starting() -> None:
    with pytest.raises(FaultsError, match="unknown fault 'lag'"):
        run_sandboxes(faults="lag=5")


def test_serve_in_thread_serves_one_app() -> None:
    from engine.sandbox.maconomy import MaconomySandbox

    sandbox = MaconomySandbox(SandboxConfig(records=3, faults=Faults()))
    with serve_in_thread(sandbox.app) as url:
        assert httpx.get(f"{url}/_sandbox/health").json()["customers"] == 3
