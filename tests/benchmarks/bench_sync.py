"""Benchmark: Maconomy sandbox -> engine -> Cinode sandbox over loopback (prints figures).

    python tests/benchmarks/bench_sync.py                 # 10,000 and 100,000 customers
    python tests/benchmarks/bench_sync.py --sizes 20000   # other sizes
    python tests/benchmarks/bench_sync.py --writes 60     # also the rate-limited write phase
    python tests/benchmarks/bench_sync.py --sizes 20000 --stages   # CPU per stage
    python tests/benchmarks/bench_sync.py --sizes 20000 --profile /tmp/p  # cProfile
    python tests/benchmarks/bench_sync.py --sizes 100000 --repeat 5   # medians of 5 runs

Phase 1, no-change reconcile: the state store already links every customer with the hash
of what was last written and of the source record it came from (seeded here by mapping
each record once), then a full
`run_sync` reads, filters, maps and diffs every record against the state and writes
nothing. The sandboxes run with rate limits off, each in its own uvicorn thread of this
process; the engine runs in a child process so its peak memory is its own (VmHWM of
its address space; see `_peak_mb`). The seeding pass reads every page once, so the
Maconomy sandbox answers the measured run from its page cache, as it would any re-read
of unchanged data (`--cold` turns that cache off). Besides records/s, the engine's
CPU per record is printed: on a shared machine it moves far less than wall time, but
still moves; `--repeat N` runs the engine's process N times over the same sandboxes and
state and prints each run and the medians.

Phase 2, writes: new customers are synced into a Cinode sandbox with its documented
limit (40 requests per 2 seconds); the figure is requests per second achieved against
that limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy.credentials import MaconomyCredentials

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
sys.path.insert(0, str(ROOT))


def _env(urls: dict[str, str]) -> dict[str, str]:
    return {
        "SPECSYNC_ALLOW_LOOPBACK": "1",
        "MACONOMY_URL": urls["maconomy"], "MACONOMY_USER": MaconomyCredentials().user,
        "MACONOMY_PASSWORD": MaconomyCredentials().password,
        "MACONOMY_SHORTNAME": MaconomyCredentials().shortname,
        "CINODE_URL": urls["cinode"], "CINODE_ACCESS_ID": CinodeCredentials().access_id,
        "CINODE_ACCESS_SECRET": CinodeCredentials().access_secret, "CINODE_COMPANY_ID": "1",
    }


async def _seed_state(state: str, env: dict[str, str]) -> int:
    """Link every customer as if a previous run had written it (hash of its payload)."""
    from datetime import UTC, datetime

    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.state.base import BatchCommit, Link
    from engine.sync.changes import payload_hash
    from engine.sync.pipeline import SyncJob
    from engine.sync.runtime import Runtime

    spec = load_spec(SPEC)
    with open_store(state) as store:
        runtime = Runtime(spec=spec, store=store, environ=env)
        job = SyncJob(runtime, "customers")
        links: list[Link] = []
        count = 0
        async for record in job.records(None):
            update = job.mapper.update_payload(record, job.ctx)
            links.append(Link(job.key_of(record), str(900000 + count), payload_hash(update),
                              source_hash=job.decider.source_hash_of(record)))
            count += 1
            if len(links) == 1000:
                store.commit_batch(BatchCommit(spec.integration, "customers",
                                               datetime.now(UTC), links=links))
                links = []
        if links:
            store.commit_batch(BatchCommit(spec.integration, "customers", datetime.now(UTC),
                                           links=links))
        store.set_fingerprint(spec.integration, "customers", job.fingerprint)
        await runtime.aclose()
    return count


def _peak_mb() -> float:
    """This process's peak resident memory.

    Not `ru_maxrss`: Linux carries the high-water mark of the address space replaced by
    exec into it, and subprocess starts the child from the parent's (vfork), so it
    would report the sandboxes' memory. VmHWM belongs to the child's own address space.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Resident memory now (Linux), to tell the run's own growth from the imports'."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


