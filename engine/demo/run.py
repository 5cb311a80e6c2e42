"""`specsync demo`: the three seed integrations, end to end, between local sandboxes.

Order of events:

1. start the four sandboxes and the runner on loopback (engine.demo.world);
2. per integration: run each scheduled sync once, dependencies first (engine.demo.order),
   and show the counts;
3. kleer-cinode: register the runner's webhook with Cinode, mark a project Won, wait
   for the Kleer client project the runner makes of it;
4. kleer-hubspot: subscribe the runner to HubSpot's webhooks and define the workflow
   actions; rename a company as a user, wait for the Kleer client; change a Kleer client
   and run the companies sync, and see HubSpot's webhook for our own write answered
   without writing back; fire Create Kleer Invoice on a deal, wait for the invoice in
   Kleer and in HubSpot.

Every step that fails is reported by name with its reason and the demo goes on with
the next (a later step may then fail for the same cause); the exit status is 1 when any
step failed. Engine logs are collected rather than printed, and shown (redacted) only
when something failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from engine.demo.live import (
    LiveEvent,
    echo_is_ignored,
    hubspot_rename,
    invoice_from_deal,
    won_project,
)
from engine.demo.order import live_syncs, scheduled_syncs
from engine.demo.report import DemoPrinter
from engine.demo.subscribe import define_actions, subscribe_cinode, subscribe_hubspot
from engine.demo.world import INTEGRATIONS, DemoError, DemoWorld, open_world
from engine.redact import RedactingFilter, Redactor
from engine.sync.pipeline import RunReport, run_sync

__all__ = ["DemoError", "run_demo"]

T = TypeVar("T")

#: Fewer records than this leave too few linked clients for the live events.
MIN_RECORDS = 10


class _Collector(logging.Handler):
    """Keeps the engine's warnings and errors (redacted) instead of printing them."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.addFilter(RedactingFilter(redactor))

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR:
            return
        detail = getattr(record, "error", "")
        self.lines.append(f"{record.getMessage()}{f': {detail}' if detail else ''}")


@contextlib.contextmanager
def _collected_logs(redactor: Redactor) -> Iterator[_Collector]:
    logger = logging.getLogger("engine")
    collector = _Collector(redactor)
    saved = logger.propagate
    logger.addHandler(collector)
    logger.propagate = False
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.propagate = saved


