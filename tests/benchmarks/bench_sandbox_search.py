"""Benchmark: sandbox searches at 100,000 records through the indexes (prints figures).

    python tests/benchmarks/bench_sandbox_search.py [--records 100000]

Times, in the sandbox's process and without HTTP, the first search (which learns the
index in one pass) and then the median of later ones: a Cinode customer by
`identification` (Equals), a page of Cinode customers in created order deep in the
collection, and a HubSpot company by a unique property (IN of 100 values).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from engine.sandbox.cinode import CinodeSandbox
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.platform import SandboxConfig


async def _cinode(records: int) -> None:
    sandbox = CinodeSandbox(SandboxConfig(records=records, rate_limits=False))
    store = sandbox.store
    for n, customer in enumerate(store.customers.page(records // 2, 100)):
        store.customers.put({**customer, "identification": f"MAC-{n}"})
    creds = CinodeCredentials()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://cinode.test") as client:
        token = (await client.get("/token", auth=(creds.access_id,
                                                  creds.access_secret))).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        path = f"/v0.1/companies/{store.company_id}/customers/search"

        async def timed(body: dict) -> float:
            started = time.perf_counter()
            response = await client.post(path, json=body)
            assert response.status_code == 200, response.text
            return (time.perf_counter() - started) * 1000

        for name, make in [
            ("customer by identification", lambda n: {"identification": f"mac-{n % 100}",
                                                      "identificationOperator": 3}),
            ("page 150 of 500 in created order", lambda n: {"pageAndSortBy": {
                "sortBy": 0, "page": 150 + n % 3, "itemsPerPage": 500}}),
        ]:
            first = await timed(make(0))
            rest = [await timed(make(n)) for n in range(1, 21)]
            print(f"cinode {records:,} customers, {name}: first {first:.0f} ms "
                  f"(learns the index), then {statistics.median(rest):.2f} ms median")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(_cinode(args.records))


if __name__ == "__main__":
    main()
