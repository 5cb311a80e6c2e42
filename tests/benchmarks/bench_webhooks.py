"""Load test of the webhook receiver: signed HubSpot events over loopback, none lost.

    python tests/benchmarks/bench_webhooks.py [--events 10000] [--rate 2000] [--batch 10]
                                              [--runs 3] [--no-worker] [--py-spy OUT]

Each run starts a fresh server PROCESS (this file with `--serve`): the runner app under
uvicorn on 127.0.0.1 (port 0), configured as `specsync serve` configures it
(`engine.runner.serve.server_config`), with a real SQLite state store in a temporary
directory and its inbox worker on; the worker re-reads companies from a HubSpot sandbox
and writes Cinode customers to a Cinode sandbox, both in the server process (through
httpx's ASGI transport, so their CPU is the server's too). This process only sends:
`--events` signed v3 deliveries of `--batch` events each at `--rate` events per second
(HubSpot batches up to 100 per POST), retrying like HubSpot (5xx, 429, no answer), then
waits until the inbox is empty, reading the state file.

Printed per run: events/s accepted, p50/p99/max time to answer (from the sender's
side, so a delivery waiting for a free connection counts), events processed end to
end, and whether every event was stored exactly once and processed (none lost); then
the median of each figure over the runs, and the load average before and after (the
machine is shared). Target: p99 < 50 ms at 2,000 events/s offered, nothing lost.
`--no-worker` (or BENCH_NO_WORKER=1) measures the receiver alone. `--py-spy OUT`
records the server of the first run with py-spy (speedscope JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.sandbox.hubspot import sign_v3  # noqa: E402
from tests.runner.conftest import HUBSPOT_SECRET  # noqa: E402


# -- the server process ---------------------------------------------------------------
async def _serve(state_dir: Path, companies: int, worker: bool) -> None:
    import uvicorn

    from engine.runner.app import build_app
    from engine.runner.serve import server_config
    from engine.sandbox.base import SandboxConfig
    from engine.sandbox.cinode import CinodeSandbox
    from engine.sandbox.hubspot import HubSpotSandbox
    from engine.state import SqliteStateStore
    from tests.runner.conftest import (
        ACCESS_ID,
        ACCESS_SECRET,
        ENVIRON,
        HUBSPOT_TOKEN,
        SPEC,
    )

    hubspot = HubSpotSandbox(SandboxConfig(records=companies, rate_limits=False,
                                           hubspot_token=HUBSPOT_TOKEN,
                                           hubspot_client_secret=HUBSPOT_SECRET))
    crm = CinodeSandbox(SandboxConfig(records=10, rate_limits=False,
                                      cinode_access_id=ACCESS_ID,
                                      cinode_access_secret=ACCESS_SECRET))
    ids = [str(c["id"]) for c in hubspot.records("companies")]
    store = SqliteStateStore(state_dir / "state.db")
    app = build_app([str(SPEC)], store=store, environ={**os.environ, **ENVIRON},
                    transports={"hubspot": httpx.ASGITransport(app=hubspot.app),
                                "crm": httpx.ASGITransport(app=crm.app)},
                    schedule=False, inbox=worker,
                    inbox_options={"batch_size": 5000, "idle_seconds": 0.2})
    times: list[float] = []

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        """Time each request inside the server (no network, no sender)."""
        started = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http" and scope["path"].startswith("/webhooks/"):
            times.append(time.perf_counter() - started)

    server = uvicorn.Server(server_config(timed, host="127.0.0.1", port=0, grace_seconds=30,
                                          log_level="warning"))
    if os.environ.get("BENCH_HTTP"):
        server.config.http = os.environ["BENCH_HTTP"]
    if os.environ.get("BENCH_LOOP"):
        server.config.loop = os.environ["BENCH_LOOP"]
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(json.dumps({"port": port, "companies": ids}), flush=True)

    watcher = loop.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        store.close()
        (state_dir / "server_times.json").write_text(json.dumps(times))


# -- the sender -----------------------------------------------------------------------
def delivery(first_id: int, count: int, companies: list[str]) -> bytes:
    now = int(time.time() * 1000)
    return json.dumps([
        {"eventId": first_id + i, "subscriptionId": 1000, "portalId": 1, "appId": 1,
         "occurredAt": now, "subscriptionType": "company.propertyChange", "attemptNumber": 0,
         "objectId": int(companies[(first_id + i) % len(companies)]),
         "changeSource": "CRM_UI", "sourceId": "userId:1", "propertyName": "name",
         "propertyValue": "x"} for i in range(count)], separators=(",", ":")).encode()


class Pool:
    """Keep-alive HTTP/1.1 connections over asyncio streams: a sender that stays cheap.

    httpx spends milliseconds of CPU per request once dozens are in flight, so with it
    the sender, not the server, set the figures. This speaks just enough HTTP/1.1 to
    POST and read a Content-Length answer.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(size)

    async def post(self, path: str, body: bytes, headers: dict[str, str],
                   timeout: float = 30.0) -> int:
        async with self.slots:
            conn = self.idle.pop() if self.idle else await asyncio.open_connection(
                self.host, self.port)
            reader, writer = conn
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                         f"content-length: {len(body)}\r\n{head}\r\n".encode() + body)
            try:
                async with asyncio.timeout(timeout):
                    status_line = await reader.readuntil(b"\r\n")
                    header_block = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in header_block.split(b"\r\n"):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError):
                writer.close()
                return 0  # no answer
            self.idle.append(conn)
            return int(status_line.split()[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def send_all(url: str, events: int, rate: float, batch: int,
                   companies: list[str]) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    statuses: list[int] = []
    parts = httpx.URL(url)
    pool = Pool(parts.host, parts.port or 80, size=64)

    async def one(first: int, count: int) -> None:
        body = delivery(first, count, companies)
        for attempt in range(6):  # HubSpot retries 5xx, 429 and timeouts
            ts = int(time.time() * 1000)
            headers = {"content-type": "application/json",
                       "x-hubspot-signature-v3": sign_v3(HUBSPOT_SECRET, "POST", url, body, ts),
                       "x-hubspot-request-timestamp": str(ts)}
            started = time.perf_counter()
            status = await pool.post(parts.raw_path.decode(), body, headers)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            if status == 200 or (400 <= status < 500 and status != 429):
                return
            await asyncio.sleep(0.5 * 2 ** attempt)

    interval = batch / rate
    begin = time.perf_counter()
    tasks = []
    for n, first in enumerate(range(1, events + 1, batch)):
        delay = begin + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(first, min(batch, events - first + 1))))
    await asyncio.gather(*tasks)
    pool.close()
    return latencies, statuses, time.perf_counter() - begin


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Result:
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    processed_per_s: float
    drained_s: float
    lost: int
    problem: bool


