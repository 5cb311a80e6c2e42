"""Many tenants on workers: 1,000 tenants of Maconomy -> Cinode on 1, 2 and 4 workers.

    SPECSYNC_TEST_POSTGRES_DSN=postgresql://postgres@127.0.0.1:5432/test \\
        python tests/benchmarks/bench_tenants.py [--tenants 1000] [--workers 1,2,4]
        [--seconds 90] [--every 30s] [--records 2] [--concurrency 4]

For each worker count, on a fresh schema of the PostgreSQL database the DSN names:
one `specsync serve --distributed --tenants` (the tick: schedules, once per slot for the
cluster) and N `specsync worker --tenants` processes, every tenant's two syncs on
`--every` schedules, against one Maconomy (`--records` customers, small data) and one
Cinode sandbox served by this process. After `--seconds` the processes are stopped and
the queue's own records (procrastinate's job events) and the run history are read:

- jobs/s: sync jobs finished per second over the measured span (which starts at the
  first slot after every process has loaded the tenants and registered);
- schedule lag p50/p99: from a job's slot (the schedule's time, not when it was
  deferred) to the moment a worker started it. Past saturation a sync's next slot
  coalesces into its waiting job, so the lag is bounded by the slot interval plus the
  queue's length, and jobs/s, not the lag, says how much the cluster does;
- fairness: runs per tenant (min, median, max) and the share of tenants that ran at
  all; with the queue in order of deferral, every tenant gets its turn each slot.

The sandboxes know one Cinode credential, while every real tenant has its own (and its
own rate budgets): each tenant here presents its own Cinode access id, which a wrapper in
front of the sandbox's `/token` maps to the sandbox's (so each has its own token budget,
2 per 2 s, not one shared by 1,000), and the tenants run a copy of the spec whose
connections state a limit high enough not to bind. The figures are the queue's and the
workers', not one shared credential's.

Prints one line per worker count and the load average: the machine has 2 CPUs shared
with other work, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from engine.sandbox.cinode import CinodeSandbox  # noqa: E402
from engine.sandbox.cinode.credentials import CinodeCredentials  # noqa: E402
from engine.sandbox.maconomy import MaconomySandbox  # noqa: E402
from engine.sandbox.platform import SandboxConfig  # noqa: E402
from engine.sandbox.serve import serve_in_thread  # noqa: E402
from tests.scale.support import maconomy_cinode_env  # noqa: E402

UNBINDING = "    rate_limit: {requests: 100000, per: 1s}\n"


def _spec_copy(into: Path) -> Path:
    """The maconomy-cinode spec with limits that do not bind (see the docstring)."""
    target = into / "maconomy-cinode"
    shutil.copytree(ROOT / "specs" / "maconomy-cinode", target)
    path = target / "spec.yaml"
    text = path.read_text()
    for connection in ("  maconomy:\n    adapter: maconomy\n",
                       "  cinode:\n    adapter: cinode\n"):
        assert connection in text, connection
        text = text.replace(connection, connection + UNBINDING)
    path.write_text(text)
    return path


def _many_access_ids(app: Any) -> Any:
    """The Cinode sandbox, taking any `bench-N` access id for its own at `/token`."""
    import base64

    real = CinodeCredentials()

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/token"):
            headers = []
            for name, value in scope["headers"]:
                if name == b"authorization" and value.startswith(b"Basic "):
                    user, _, secret = base64.b64decode(value[6:]).decode().partition(":")
                    if user.startswith("bench-"):
                        value = b"Basic " + base64.b64encode(
                            f"{real.access_id}:{secret}".encode())
                headers.append((name, value))
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return wrapped


def _tenants_file(path: Path, count: int, env: dict[str, str], every: str) -> None:
    lines = ["tenants:"]
    for n in range(count):
        own = {**env, "CINODE_ACCESS_ID": f"bench-{n}"}
        lines.append(f"  t{n:04d}:")
        lines.append("    environment: {" + ", ".join(f"{k}: {v!r}" for k, v in own.items())
                     + "}")
        lines.append(f"    setup: {{maconomy-cinode: {{customer_schedule: {every!r}, "
                     f"project_schedule: {every!r}}}}}")
    path.write_text("\n".join(lines) + "\n")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen([sys.executable, "-m", "engine", *args], env=env, cwd=ROOT,
                            stdout=out, stderr=subprocess.STDOUT)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait_ready(dsn: str, schema: str, count: int,
                processes: list[subprocess.Popen[bytes]], limit: float = 900.0) -> None:
    """Until every process has loaded its tenants and registered with the queue."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a server or worker stopped while starting; see --logs")
        try:
            with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
                row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            if row and row[0] >= count:
                return
        except psycopg.Error:
            pass  # the queue's tables are not there yet
        time.sleep(1.0)
    raise SystemExit(f"the processes did not start within {limit:.0f} s")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _every_seconds(every: str) -> int:
    unit = {"s": 1, "m": 60, "h": 3600}[every[-1]]
    return int(every.split()[1][:-1]) * unit


