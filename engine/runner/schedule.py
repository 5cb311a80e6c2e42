"""When each scheduled sync runs: schedules parsed from specs, and the loop that starts them.

A schedule is a sequence of slots in UTC: `hourly` (minute 0), `daily` (midnight UTC),
`every 5m` (multiples of five minutes since the epoch), `cron 0 6 * * 1-5` (croniter,
UTC) or `never`. The `Scheduler` starts a sync when a slot has passed that it has not
run for yet, and keeps these promises (reliability.md S4):

- two runs of one sync never overlap: an in-process `SyncGate` plus the state-store
  lease `run_sync` takes (so a second process is refused too);
- after downtime, a missed schedule runs ONCE, not once per missed slot: the last slot
  run is persisted per sync (`set_meta`), and only the newest passed slot is due;
- a sync that never ran is due at once (its newest passed slot has not been run);
- a run refused because another holds the sync (StateError) is retried shortly and its
  slot is not recorded; any other failure records the slot (the next slot tries again,
  and failing records are retried by every run anyway);
- a sync an operator paused (`StateStore.set_paused`) does not run: each slot that
  passes meanwhile is recorded as run and as skipped (`skipped_key`), so resuming waits
  for the next slot instead of catching up;
- a sync whose templates read another sync's links (`ScheduledSync.after`,
  dependencies.py) waits while that sync is due, running or waiting to retry, and
  starts as soon as its run completes: a fresh store's first round runs in dependency
  order, not all at once.

Time is injected (`clock`, `sleep`) so tests drive it without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from engine.errors import SpecsyncError, StateError
from engine.runner.gate import SyncGate
from engine.state.base import StateStore

__all__ = ["Schedule", "ScheduledSync", "Scheduler", "parse_schedule"]

log = logging.getLogger(__name__)

_EVERY = re.compile(r"^every ([0-9]+)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    """One sync's schedule; `next_after` and `latest_at_or_before` give its slots (UTC)."""

    text: str
    interval: timedelta | None = None
    cron: str | None = None

    @property
    def never(self) -> bool:
        return self.interval is None and self.cron is None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first slot strictly after `moment`, or None for `never`."""
        moment = moment.astimezone(UTC)
        if self.interval is not None:
            step = self.interval.total_seconds()
            elapsed = (moment - _EPOCH).total_seconds()
            return _EPOCH + timedelta(seconds=(elapsed // step + 1) * step)
        if self.cron is not None:
            return croniter(self.cron, moment).get_next(datetime).astimezone(UTC)
        return None

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The newest slot not after `moment` (the one a run now would serve)."""
        moment = moment.astimezone(UTC)
        if self.interval is not None:
            step = self.interval.total_seconds()
            elapsed = (moment - _EPOCH).total_seconds()
            return _EPOCH + timedelta(seconds=(elapsed // step) * step)
        following = self.next_after(moment)
        if following is None or self.cron is None:
            return None
        return croniter(self.cron, following).get_prev(datetime).astimezone(UTC)


def parse_schedule(text: str) -> Schedule:
    """`never | hourly | daily | every <n><s|m|h|d> | cron <5 fields>`; ValueError otherwise.

    Specs are validated before they get here, so an error is a programming error.
    """
    text = text.strip()
    if text == "never":
        return Schedule(text)
    if text == "hourly":
        return Schedule(text, cron="0 * * * *")
    if text == "daily":
        return Schedule(text, cron="0 0 * * *")
    match = _EVERY.match(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds <= 0:
            raise ValueError(f"schedule {text!r}: the interval must be positive")
        return Schedule(text, interval=timedelta(seconds=seconds))
    if text.startswith("cron "):
        expression = text[5:].strip()
        if len(expression.split()) == 5 and croniter.is_valid(expression):
            return Schedule(text, cron=expression)
    raise ValueError(f"{text!r} is not a schedule (never, hourly, daily, every 5m, cron ...)")


@dataclass(frozen=True)
class ScheduledSync:
    """A sync the scheduler owns: where its last slot is kept and how often it runs."""

    integration: str
    sync: str
    schedule: Schedule
    after: frozenset[str] = frozenset()  # syncs of the same integration it waits for

    @property
    def meta_key(self) -> str:
        return f"runner.last_slot.{self.sync}"

    @property
    def skipped_key(self) -> str:
        """Where the last slot skipped while paused is kept (the console shows it)."""
        return f"runner.skipped_slot.{self.sync}"


RunSync = Callable[[str, str], Awaitable[object]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Starts due syncs; see the module docstring for the promises it keeps.

        scheduler = Scheduler(store, jobs, run=start_run, gate=gate)
        await scheduler.run(stop_event)     # or: tasks = scheduler.tick() in tests
    """

    def __init__(
        self,
        store: StateStore,
        jobs: Iterable[ScheduledSync],
        run: RunSync,
        *,
        gate: SyncGate | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        busy_retry_seconds: float = 30.0,
        max_sleep_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.run_sync = run
        self.gate = gate or SyncGate()
        self.clock = clock
        self.sleep = sleep
        self.busy_retry = timedelta(seconds=busy_retry_seconds)
        self.max_sleep = max_sleep_seconds
        self.jobs: dict[tuple[str, str], ScheduledSync] = {}
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._retry_at: dict[tuple[str, str], datetime] = {}
        self._wake = asyncio.Event()
        self.replace_jobs(jobs)

    def replace_jobs(self, jobs: Iterable[ScheduledSync]) -> None:
        """Swap the schedule (spec reload); runs in progress carry on."""
        self.jobs = {(j.integration, j.sync): j for j in jobs if not j.schedule.never}
        self._wake.set()

    def last_slot(self, job: ScheduledSync) -> datetime | None:
        text = self.store.get_meta(job.integration, job.meta_key)
        return datetime.fromisoformat(text) if text else None

    def due(self, now: datetime) -> list[tuple[ScheduledSync, datetime]]:
        """Syncs whose newest passed slot has not been run, with that slot."""
        out = []
        for name, job in self.jobs.items():
            slot = job.schedule.latest_at_or_before(now)
            if slot is None:
                continue
            retry_at = self._retry_at.get(name)
            if retry_at is not None and now < retry_at:
                continue
            last = self.last_slot(job)
            if last is None or slot > last:
                out.append((job, slot))
        return out

    def tick(self) -> list[asyncio.Task[None]]:
        """Start every due sync that is not already running; return the started tasks."""
        started = []
        due = self.due(self.clock())
        paused = self.store.paused_syncs() if due else {}
        for job, slot in due:
            name = (job.integration, job.sync)
            if name in paused:
                self._skip(job, slot)
        pending = {(job.integration, job.sync) for job, _ in due} - set(paused)
        for job, slot in due:
            name = (job.integration, job.sync)
            if name in paused:
                continue
            if name in self.tasks or self.gate.busy(*name):
                continue  # still running: the slot stays due and runs once afterwards
            waiting = self.waiting_for(job, pending)
            if waiting:
                log.debug("scheduled run of %s/%s waits for %s", *name, ", ".join(waiting))
                continue  # started by the wake-up its upstream run's end sends
            task = asyncio.get_running_loop().create_task(
                self._run(job, slot), name=f"schedule:{job.integration}/{job.sync}")
            self.tasks[name] = task
            started.append(task)
        return started

    def waiting_for(self, job: ScheduledSync, pending: set[tuple[str, str]]) -> list[str]:
        """The upstream syncs `job` must wait for: due now (`pending`), running, or
        refused and waiting to retry. One this scheduler does not run waits for nothing."""
        out = []
        for upstream in sorted(job.after):
            name = (job.integration, upstream)
            if name not in self.jobs:
                continue
            if name in pending or name in self.tasks or name in self._retry_at:
                out.append(upstream)
        return out

    def _skip(self, job: ScheduledSync, slot: datetime) -> None:
        log.info("scheduled run of %s/%s skipped: the sync is paused", job.integration,
                 job.sync, extra={"slot": slot.isoformat()})
        self.store.set_meta(job.integration, job.skipped_key, slot.isoformat())
        self.store.set_meta(job.integration, job.meta_key, slot.isoformat())

    async def _run(self, job: ScheduledSync, slot: datetime) -> None:
        name = (job.integration, job.sync)
        try:
            async with self.gate.hold(*name):
                await self.run_sync(*name)
        except StateError as exc:
            # Another runner (or process) holds the sync: try again soon, keep the slot due.
            log.info("scheduled run of %s/%s postponed: %s", *name, exc)
            self._retry_at[name] = self.clock() + self.busy_retry
            return
        except asyncio.CancelledError:
            raise
        except SpecsyncError as exc:  # the operator's to fix (a missing secret): no traceback
            log.error("scheduled run of %s/%s failed: %s", *name, exc)
        except Exception:
            log.exception("scheduled run of %s/%s failed", *name)
        finally:
            self.tasks.pop(name, None)
            self._wake.set()
        self._retry_at.pop(name, None)
        self.store.set_meta(job.integration, job.meta_key, slot.isoformat())

    def seconds_until_next(self, now: datetime) -> float:
        """How long the loop may sleep before something could be due."""
        moments = [m for job in self.jobs.values()
                   if (m := job.schedule.next_after(now)) is not None]
        moments.extend(t for t in self._retry_at.values() if t > now)
        if not moments:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, (min(moments) - now).total_seconds()))

    async def run(self, stop: asyncio.Event) -> None:
        """Tick, sleep until the next slot (or a wake-up), repeat until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            self.tick()
            delay = self.seconds_until_next(self.clock())
            sleeper = asyncio.ensure_future(self.sleep(delay))
            waker = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({sleeper, waker, stopper},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pending in (sleeper, waker, stopper):
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending

    async def drain(self) -> None:
        """Wait for the runs in progress (graceful shutdown)."""
        tasks = list(self.tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
