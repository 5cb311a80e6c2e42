"""`serve` as an operator runs it: a real process, real signals, logs on stderr."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.runner.conftest import ENVIRON, HUBSPOT_SECRET, SPEC

LAUNCH = """
import asyncio, sys
from engine.runner.serve import serve
code = asyncio.run(serve(sys.argv[1:2], port=0, state_url=sys.argv[2], json_logs=True,
                         grace_seconds=5, on_ready=lambda port: print(port, flush=True)))
sys.exit(code)
"""


def launch(spec: Path, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(spec), str(tmp_path / "state.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **ENVIRON})


def wait_for_port(proc: subprocess.Popen[str]) -> int:
    line = proc.stdout.readline() if proc.stdout else ""
    assert line.strip().isdigit(), (line, proc.stderr.read() if proc.stderr else "")
    return int(line)


def wait_for_log(path_lines: list[str], proc: subprocess.Popen[str], text: str) -> None:
    """Read stderr lines until one contains `text` (the process keeps running)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        path_lines.append(line)
        if text in line:
            return
    raise AssertionError(f"no log line with {text!r}: {path_lines[-5:]}")


def test_serve_reloads_on_sighup_and_stops_on_sigterm(tmp_path: Path) -> None:
    spec = tmp_path / "mirror.spec.yaml"
    shutil.copy(SPEC, spec)
    lines: list[str] = []
    with launch(spec, tmp_path) as proc:
        try:
            port = wait_for_port(proc)
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/readyz").json()["integrations"] == ["mirror"]
            now_ms = str(int(time.time() * 1000))
            forged = httpx.post(f"{base}/webhooks/mirror/hubspot", content=b"[]", headers={
                "x-hubspot-signature-v3": "AAAA", "x-hubspot-request-timestamp": now_ms})
            assert forged.status_code == 401

            spec.write_text(SPEC.read_text().replace("schedule: never", "schedule: sometimes", 1))
            proc.send_signal(signal.SIGHUP)
            wait_for_log(lines, proc, "reload refused")
            assert httpx.get(f"{base}/readyz").status_code == 200  # still serving the old specs

            spec.write_text(SPEC.read_text())
            proc.send_signal(signal.SIGHUP)
            wait_for_log(lines, proc, "specs reloaded")

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rest = proc.stderr.read() if proc.stderr else ""
    log = "".join(lines) + rest
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert "specsync serve is listening" in messages
    assert "webhook refused" in messages
    assert HUBSPOT_SECRET not in log


def test_serve_refuses_to_start_on_a_broken_spec(tmp_path: Path) -> None:
    spec = tmp_path / "mirror.spec.yaml"
    spec.write_text(SPEC.read_text().replace("target: delivery.customers",
                                             "target: delivery.custmers", 1))
    with launch(spec, tmp_path) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert "error[" in err and "custmers" in err


def test_a_missing_secret_is_one_plain_line_and_not_ready(tmp_path: Path) -> None:
    """Scheduled runs that cannot start say why in one line (no traceback), /readyz is
    503 naming every missing variable, and a secret that is a plain word ("sandbox")
    does not garble our own message text."""
    spec = Path(__file__).parents[2] / "specs" / "kleer-cinode"
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("CINODE_", "KLEER_", "SPECSYNC_"))}
    environ.update({"KLEER_URL": "https://kleer.invalid", "KLEER_TOKEN": "sandbox",
                    "KLEER_COMPANY_ID": "1", "CINODE_URL": "https://cinode.invalid",
                    "CINODE_ACCESS_ID": "sandbox", "CINODE_COMPANY_ID": "1"})
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-c", LAUNCH, str(spec), str(tmp_path / "s.db")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=environ) as proc:
        try:
            port = wait_for_port(proc)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 503
            problems = "\n".join(ready.json()["problems"])
            assert "CINODE_ACCESS_SECRET" in problems
            assert "CINODE_WEBHOOK_SECRET for its webhooks.secret" in problems
            wait_for_log(lines, proc, "scheduled run of kleer-cinode/")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rest = proc.stderr.read() if proc.stderr else ""
    records = [json.loads(line) for line in "".join(lines).splitlines() + rest.splitlines()
               if line.startswith("{")]
    failed = [r for r in records if r["message"].startswith("scheduled run of")]
    assert failed and all("exception" not in r and "Traceback" not in json.dumps(r)
                          for r in failed)
    assert "needs the environment variable(s) CINODE_ACCESS_SECRET" in failed[0]["message"]
    assert all("`specsync sandbox up`" in r["message"] for r in failed)
    assert not [r for r in records if r["message"].strip("'") == "CINODE_WEBHOOK_SECRET"]
