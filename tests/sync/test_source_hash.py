"""An unchanged source record is skipped without mapping it: the hash of the record
(under the sync's fingerprint) is kept on its link (engine/sync/decide.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.sync.mapping import Mapper
from engine.sync.pipeline import run_sync
from tests.sync.test_pipeline import _patch


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the records the real mapper maps (a spy around the real method)."""
    calls = [0]
    real = Mapper.map

    def counting(self: Mapper, record, ctx):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return real(self, record, ctx)

    monkeypatch.setattr(Mapper, "map", counting)
    return calls


async def test_unchanged_records_are_not_mapped_again(world_factory, mapped) -> None:
    world = world_factory(records=30)
    runtime = world.runtime()
    try:
        first = await run_sync(runtime, "customers")
        assert first.counts["create"] == 30
        links = list(world.store.iter_links(world.spec.integration, "customers"))
        assert all(link.source_hash for link in links)

        mapped[0] = 0
        again = await run_sync(runtime, "customers", full=True)
        assert again.counts["skip"] == 30 and mapped[0] == 0  # nothing mapped

        number = sorted(link.source_key for link in links)[0]
        await _patch(world, "customercard", number, {"name1": "Renamed AB"})
        mapped[0] = 0
        changed = await run_sync(runtime, "customers", full=True)
        assert changed.counts["update"] == 1 and changed.counts["skip"] == 29
        assert mapped[0] == 1  # only the changed record
        names = {c["identification"]: c["name"] for c in world.cinode_customers()}
        assert names[number] == "Renamed AB"
    finally:
        await runtime.aclose()


async def test_a_spec_change_maps_everything_again(world_factory, mapped) -> None:
    world = world_factory(records=12)
    runtime = world.runtime()
    try:
        await run_sync(runtime, "customers")
    finally:
        await runtime.aclose()
    sync = world.spec.syncs["customers"]
    fields = [replace(f, transform="{{ name1 }} (M)") if f.target == "name" else f
              for f in sync.fields]
    spec = replace(world.spec, syncs={**world.spec.syncs,
                                      "customers": replace(sync, fields=fields)})
    mapped[0] = 0
    runtime = world.runtime(spec)
    try:
        report = await run_sync(runtime, "customers")
    finally:
        await runtime.aclose()
    assert report.counts["update"] == 12 and mapped[0] == 12
    assert all(c["name"].endswith(" (M)") for c in world.cinode_customers())


async def test_a_sync_reading_other_links_keeps_no_source_hash(world_factory) -> None:
    world = world_factory(records=12)
    runtime = world.runtime()
    try:
        await run_sync(runtime, "customers")
        projects = await run_sync(runtime, "projects")
        assert projects.counts["create"] > 0
    finally:
        await runtime.aclose()
    links = list(world.store.iter_links(world.spec.integration, "projects"))
    assert links and all(link.source_hash is None for link in links)
