"""A fifth system, added from outside the engine, runs through every command (issue 10).

`tests/fifth_vendor` holds `toyvendor`, a made-up help desk packaged as a third party
would package it, with a `toyvendor-0.1.dist-info` whose entry points declare its Vendor
(`specsync.adapters`) and its sandbox (`specsync.sandboxes`). Putting that folder on
PYTHONPATH is all it takes: the real CLI, run in subprocesses, validates, tests, plans,
runs and serves its spec (tests/fifth_vendor/spec) against two toy sandboxes served on
loopback, webhooks and a workflow action included, and `sandbox up` serves it too.

The pytest process itself never puts the folder on sys.path for longer than an import,
so the vendor stays invisible to the entry point registry of every other test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from engine.adapters.base import ActionOutcome, AdapterContext, ConnectionConfig
from engine.adapters.ratelimit import RateBudgets
from engine.redact import Redactor
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread

ROOT = Path(__file__).parents[1]
FIFTH = Path(__file__).parent / "fifth_vendor"
SPEC = FIFTH / "spec" / "spec.yaml"
INTEGRATION = "toy-escalation"
MIN_PRIORITY = 3  # the spec's setup.min_priority

pytestmark = pytest.mark.e2e


def _import_toyvendor() -> SimpleNamespace:
    """The toyvendor modules, imported with FIFTH on sys.path only for the import."""
    sys.path.insert(0, str(FIFTH))
    try:
        import toyvendor
        from toyvendor import actions, sandbox, signing
    finally:
        sys.path.remove(str(FIFTH))
    return SimpleNamespace(package=toyvendor, actions=actions, sandbox=sandbox,
                           signing=signing)


@pytest.fixture(scope="module")
def toy() -> SimpleNamespace:
    return _import_toyvendor()


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(FIFTH), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def specsync(*args: str, env: dict[str, str], cwd: Path,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess: `python -m engine ARGS`."""
    return subprocess.run([sys.executable, "-m", "engine", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample in `text` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                return sample.value
    return 0.0


def poll(what: Callable[[], Any], timeout: float = 60.0) -> Any:
    """`what()` once it is truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(0.1)


class Desks(SimpleNamespace):
    """The two toy workspaces on loopback and the environment the spec reads them with."""

    support: Any
    escalation: Any
    support_url: str
    escalation_url: str
    env: dict[str, str]

    def tickets(self, sandbox: Any) -> list[dict[str, Any]]:
        return list(sandbox.records["tickets"])

    def escalated(self) -> dict[str, dict[str, Any]]:
        """Escalation tickets by the support ticket number they carry."""
        return {t["external_ref"]: t for t in self.tickets(self.escalation)
                if t.get("external_ref")}

    def writes(self, sandbox: Any) -> list[str]:
        return [f"{e.method} {e.path}" for e in sandbox.requests
                if e.method in ("POST", "PATCH") and e.path.startswith("/api/")]


@pytest.fixture(scope="module")
def desks(toy: SimpleNamespace) -> Iterator[Desks]:
    credentials = toy.sandbox.ToyCredentials
    support = toy.sandbox.ToySandbox(SandboxConfig(seed=3, records=12), credentials(
        api_key="support-api-key", webhook_secret="support-webhook-secret"))
    escalation = toy.sandbox.ToySandbox(SandboxConfig(seed=4, records=0), credentials(
        api_key="escalation-api-key", webhook_secret="escalation-webhook-secret"))
    with serve_in_thread(support.app) as support_url, \
            serve_in_thread(escalation.app) as escalation_url:
        env = _env(SPECSYNC_ALLOW_LOOPBACK="1",
                   SUPPORT_URL=support_url, SUPPORT_API_KEY="support-api-key",
                   SUPPORT_WEBHOOK_SECRET="support-webhook-secret",
                   ESCALATION_URL=escalation_url, ESCALATION_API_KEY="escalation-api-key")
        yield Desks(support=support, escalation=escalation, support_url=support_url,
                    escalation_url=escalation_url, env=env)


def _urgent(ticket: dict[str, Any]) -> bool:
    """The spec's filter, worked out here: not closed, priority at least 3."""
    return ticket["status"] != "closed" and ticket["priority"] >= MIN_PRIORITY


# ------------------------------------------------------------------ validate and test


def test_validate_finds_the_vendor_through_its_entry_point_only(tmp_path: Path) -> None:
    env = _env()
    ok = specsync("validate", str(SPEC), env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "1 spec valid" in ok.stderr

    typo = tmp_path / "spec.yaml"
    typo.write_text(SPEC.read_text().replace("requester_email: {value:",
                                             "requester_emial: {value:", 1))
    bad = specsync("validate", str(typo), env=env, cwd=tmp_path)
    assert bad.returncode == 1
    assert "error[spec.unknown-target-field]: `requester_emial` is not a field of toy " \
           "`tickets`" in bad.stderr
    assert "did you mean `requester_email`?" in bad.stderr  # from the toy catalog

    without = specsync("validate", str(SPEC), env={**os.environ}, cwd=tmp_path)
    assert without.returncode == 1
    assert "no adapter named `toy` is installed" in without.stderr

    tests = specsync("test", str(SPEC.parent), env=env, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed, 0 failed" in tests.stdout + tests.stderr


# ------------------------------------------------------------------ plan, run and serve


class Served:
    """`specsync serve` in a subprocess; stderr (JSON logs) is drained on a thread."""

    def __init__(self, env: dict[str, str], state: Path, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", str(SPEC), "--port", "0", "--state",
             str(state), "--json-logs", "--log-level", "INFO"],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._port: int | None = None
        self._ready = threading.Event()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("message") == "specsync serve is listening":
                    self._port = int(record["port"])
                    self._ready.set()
        self._ready.set()

    def url(self) -> str:
        assert self._ready.wait(60), "serve did not start"
        assert self._port is not None, "".join(self.lines[-20:])
        return f"http://127.0.0.1:{self._port}"

    def stop(self) -> int:
        """SIGTERM (a graceful stop), then the exit status; the log is read to its end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        self._drainer.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code


def test_plan_run_and_serve_the_fifth_vendor(desks: Desks, toy: SimpleNamespace,
                                             tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    tickets = desks.tickets(desks.support)
    urgent = sorted(str(t["id"]) for t in tickets if _urgent(t))
    assert urgent and len(urgent) < len(tickets)  # the filter has something to do

    # plan: the creates, field by field, and nothing written
    plan = specsync("plan", str(SPEC), "--state", str(state), env=desks.env, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert f"{INTEGRATION}/tickets: {len(urgent)} to create" in plan.stdout
    for key in urgent:
        assert f"+ create {key}\n" in plan.stdout
    first = next(t for t in tickets if str(t["id"]) == urgent[0])
    assert f'subject: "[support #{first["id"]}] {first["subject"]}"' in plan.stdout
    assert desks.writes(desks.escalation) == []

    # run: writes them; the escalated tickets are what the templates say
    run = specsync("run", str(SPEC), "--state", str(state), "-q", env=desks.env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    escalated = desks.escalated()
    assert sorted(escalated) == urgent
    for ticket in tickets:
        if _urgent(ticket):
            copy = escalated[str(ticket["id"])]
            assert copy["subject"] == f"[support #{ticket['id']}] {ticket['subject']}"
            assert copy["requester_email"] == ticket["requester_email"].lower()
            assert copy["tags"] == [*ticket["tags"], "escalated"]
            assert (copy["status"], copy["priority"]) == (ticket["status"], ticket["priority"])
    assert any(t["requester_email"] != t["requester_email"].lower() for t in tickets)

    # a second run writes nothing
    desks.escalation.requests.clear()
    again = specsync("run", str(SPEC), "--state", str(state), "-q", env=desks.env,
                     cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert desks.writes(desks.escalation) == []

    served = Served(desks.env, state, tmp_path)
    try:
        with httpx.Client(timeout=30) as http:
            _serve_webhooks_and_an_action(served.url(), desks, toy, http)
    finally:
        code = served.stop()
    assert code == 0, "".join(served.lines[-30:])
    log = "".join(served.lines)
    assert "support-webhook-secret" not in log and "escalation-api-key" not in log


def _serve_webhooks_and_an_action(base: str, desks: Desks, toy: SimpleNamespace,
                                  http: httpx.Client) -> None:
    """What `serve` does for the toy vendor: webhooks (signed or not) and an action."""
    tickets = desks.tickets(desks.support)
    changed = min((t for t in tickets if _urgent(t)), key=lambda t: t["id"])["id"]
    raised = next(t for t in tickets if t["status"] != "closed"
                  and t["priority"] < MIN_PRIORITY)["id"]
    hook = f"{base}/webhooks/{INTEGRATION}/support"
    http.post(f"{desks.support_url}/_sandbox/webhooks/register",
              json={"url": hook}).raise_for_status()

    # a change in support reaches the escalated ticket through a signed webhook
    http.patch(f"{desks.support_url}/_sandbox/records/tickets/{changed}",
               json={"subject": "Cannot log in at all"}).raise_for_status()
    poll(lambda: desks.escalated()[str(changed)]["subject"]
         == f"[support #{changed}] Cannot log in at all")

    # a ticket raised above the filter's bar is escalated on its webhook
    http.patch(f"{desks.support_url}/_sandbox/records/tickets/{raised}",
               json={"priority": 4}).raise_for_status()
    poll(lambda: str(raised) in desks.escalated())
    delivered = [d for d in desks.support.webhooks.log if d.url == hook]
    assert [d.status for d in delivered] == [200, 200]
    # ... and it was those webhooks, not the hourly schedule, that ran the sync
    metrics = http.get(f"{base}/metrics").text
    assert metric(metrics, "specsync_webhook_events_total", connection="support",
                  outcome="stored") == 2
    assert metric(metrics, "specsync_runs_total", trigger="webhook", outcome="success") >= 1

    # deliveries signed with another secret, or not at all, are refused
    body = json.dumps({"delivery": "dlv_x", "events": [{
        "id": "evt_x", "topic": "ticket.updated", "data": {"id": changed}}]}).encode()
    forged = toy.signing.sign("not-the-secret", body, int(time.time()))
    for headers in ({"Toy-Signature": forged}, {}):
        refused = http.post(hook, content=body, headers=headers)
        assert refused.status_code == 401, refused.text

    # an automation rule on support creates a note on the escalated ticket and is
    # answered in Toy Desk's own shape
    fired = http.post(f"{desks.support_url}/_sandbox/automations/fire", timeout=60, json={
        "url": f"{base}/actions/{INTEGRATION}/add_note", "ticket_id": changed,
        "rule": "add_note", "params": {"text": "Customer called again"}}).json()
    assert fired["status"] == 200, fired
    answer = fired["answer"]
    if answer["outcome"] == "running":  # slower than the runner's wait: it reports back
        answer = poll(lambda: desks.support.run_results.get(fired["run_id"]), timeout=60)
    target = desks.escalated()[str(changed)]
    assert answer["outcome"] == "done", answer
    assert answer["values"]["escalated_ticket"] == target["id"]
    note = desks.escalation.records["notes"].get(answer["values"]["note_id"])
    assert note is not None
    assert (note["ticket_id"], note["body"], note["author"]) == (
        target["id"], "Customer called again", "support automation")


# ------------------------------------------------------------------ sandbox up


def test_sandbox_up_serves_the_toy_sandbox(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "sandbox", "up", "--records", "3"],
        env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exports: dict[str, str] = {}
    banner: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value
            if line.startswith("# Ctrl-C"):
                break
        assert exports.get("TOY_URL", "").startswith("http://127.0.0.1:"), "".join(banner)
        assert exports["TOY_API_KEY"] and exports["TOY_WEBHOOK_SECRET"]
        assert "# toy\n" in banner
        listed = httpx.get(f"{exports['TOY_URL']}/api/tickets", headers={
            "Authorization": f"Bearer {exports['TOY_API_KEY']}"})
        assert listed.status_code == 200
        assert listed.json()["total"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    errors = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == 0, errors


# ------------------------------------------------------------------ the package's parts


def test_signatures_are_checked_for_secret_body_and_age(toy: SimpleNamespace) -> None:
    from datetime import UTC, datetime

    sign, check = toy.signing.sign, toy.signing.check
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    stamp = int(now.timestamp())
    header = sign("s3cret", b"{}", stamp)
    assert check("s3cret", b"{}", header, now) is None
    assert check("s3cret", b"{ }", header, now) == "the signature does not match"
    assert check("other", b"{}", header, now) == "the signature does not match"
    assert "5 minutes" in (check("s3cret", b"{}", sign("s3cret", b"{}", stamp - 301), now)
                           or "")
    assert "5 minutes" in (check("s3cret", b"{}", sign("s3cret", b"{}", stamp + 301), now)
                           or "")
    assert check("s3cret", b"{}", "t=1,v1=zz", now) is not None
    assert check("s3cret", b"{}", None, now) == "missing the Toy-Signature header"
    assert "s3cret" not in (check("s3cret", b"{ }", header, now) or "")


async def test_a_running_automation_run_is_finished_through_the_callback(
        toy: SimpleNamespace) -> None:
    sandbox = toy.sandbox.ToySandbox(SandboxConfig(records=2))
    protocol = toy.actions.ToyActions()
    execution = protocol.parse(json.dumps({"run_id": "run_9", "ticket": {"id": 1},
                                           "params": {"text": "hi"}}).encode())
    assert (execution.execution_id, execution.object_id, dict(execution.inputs)) == (
        "run_9", "1", {"text": "hi"})
    assert protocol.answer(ActionOutcome("pending")) == {"outcome": "running", "values": {}}
    config = ConnectionConfig("support", "toy", "http://toy.test",
                              {"api_key": sandbox.credentials.api_key})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://toy.test") as client:
        adapter = toy.package.VENDOR.adapter(config, client,
                                             AdapterContext(RateBudgets(), Redactor()))
        await protocol.complete(adapter, execution,
                                ActionOutcome("failed", error="no escalated ticket"))
    assert sandbox.run_results == {
        "run_9": {"outcome": "failed", "values": {}, "reason": "no escalated ticket"}}


def test_the_engine_does_not_name_the_fifth_vendor() -> None:
    """Nothing in the engine or the project's metadata names the package: it is found
    through its own dist-info alone (the validate test shows it is not found without)."""
    named = [str(path.relative_to(ROOT)) for path in (ROOT / "engine").rglob("*")
             if path.is_file() and path.suffix in (".py", ".json", ".lark", ".toml")
             and ("toyvendor" in path.read_text(encoding="utf-8")
                  or "Toy Desk" in path.read_text(encoding="utf-8"))]
    assert named == []
    assert "toyvendor" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    entry_points = (FIFTH / "toyvendor-0.1.dist-info" / "entry_points.txt").read_text()
    assert "[specsync.adapters]\ntoy = toyvendor:VENDOR" in entry_points
    assert "[specsync.sandboxes]\ntoy = toyvendor.sandbox:ToySandbox" in entry_points
