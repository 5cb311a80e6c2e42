"""One rate budget per credential across worker processes: no 429, the limit used.

Four tenants of maconomy-cinode, each with its own Maconomy and Cinode sandbox (so
their records never meet), all on ONE Cinode credential. The vendor counts that
credential's requests together: a shared limiter in front of the four Cinode sandboxes
plays that, 40 requests per fixed 2-second window as Cinode documents, with Cinode's
`x-ratelimit-*` headers, and answers 429 past it. Four `specsync worker` processes run
the tenants' first (writing) runs at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import RateLimiter, SandboxConfig
from engine.sandbox.platform.clock import SystemClock
from engine.sandbox.serve import serve_in_thread
from tests.scale.conftest import Cluster, wait_for
from tests.scale.support import MACONOMY_CINODE, maconomy_cinode_env, queue_idle, request_runs, runs

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LIMIT, WINDOW = 40, 2.0
TENANTS = 4

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class VendorLimit:
    """One credential's limit across several sandbox instances; counts what it saw."""

    def __init__(self) -> None:
        self.limiter = RateLimiter(LIMIT, WINDOW, SystemClock())
        self.allowed: list[float] = []
        self.refused = 0
        self._lock = threading.Lock()

    def wrap(self, app: ASGI) -> ASGI:
        async def limited(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and "token" not in scope["path"]:
                decision = self.limiter.check("credential")
                with self._lock:
                    if not decision.allowed:
                        self.refused += 1
                    else:
                        self.allowed.append(time.time())
                # Cinode's own headers, for the credential as a whole.
                headers = [(b"x-ratelimit-limit", str(decision.limit).encode()),
                           (b"x-ratelimit-remaining", str(decision.remaining).encode()),
                           (b"x-ratelimit-reset", f"{decision.reset_seconds:.3f}".encode())]
                if not decision.allowed:
                    await send({"type": "http.response.start", "status": 429,
                                "headers": [*headers, (b"retry-after", b"2")]})
                    await send({"type": "http.response.body", "body": b"{}"})
                    return

                async def send_with_headers(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        message = {**message, "headers": [*message.get("headers", []),
                                                          *headers]}
                    await send(message)

                await app(scope, receive, send_with_headers)
                return
            await app(scope, receive, send)

        return limited


@pytest.mark.xfail(strict=False, reason=(
    "known defect, not yet found: under four worker processes some requests still get "
    "429 from the shared fixed-window limit (a wider margin did not remove them); see the "
    "scale-out report"))
@pytest.mark.scenario("S13", "S14")
def test_four_workers_share_one_budget_without_a_429_and_use_the_limit(
        cluster: Cluster, pg_url: str, tmp_path: Path) -> None:
    vendor = VendorLimit()
    servers = []
    lines = ["tenants:"]
    try:
        for n in range(TENANTS):
            maconomy = MaconomySandbox(SandboxConfig(records=60, rate_limits=False))
            cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False))
            m = serve_in_thread(maconomy.app)
            c = serve_in_thread(vendor.wrap(cinode.app))
            servers += [m, c]
            env = maconomy_cinode_env(m.__enter__(), c.__enter__())
            lines.append(f"  t{n}:\n    environment:")
            lines += [f"      {k}: {v!r}" for k, v in env.items()]
        tenants = tmp_path / "tenants.yaml"
        tenants.write_text("\n".join(lines) + "\n")
        for n in range(4):
            cluster.worker(MACONOMY_CINODE, pg_url, f"w{n}", "--tenants", str(tenants),
                           concurrency=1)
        request_runs(MACONOMY_CINODE, pg_url, {}, [(f"t{n}:maconomy-cinode", "customers")
                                                  for n in range(TENANTS)],
                     tenants=str(tenants))
        wait_for(lambda: len(runs(pg_url)) >= TENANTS and queue_idle(pg_url), 180,
                 "the tenants' runs did not finish")
    finally:
        for server in reversed(servers):
            server.__exit__(None, None, None)

    found = runs(pg_url)
    assert {r.status for r in found} == {"success"}, [(r.integration, r.status, r.error)
                                                      for r in found]
    assert all(r.counts.get("create", 0) == 60 for r in found)
    assert vendor.refused == 0
    # Utilisation: requests over the busy span against what the limit allows in it.
    first, last = min(vendor.allowed), max(vendor.allowed)
    windows = (int(last // WINDOW) - int(first // WINDOW)) + 1
    used = len(vendor.allowed) / (windows * LIMIT)
    assert used >= 0.9, f"{len(vendor.allowed)} requests in {windows} windows: {used:.0%}"
