"""Group commit: concurrent deliveries share transactions; durable before answered."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from engine.runner.inbox_writer import InboxWriter
from engine.state import SqliteStateStore


class SlowStore(SqliteStateStore):
    """Holds each commit until released, so requests pile up behind it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.batches: list[int] = []

    def inbox_put_many(self, items: Sequence[tuple[str, str, bytes]], *,
                       received_at: datetime) -> list[bool]:
        self.gate.wait(10)
        self.batches.append(len(items))
        return super().inbox_put_many(items, received_at=received_at)


def now() -> datetime:
    return datetime.now(UTC)


async def test_deliveries_queued_behind_a_commit_share_the_next_one(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "state.db")
    writer = InboxWriter(store, now)
    first = asyncio.create_task(writer.put([("s/a", "1", b"{}")]))
    await asyncio.sleep(0.05)  # the first commit is in flight, held by the gate
    rest = [asyncio.create_task(writer.put([("s/a", str(n), b"{}"), ("s/a", "1", b"{}")]))
            for n in range(2, 6)]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(t.done() for t in rest)  # nobody answered early
    store.gate.set()
    assert await first == [True]
    assert [await t for t in rest] == [[True, False]] * 4  # "1" is a duplicate
    assert store.batches == [1, 8]  # the four queued deliveries: one transaction
    assert store.inbox_depth() == 5
    await writer.aclose()
    store.close()


async def test_closing_answers_what_is_queued_first(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "state.db")
    writer = InboxWriter(store, now)
    first = asyncio.create_task(writer.put([("s/a", "1", b"{}")]))
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(writer.put([("s/a", "2", b"{}")]))
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(writer.aclose())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waits for the commit in flight and the queue
    store.gate.set()
    await closing
    assert (await first, await queued) == ([True], [True])
    assert store.inbox_depth() == 2
    store.close()
