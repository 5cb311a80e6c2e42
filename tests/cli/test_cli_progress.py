"""The run progress line: read and written, total or none, rates against the limit, ETA."""

from __future__ import annotations

from dataclasses import dataclass

from engine.cli.progress import RunProgress


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Meter:
    """A target connection's request counter (what `request_meter` reads off HttpSession)."""

    connection: str = "cinode"
    requests: int = 0
    per_second: float | None = 20.0

    def sent(self) -> int:
        return self.requests


def test_a_long_run_with_a_total_has_rates_against_the_limit_and_an_eta() -> None:
    clock, meter = Clock(), Meter()
    progress = RunProgress("customers", total=lambda: 100_000, target=meter,  # type: ignore[arg-type]
                           clock=clock)
    assert progress.line() == "0 of 100,000 read · 0 written"
    for second in range(1, 31):  # 10 records a second, two requests each
        clock.now = float(second)
        meter.requests = 20 * second
        progress.update({"read": 10 * second + 100, "create": 10 * second})
    assert progress.line() == ("400 of 100,000 read · 300 written (10.0/s) · "
                               "cinode 20.0 of 20 requests/s · ETA 2 h 46 min")


def test_a_source_without_a_total_says_so_and_guesses_no_eta() -> None:
    clock = Clock()
    progress = RunProgress("customers", total=lambda: None, target=None, clock=clock)
    assert progress.line() == "0 read · 0 written"
    clock.now = 5.0
    progress.update({"read": 50, "skip": 50})
    line = progress.line()
    assert line == "50 read (the source states no total) · 0 written"
    assert "None" not in line and "ETA" not in line


def test_a_source_that_grew_while_read_never_shows_more_read_than_total() -> None:
    progress = RunProgress("s", total=lambda: 10, clock=Clock())
    progress.update({"read": 12})
    assert progress.line().startswith("12 of 12 read")


def test_a_failed_records_code_is_printed_not_taken_for_markup() -> None:
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from engine.cli.sync import _print_reports
    from engine.redact import Redactor
    from engine.sync.changes import Change, ChangeKind
    from engine.sync.pipeline import RunReport

    counts = {k: 0 for k in ("read", "create", "update", "adopt", "skip", "filtered",
                             "deactivate", "delete", "error")}
    failure = Change(ChangeKind.ERROR, "west_1000002", code="links.missing",
                     reason="sync 'customers' has no target id for key '100005' yet")
    report = RunReport("maconomy-cinode", "projects", 1, "partial", counts, None, False,
                       warnings=["[bold]not markup[/]"], failures=[failure])
    out = io.StringIO()
    _print_reports(SimpleNamespace(integration="maconomy-cinode", version="1.0.0"),
                   SimpleNamespace(redactor=Redactor()), [report],  # type: ignore[arg-type]
                   Console(file=out, width=200))
    text = out.getvalue()
    assert "failed projects west_1000002: [links.missing] sync 'customers'" in text
    assert "[bold]not markup[/]" in text


def test_a_plans_unreadable_fields_do_not_bury_the_real_change(snapshot) -> None:
    from engine.cli.sync import render_plan
    from engine.sync.changes import Change, ChangeKind, FieldChange, Plan

    plan = Plan("maconomy-cinode", "customers")
    plan.add(Change(ChangeKind.UPDATE, "100000", "9051", {"description": "x"}, (
        FieldChange("description", "100000 - Nordvik", "100000 = Nordvik"),
        FieldChange("invoiceAddress", "(not readable)", {"city": "Lund"}))), keep=True)
    plan.add(Change(ChangeKind.UPDATE, "100001", "9052", {"invoiceAddress": {}}, (
        FieldChange("invoiceAddress", "(not readable)", {"city": "Malmö"}),)), keep=True)
    text = render_plan(plan)
    assert "invoiceAddress: \"(not readable)\"" not in text.split("~ update 100001")[0]
    assert text == snapshot


def test_the_eta_counts_down_between_batches() -> None:
    clock = Clock()
    progress = RunProgress("s", total=lambda: 1000, clock=clock)
    for second in (10, 20):
        clock.now = float(second)
        progress.update({"read": 10 * second, "create": 10 * second})
    first = progress.state().eta_seconds
    clock.now = 25.0  # no batch finished since
    later = progress.state().eta_seconds
    assert first == 80.0 and later == 75.0


@dataclass
class Budget:
    daily_left: int | None = None
    daily_limit: int | None = None


@dataclass
class Session:
    budget: Budget


def test_a_backfill_past_the_daily_quota_says_how_many_days() -> None:
    clock, meter = Clock(), Meter()
    meter.session = Session(Budget(daily_left=1_000, daily_limit=10_000))  # type: ignore[attr-defined]
    progress = RunProgress("customers", total=lambda: 100_000, target=meter,  # type: ignore[arg-type]
                           clock=clock)
    for second in range(1, 31):  # 10 records a second, two requests each
        clock.now = float(second)
        meter.requests = 20 * second
        progress.update({"read": 10 * second, "create": 10 * second})
    # 99,700 records left at 2 requests each: 1,000 today, then 10,000 a day.
    assert progress.line().endswith("ETA 21 days (the target's daily request quota)")
    meter.session.budget.daily_left = 500_000  # type: ignore[attr-defined]
    assert progress.line().endswith("ETA 2 h 46 min")
