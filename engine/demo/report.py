"""What the demo prints: a heading per integration, a table of its scheduled runs, one
line per live event, then where everything runs and what to try next.

Lines are never wrapped (`soft_wrap`), so a narrow terminal or a log file still has one
event per line. Every text that could carry a value from a system passes the redactor
first: secrets and personal identity numbers never reach the screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.demo.live import LiveEvent
from engine.redact import Redactor
from engine.spec.model import Spec
from engine.sync.pipeline import RunReport

__all__ = ["COUNT_COLUMNS", "DemoPrinter"]

#: (column, RunReport.counts keys) of the runs table.
COUNT_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("read", ("read",)),
    ("created", ("create",)),
    ("updated", ("update",)),
    ("adopted", ("adopt",)),
    ("unchanged", ("skip",)),
    ("filtered", ("filtered",)),
    ("deactivated", ("deactivate", "delete")),
    ("failed", ("error",)),
)

_OPTIONAL = ("adopted", "deactivated")
_NAMES = {"kleer": "Kleer", "cinode": "Cinode", "maconomy": "Maconomy", "hubspot": "HubSpot"}


class DemoPrinter:
    """Prints the demo's progress as it happens."""

    def __init__(self, console: Console, redactor: Redactor) -> None:
        self.console = console
        self.redactor = redactor

    def _line(self, markup: str) -> None:
        self.console.print(markup, soft_wrap=True, highlight=False)

    def _safe(self, text: str) -> str:
        return escape(self.redactor.text(text))

    def banner(self, records: int) -> None:
        self._line(f"[bold]specsync demo[/]: Kleer, Cinode, Maconomy and HubSpot sandboxes "
                   f"({records} records each; HubSpot starts empty) and the runner, all on "
                   "127.0.0.1")

    def heading(self, spec: Spec, scheduled: Sequence[str], live: Sequence[str]) -> None:
        self.console.print()
        self.console.rule(f"[bold]{escape(spec.integration)}[/] {escape(spec.version)}: "
                          f"{escape(spec.title or '')}", align="left")
        how = f"scheduled syncs, run once each in dependency order: {', '.join(scheduled)}"
        if live:
            how += f"; started by webhooks (shown live below): {', '.join(live)}"
        self._line(f"[dim]{escape(how)}[/]")

    def runs(self, reports: Sequence[RunReport]) -> None:
        if not reports:
            return
        # adopted and deactivated only when some run did either: rare on a first run.
        columns = [(column, keys) for column, keys in COUNT_COLUMNS
                   if column not in _OPTIONAL
                   or any(r.counts.get(k, 0) for r in reports for k in keys)]
        table = Table(show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD)
        table.add_column("sync", no_wrap=True)
        for column, _ in columns:
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("seconds", justify="right", no_wrap=True)
        for report in reports:
            cells = []
            for column, keys in columns:
                value = sum(report.counts.get(k, 0) for k in keys)
                cells.append(f"[red]{value}[/]" if column == "failed" and value else str(value))
            table.add_row(escape(report.sync), *cells, f"{report.seconds:.1f}")
        self.console.print(table)
        notes = sorted({f"{r.sync}: {w}" for r in reports for w in r.warnings})
        for note in notes:
            self._line(f"[dim]note {self._safe(note)}[/]")

    def section(self, text: str) -> None:
        self._line(f"[bold]{escape(text)}[/]")

    def event(self, event: LiveEvent) -> None:
        self._line(f"  [green]✓[/] {self._safe(event.text)} ({event.seconds:.1f} s)")

    def done(self, text: str) -> None:
        self._line(f"  [green]✓[/] {self._safe(text)}")

    def failed(self, step: str, reason: str) -> None:
        self._line(f"  [red]✗ {escape(step)} failed:[/] {self._safe(reason)}")

    def summary(self, runs: int, events: int, failed_records: int,
                failures: Sequence[tuple[str, str]], logged: Sequence[str]) -> None:
        self.console.print()
        if not failures:
            self._line(f"[bold green]Everything worked[/]: {runs} scheduled runs, {events} "
                       f"live events, {failed_records} failed records.")
            return
        self._line(f"[bold red]The demo failed[/] ({len(failures)} step(s)); {runs} "
                   f"scheduled runs, {events} live events, {failed_records} failed records.")
        for step, reason in failures:
            self._line(f"  [red]✗[/] {escape(step)}: {self._safe(reason)}")
        for line in logged[-5:]:
            self._line(f"  [dim]logged: {self._safe(line)}[/]")

    def where(self, urls: Mapping[str, str], runner_url: str, running: bool) -> None:
        state = "running until Ctrl-C" if running else "stopped when the demo ends"
        self._line(f"[bold]Where it ran[/] ({state}):")
        for name, url in urls.items():
            self._line(f"  {_NAMES.get(name, name):<9} {url}")
        self._line(f"  {'runner':<9} {runner_url}  (/readyz, /metrics, /webhooks/..., "
                   "/actions/...)")
        self._line("Next: run `specsync sandbox up` to explore the systems yourself; "
                   "`specsync docs specs/kleer-cinode` for the field tables.")
