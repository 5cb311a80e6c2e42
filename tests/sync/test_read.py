"""The delta window and cursor of a run, as pure values (no source, no store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.spec.model import Delta
from engine.sync.read import DeltaCursor, SourceReader

World = Any  # tests/sync/conftest.py builds it


def _reader(world: World, delta: Delta | None) -> SourceReader:
    sync = replace(world.spec.syncs["customers"], delta=delta)
    return SourceReader(sync, source=None, source_info=None,  # type: ignore[arg-type]
                        integration="i", store=None)  # type: ignore[arg-type]


def test_the_window_is_the_cursor_minus_the_overlap_unless_everything_is_read(
        world: World) -> None:
    delta = Delta("changed", timedelta(minutes=10))
    reader = _reader(world, delta)
    cursor = "2026-03-02T09:00:00+00:00"
    assert reader.window(False, cursor=cursor, stored_fingerprint="f", fingerprint="f") == \
        datetime(2026, 3, 2, 8, 50, tzinfo=UTC)
    assert reader.window(True, cursor=cursor, stored_fingerprint="f", fingerprint="f") is None
    assert reader.window(False, cursor=None, stored_fingerprint="f", fingerprint="f") is None
    # The spec changed what is written: everything is read again.
    assert reader.window(False, cursor=cursor, stored_fingerprint="old",
                         fingerprint="f") is None
    assert _reader(world, None).window(False, cursor=cursor, stored_fingerprint="f",
                                       fingerprint="f") is None


def test_the_cursor_moves_to_the_newest_value_read_and_never_back(world: World) -> None:
    sync = replace(world.spec.syncs["customers"], delta=Delta("changed", timedelta(0)))
    cursor = DeltaCursor(sync, "2026-03-02T09:00:00+00:00", advance=True)
    newest = cursor.scan([{"changed": "2026-03-02T10:00:00Z"}, {"changed": None},
                          {"changed": datetime(2026, 3, 2, 9, 30, tzinfo=UTC)}, {}])
    assert newest == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    cursor.reach(newest)
    assert cursor.value == "2026-03-02T10:00:00+00:00"
    cursor.reach(cursor.scan([{"changed": "2026-03-01T00:00:00Z"}]))
    assert cursor.value == "2026-03-02T10:00:00+00:00"
    assert cursor.missing == 2
    assert (cursor.warning() or "").startswith("2 record(s) have no changed")

    handed_in = DeltaCursor(sync, None, advance=False)  # e.g. a webhook's records
    handed_in.reach(handed_in.scan([{"changed": "2026-03-02T10:00:00Z"}]))
    assert handed_in.value is None and handed_in.warning() is None
