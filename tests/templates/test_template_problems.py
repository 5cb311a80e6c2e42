"""What spec authors see: every problem code, its position inside the template, its hint."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import SETUP

from engine.diagnostics import Location, render_text
from engine.templates import TemplateProblem, TransformError, check_transform, compile_transform

FIELDS = ["jobname", "jobnumber", "customernumber", "name1", "ssn", "address.city", "zip-code"]
SYNCS = ["customers", "projects"]


def resolve(path: str) -> str | None:
    return "string" if path in FIELDS or path == "address" else None


def check(value: Any) -> list[TemplateProblem]:
    return check_transform(value, resolve, FIELDS, SETUP, SYNCS)


CASES: dict[str, Any] = {
    "syntax-unclosed": "{{ jobname ",
    "syntax-operator": "{{ jobname + }}",
    "syntax-quote": "Job {{ 'abc }}",
    "syntax-unknown-tag": "{% sync jobname %}",
    "syntax-block-unclosed": "{% if jobname %}x",
    "syntax-shape": ["a", "list"],
    "too-long": "x" * 10_001,
    "unsafe-attribute": "{{ jobname.__class__.__mro__ }}",
    "unsafe-include": "{% include 'secrets.yaml' %}",
    "unknown-filter": "{{ jobname | uper }}",
    "unknown-test": "{{ jobname is definedd }}",
    "unknown-function": "{{ frist_name(jobname) }}",
    "positional-index": {"template": "{0} - {5}", "from": ["jobnumber", "jobname"]},
    "positional-spec": {"template": "{0:>8}", "from": ["jobnumber"]},
    "undefined-field": "{{ jobnmae }}",
    "undefined-kebab": "{{ record['zip-cod'] }}",
    "undefined-dotted": "{{ address.ctiy }}",
    "unknown-setup": "{{ ssn | ssn_gender | lookup(setup.gender_code) }}",
    "unknown-sync": "{{ customernumber | linked('customer') }}",
    "missing-choice": "{{ customerId | linked_source('customers', missing='maybe') }}",
    "several": "{{ jobnmae | linked('nope') ~ setup.pipelin }}",
}


@pytest.mark.parametrize("case", list(CASES))
def test_problem_messages(case: str, snapshot: Any) -> None:
    problems = check(CASES[case])
    assert problems, "every case has a problem"
    assert [str(p) for p in problems] == snapshot


def test_valid_templates_have_no_problems() -> None:
    for value in ["{{ jobname }}", "Job {{ jobnumber }}: {{ name1 | upper }}",
                  "{{ customernumber | linked('customers') }}", "{{ record['zip-code'] }}",
                  "{{ ssn | ssn_gender | lookup(setup.gender_codes) }}", "{{ address.city }}",
                  {"template": "{0} - {1}", "from": ["jobnumber", "jobname"]}, {"value": 2}, 3,
                  "{% for c in jobname %}{{ c }}{% endfor %}"]:
        assert check(value) == [], value


def test_compile_raises_every_problem_at_once() -> None:
    with pytest.raises(TransformError) as info:
        compile_transform("{{ a.__class__ | uper }}{% include 'x' %}")
    assert sorted(p.code for p in info.value.problems) == [
        "templates.unknown-filter", "templates.unsafe", "templates.unsafe"]


def test_positions_point_at_the_name() -> None:
    (problem,) = check("Job {{ jobnumber }} for {{ jobnmae | upper }}")
    text = "Job {{ jobnumber }} for {{ jobnmae | upper }}"
    assert text[problem.column - 1 : problem.end_column - 1] == "jobnmae"
    (problem,) = check("x\n  {{ customernumber | linked('customer') }}")
    assert (problem.line, problem.column, problem.end_column) == (2, 30, 40)


def test_rendered_as_a_diagnostic(snapshot: Any) -> None:
    line = '      title: "{{ jobnmae }}"'
    (problem,) = check("{{ jobnmae }}")
    diagnostic = problem.to_diagnostic(Location("spec.yaml", 21, line.index("{{") + 1))
    assert render_text([diagnostic], {"spec.yaml": "\n" * 20 + line + "\n"}) == snapshot