async def _child(state: str, profile: str | None = None) -> None:
    from engine.heap import settle
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import run_sync
    from engine.sync.runtime import Runtime

    spec = load_spec(SPEC)
    with open_store(state) as store:
        runtime = Runtime(spec=spec, store=store)
        settle()  # as `specsync run` does once the spec is loaded (engine/cli/runtime.py)
        before = _rss_mb()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        cpu_started = time.process_time()
        report = await run_sync(runtime, "customers", full=True)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        await runtime.aclose()
    peak = _peak_mb()
    print(json.dumps({"read": report.counts["read"], "skip": report.counts["skip"],
                      "written": sum(report.counts[k] for k in ("create", "update", "adopt")),
                      "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak,
                      "before_mb": before,
                      "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _cpu_per_record(work: Callable[[], object], count: int, repeat: int = 5) -> float:
    """Median CPU microseconds per record of `work` (CPU time: the machine is shared)."""
    timings = []
    for _ in range(repeat):
        started = time.thread_time()
        work()
        timings.append(time.thread_time() - started)
    return statistics.median(timings) / count * 1e6


async def _process_cpu_per_record(work: Callable[[], Awaitable[object]], count: int,
                                  repeat: int = 5) -> float:
    """`_cpu_per_record` for async work, counting the CPU of every thread of the process."""
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        await work()
        timings.append(time.process_time() - started)
    return statistics.median(timings) / count * 1e6


async def _stages(state: str) -> None:
    """Per-stage CPU cost in the engine's process, each stage alone over the same records."""
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.changes import payload_hash
    from engine.sync.pipeline import SyncJob
    from engine.sync.runtime import Runtime

    spec = load_spec(SPEC)
    with open_store(state) as store:
        runtime = Runtime(spec=spec, store=store)
        job = SyncJob(runtime, "customers")
        started, cpu = time.perf_counter(), time.thread_time()
        records = [r async for r in job.records(None)]
        read_wall, read_cpu = time.perf_counter() - started, time.thread_time() - cpu
        n = len(records)
        ctx, mapper = job.ctx, job.mapper
        keys = [job.key_of(r) for r in records]
        updates = [mapper.map(r, ctx)[0] for r in records]
        batches = [keys[i:i + job.batch_size] for i in range(0, n, job.batch_size)]
        record_batches = [records[i:i + job.batch_size] for i in range(0, n, job.batch_size)]

        async def decide_all() -> None:
            for batch in record_batches:
                await job.decide(batch, with_old=False)

        rows = {
            "read (HTTP + JSON + adapter), CPU": read_cpu / n * 1e6,
            "key": _cpu_per_record(lambda: [job.key_of(r) for r in records], n),
            "map (all fields)": _cpu_per_record(lambda: [mapper.map(r, ctx) for r in records],
                                                n),
            "payload hash": _cpu_per_record(lambda: [payload_hash(u) for u in updates], n),
            "source hash (skips the map and payload hash)": _cpu_per_record(
                lambda: [job.decider.source_hash_of(r) for r in records], n),
            "link lookup (SQLite, per batch)": _cpu_per_record(
                lambda: [store.link_states(spec.integration, "customers", b) for b in batches],
                n),
        }
        # Process CPU, not this thread's: decide reads the links on the store's thread.
        rows["decide (key+filter+map+links+hash+Change)"] = await _process_cpu_per_record(
            decide_all, n)
        for compiled in mapper.fields:
            render = compiled.transform.render
            shape = f"{compiled.transform.kind}{'' if compiled.transform.fast else ', sandbox'}"
            rows[f"  field {compiled.target} ({shape})"] = _cpu_per_record(
                lambda render=render: [render(r, ctx) for r in records], n)
        await runtime.aclose()
    print(f"stages over {n:,} records (read took {read_wall:.2f} s wall):")
    for name, micros in rows.items():
        print(f"  {name:48s} {micros:6.2f} us/record")


def _with_sandboxes(size: int, child_args: list[str], cold: bool = False,
                    repeat: int = 1) -> tuple[list[str], int]:
    """Serve the sandboxes, seed the state, run this script as the engine's process
    (`repeat` times: a no-change run leaves the links as they were)."""
    from engine.sandbox.cinode import CinodeSandbox
    from engine.sandbox.maconomy import MaconomySandbox, MaconomySettings
    from engine.sandbox.platform import SandboxConfig
    from engine.sandbox.serve import serve_in_thread

    config = SandboxConfig(records=size, rate_limits=False)
    tenant = MaconomySettings(page_cache_mb=0) if cold else MaconomySettings()
    with serve_in_thread(MaconomySandbox(config, settings=tenant).app) as maconomy, \
            serve_in_thread(CinodeSandbox(SandboxConfig(records=10, rate_limits=False)).app) \
            as cinode, tempfile.TemporaryDirectory() as tmp:
        env = _env({"maconomy": maconomy, "cinode": cinode})
        state = str(Path(tmp) / "state.db")
        seeded = asyncio.run(_seed_state(state, env))
        outputs = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, __file__, "--child", state, *child_args],
                                 env={**os.environ, **env}, capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            outputs.append(out.stdout)
        return outputs, seeded


def stages(size: int) -> str:
    return _with_sandboxes(size, ["--stages"])[0][0]


def reconcile(size: int, profile: str | None = None, cold: bool = False,
              repeat: int = 1) -> list[dict]:
    outputs, seeded = _with_sandboxes(size, ["--profile", profile] if profile else [], cold,
                                      repeat)
    results = []
    for stdout in outputs:
        result = json.loads(stdout.strip().splitlines()[-1])
        result["seeded"] = seeded
        results.append(result)
    return results


async def _writes(count: int) -> dict:
    import httpx

    from engine.sandbox.cinode import CinodeSandbox
    from engine.sandbox.maconomy import MaconomySandbox
    from engine.sandbox.platform import SandboxConfig
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import run_sync
    from engine.sync.runtime import Runtime

    maconomy = MaconomySandbox(SandboxConfig(records=count, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=10, rate_limits=True))
    env = _env({"maconomy": "http://maconomy.test", "cinode": "http://cinode.test"})
    with tempfile.TemporaryDirectory() as tmp, open_store(str(Path(tmp) / "s.db")) as store:
        runtime = Runtime(spec=load_spec(SPEC), store=store, environ=env, transports={
            "maconomy": httpx.ASGITransport(app=maconomy.app),
            "cinode": httpx.ASGITransport(app=cinode.app)})
        started = time.perf_counter()
        report = await run_sync(runtime, "customers")
        seconds = time.perf_counter() - started
        await runtime.aclose()
    requests = [r for r in cinode.requests if "/v0.1/" in r.path]
    return {"created": report.counts["create"], "requests": len(requests),
            "seconds": seconds, "rps": len(requests) / seconds, "limit_rps": 40 / 2}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--writes", type=int, default=0)
    parser.add_argument("--profile", help="write a cProfile of the engine process here "
                        "(per size: PATH.SIZE); read it with `python -m pstats`")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the engine's process N times per size; print the medians")
    parser.add_argument("--cold", action="store_true",
                        help="the Maconomy sandbox generates every page anew (no page cache)")
    parser.add_argument("--stages", action="store_true",
                        help="print the CPU cost of each stage per record instead")
    args = parser.parse_args()
    if args.child:
        asyncio.run(_stages(args.child) if args.stages else _child(args.child, args.profile))
        return
    if args.stages:
        for size in [int(s) for s in args.sizes.split(",")]:
            print(stages(size), end="")
        return
    results = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        runs = reconcile(size, f"{args.profile}.{size}" if args.profile else None, args.cold,
                         max(1, args.repeat))
        for r in runs:
            print(f"no-change reconcile of {r['read']:,} customers: {r['seconds']:.2f} s, "
                  f"{r['read'] / r['seconds']:,.0f} records/s end to end, "
                  f"{r['written']} written, peak memory {r['peak_mb']:.0f} MB "
                  f"({r['before_mb']:.0f} MB before the run); engine CPU "
                  f"{r['cpu_seconds'] / r['read'] * 1e6:.1f} us/record")
        r = {k: statistics.median(run[k] for run in runs)
             for k in ("read", "seconds", "cpu_seconds", "peak_mb")}
        results[size] = r
        if len(runs) > 1:
            print(f"  median of {len(runs)} runs, {size:,}: engine CPU "
                  f"{r['cpu_seconds'] / r['read'] * 1e6:.1f} us/record, "
                  f"{r['seconds']:.2f} s, peak memory {r['peak_mb']:.0f} MB "
                  f"(load average {os.getloadavg()[0]:.1f})")
    if len(results) >= 2:
        small, large = results[min(results)], results[max(results)]
        growth = (large["peak_mb"] - small["peak_mb"]) / small["peak_mb"] * 100
        print(f"peak memory growth {min(results):,} -> {max(results):,} records: {growth:+.1f}%")
    if args.writes:
        w = asyncio.run(_writes(args.writes))
        print(f"writes: {w['created']} customers created with {w['requests']} Cinode requests "
              f"in {w['seconds']:.1f} s = {w['rps']:.1f} requests/s against a limit of "
              f"{w['limit_rps']:.0f}/s ({w['rps'] / w['limit_rps'] * 100:.0f}% of the limit)")


if __name__ == "__main__":
    main()
