"""Load test of the webhook receiver: signed HubSpot events over loopback, none lost.

    python tests/benchmarks/bench_webhooks.py [--events 10000] [--rate 2000] [--batch 10]
        [--runs 3] [--no-worker] [--sandboxes-in-server] [--busy] [--py-spy OUT]

Three processes per run, so no party's CPU or GIL flatters or burdens another's figures:
- the server (this file with `--serve`): the runner app under uvicorn on 127.0.0.1
  (port 0), configured as `specsync serve` configures it (`serve.server_config`), with
  a real SQLite state store in a temporary directory and its inbox worker on;
- the sandboxes (`--serve-sandboxes`): HubSpot and Cinode, reached by the worker over
  loopback HTTP, as real vendors are reached over the network (`--sandboxes-in-server`
  puts them inside the server process instead, behind httpx's ASGI transport, so their
  CPU competes with the receiver's: the pessimistic setting);
- this process, the sender: `--events` signed v3 deliveries of `--batch` events each
  at `--rate` events per second (HubSpot batches up to 100 per POST) over up to 64
  keep-alive connections, retrying like HubSpot (5xx, 429, no answer); then it waits
  until the inbox is empty, reading the state file. The sender speaks plain HTTP/1.1
  over asyncio streams: httpx spent several ms of CPU per request once dozens were in
  flight, and its queueing, not the server, set the figures.

Printed per run: events/s accepted; p50/p99/max time to answer as the sender sees it
(a delivery waiting for a free connection counts) and inside the server app; events
processed end to end (bound by HubSpot's documented 190 requests / 10 s: one `get` per
record, see the rate-limit waits line); CPU seconds per process; whether every event
was stored exactly once and processed (none lost). Then medians over the runs and the
load average before and after (the CI box is shared and noisy).
Target: p99 < 50 ms at 2,000 events/s offered, nothing lost. `--no-worker` (or
BENCH_NO_WORKER=1) measures the receiver alone; `--busy` keeps a CPU-bound process
spinning on the other core for the whole measurement; `--py-spy OUT` records the first run's
server with py-spy (speedscope JSON, one profile per thread).

Seen on the 2-core CI box (medians of 3 runs, load average 0.4-0.9; 10,000 events at
2,000/s, 1,000 deliveries): receiver alone p50 1.7 ms, p99 5.6 ms; with the inbox
worker on, p50 1.7 ms, p99 25 ms (runs 20-34 ms), all accepted at 2,000 events/s, none
lost, processed at ~204 events/s end to end (the inbox empty ~44 s after the last
answer: HubSpot's 190 requests / 10 s, one `get` per record, ~4 runs re-reading the
200 companies); --sandboxes-in-server p99 33 ms (runs 11-77 ms). Before the work moved
to its own thread: 241 events/s accepted, p99 27 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.adapters.hubspot.signatures import sign_v3  # noqa: E402
from engine.sandbox.cinode.credentials import CinodeCredentials  # noqa: E402
from engine.sandbox.hubspot.credentials import HubSpotCredentials  # noqa: E402
from tests.runner.conftest import HUBSPOT_SECRET  # noqa: E402


# -- the sandbox and server processes ----------------------------------------------------
def _sandboxes(companies: int) -> tuple[Any, Any]:
    from engine.sandbox.cinode import CinodeSandbox
    from engine.sandbox.hubspot import HubSpotSandbox
    from engine.sandbox.platform import SandboxConfig
    from tests.runner.conftest import ACCESS_ID, ACCESS_SECRET, HUBSPOT_TOKEN

    hubspot = HubSpotSandbox(SandboxConfig(records=companies, rate_limits=False),
        HubSpotCredentials(token=HUBSPOT_TOKEN, client_secret=HUBSPOT_SECRET))
    crm = CinodeSandbox(SandboxConfig(records=10, rate_limits=False),
        CinodeCredentials(access_id=ACCESS_ID, access_secret=ACCESS_SECRET))
    return hubspot, crm


async def _serve_apps(apps: dict[str, Any], hello: dict[str, Any], report: Path,
                      after: Callable[[], dict[str, Any]] = dict) -> None:
    """Serve `apps` on loopback until SIGTERM; print `hello` plus each app's port and this
    process's id; at exit write `after()` plus the CPU seconds used to `report`."""
    import uvicorn

    from engine.runner.serve import server_config

    servers = {name: uvicorn.Server(server_config(app, host="127.0.0.1", port=0,
                                                  grace_seconds=30, log_level="warning"))
               for name, app in apps.items()}
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers.values():
            server.should_exit = True

    loop.add_signal_handler(signal.SIGTERM, stop)

    async def announce() -> None:
        while not all(server.started for server in servers.values()):
            await asyncio.sleep(0.01)
        ports = {name: server.servers[0].sockets[0].getsockname()[1]
                 for name, server in servers.items()}
        print(json.dumps({**hello, "ports": ports, "pid": os.getpid()}), flush=True)

    watcher = loop.create_task(announce())
    try:
        await asyncio.gather(*(server.serve() for server in servers.values()))
    finally:
        watcher.cancel()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report.write_text(json.dumps({**after(), "cpu": usage.ru_utime + usage.ru_stime}))


