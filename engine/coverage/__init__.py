"""Spec-test coverage (`specsync test --coverage`): what of a spec its tests exercised.

    coverage = Coverage()
    run_spec_tests(paths, coverage=coverage)   # each case reports what it ran
    print(render(coverage.summaries(), "text"))

filters.py: each filter clause (each side of and/or, each not) seen true and false;
templates.py: template branches (if/else, `or` fallbacks and defaults, lookup hits and
misses) through an instrumented copy of each template; collect.py: the goals of a spec
and the cases' observations; report.py: text, json and GitHub output.
"""

from engine.coverage.collect import Coverage, Goal, SpecSummary
from engine.coverage.report import render

__all__ = ["Coverage", "Goal", "SpecSummary", "render"]
