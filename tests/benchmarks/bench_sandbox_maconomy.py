"""How fast the Maconomy sandbox serves customers (records/second), in-process and over loopback.

    python tests/benchmarks/bench_sandbox_maconomy.py [--records 100000] [--limit 5000]

Prints: time per page built in-process (generation + serialisation, no HTTP), then a full
paged read over uvicorn on 127.0.0.1 through the v1 data:filter link, the way the engine
reads (in key order, and restricted on `transactiontimestamp` ordered by it, as the
server-side changed-since option does), client JSON parsing included (orjson). The
end-to-end target for the engine is >= 25,000 records/second, so the sandbox alone must be
comfortably above that.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time

import httpx
import orjson

from engine.sandbox.maconomy import MaconomySandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread


def in_process(sandbox: MaconomySandbox, records: int, limit: int) -> None:
    store = sandbox.customers
    store.page(0, 1)  # warm the per-seed templates
    timings, cpu = [], []
    for offset in range(0, records, limit):
        started, cpu_started = time.perf_counter(), time.process_time()
        rows = [{"data": r} for r in store.page(offset, limit)]
        orjson.dumps({"panes": {"filter": {"meta": {}, "records": rows}}})
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    # CPU time is printed too: on a shared machine wall time mostly measures the neighbours.
    print(f"in-process: {len(timings)} pages of {limit}: median "
          f"{statistics.median(timings) * 1000:.1f} ms/page wall, "
          f"{statistics.median(cpu) * 1000:.1f} ms/page CPU; "
          f"{records / sum(timings):,.0f} records/s wall, {records / sum(cpu):,.0f} CPU")


def over_loopback(url: str, limit: int, params: dict, label: str) -> None:
    path = "/containers/v1/sandbox/customercard/filter"
    with httpx.Client(base_url=url, timeout=60) as client:
        headers = {"Authorization": "Basic " + base64.b64encode(
            b"sandbox:sandbox-password").decode(), "Maconomy-Authentication": "X-Reconnect",
            "Accept": "application/json"}
        seen = 0
        offset = 0
        first_page = None
        started = time.perf_counter()
        while True:
            page_started = time.perf_counter()
            response = client.get(path, params={**params, "limit": limit, "offset": offset},
                                  headers=headers)
            if "maconomy-reconnect" in response.headers:
                headers = {"Authorization":
                           f"X-Reconnect {response.headers['maconomy-reconnect']}",
                           "Accept": "application/json"}
            rows = orjson.loads(response.content)["panes"]["filter"]["records"]
            if first_page is None:
                first_page = time.perf_counter() - page_started
            seen += len(rows)
            offset += len(rows)
            if not rows:
                break
        elapsed = time.perf_counter() - started
    print(f"loopback {label}: {seen:,} records in {elapsed:.2f} s = {seen / elapsed:,.0f} "
          f"records/s (first page {first_page * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=5000)
    args = parser.parse_args()
    sandbox = MaconomySandbox(SandboxConfig(records=args.records))
    in_process(sandbox, args.records, args.limit)
    with serve_in_thread(sandbox.app) as url:
        over_loopback(url, args.limit, {"orderby": "+customernumber"}, "full read      ")
        over_loopback(url, args.limit, {
            "restriction": "transactiontimestamp >= timestamp(2000, 1, 1, 0, 0, 0, 0)",
            "orderby": "+transactiontimestamp,+customernumber"}, "delta restricted")


if __name__ == "__main__":
    main()