def _measure(dsn: str, schema: str, since: float, until: float,
             period: int) -> dict[str, Any]:
    with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
        rows = conn.execute(
            "SELECT j.args->>'scope', extract(epoch FROM s.at), extract(epoch FROM f.at)"
            "  FROM procrastinate_jobs j"
            "  JOIN procrastinate_events s ON s.job_id = j.id AND s.type = 'started'"
            "  JOIN procrastinate_events f ON f.job_id = j.id AND f.type = 'succeeded'"
            " WHERE j.task_name = 'specsync.sync'").fetchall()
        deferred = conn.execute(
            "SELECT j.id, extract(epoch FROM e.at), extract(epoch FROM s.at)"
            "  FROM procrastinate_jobs j"
            "  JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'"
            "  JOIN procrastinate_events s ON s.job_id = j.id AND s.type = 'started'"
            " WHERE j.task_name = 'specsync.sync'").fetchall()
        tenants = conn.execute("SELECT count(DISTINCT integration) FROM runs").fetchone()
    done = [(scope, float(s), float(f)) for scope, s, f in rows if since <= float(f) <= until]
    lags = [float(started) - (float(at) // period) * period
            for _, at, started in deferred if since <= float(started) <= until]
    per_tenant: dict[str, int] = {}
    for scope, _, _ in done:
        per_tenant[scope] = per_tenant.get(scope, 0) + 1
    return {"jobs": len(done), "lags": lags, "per_tenant": per_tenant,
            "tenants_with_runs": int(tenants[0]) if tenants else 0}


def bench(dsn: str, *, tenants: int, workers: int, seconds: float, every: str,
          concurrency: int, spec: Path, tenants_path: Path, logs: Path) -> str:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    state = f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    env = {**os.environ, "SPECSYNC_ALLOW_LOOPBACK": "1", "SPECSYNC_QUEUE_TICK_SECONDS": "1",
           "SPECSYNC_QUEUE_POLL_SECONDS": "0.5"}
    processes = [_start(["serve", str(spec), "--distributed", "--tenants", str(tenants_path),
                         "--state", state, "--port", "0", "--log-level", "WARNING"],
                        env, logs / f"serve-{workers}.log")]
    try:
        for n in range(workers):
            processes.append(_start(["worker", str(spec), "--tenants", str(tenants_path),
                                     "--state", state, "--concurrency", str(concurrency),
                                     "--name", f"w{n}", "--log-level", "INFO"],
                                    env, logs / f"worker-{workers}-{n}.log"))
        launched = time.time()
        _wait_ready(dsn, schema, workers + 1, processes)  # the server's tick registers too
        started = time.time()
        time.sleep(seconds)
        ended = time.time()
    finally:
        _stop(processes)
    try:
        # Jobs finished in the span after the first slot the cluster saw whole.
        period = _every_seconds(every)
        since = (started // period + 1) * period
        found = _measure(dsn, schema, since, ended, period)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    span = ended - since
    counts = sorted(found["per_tenant"].values())
    counts = [0] * (tenants - len(counts)) + counts  # tenants with no run in the span
    lags = found["lags"]
    return (f"{workers} worker(s) x {concurrency} (ready after {started - launched:.0f} s): "
            f"{found['jobs'] / span:6.1f} jobs/s "
            f"({found['jobs']} in {span:.0f} s); schedule lag p50 {_percentile(lags, .5):.1f} s"
            f", p99 {_percentile(lags, .99):.1f} s; runs per tenant min {counts[0]}, "
            f"median {statistics.median(counts):.0f}, max {counts[-1]}; "
            f"{sum(1 for c in counts if c) / tenants:.0%} of tenants ran in the span")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--every", default="every 30s")
    parser.add_argument("--records", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep the processes' logs here (default: thrown away)")
    args = parser.parse_args()
    dsn = os.environ.get("SPECSYNC_TEST_POSTGRES_DSN")
    if not dsn:
        print("set SPECSYNC_TEST_POSTGRES_DSN (a PostgreSQL database to use)", file=sys.stderr)
        return 2
    maconomy = MaconomySandbox(SandboxConfig(records=args.records, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=5, rate_limits=False))
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp, \
            serve_in_thread(maconomy.app) as m_url, \
            serve_in_thread(_many_access_ids(cinode.app)) as c_url:
        root = Path(tmp)
        spec = _spec_copy(root)
        tenants_path = root / "tenants.yaml"
        _tenants_file(tenants_path, args.tenants, maconomy_cinode_env(m_url, c_url),
                      args.every)
        print(f"{args.tenants} tenants, 2 syncs each {args.every}, {args.records} Maconomy "
              f"customers; load average before {os.getloadavg()[0]:.1f} (2 CPUs, shared)")
        for workers in (int(w) for w in args.workers.split(",")):
            line = bench(dsn, tenants=args.tenants, workers=workers, seconds=args.seconds,
                         every=args.every, concurrency=args.concurrency, spec=spec,
                         tenants_path=tenants_path, logs=args.logs or root)
            print(line + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
            logs = sorted((args.logs or root).glob(f"*-{workers}*.log"))
            errors = [line for log in logs for line in log.read_text(errors="replace")
                      .splitlines() if "level=error" in line]
            if errors:
                print(f"  {len(errors)} error lines in the logs, e.g. {errors[0][:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