async def _serve_sandboxes(state_dir: Path, companies: int) -> None:
    hubspot, crm = _sandboxes(companies)
    await _serve_apps({"hubspot": hubspot.app, "crm": crm.app},
                      {"companies": [str(c["id"]) for c in hubspot.records("companies")]},
                      state_dir / "sandboxes.json")


async def _serve_runner(state_dir: Path, companies: int, worker: bool,
                        urls: dict[str, str]) -> None:
    from engine.runner.app import build_app
    from engine.runner.workloop import prefer_responsiveness
    from engine.state import SqliteStateStore
    from tests.runner.conftest import ENVIRON, SPEC

    prefer_responsiveness()  # as `specsync serve` does
    environ = {**os.environ, **ENVIRON}
    transports: dict[str, httpx.AsyncBaseTransport] = {}
    ids: list[str] = []
    if urls:  # the sandboxes run in a process of their own
        environ.update({"HUBSPOT_URL": urls["hubspot"], "CRM_URL": urls["crm"]})
    else:  # the sandboxes' CPU is this process's too (pessimistic)
        hubspot, crm = _sandboxes(companies)
        ids = [str(c["id"]) for c in hubspot.records("companies")]
        transports = {"hubspot": httpx.ASGITransport(app=hubspot.app),
                      "crm": httpx.ASGITransport(app=crm.app)}
    store = SqliteStateStore(state_dir / "state.db")
    app = build_app([str(SPEC)], store=store, environ=environ, transports=transports,
                    schedule=False, inbox=worker,
                    inbox_options={"batch_size": 5000, "idle_seconds": 0.2})
    times: list[float] = []

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        """Time each request inside the server (no network, no sender)."""
        started = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http" and scope["path"].startswith("/webhooks/"):
            times.append(time.perf_counter() - started)

    def after() -> dict[str, Any]:
        store.close()
        return {"times": times}

    await _serve_apps({"runner": timed}, {"companies": ids}, state_dir / "runner.json", after)


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


