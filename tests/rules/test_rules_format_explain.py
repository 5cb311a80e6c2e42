"""Canonical printing, per-clause explanations, and the package's public surface."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

import engine.rules
from engine.rules import Rule, explain_rule, format_rule, parse_rule
from engine.rules.nodes import Compare, Field, Literal

NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)

CANONICAL = [
    pytest.param('ACTIVE IS TRUE AND  (JobType="T&M"OR jobtype =\'Fixed\')',
                 'ACTIVE is true and (JobType = "T&M" or jobtype = "Fixed")', id="spacing-case"),
    pytest.param("not (a = 1 and b = 2)", "not (a = 1 and b = 2)", id="not-group"),
    pytest.param("(a = 1 and b = 2) or c = 3", "a = 1 and b = 2 or c = 3", id="redundant-parens"),
    pytest.param("a = 1 and (b = 2 and c = 3)", "a = 1 and (b = 2 and c = 3)", id="kept-nesting"),
    pytest.param("x not in [1, -2.50, 'a']", 'x not in [1, -2.5, "a"]', id="list"),
    pytest.param("d >= TODAY() - 30D", "d >= today() - 30d", id="relative"),
    pytest.param("t > now()+2h", "t > now() + 2h", id="relative-plus"),
    pytest.param("t > 2024-01-31T10:00Z", "t > 2024-01-31T10:00:00+00:00", id="datetime"),
    pytest.param("in = 1 and `not` = 2 and `my field` = 3 and zip-code = 4",
                 "`in` = 1 and `not` = 2 and `my field` = 3 and zip-code = 4", id="names"),
    pytest.param('s = "a\\"b\\\\c\\u0001\\n"', 's = "a\\"b\\\\c\\u0001\\n"', id="escapes"),
    pytest.param("stage in setup.selected_stages", "stage in setup.selected_stages", id="setup"),
    pytest.param("n = 0.00001 or n = 100000000000000000000.0",
                 "n = 0.00001 or n = 100000000000000000000.0", id="no-exponents"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL)
def test_canonical_text(text: str, expected: str) -> None:
    rule = parse_rule(text)
    assert format_rule(rule) == expected
    assert parse_rule(expected) == rule


def test_unprintable_names_and_values_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be written"):
        format_rule(Rule(Compare(Field(("a`b",)), "=", Literal(1, "integer"))))
    with pytest.raises(ValueError, match="cannot be written"):
        format_rule(Rule(Compare(Field(("a",)), "=", Literal(float("inf"), "number"))))


def test_trees_compare_without_positions() -> None:
    assert parse_rule("a = 1") == parse_rule("  a   =   1")
    assert parse_rule("a = 1") != parse_rule("a = 1.0")
    assert parse_rule("a = 1") != parse_rule("a = true")


def test_explain_lists_every_clause(snapshot) -> None:
    text = ('active is true and (jobtype = "T&M" or jobtype = "Fixed")\n'
            '  and not customernumber in setup.customers and createddate >= today() - 30d')
    record = {"active": True, "jobtype": "Internal", "customernumber": "1000",
              "createddate": date(2024, 2, 15)}
    result = explain_rule(parse_rule(text), record, setup={"customers": ["1000"]},
                          clock=lambda: NOW)
    assert result.verdict is False
    # `not customernumber in ...` with the number in the list: the clause fails
    assert [c.verdict for c in result.clauses] == [True, False, False, False, True]
    assert result.clauses[3].line == 2 and result.clauses[3].text == (
        "not customernumber in setup.customers")
    assert result.clauses[3].negated and result.clauses[3].column == 7
    assert result.render() == snapshot


@pytest.mark.parametrize(("text", "shown", "verdicts", "verdict"), [
    pytest.param("not a in setup.xs", ["not a in setup.xs"], [True], True, id="not-held"),
    pytest.param("not (a = 1 or b = 2)", ["not a = 1", "not b = 2"], [True, False], False,
                 id="not-group"),
    pytest.param("not not a = 1", ["a = 1"], [False], False, id="double-not"),
    pytest.param("note = 1", ["note = 1"], [False], False, id="field-named-note"),
])
def test_explain_keeps_not(text: str, shown: list[str], verdicts: list[bool],
                           verdict: bool) -> None:
    record = {"a": "7", "b": 2, "note": 3}
    result = explain_rule(parse_rule(text), record, setup={"xs": ["1000"]})
    assert [c.text for c in result.clauses] == shown
    assert [c.verdict for c in result.clauses] == verdicts
    assert result.verdict is verdict


def test_explain_masks_identity_numbers_and_reports_missing() -> None:
    rule = parse_rule('ssn = "x" and email is not null')
    result = explain_rule(rule, {"ssn": "19811228-9874"}, setup={})
    shown = result.render()
    assert "9874" not in shown and "[personnummer]" in shown
    assert result.clauses[0].value == "19811228-9874"  # the raw value stays for programs
    assert result.clauses[1].shown == "(missing)" and result.clauses[1].present is False


def test_explain_of_a_built_tree_uses_canonical_text() -> None:
    rule = Rule(Compare(Field(("a",)), ">=", Literal(3, "integer")))
    (clause,) = explain_rule(rule, {"a": 4}, setup={}).clauses
    assert clause.text == "a >= 3" and clause.verdict is True


def test_public_api_is_exported() -> None:
    for name in engine.rules.__all__:
        assert hasattr(engine.rules, name), name
    assert len(set(engine.rules.__all__)) == len(engine.rules.__all__)
