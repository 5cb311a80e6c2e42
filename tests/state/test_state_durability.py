"""SIGKILL a real process while it commits batches to SQLite; the file must stay whole.

Every batch the child reported as committed survives; the batch in flight is either
entirely there or entirely absent; links, failures and cursor agree; and SQLite's own
integrity check passes.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.state.sqlite import SqliteStateStore

CHILD = Path(__file__).with_name("crash_child.py")
BATCH = 400


class Child:
    """The committing process, with its stdout read by a thread (so waits can time out)."""

    def __init__(self, db: Path, pause_at: int | None = None) -> None:
        args = [sys.executable, str(CHILD), str(db), str(BATCH)]
        if pause_at is not None:
            args.append(str(pause_at))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("<eof>")

    def wait_for(self, wanted: str) -> None:
        while (line := self.lines.get(timeout=60)) != wanted:
            assert line != "<eof>", f"child exited ({self.proc.wait()}) before {wanted!r}"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL
        self._reader.join(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def check_consistent(db: Path) -> int:
    """Assert the invariants; return the last committed batch."""
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()
    with SqliteStateStore(db) as store:
        cursor = store.get_cursor("crash", "sync")
        assert cursor is not None
        last = int(cursor)
        per_batch: Counter[int] = Counter()
        for link in store.iter_links("crash", "sync"):
            batch = int(link.source_key[1:6])
            assert link.hash == f"h{batch}"
            per_batch[batch] += 1
        assert per_batch == dict.fromkeys(range(last + 1), BATCH)
        assert store.failing_keys("crash", "sync") == [f"f{last:05d}"]
    return last


@pytest.mark.scenario("S3")
@pytest.mark.parametrize("kill_after", [2, 9, 23])
def test_sigkill_while_committing_loses_no_committed_batch(tmp_path: Path,
                                                            kill_after: int) -> None:
    db = tmp_path / "state.db"
    child = Child(db)
    child.wait_for(str(kill_after))
    child.kill()  # the child is already busy with the next batch
    assert check_consistent(db) >= kill_after


@pytest.mark.scenario("S3")
def test_sigkill_inside_the_transaction_leaves_that_batch_out(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    child = Child(db, pause_at=4)
    child.wait_for("paused")
    # Prove the child is inside its write transaction: the write lock is taken.
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            probe.execute("BEGIN IMMEDIATE")
    finally:
        probe.close()
    child.kill()
    assert check_consistent(db) == 3
    with SqliteStateStore(db) as store:  # and the store works on after the crash
        assert store.get_links("crash", "sync", ["b00004-0000"]) == {}


WRITER = """
import sys
from datetime import UTC, datetime
from engine.state import BatchCommit, Link, SqliteStateStore

store = SqliteStateStore(sys.argv[1])
sync = sys.argv[2]
for n in range(60):
    links = [Link(f"{n:03d}-{i:02d}", f"t{i}", "h") for i in range(50)]
    store.commit_batch(BatchCommit("multi", sync, datetime.now(UTC), links=links, cursor=str(n)))
    store.inbox_put("src", f"{sync}-{n}", b"p", received_at=datetime.now(UTC))
store.close()
"""


def test_two_processes_share_one_file(tmp_path: Path) -> None:
    """`specsync serve` beside a manual `specsync run`: both write, neither fails."""
    db = tmp_path / "state.db"
    SqliteStateStore(db).close()  # migrated once up front; each child re-checks
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), sync])
        for sync in ("serve", "manual")
    ]
    claimed: list[int] = []
    with SqliteStateStore(db) as store:
        while any(w.poll() is None for w in writers):
            claimed.extend(e.id for e in store.inbox_claim("parent", 5, at_now(), 60))
        assert [w.wait(timeout=60) for w in writers] == [0, 0]
        claimed.extend(e.id for e in store.inbox_claim("parent", 500, at_now(), 60))
        assert len(claimed) == len(set(claimed)) == 120
        for sync in ("serve", "manual"):
            assert store.count_links("multi", sync) == 3000
            assert store.get_cursor("multi", sync) == "59"


def at_now() -> datetime:
    return datetime.now(UTC)


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    SqliteStateStore(db).close()
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()