def _start(command: list[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a child that prints one JSON line once it listens; return it and the line."""
    # The sandboxes listen on loopback, which the egress policy refuses unless allowed.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "SPECSYNC_ALLOW_LOOPBACK": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line and not line.startswith("{"):  # py-spy says hello first
        line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise SystemExit(f"{command[2:4]} did not start (exit status {proc.returncode})")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[str], hello: dict[str, Any] | None) -> None:
    # The child's own pid (under py-spy, `proc` is py-spy, which forwards no signals).
    with contextlib.suppress(ProcessLookupError):
        os.kill(hello["pid"] if hello else proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_run(args: argparse.Namespace, worker: bool, py_spy: str | None) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    me = [sys.executable, __file__, "--companies", str(args.companies)]
    sandboxes: tuple[subprocess.Popen[str], dict[str, Any]] | None = None
    urls: dict[str, str] = {}
    if not args.sandboxes_in_server:
        sandboxes = _start([*me, "--serve-sandboxes", str(tmp)])
        urls = {name: f"http://127.0.0.1:{port}" for name, port in sandboxes[1]["ports"].items()}
    command = [*me, "--serve", str(tmp), "--urls", json.dumps(urls)]
    if not worker:
        command.append("--no-worker")
    if py_spy:
        command = ["py-spy", "record", "--rate", "250", "--format", "speedscope",
                   "--threads", "-o", py_spy, "--", *command]
    proc, hello = _start(command)
    try:
        companies = sandboxes[1]["companies"] if sandboxes else hello["companies"]
        base = f"http://127.0.0.1:{hello['ports']['runner']}"
        url = f"{base}/webhooks/mirror/hubspot"
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        latencies, statuses, sent_seconds = asyncio.run(
            send_all(url, args.events, args.rate, args.batch, companies))
        own = resource.getrusage(resource.RUSAGE_SELF)
        sender_cpu = own.ru_utime + own.ru_stime - self_before.ru_utime - self_before.ru_stime
        accepted = min(args.events, sum(args.batch for s in statuses if s == 200))
        started = time.perf_counter()
        while worker and inbox_depth(tmp / "state.db") and \
                time.perf_counter() - started < 600:
            time.sleep(0.05)
        drained = time.perf_counter() - started
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
    finally:
        _stop(proc, hello)
        if sandboxes:
            _stop(*sandboxes)
    runner = json.loads((tmp / "runner.json").read_text())
    sandbox_cpu = json.loads((tmp / "sandboxes.json").read_text())["cpu"] if sandboxes else 0
    inside = runner["times"]
    db = sqlite3.connect(tmp / "state.db")
    rows, done = db.execute("SELECT count(*), coalesce(sum(status = 'done'), 0) FROM inbox"
                            ).fetchone()
    runs = db.execute("SELECT count(*), coalesce(sum(status = 'success'), 0) FROM runs"
                      ).fetchone()
    db.close()
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
    print(f"  CPU seconds         server process {runner['cpu']:.1f} (start-up included), "
          f"sender {sender_cpu:.1f} (sending only)"
          + (f", sandboxes process {sandbox_cpu:.1f}" if sandboxes else ""))
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
    parser.add_argument("--busy", action="store_true",
                        help="a CPU-bound process spins on the other core during the runs")
    parser.add_argument("--no-worker", action="store_true",
                        default=bool(os.environ.get("BENCH_NO_WORKER")))
    parser.add_argument("--py-spy", metavar="OUT", help="profile the first run's server")
    parser.add_argument("--sandboxes-in-server", action="store_true",
                        help="run the HubSpot and Cinode sandboxes inside the server process "
                             "(their CPU competes with the receiver's: pessimistic)")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--urls", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--serve-sandboxes", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandboxes:
        asyncio.run(_serve_sandboxes(Path(args.serve_sandboxes), args.companies))
        return
    if args.serve:
        asyncio.run(_serve_runner(Path(args.serve), args.companies, not args.no_worker,
                                  json.loads(args.urls)))
        return
    worker = not args.no_worker
    print(f"events offered      {args.events} at {args.rate:.0f}/s in deliveries of "
          f"{args.batch}, {args.companies} companies; inbox worker "
          f"{'on' if worker else 'off'}; load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    # The other core busy: one process spinning for the whole measurement.
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        for n in range(args.runs):
            print(f"run {n + 1}")
            results.append(one_run(args, worker, args.py_spy if n == 0 else None))
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()

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
