"""A real cluster for the scale-out tests: PostgreSQL, worker subprocesses, a server.

Each test gets a schema of its own in the database `SPECSYNC_TEST_POSTGRES_DSN` names
(state, procrastinate's tables and the rate budgets all live in it) and drops it after.
Workers and `serve --distributed` are `python -m engine` subprocesses, sandboxes are
uvicorn servers on loopback, so processes share nothing but PostgreSQL and HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
PG_DSN = os.environ.get("SPECSYNC_TEST_POSTGRES_DSN")

# Quick reactions for tests: a tick a second, a worker silent for 4 s is dead.
TUNING = {"SPECSYNC_QUEUE_TICK_SECONDS": "1", "SPECSYNC_QUEUE_STALL_SECONDS": "4",
          "SPECSYNC_QUEUE_HEARTBEAT_SECONDS": "1", "SPECSYNC_QUEUE_COALESCE_SECONDS": "1",
          "SPECSYNC_QUEUE_POLL_SECONDS": "0.3"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if PG_DSN:
        return
    skip = pytest.mark.skip(reason="scale-out tests need PostgreSQL: set "
                            "SPECSYNC_TEST_POSTGRES_DSN=postgresql://postgres@127.0.0.1/test")
    for item in items:
        if "tests/scale/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A `postgresql://...?schema=...` state URL on a fresh schema, dropped afterwards."""
    import psycopg

    assert PG_DSN is not None
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    separator = "&" if "?" in PG_DSN else "?"
    yield f"{PG_DSN}{separator}schema={schema}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Cluster:
    """Subprocesses of one test: workers and servers, stopped at the end."""

    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    files: list[Any] = field(default_factory=list)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        self.files.append(log)
        process = subprocess.Popen([sys.executable, "-m", "engine", *args], env=self.env,
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def worker(self, spec: str, state: str, name: str, *extra: str,
               concurrency: int = 2) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker", spec, "--state", state, "--name", name,
                                  "--concurrency", str(concurrency), *extra])

    def server(self, spec: str, state: str, *extra: str) -> str:
        port = free_port()
        self._start("serve", ["serve", spec, "--distributed", "--state", state,
                              "--port", str(port), *extra])
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), 90, "serve --distributed did not start")
        return url

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for file in self.files:
            file.close()


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], object], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    env = {**os.environ, **TUNING, "SPECSYNC_ALLOW_LOOPBACK": "1"}
    running = Cluster(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()
