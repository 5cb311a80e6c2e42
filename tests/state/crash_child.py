"""Commits batches to a SQLite state store forever, until the test SIGKILLs it.

    python crash_child.py STATE_DB BATCH_SIZE [PAUSE_AT]

Batch n links keys "b{n:05d}-{i:04d}" with hash "h{n}", records failure "f{n}",
resolves "f{n-1}" and moves the cursor to "{n:05d}". After each commit it prints n.
With PAUSE_AT, batch PAUSE_AT stops half-way through its links, inside the
transaction, prints "paused" and waits to be killed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from engine.state.base import BatchCommit, FailedRecord, Link
from engine.state.sqlite import SqliteStateStore


class PausingLinks(list[Link]):
    def __iter__(self) -> Iterator[Link]:
        for n, link in enumerate(list.__iter__(self)):
            if n == len(self) // 2:
                print("paused", flush=True)
                time.sleep(3600)
            yield link


def main() -> None:
    path, size = sys.argv[1], int(sys.argv[2])
    pause_at = int(sys.argv[3]) if len(sys.argv) > 3 else None
    store = SqliteStateStore(path)
    n = 0
    while True:
        links = [Link(f"b{n:05d}-{i:04d}", f"t{n}-{i}", f"h{n}") for i in range(size)]
        store.commit_batch(
            BatchCommit(
                "crash",
                "sync",
                datetime.now(UTC),
                links=PausingLinks(links) if n == pause_at else links,
                failures=[FailedRecord(f"f{n:05d}", "test.fail", "record failed")],
                resolved=[f"f{n - 1:05d}"],
                cursor=f"{n:05d}",
            )
        )
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    main()
