"""How fast compiled filters run: evaluations per second and ns per record.

    python tests/benchmarks/bench_rules.py [records]

Not a test: prints figures. Each shape runs over the same 100,000 generated
records (typed as adapters deliver them) through `pred.bind()` with the builtin
`filter` (the batch path the sync uses), through `pred(record)` (clock read per
call), and through the reference interpreter for comparison.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from engine.rules import compile_rule, explain_rule, parse_rule

NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
SETUP = {"selected_stages": [12, 14, 17], "customers": ["1000", "1001"]}

SHAPES = {
    "5 clauses (seed: active, types, customers)":
        'active is true and (jobtype = "T&M" or jobtype = "Fixed") and '
        'not customernumber in ["1000", "1001"] and status = 3',
    "5 clauses, all evaluated (every record passes the early ones)":
        'region = "SE" and jobtype in ["T&M", "Fixed", "Internal"] and status >= 0 '
        'and name starts with "P" and closed is false',
    "relative date + contains":
        'createddate >= today() - 30d and tags contains "BV=30" and status = 3',
    "Won or selected stages (setup list)":
        'currentState = "Won" or currentStageId in setup.selected_stages',
    "single condition": "active is true",
}


def make_records(n: int) -> list[dict[str, object]]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        out.append({
            "active": rnd.random() < 0.8,
            "jobtype": rnd.choice(["T&M", "Fixed", "Internal"]),
            "customernumber": str(rnd.randint(1000, 1010)),
            "status": rnd.randint(0, 4),
            "region": "SE",
            "name": f"P-{i}",
            "closed": False,
            "createddate": date(2024, 3, 1) - timedelta(days=rnd.randint(0, 60)),
            "tags": rnd.choice([["BV=30"], ["x"], []]),
            "currentState": rnd.choice(["Won", "Open", "Lost"]),
            "currentStageId": rnd.randint(10, 20),
        })
    return out


def timed(run: Callable[[], int], repeat: int = 5) -> tuple[float, int]:
    best = float("inf")
    kept = 0
    for _ in range(repeat):
        start = time.perf_counter()
        kept = run()
        best = min(best, time.perf_counter() - start)
    return best, kept


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    records = make_records(n)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{n:,} records, best of 5, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus, load average {load} (figures are noisy when loaded)")
    print(f"{'shape':<62} {'path':<12} {'ns/record':>10} {'evals/s':>12} {'kept':>7}")

    def baseline(r: dict[str, object]) -> bool:
        return r.get("active") is True

    seconds, kept = timed(lambda: sum(1 for _ in filter(baseline, records)))
    print(f"{'baseline: hand-written def r.get(...) is True':<62} {'filter':<12} "
          f"{seconds / n * 1e9:>10.0f} {n / seconds:>12,.0f} {kept:>7,}")
    for label, text in SHAPES.items():
        rule = parse_rule(text)
        pred = compile_rule(rule, setup=SETUP, clock=lambda: NOW)
        bound = pred.bind()
        paths: dict[str, Callable[[], int]] = {
            "bind+filter": lambda bound=bound: sum(1 for _ in filter(bound, records)),
            "call": lambda pred=pred: sum(1 for r in records if pred(r)),
        }
        sample = records[: max(1, n // 20)]

        def interp(rule: object = rule, sample: list[dict[str, object]] = sample) -> int:
            return sum(1 for r in sample
                       if explain_rule(rule, r, setup=SETUP, clock=lambda: NOW).verdict)

        for path, run in paths.items():
            seconds, kept = timed(run)
            ns = seconds / n * 1e9
            print(f"{label:<62} {path:<12} {ns:>10.0f} {n / seconds:>12,.0f} {kept:>7,}")
        seconds, _ = timed(interp, repeat=1)
        ns = seconds / len(sample) * 1e9
        print(f"{'':<62} {'explain':<12} {ns:>10.0f} {len(sample) / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
