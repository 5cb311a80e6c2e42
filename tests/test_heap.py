"""engine/heap.py: what a command loaded is frozen out of the collector's full walks."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.runtime import open_runtime
from engine.heap import settle

ROOT = Path(__file__).resolve().parents[1]


class _Node:
    me: _Node | None = None


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as before


def test_settle_collects_the_garbage_then_freezes_what_lives() -> None:
    kept, cycle = _Node(), _Node()
    cycle.me = cycle  # garbage only a collection frees
    gone = weakref.ref(cycle)
    del cycle
    settle()
    assert gone() is None  # collected, not frozen for good
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # in the permanent generation
    made_after = _Node()
    assert any(o is made_after for o in gc.get_objects())  # collected as before


async def test_a_command_runtime_settles_the_heap(tmp_path: Path) -> None:
    async with open_runtime(str(ROOT / "specs" / "kleer-hubspot"),
                            str(tmp_path / "state.db"), read_only=True):
        assert gc.get_freeze_count() > 0
