"""Benchmark: a first run of Maconomy customers into an empty Cinode (prints figures).

    python tests/benchmarks/bench_first_run.py                     # 100,000, limits off
    python tests/benchmarks/bench_first_run.py --records 20000
    python tests/benchmarks/bench_first_run.py --records 300 --limits   # documented limits

Both sandboxes serve over loopback in threads of this process; the engine runs in a
child process, so its CPU time is its own. Printed: the Cinode requests per created
customer, split into look-ups (searches), creates and the follow-up calls the API forces
(the invoice address is its own call), the engine's CPU per created record and the wall
time. With `--limits` the Cinode sandbox enforces its documented limit (40 requests per
2 s) and the script also prints the request rate against it and the ETA `plan` predicted
against the time the run took.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_sync import _env  # noqa: E402


def _spec(tmp: str, limits: bool) -> Path:
    """The seed spec; with limits off, the engine's budget for Cinode is lifted too."""
    if limits:
        return SPEC
    text = SPEC.read_text(encoding="utf-8").replace(
        "  cinode:\n    adapter: cinode\n",
        "  cinode:\n    adapter: cinode\n    rate_limit: {requests: 1000000, per: 1s}\n", 1)
    path = Path(tmp) / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    for extra in SPEC.parent.iterdir():  # files the spec refers to (schemas, templates)
        if extra.is_file() and extra.name != "spec.yaml":
            (Path(tmp) / extra.name).write_bytes(extra.read_bytes())
    return path


async def _child(state: str, plan_first: bool, spec_path: Path) -> None:
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pace import estimate_run, request_meter
    from engine.sync.pipeline import plan_sync, run_sync
    from engine.sync.runtime import Runtime

    spec = load_spec(spec_path)
    predicted, plan_requests = None, 0
    with open_store(state) as store:
        if plan_first:
            runtime = Runtime(spec=spec, store=store)
            meters = [m for m in (request_meter(runtime, c) for c in ("maconomy", "cinode"))
                      if m]
            before = {m.connection: m.sent() for m in meters}
            plan = await plan_sync(runtime, "customers")
            measured = {m.connection: m.sent() - before[m.connection] for m in meters}
            plan_requests = measured.get("cinode", 0)
            estimate = estimate_run(plan, source="maconomy", target="cinode",
                                    measured=measured, meters=meters,
                                    max_batch=runtime.adapter("cinode").max_batch("customers"),
                                    target_object="customers",
                                    costs=runtime.adapter("cinode"))
            predicted = estimate.seconds
            await runtime.aclose()
            time.sleep(2.5)  # the plan's requests leave the 2-second window
        runtime = Runtime(spec=spec, store=store)
        started, cpu = time.perf_counter(), time.process_time()
        report = await run_sync(runtime, "customers")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        await runtime.aclose()
    print(json.dumps({"created": report.counts["create"], "errors": report.counts["error"],
                      "seconds": seconds, "cpu": cpu, "predicted": predicted,
                      "plan_requests": plan_requests}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--plan", action="store_true")
    parser.add_argument("--spec", default=str(SPEC))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--limits", action="store_true")
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child, args.plan, Path(args.spec)))
        return
    from engine.sandbox.cinode import CinodeSandbox
    from engine.sandbox.maconomy import MaconomySandbox
    from engine.sandbox.platform import SandboxConfig
    from engine.sandbox.serve import serve_in_thread

    maconomy = MaconomySandbox(SandboxConfig(records=args.records, rate_limits=False))
    cinode = CinodeSandbox(SandboxConfig(records=10, rate_limits=args.limits))
    cinode.requests = deque(maxlen=None)  # every request counted, not the last 1,000
    with serve_in_thread(maconomy.app) as maconomy_url, \
            serve_in_thread(cinode.app) as cinode_url, tempfile.TemporaryDirectory() as tmp:
        env = _env({"maconomy": maconomy_url, "cinode": cinode_url})
        child = [sys.executable, __file__, "--child", str(Path(tmp) / "state.db"),
                 "--spec", str(_spec(tmp, args.limits))]
        if args.limits:
            child.append("--plan")
        out = subprocess.run(child, env={**os.environ, **env}, capture_output=True,
                             text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The plan's own requests (its look-ups) come first in the log: not the run's.
    calls = [r for r in cinode.requests if "/v0.1/" in r.path][result["plan_requests"]:]
    kinds: Counter[str] = Counter()
    for call in calls:
        if call.path.endswith("/search"):
            kinds["look-ups (search)"] += 1
        elif call.method == "POST" and call.path.endswith("/customers"):
            kinds["creates"] += 1
        elif "/addresses" in call.path:
            kinds["addresses (forced)"] += 1
        else:
            kinds["other"] += 1
    created = max(result["created"], 1)
    split = ", ".join(f"{k} {v / created:.3f}" for k, v in sorted(kinds.items()))
    print(f"first run of {result['created']:,} Cinode customers ({result['errors']} errors), "
          f"rate limits {'on' if args.limits else 'off'}: {len(calls) / created:.3f} "
          f"requests per created customer ({split}); engine CPU "
          f"{result['cpu'] / created * 1e6:.0f} us per created record; wall "
          f"{result['seconds']:.1f} s")
    if args.limits:
        rate = len(calls) / result["seconds"]
        print(f"request rate {rate:.2f}/s against the documented 20/s "
              f"({rate / 20 * 100:.0f}%); plan predicted {result['predicted']:.1f} s, "
              f"the run took {result['seconds']:.1f} s")


if __name__ == "__main__":
    main()
