"""Every fault scenario S1-S30 of reliability.md section 4 is named by a test.

Tests name the scenarios they prove with `@pytest.mark.scenario("S7", ...)`. This module
finds those markers in the test sources (statically, so running a subset of the suite
does not matter), checks that each of the thirty scenarios has at least one, and keeps
tests/SCENARIOS.md, the table people read, equal to what the markers say: on a mismatch
it prints the table to paste.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
TABLE = TESTS / "SCENARIOS.md"

TITLES = {
    "S1": "kill -9 mid-batch", "S2": "crash in the ambiguity window",
    "S3": "crash inside the state-store transaction", "S4": "two runners at once",
    "S5": "graceful stop mid-run", "S6": "state store fails mid-run",
    "S7": "identical timestamps across a page boundary",
    "S8": "record changes during pagination", "S9": "source ignores sort order",
    "S10": "late or back-dated changes", "S11": "pagination token expires",
    "S12": "hard deletes and mass deletes", "S13": "429 variants",
    "S14": "running out of budget", "S15": "5xx storm",
    "S16": "timeout after a non-idempotent POST", "S17": "broken response bodies",
    "S18": "token expiry and refresh storms", "S19": "partial batch failure",
    "S20": "poison record policy", "S21": "template errors", "S22": "Swedish identity data",
    "S23": "hostile or odd values", "S24": "duplicated and reordered deliveries",
    "S25": "forged, tampered and replayed requests", "S26": "webhook burst",
    "S27": "echo and ping-pong", "S28": "concurrent edits on both sides",
    "S29": "hostile spec files", "S30": "hostile templates and filters",
}


def _scenario_ids(decorator: ast.expr) -> list[str]:
    """The ids of a `pytest.mark.scenario(...)` decorator, else []."""
    if not isinstance(decorator, ast.Call):
        return []
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "scenario"):
        return []
    return [a.value for a in decorator.args
            if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def marked_tests() -> dict[str, list[str]]:
    """scenario id -> ["tests/path.py::test_name", ...], from the test sources."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    for scenario in _scenario_ids(decorator):
                        where = f"{path.relative_to(TESTS.parent)}::{node.name}"
                        found.setdefault(scenario, []).append(where)
    return found


def render_table(found: dict[str, list[str]]) -> str:
    lines = ["# Fault scenarios and the tests that prove them", "",
             "The scenarios are section 4 of `reliability.md` (the reliability anchors).",
             "Generated from the `@pytest.mark.scenario` markers; tests/test_scenarios.py",
             "keeps this table and the markers equal.", "",
             "| Scenario | | Tests |", "|---|---|---|"]
    for scenario in sorted(TITLES, key=lambda s: int(s[1:])):
        tests = "<br>".join(f"`{t}`" for t in sorted(found.get(scenario, []))) or "(none)"
        lines.append(f"| {scenario} | {TITLES[scenario]} | {tests} |")
    return "\n".join(lines) + "\n"


def test_every_scenario_is_named_by_a_test() -> None:
    found = marked_tests()
    unknown = sorted(set(found) - set(TITLES))
    assert not unknown, f"markers name scenarios that do not exist: {unknown}"
    missing = [s for s in TITLES if not found.get(s)]
    assert not missing, f"no test names these scenarios yet: {missing}"


def test_the_table_matches_the_markers() -> None:
    expected = render_table(marked_tests())
    actual = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
    assert actual == expected, f"tests/SCENARIOS.md is out of date; it should read:\n{expected}"
