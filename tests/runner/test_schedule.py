"""Schedules and the scheduler, driven by a fake clock: nothing here sleeps for real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import StateError
from engine.runner.gate import SyncGate
from engine.runner.schedule import ScheduledSync, Scheduler, parse_schedule
from engine.state import SqliteStateStore, sync_lease_name

T0 = datetime(2025, 3, 3, 10, 30, tzinfo=UTC)  # a Monday


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@pytest.fixture
def store(tmp_path):
    with SqliteStateStore(tmp_path / "state.db") as store:
        yield store


@pytest.mark.parametrize(("text", "moment", "expected"), [
    pytest.param("hourly", T0, datetime(2025, 3, 3, 11, tzinfo=UTC), id="hourly"),
    pytest.param("daily", T0, datetime(2025, 3, 4, tzinfo=UTC), id="daily"),
    pytest.param("every 5m", T0, datetime(2025, 3, 3, 10, 35, tzinfo=UTC), id="every-5m"),
    pytest.param("every 90s", T0, datetime(2025, 3, 3, 10, 31, 30, tzinfo=UTC), id="every-90s"),
    pytest.param("every 2h", T0, datetime(2025, 3, 3, 12, tzinfo=UTC), id="every-2h"),
    pytest.param("cron 0 6 * * 1-5", datetime(2025, 3, 7, 7, tzinfo=UTC),
                 datetime(2025, 3, 10, 6, tzinfo=UTC), id="cron-weekdays-skips-weekend"),
    pytest.param("hourly", datetime(2025, 3, 3, 11, tzinfo=UTC),
                 datetime(2025, 3, 3, 12, tzinfo=UTC), id="on-a-slot-means-the-next"),
])
def test_next_after(text: str, moment: datetime, expected: datetime) -> None:
    assert parse_schedule(text).next_after(moment) == expected


def test_never_has_no_slots() -> None:
    schedule = parse_schedule("never")
    assert schedule.never
    assert schedule.next_after(T0) is None
    assert schedule.latest_at_or_before(T0) is None


@pytest.mark.parametrize("text", ["weekly", "every 0m", "every 5 minutes", "cron 0 6 * *",
                                  "cron 61 * * * *", ""])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        parse_schedule(text)


@settings(max_examples=200, deadline=None)
@given(text=st.sampled_from(["hourly", "daily", "every 7m", "every 45s", "every 3d",
                             "cron */15 * * * *", "cron 0 6 * * 1-5", "cron 30 2 1 * *"]),
       moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                           timezones=st.just(UTC)))
def test_slots_bracket_every_moment(text: str, moment: datetime) -> None:
    schedule = parse_schedule(text)
    latest = schedule.latest_at_or_before(moment)
    following = schedule.next_after(moment)
    assert latest is not None and following is not None
    assert latest <= moment < following
    assert schedule.next_after(latest) == following  # no slot hides between them


class Runs:
    """The scheduler's run callback: records calls; optionally blocks until released."""

    def __init__(self, store: SqliteStateStore | None = None,
                 clock: FakeClock | None = None) -> None:
        self.calls: list[tuple[str, str, datetime]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.active = 0
        self.max_active = 0
        self.store = store
        self.clock = clock

    async def __call__(self, integration: str, sync: str) -> None:
        lease = None
        if self.store is not None and self.clock is not None:
            # What run_sync does: take the sync's lease or refuse to run.
            lease = self.store.acquire_lease(sync_lease_name(integration, sync), "runs",
                                             self.clock(), 60)
            if lease is None:
                raise StateError("another run of this sync is in progress")
        self.calls.append((integration, sync, self.clock() if self.clock else T0))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1
            if lease is not None:
                self.store.release_lease(sync_lease_name(integration, sync), "runs", lease)


def job(text: str = "hourly", sync: str = "projects") -> ScheduledSync:
    return ScheduledSync("demo", sync, parse_schedule(text))


async def settle(tasks: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks)


async def test_a_sync_that_never_ran_runs_at_once_then_waits_for_its_next_slot(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    scheduler = Scheduler(store, [job()], runs, clock=clock)
    await settle(scheduler.tick())
    assert len(runs.calls) == 1
    clock.advance(minutes=20)  # 10:50: the 10:00 slot is done
    assert scheduler.tick() == []
    clock.advance(minutes=10)  # 11:00
    await settle(scheduler.tick())
    assert len(runs.calls) == 2


async def test_after_downtime_a_missed_schedule_runs_once(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    await settle(Scheduler(store, [job()], runs, clock=clock).tick())
    # The process is down from 10:30 to 15:40: five hourly slots were missed.
    clock.advance(hours=5, minutes=10)
    restarted = Scheduler(store, [job()], runs, clock=clock)
    await settle(restarted.tick())
    await settle(restarted.tick())
    assert len(runs.calls) == 2
    assert restarted.last_slot(job()) == datetime(2025, 3, 3, 15, tzinfo=UTC)
    # And a third process started in the same hour does not run it again.
    assert Scheduler(store, [job()], runs, clock=clock).tick() == []


async def test_two_runs_of_one_sync_never_overlap(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    runs.release.clear()
    scheduler = Scheduler(store, [job("every 5m")], runs, clock=clock)
    first = scheduler.tick()
    await asyncio.sleep(0)
    assert runs.active == 1
    for _ in range(6):  # 30 minutes of slots pass while the first run is still going
        clock.advance(minutes=5)
        assert scheduler.tick() == []
    runs.release.set()
    await settle(first)
    await settle(scheduler.tick())  # the slots missed meanwhile: one run
    assert scheduler.tick() == []
    assert len(runs.calls) == 2
    assert runs.max_active == 1


async def test_a_sync_held_by_another_process_is_retried_without_losing_the_slot(store) -> None:
    clock = FakeClock()
    runs = Runs(store, clock)
    name = sync_lease_name("demo", "projects")
    epoch = store.acquire_lease(name, "other-process", clock(), 600)
    scheduler = Scheduler(store, [job()], runs, clock=clock, busy_retry_seconds=30)
    await settle(scheduler.tick())
    assert runs.calls == []
    assert scheduler.last_slot(job()) is None  # still due
    clock.advance(seconds=10)
    assert scheduler.tick() == []  # waits out the retry delay
    store.release_lease(name, "other-process", epoch)
    clock.advance(seconds=25)
    await settle(scheduler.tick())
    assert len(runs.calls) == 1
    assert scheduler.last_slot(job()) == datetime(2025, 3, 3, 10, tzinfo=UTC)


async def test_a_webhook_run_holding_the_gate_postpones_the_scheduled_run(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    gate = SyncGate()
    scheduler = Scheduler(store, [job()], runs, gate=gate, clock=clock)
    async with gate.hold("demo", "projects"):
        assert scheduler.tick() == []
    await settle(scheduler.tick())
    assert len(runs.calls) == 1


async def test_a_failing_run_records_its_slot_and_the_next_slot_tries_again(store) -> None:
    clock = FakeClock()
    attempts: list[datetime] = []

    async def failing(integration: str, sync: str) -> None:
        attempts.append(clock())
        raise RuntimeError("source down")

    scheduler = Scheduler(store, [job()], failing, clock=clock)
    await settle(scheduler.tick())
    assert scheduler.tick() == []  # no hot loop on a failing sync
    clock.advance(hours=1)
    await settle(scheduler.tick())
    assert len(attempts) == 2


async def test_the_loop_sleeps_until_the_next_slot(store) -> None:
    clock = FakeClock(datetime(2025, 3, 3, 10, 0, 30, tzinfo=UTC))
    stop = asyncio.Event()
    seen: list[datetime] = []

    async def run(integration: str, sync: str) -> None:
        seen.append(clock())
        if len(seen) == 3:
            stop.set()

    scheduler = Scheduler(store, [job("every 5m")], run, clock=clock, sleep=clock.sleep,
                          max_sleep_seconds=3600)
    await asyncio.wait_for(scheduler.run(stop), 5)
    await scheduler.drain()
    assert [t.strftime("%H:%M:%S") for t in seen] == ["10:00:30", "10:05:00", "10:10:00"]
    assert clock.slept[:2] == [270.0, 300.0]


async def test_reloading_jobs_drops_removed_syncs_and_adds_new_ones(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    scheduler = Scheduler(store, [job(sync="projects")], runs, clock=clock)
    scheduler.replace_jobs([job(sync="customers"), job("never", sync="users")])
    await settle(scheduler.tick())
    assert [c[1] for c in runs.calls] == ["customers"]


async def test_a_dependent_sync_waits_for_its_upstream_run_and_starts_when_it_ends(
        store) -> None:
    """A fresh store: both are due at once; the sync reading the other's links waits
    while it runs, starts as soon as it ends, and so again in the next shared slot."""
    clock = FakeClock()
    runs = Runs(clock=clock)
    runs.release.clear()
    customers = job("hourly", "customers")
    projects = ScheduledSync("demo", "projects", parse_schedule("every 30m"),
                             frozenset({"customers"}))
    scheduler = Scheduler(store, [projects, customers], runs, clock=clock)
    first = scheduler.tick()
    await asyncio.sleep(0)
    assert [c[1] for c in runs.calls] == ["customers"]
    assert scheduler.tick() == []  # customers still runs: projects waits
    runs.release.set()
    await settle(first)
    await settle(scheduler.tick())
    assert [c[1] for c in runs.calls] == ["customers", "projects"]
    clock.advance(minutes=30)  # 11:00: both due again, the same order
    runs.release.clear()
    started = scheduler.tick()
    await asyncio.sleep(0)
    assert [c[1] for c in runs.calls[2:]] == ["customers"]
    runs.release.set()
    await settle(started)
    await settle(scheduler.tick())
    assert [c[1] for c in runs.calls[2:]] == ["customers", "projects"]
    clock.advance(minutes=30)  # 11:30: only projects is due: it waits for nothing
    await settle(scheduler.tick())
    assert [c[1] for c in runs.calls[4:]] == ["projects"]


async def test_a_dependent_of_a_paused_or_unscheduled_sync_does_not_wait(store) -> None:
    clock = FakeClock()
    runs = Runs(clock=clock)
    store.set_paused("demo", "customers", True, by="alice (operator)", at=T0)
    customers = job("hourly", "customers")
    projects = ScheduledSync("demo", "projects", parse_schedule("hourly"),
                             frozenset({"customers", "users"}))  # users: not scheduled
    scheduler = Scheduler(store, [customers, projects], runs, clock=clock)
    await settle(scheduler.tick())
    assert [c[1] for c in runs.calls] == ["projects"]