def inbox_depth(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM inbox WHERE status <> 'done'").fetchone()[0]
    finally:
        db.close()


def one_run(args: argparse.Namespace, worker: bool, py_spy: str | None) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    command = [sys.executable, __file__, "--serve", str(tmp), "--companies",
               str(args.companies)] + ([] if worker else ["--no-worker"])
    if py_spy:
        command = ["py-spy", "record", "--rate", "250", "--format", "speedscope",
                   "--threads", "-o", py_spy, "--", *command]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("{"):  # py-spy says hello first
            line = proc.stdout.readline()
        hello = json.loads(line)
        companies = hello["companies"]
        base = f"http://127.0.0.1:{hello['port']}"
        url = f"{base}/webhooks/mirror/hubspot"
        latencies, statuses, sent_seconds = asyncio.run(
            send_all(url, args.events, args.rate, args.batch, companies))
        accepted = min(args.events, sum(args.batch for s in statuses if s == 200))
        started = time.perf_counter()
        while worker and inbox_depth(tmp / "state.db") and \
                time.perf_counter() - started < 600:
            time.sleep(0.05)
        drained = time.perf_counter() - started
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
    finally:
        # py-spy forwards no signals: stop the server itself, it is py-spy's child.
        if py_spy:
            subprocess.run(["pkill", "-TERM", "-P", str(proc.pid)], check=False)
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = (children.ru_utime + children.ru_stime
                  - children_before.ru_utime - children_before.ru_stime)
    sender_cpu = own.ru_utime + own.ru_stime - self_before.ru_utime - self_before.ru_stime
    db = sqlite3.connect(tmp / "state.db")
    rows, done = db.execute("SELECT count(*), coalesce(sum(status = 'done'), 0) FROM inbox"
                            ).fetchone()
    runs = db.execute("SELECT count(*), coalesce(sum(status = 'success'), 0) FROM runs"
                      ).fetchone()
    db.close()
    inside = json.loads((tmp / "server_times.json").read_text())
    non_200 = sorted({s for s in statuses if s != 200})
    waits = [line for line in metrics.splitlines()
             if line.startswith("specsync_rate_limit_wait")]
    lost = args.events - (done if worker else rows)
    total = sent_seconds + drained
    result = Result(accepted / sent_seconds, percentile(latencies, 0.50) * 1000,
                    percentile(latencies, 0.99) * 1000, max(latencies) * 1000,
                    done / total if worker else 0.0, drained, lost,
                    lost != 0 or rows != args.events)
    print(f"  requests            {len(statuses)} incl. retries; other statuses: "
          f"{non_200 or 'none'} (0 = no answer; retried)")
    print(f"  accepted            {accepted} in {sent_seconds:.2f} s = "
          f"{result.accepted_per_s:.0f} events/s")
    print(f"  time to answer      p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
          f"max {result.max_ms:.1f} ms (inside the server app: p50 "
          f"{percentile(inside, 0.5) * 1000:.1f} ms, p99 {percentile(inside, 0.99) * 1000:.1f} ms)")
    if worker:
        print(f"  processed           {done} events, inbox empty {drained:.2f} s after the "
              f"last answer = {result.processed_per_s:.0f} events/s end to end; "
              f"{runs[0]} runs ({runs[1]} successful)")
        print(f"  rate-limit waits    {'; '.join(waits)}")
    print(f"  CPU seconds         server process {server_cpu:.1f} (start-up included), "
          f"sender {sender_cpu:.1f}")
    print(f"  stored rows         {rows} (unique event ids); lost: {lost}"
          + ("  <-- PROBLEM" if result.problem else ""))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2_000.0, help="events per second offered")
    parser.add_argument("--batch", type=int, default=10, help="events per delivery")
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-worker", action="store_true",
                        default=bool(os.environ.get("BENCH_NO_WORKER")))
    parser.add_argument("--py-spy", metavar="OUT", help="profile the first run's server")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(Path(args.serve), args.companies, not args.no_worker))
        return
    worker = not args.no_worker
    print(f"events offered      {args.events} at {args.rate:.0f}/s in deliveries of "
          f"{args.batch}, {args.companies} companies; inbox worker "
          f"{'on' if worker else 'off'}; load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    for n in range(args.runs):
        print(f"run {n + 1}")
        results.append(one_run(args, worker, args.py_spy if n == 0 else None))

    def median(name: str) -> float:
        return statistics.median(getattr(r, name) for r in results)

    print(f"median of {len(results)}   accepted {median('accepted_per_s'):.0f} events/s; "
          f"p50 {median('p50_ms'):.1f} ms, p99 {median('p99_ms'):.1f} ms, "
          f"max {median('max_ms'):.1f} ms"
          + (f"; processed {median('processed_per_s'):.0f} events/s end to end, inbox "
             f"empty {median('drained_s'):.1f} s after the last answer" if worker else ""))
    print(f"lost                {sum(r.lost for r in results)} over all runs"
          + ("  <-- PROBLEM" if any(r.problem for r in results) else ""))
    print(f"load average after  {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