def _state_file(state: Path) -> Path:
    """The demo's state store inside `state` (a directory); refuses an earlier run's."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / "state.db"
    if path.exists():
        raise DemoError(f"{path} holds the state of an earlier run; the demo starts fresh "
                        "sandboxes, so give --state an empty directory")
    return path


class _Demo:
    def __init__(self, world: DemoWorld, printer: DemoPrinter) -> None:
        self.world = world
        self.printer = printer
        self.failures: list[tuple[str, str]] = []
        self.runs = 0
        self.events = 0
        self.failed_records = 0

    async def step(self, name: str, work: Callable[[], Awaitable[T]]) -> T | None:
        """Run one step; a failure is reported by name and the demo goes on."""
        try:
            return await work()
        except DemoError as exc:
            reason = str(exc)
        except Exception as exc:  # any other failure is still one step's, not a traceback
            reason = f"{type(exc).__name__}: {exc}"
        reason = self.world.redactor.text(reason)
        self.failures.append((name, reason))
        self.printer.failed(name, reason)
        return None

    async def live(self, name: str, work: Callable[[], Awaitable[LiveEvent]]) -> None:
        event = await self.step(name, work)
        if event is not None:
            self.events += 1
            self.printer.event(event)

    async def scheduled(self, integration: str) -> None:
        spec = self.world.specs[integration]
        names = scheduled_syncs(spec)
        self.printer.heading(spec, names, live_syncs(spec))
        reports: list[RunReport] = []
        runtime = self.world.runtime(integration)
        try:
            for name in names:
                report = await self.step(f"{integration}: scheduled run of {name}",
                                         partial(run_sync, runtime, name, trigger="schedule"))
                if report is None:
                    continue
                reports.append(report)
                self.runs += 1
                self.failed_records += report.counts.get("error", 0)
                if report.outcome != "success" or report.failures:
                    first = report.failures[0] if report.failures else None
                    why = (f"{report.counts.get('error', 0)} record(s) failed, e.g. "
                           f"{first.key}: [{first.code}] {first.reason}" if first
                           else report.error or report.outcome)
                    self.failures.append((f"{integration}: scheduled run of {name}",
                                          self.world.redactor.text(why)))
        finally:
            await runtime.aclose()
        self.printer.runs(reports)

    async def kleer_cinode(self) -> None:
        self.printer.section("Live: Cinode webhooks -> runner -> Kleer")
        url = await self.step("kleer-cinode: specsync connect registers the runner's "
                              "webhook with Cinode",
                              lambda: subscribe_cinode(self.world))
        if url is not None:
            self.printer.done(f"Cinode sends project events to {url}")
        await self.live("kleer-cinode: a Cinode project marked Won reaches Kleer",
                        lambda: won_project(self.world))

    async def kleer_hubspot(self) -> None:
        self.printer.section("Live: HubSpot webhooks and workflow actions -> runner -> Kleer")
        url = await self.step("kleer-hubspot: specsync connect subscribes the runner to "
                              "HubSpot's webhooks and defines the workflow actions",
                              lambda: subscribe_hubspot(self.world))
        if url is not None:
            self.printer.done(f"HubSpot sends the inbound syncs' trigger properties to {url}")
        definitions = await self.step("kleer-hubspot: the workflow actions defined in HubSpot",
                                      lambda: define_actions(self.world))
        if definitions is not None:
            self.printer.done(f"{len(definitions)} workflow actions call "
                              f"{self.world.runner_url}/actions/kleer-hubspot/<action>")
        await self.live("kleer-hubspot: a company renamed in HubSpot reaches Kleer",
                        lambda: hubspot_rename(self.world))

        async def echo() -> LiveEvent:
            event, report = await echo_is_ignored(self.world)
            self.runs += 1
            self.failed_records += report.counts.get("error", 0)
            return event

        await self.live("kleer-hubspot: our own write to HubSpot is not written back",
                        echo)
        await self.live("kleer-hubspot: Create Kleer Invoice from a deal",
                        lambda: invoice_from_deal(self.world, definitions or {}))

    async def run(self) -> None:
        for integration in INTEGRATIONS:
            await self.scheduled(integration)
            if integration == "kleer-cinode":
                await self.kleer_cinode()
            elif integration == "kleer-hubspot":
                await self.kleer_hubspot()


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


async def run_demo(records: int = 30, *, state: Path | None = None,
                   keep_running: bool = False, console: Console | None = None) -> int:
    """Run the whole demo; returns the exit status (0 when every step worked)."""
    if console is None:
        # A pipe or a log file gets room for the runs table; a terminal keeps its width.
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 100)
    if records < MIN_RECORDS:
        raise DemoError(f"--records must be at least {MIN_RECORDS} (the live events need "
                        "several linked clients)")
    with contextlib.ExitStack() as stack:
        if state is None:
            state = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="specsync-demo-")))
        path = _state_file(state)
        redactor = Redactor()
        printer = DemoPrinter(console, redactor)
        printer.banner(records)
        with _collected_logs(redactor) as logs:
            try:
                world = await open_world(records, path, redactor=redactor)
            except (DemoError, OSError, RuntimeError) as exc:
                printer.failed("start the sandboxes and the runner", str(exc))
                printer.summary(0, 0, 0, [("start the sandboxes and the runner", str(exc))],
                                logs.lines)
                return 1
            try:
                demo = _Demo(world, printer)
                await demo.run()
                printer.summary(demo.runs, demo.events, demo.failed_records, demo.failures,
                                logs.lines)
                printer.where(world.urls, world.runner_url, keep_running)
                if keep_running:
                    console.print("Ctrl-C stops the sandboxes and the runner.")
                    await _until_interrupted()
            finally:
                await world.aclose()
        return 1 if demo.failures else 0
