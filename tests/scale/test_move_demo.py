"""The demo's own SQLite state, moved to a fresh PostgreSQL database, then run on workers.

The whole demo runs (four sandboxes, the three seed integrations, the live webhooks and
the workflow action, through the embedded runner) into its SQLite file, and its scheduled
syncs run until they carry nothing more (the live events' changes). The runner is
stopped, the sandboxes stay up as they are; `move_state` copies the file into a database
created for this test; two `specsync worker` processes then run every scheduled sync of
every integration once more (the next scheduled run), and nothing is written: every link,
hash, cursor and claim came along, so nothing is created, updated, adopted or deactivated.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from engine.demo.order import scheduled_syncs
from engine.demo.report import DemoPrinter
from engine.demo.run import _Demo
from engine.demo.world import INTEGRATIONS, DemoWorld, open_world
from engine.redact import Redactor
from engine.scale.move import move_state
from engine.sync.pipeline import run_sync
from tests.scale.conftest import PG_DSN, ROOT, Cluster
from tests.scale.support import queue_idle, request_runs, runs, workers_ready

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WRITES = ("create", "update", "adopt", "deactivate", "delete")
SPECS = str(ROOT / "specs")


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own (CREATE DATABASE), dropped afterwards."""
    assert PG_DSN is not None
    name = f"specsync_move_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_DSN.split("?")[0].rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _until(check: object, seconds: float, message: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.3)
    raise AssertionError(message)


async def _settle(world: DemoWorld) -> None:
    """Run the scheduled syncs embedded until a pass writes nothing (at most three).

    The demo ends on live events its schedules have not carried on yet (a company
    renamed in HubSpot reaches Kleer, so Cinode's customer follows at kleer-cinode's next
    slot): the embedded runner's next slots settle that, and the settled store moves."""
    for _ in range(3):
        written = 0
        for integration, spec in world.specs.items():
            runtime = world.runtime(integration)
            try:
                for name in scheduled_syncs(spec):
                    report = await run_sync(runtime, name, trigger="schedule")
                    written += sum(report.counts.get(k, 0) for k in WRITES)
            finally:
                await runtime.aclose()
        if written == 0:
            return
    raise AssertionError("the demo's state did not settle in three passes")


def test_the_demo_s_state_moved_to_a_fresh_database_makes_workers_write_nothing(
        cluster: Cluster, tmp_path: Path, fresh_database: str) -> None:
    sqlite = tmp_path / "state.db"
    output = io.StringIO()

    async def scenario() -> tuple[int, list[tuple[str, str]]]:
        redactor = Redactor()
        world = await open_world(20, sqlite, redactor=redactor)
        try:
            demo = _Demo(world, DemoPrinter(Console(file=output, width=100), redactor))
            await demo.run()
            assert demo.failures == [], output.getvalue()
            await _settle(world)
            # The embedded runner stops (as `serve` would); the vendors stay as they are.
            runner = world.servers.pop()
            await runner.stop()
            world.store.close()

            report = await asyncio.to_thread(move_state, sqlite, fresh_database)
            assert report.rows["links"] > 0 and report.rows["runs"] > 0
            moved = len(await asyncio.to_thread(runs, fresh_database))

            cluster.env.update(world.environ)
            for name in ("w1", "w2"):
                cluster.worker(SPECS, fresh_database, name)
            await _until(lambda: workers_ready(fresh_database, 2), 60,
                         "the workers did not start")
            wanted = [(integration, sync) for integration, spec in world.specs.items()
                      for sync in scheduled_syncs(spec)]
            await asyncio.to_thread(request_runs, SPECS, fresh_database, world.environ,
                                    wanted)
            await _until(lambda: len(runs(fresh_database)) >= moved + len(wanted)
                         and queue_idle(fresh_database), 180,
                         "the runs after the move did not finish")
            return moved, wanted
        finally:
            await world.aclose()

    moved, wanted = asyncio.run(scenario())
    after = sorted(runs(fresh_database), key=lambda r: r.id)[moved:]
    assert sorted((r.integration, r.sync) for r in after) == sorted(wanted)
    assert {r.status for r in after} == {"success"}, [
        (r.integration, r.sync, r.status, r.counts) for r in after if r.status != "success"]
    written = {(r.integration, r.sync): {k: r.counts[k] for k in WRITES if r.counts.get(k)}
               for r in after}
    assert written == {key: {} for key in written}
    assert sum(r.counts.get("read", 0) for r in after) > 0
    assert {r.integration for r in after} == set(INTEGRATIONS)
