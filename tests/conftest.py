"""Suite-wide: every request an adapter sends through a contract transport is checked.

See tests/contracts/recording.py. The check runs after each test; its figures (requests
and routes checked, violations) are printed per vendor at the end of the run.

A vendor's checker module says `ENFORCED = True` once its adapter and sandbox keep the
contract: from then on a violation fails the test. Until then violations are counted
and printed in the summary only, so the work towards conformance can land in steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.contracts.recording import _pop_ledger, _push_ledger, checker_for, violations

_CHECKED: Counter[str] = Counter()
_VIOLATIONS: Counter[str] = Counter()
_ROUTES: dict[str, set[str]] = {}


@pytest.fixture(autouse=True)
def contract_ledger(request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh ledger per test; its exchanges must all keep the vendors' contracts."""
    ledger = _push_ledger()
    try:
        yield ledger
        marker = request.node.get_closest_marker("off_contract")
        if marker is not None:
            if "invalid" not in request.node.name:
                pytest.fail("a test marked off_contract must say so by name ('invalid')")
            return
        problems = []
        for exchange, problem in violations(ledger):
            _VIOLATIONS[exchange.vendor] += 1
            if getattr(checker_for(exchange.vendor), "ENFORCED", False):
                problems.append(problem)
        for exchange in ledger.exchanges:
            checker = checker_for(exchange.vendor)
            if checker is None:
                continue
            _CHECKED[exchange.vendor] += 1
            route = checker.route_of(exchange.method, exchange.path)
            if route:
                _ROUTES.setdefault(exchange.vendor, set()).add(route)
        if problems:
            shown = "\n  ".join(problems[:40])
            more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
            pytest.fail(f"{len(problems)} contract violation(s):\n  {shown}{more}",
                        pytrace=False)
    finally:
        _pop_ledger(ledger)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _CHECKED:
        return
    terminalreporter.section("vendor contracts")
    for vendor in sorted(_CHECKED):
        checker = checker_for(vendor)
        mode = "enforced" if getattr(checker, "ENFORCED", False) else "counted only"
        terminalreporter.write_line(
            f"{vendor}: {_CHECKED[vendor]} exchanges checked over "
            f"{len(_ROUTES.get(vendor, ()))} contract routes, "
            f"{_VIOLATIONS[vendor]} violations ({mode})")
