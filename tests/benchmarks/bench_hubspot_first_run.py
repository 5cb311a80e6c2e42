"""Benchmark: a first run of Kleer clients into HubSpot companies (prints figures).

    python tests/benchmarks/bench_hubspot_first_run.py            # 10,000 clients
    python tests/benchmarks/bench_hubspot_first_run.py --records 2000 --existing 500

The HubSpot portal already holds `--existing` of the companies (same org numbers, no
Kleer id yet), so the run adopts those by `adopt_by: orgno` and creates the rest. Both
sandboxes serve over loopback with rate limits off; the engine runs in a child process.
Printed: HubSpot requests per record by kind (batch reads, searches, batch creates and
updates of up to 100), the adoptions, and the wall time.
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
SPEC = ROOT / "specs" / "kleer-hubspot" / "spec.yaml"
sys.path.insert(0, str(ROOT))


async def _child(state: str) -> None:
    from engine.spec.load import load_spec
    from engine.state import open_store
    from engine.sync.pipeline import run_sync
    from engine.sync.runtime import Runtime

    with open_store(state) as store:
        runtime = Runtime(spec=load_spec(SPEC), store=store)
        started, cpu = time.perf_counter(), time.process_time()
        report = await run_sync(runtime, "companies")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        await runtime.aclose()
    print(json.dumps({**{k: report.counts[k] for k in ("read", "create", "adopt", "error")},
                      "seconds": seconds, "cpu": cpu}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=1_000)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child))
        return
    from engine.sandbox.hubspot import HubSpotSandbox
    from engine.sandbox.kleer import KleerSandbox
    from engine.sandbox.platform import SandboxConfig
    from engine.sandbox.serve import environment, serve_in_thread

    kleer = KleerSandbox(SandboxConfig(records=args.records, rate_limits=False))
    hubspot = HubSpotSandbox(SandboxConfig(records=args.existing, rate_limits=False))
    hubspot.requests = deque(maxlen=None)
    with serve_in_thread(kleer.app) as kleer_url, serve_in_thread(hubspot.app) as hubspot_url, \
            tempfile.TemporaryDirectory() as tmp:
        env = dict(environment({"kleer": kleer_url, "hubspot": hubspot_url},
                               {"kleer": kleer, "hubspot": hubspot}))
        env["SPECSYNC_ALLOW_LOOPBACK"] = "1"
        out = subprocess.run([sys.executable, __file__, "--child", str(Path(tmp) / "s.db")],
                             env={**os.environ, **env}, capture_output=True, text=True,
                             cwd=ROOT)
        if out.returncode:
            sys.exit(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    kinds: Counter[str] = Counter()
    for call in hubspot.requests:
        if "/crm/" not in call.path:
            continue
        tail = call.path.rsplit("/", 2)
        kinds[f"{call.method} .../{'/'.join(tail[-2:]) if 'batch' in call.path else tail[-1]}"
              if "batch" in call.path or call.path.endswith("/search")
              else f"{call.method} other"] += 1
    read = max(result["read"], 1)
    split = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    print(f"HubSpot first run of {result['read']:,} Kleer clients: {result['create']:,} "
          f"created, {result['adopt']:,} adopted by org number, {result['error']} errors; "
          f"{sum(kinds.values()) / read:.3f} HubSpot requests per record ({split}); "
          f"wall {result['seconds']:.1f} s, engine CPU "
          f"{result['cpu'] / read * 1e6:.0f} us/record")


if __name__ == "__main__":
    main()
