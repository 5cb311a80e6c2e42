"""A runner paused (SIGSTOP) while a write is in flight finishes it on waking (S4).

`specsync run` runs as a real subprocess against Cinode's sandbox behind a real HTTP
server that applies one customer create and then holds its answer until told. The
runner is stopped while that answer is held, so the create has landed in Cinode and
the runner has not heard of it. Then:

- resumed as it was (nobody else ran), the runner hears the answer and commits the
  link: its run succeeds and every customer exists once;
- or, first, its lease expires and another runner takes the sync over (finding and
  adopting the landed create by its external id); resumed, the stale runner's commit
  is refused by the fencing epoch and it stops without beginning another write.

Either way the next run creates nothing: the landed write is neither duplicated nor
lost.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import Faults, SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.spec.load import load_spec
from engine.state import open_store
from engine.sync.lease import LEASE_TTL
from engine.sync.pipeline import run_sync
from engine.sync.runtime import Runtime
from tests.sync.test_crash import _env
from tests.sync.test_graceful_stop import _run, _small_batches

pytestmark = pytest.mark.e2e

RECORDS = 40
HELD = 12  # the 12th customer create is applied, and its answer held
CREATE = re.compile(r"/customers$")
WRITES = ("POST", "PUT", "PATCH", "DELETE")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class HoldOneAnswer:
    """An ASGI wrapper: the `nth` customer create is applied by the sandbox as usual, and
    its answer is held until `release` is set (`applied` says when it landed)."""

    def __init__(self, app: Callable[..., Awaitable[None]], nth: int) -> None:
        self.app = app
        self.nth = nth
        self.seen = 0
        self.applied = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or \
                not CREATE.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        self.seen += 1
        if self.seen != self.nth:
            await self.app(scope, receive, send)
            return
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)  # the create lands in Cinode
        self.applied.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        for message in answer:
            await send(message)


@pytest.mark.scenario("S4")
@pytest.mark.parametrize("taken_over", [False, True], ids=["resumed", "taken-over"])
async def test_a_write_in_flight_when_paused_is_finished_or_fenced_never_doubled(
        tmp_path: Path, taken_over: bool) -> None:
    maconomy = MaconomySandbox(SandboxConfig(records=RECORDS, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False,
                                         faults=Faults(latency_ms=5, seed=1)))
    held = HoldOneAnswer(cinode.app, HELD)
    state = tmp_path / "state.db"
    spec_path = _small_batches(tmp_path)

    def created() -> list[dict[str, Any]]:
        return [c for c in cinode.customers.iter() if c.get("identification")]

    def writes() -> int:
        return sum(1 for e in cinode.requests if e.method in WRITES
                   and re.search(r"/customers(/\d+)?$", e.path))

    with serve_in_thread(maconomy.app) as maconomy_url, serve_in_thread(held) as cinode_url:
        env = _env(SandboxConfig(), maconomy_url, cinode_url)
        runner = _run(env, spec_path, state)
        try:
            assert held.applied.wait(120), runner.communicate()
            runner.send_signal(signal.SIGSTOP)  # its create landed; its answer is held
            landed = {c["identification"] for c in created()}
            assert len(landed) >= HELD
            report = None
            if taken_over:
                # Another runner, its clock past the stopped runner's lease, takes over.
                later = datetime.now(UTC) + timedelta(seconds=LEASE_TTL + 60)
                with open_store(str(state)) as store:
                    runtime = Runtime(spec=load_spec(spec_path), store=store, environ=env,
                                      clock=lambda: later)
                    try:
                        report = await run_sync(runtime, "customers")
                    finally:
                        await runtime.aclose()
                assert report.outcome == "success", report.error
                assert report.counts["create"] + report.counts["adopt"] == \
                    RECORDS - report.counts["skip"]
            before_resume = writes()
        finally:
            held.release.set()  # the answer goes out, into the stopped runner's socket
            runner.send_signal(signal.SIGCONT)
        _, err = runner.communicate(timeout=120)
        assert "Traceback" not in err

        if taken_over:
            assert runner.returncode == 1, err
            assert "was lost to a newer holder" in err or "lease was taken over" in err, err
            # at most the address of the create it had begun (a create is two requests)
            assert writes() - before_resume <= 1
        else:
            assert runner.returncode == 0, err

        # The next run, reading everything, finds everything linked: nothing created
        # twice, nothing lost.
        with open_store(str(state)) as store:
            runtime = Runtime(spec=load_spec(spec_path), store=store, environ=env)
            try:
                again = await run_sync(runtime, "customers", full=True)
            finally:
                await runtime.aclose()
    assert again.outcome == "success", again.error
    # linked already: by the resumed runner's own commit, or by the runner that took over
    assert again.counts["create"] == again.counts["adopt"] == 0, again.counts
    assert again.counts["skip"] == RECORDS, again.counts
    numbers = sorted(c["customernumber"] for c in maconomy.customers.iter())
    assert sorted(c["identification"] for c in created()) == numbers  # each exactly once
    with open_store(str(state)) as store:
        assert store.count_links("maconomy-cinode", "customers") == RECORDS
        statuses = sorted(r.status for r in store.list_runs())
    assert statuses == (["failed", "success", "success"] if taken_over
                        else ["success", "success"])
