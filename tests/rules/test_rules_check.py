"""Semantic checks: every code, with the message, position and hint snapshotted."""

from __future__ import annotations

import pytest

from engine.diagnostics import Location, render_text
from engine.rules import check_rule, diagnose_rule, parse_rule

TYPES = {
    "active": "boolean", "jobtype": "string", "jobname": "string", "customernumber": "string",
    "createddate": "date", "transactiontimestamp": "datetime", "status": "integer",
    "amount": "number", "tags": "list", "address": "object", "address.city": "string",
    "currentStageId": "integer", "blob": "binary",
}
SETUP = {"selected_stages": [12, 14], "customers": ["1000", "1001"], "pipeline": "Sales",
         "mixed": ["a", 1], "limit": 3}


def problems(text: str) -> list[dict[str, object]]:
    found = check_rule(parse_rule(text), TYPES.get, SETUP, field_names=TYPES)
    return [{"code": p.code, "message": p.message, "at": (p.line, p.column, p.end_column),
             "hint": p.hint} for p in found]


SOUND = [
    'active is true and (jobtype = "T&M" or jobtype = "Fixed") and '
    'not customernumber in ["1000", "1001"]',
    "currentStageId in setup.selected_stages or status = 30",
    'createddate >= today() - 30d and transactiontimestamp > now() - 2h and amount > 3',
    "createddate < 2024-01-31T10:00:00Z and transactiontimestamp >= 2024-01-01",
    'tags contains "BV=30" and tags contains 3 and jobname starts with "A"',
    'address.city = "Lund" and jobtype = setup.pipeline and status < setup.limit',
    "amount = 3 and status = 2.5 and blob = 3 and address.city is null",
]


@pytest.mark.parametrize("text", SOUND)
def test_sound_rules_have_no_problems(text: str) -> None:
    assert problems(text) == []


BAD = [
    pytest.param("actve is true", id="unknown-field-did-you-mean"),
    pytest.param("zzz = 1", id="unknown-field-no-suggestion"),
    pytest.param("address.town = 1", id="unknown-path"),
    pytest.param("jobtype in setup.customrs", id="unknown-setup-did-you-mean"),
    pytest.param("jobtype = setup.nothing", id="unknown-setup"),
    pytest.param("jobtype = 3", id="string-vs-number"),
    pytest.param("jobtype < 3", id="string-ordered-vs-number"),
    pytest.param('status = "3"', id="number-vs-string"),
    pytest.param('createddate > "2024-01-31"', id="date-vs-string"),
    pytest.param("createddate > 20240131", id="date-vs-number"),
    pytest.param("status > 2024-01-31", id="number-vs-date"),
    pytest.param("transactiontimestamp > 5", id="datetime-vs-number"),
    pytest.param("active = 1", id="boolean-vs-number"),
    pytest.param("active < true", id="boolean-ordered"),
    pytest.param("jobtype is true", id="is-true-on-string"),
    pytest.param("tags is false", id="is-false-on-list"),
    pytest.param("status contains 3", id="contains-on-number"),
    pytest.param('jobtype contains 3', id="contains-number-in-string"),
    pytest.param('status starts with "1"', id="starts-with-on-number"),
    pytest.param("jobtype starts with 1", id="starts-with-number"),
    pytest.param('tags = "x"', id="equals-on-list"),
    pytest.param('address = "x"', id="equals-on-object"),
    pytest.param('customernumber in [1000, 1001]', id="in-list-wrong-type"),
    pytest.param('currentStageId in setup.customers', id="in-setup-list-wrong-type"),
    pytest.param("jobtype in setup.pipeline", id="in-setup-scalar"),
    pytest.param("jobtype = setup.customers", id="equals-setup-list"),
    pytest.param("jobtype = null", id="null-compare"),
    pytest.param("jobtype != null", id="null-compare-ne"),
    pytest.param("jobtype in []", id="empty-list"),
    pytest.param('jobtype in ["a", 1]', id="mixed-list"),
    pytest.param("jobtype in setup.mixed", id="mixed-setup-list"),
    pytest.param('jobtype in ["a", null]', id="null-in-list"),
    pytest.param('actve is true and jobtype = 3 and\n  createddate > "x"', id="several"),
]


@pytest.mark.parametrize("text", BAD)
def test_problem_shapes(text: str, snapshot) -> None:
    found = problems(text)
    assert found
    assert found == snapshot


def test_problem_points_at_the_operand() -> None:
    text = 'active is true and createddate > "2024-01-31"'
    (problem,) = check_rule(parse_rule(text), TYPES.get, SETUP)
    assert text[problem.column - 1:problem.end_column - 1] == '"2024-01-31"'


def test_unknown_field_hint_without_field_names() -> None:
    (problem,) = check_rule(parse_rule("zzz = 1"), TYPES.get, SETUP)
    assert problem.hint is None


def test_diagnose_rule_maps_into_the_file(snapshot) -> None:
    text = 'actve is true and jobtype = 3'
    source = f"syncs:\n  jobs:\n    filter: {text}\n"
    diags = diagnose_rule(text, Location("spec.yaml", 3, 13), TYPES.get, SETUP,
                          field_names=TYPES)
    assert [d.code for d in diags] == ["rules.unknown-field", "rules.type-mismatch"]
    syntax = diagnose_rule("active is", Location("spec.yaml", 3, 13), TYPES.get, SETUP)
    assert [d.code for d in syntax] == ["rules.syntax"]
    assert render_text(diags, {"spec.yaml": source}) == snapshot
