"""Every syntax error shape: message, position and hint are snapshotted for review."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.diagnostics import Location, render_text
from engine.rules import MAX_LENGTH, MAX_NESTING, RuleSyntaxError, parse_rule
from engine.rules.nodes import Compare, Literal, SetupRef

BAD = [
    pytest.param("", id="empty"),
    pytest.param("   \n  ", id="blank"),
    pytest.param('active is true and (jobtype = "T&M" or jobtype = ) and not x in ["1"]',
                 id="missing-value-before-paren"),
    pytest.param("jobtype =", id="missing-value-at-end"),
    pytest.param("jobtype = Fixed", id="unquoted-text"),
    pytest.param("jobtype == 1", id="double-equals"),
    pytest.param("jobtype <> 1", id="angle-not-equal"),
    pytest.param("jobtype", id="missing-operator-at-end"),
    pytest.param('jobtype "Fixed"', id="missing-operator"),
    pytest.param("jobtype @ 1", id="bad-character"),
    pytest.param("a = 1 b = 2", id="missing-and"),
    pytest.param("a = 1 and", id="dangling-and"),
    pytest.param("a = 1 or or b = 2", id="double-or"),
    pytest.param("not", id="bare-not"),
    pytest.param("not = 1", id="keyword-not-as-field"),
    pytest.param('"jobtype" = 1', id="quoted-field"),
    pytest.param("(a = 1", id="missing-close-paren"),
    pytest.param("(a = 1 and (b = 2)", id="missing-close-paren-nested"),
    pytest.param("a = 1)", id="unmatched-close-paren"),
    pytest.param("()", id="empty-parens"),
    pytest.param("a is", id="is-without-test"),
    pytest.param("a is 3", id="is-number"),
    pytest.param("a is not", id="is-not-without-null"),
    pytest.param("a is not true", id="is-not-true"),
    pytest.param('a starts "x"', id="starts-without-with"),
    pytest.param("a not = 1", id="not-without-in"),
    pytest.param("a in", id="in-without-list"),
    pytest.param('a in "x"', id="in-string"),
    pytest.param("a in [", id="open-list"),
    pytest.param('a in ["x"', id="unclosed-list"),
    pytest.param('a in ["x" "y"]', id="list-missing-comma"),
    pytest.param('a in ["x",]', id="list-trailing-comma"),
    pytest.param("a in [,]", id="list-leading-comma"),
    pytest.param("a in [b]", id="list-bare-word"),
    pytest.param('a = "abc', id="unterminated-string"),
    pytest.param("a = 'abc\n'", id="string-across-lines"),
    pytest.param('a = "\\q"', id="unknown-escape"),
    pytest.param("`a = 1", id="unterminated-backtick"),
    pytest.param("a = 1 && b = 2", id="ampersands"),
    pytest.param("a = 1 || b = 2", id="pipes"),
    pytest.param("!a", id="bang"),
    pytest.param("a = 2024-02-30", id="impossible-date"),
    pytest.param("a = 2024-01-31T10:00", id="datetime-without-zone"),
    pytest.param("a = 2024-01-31T25:00Z", id="impossible-time"),
    pytest.param("a = now", id="now-without-parens"),
    pytest.param("a = today(1)", id="today-with-argument"),
    pytest.param("a > today() -", id="missing-duration"),
    pytest.param("a > today() - 30", id="duration-without-unit"),
    pytest.param("a > today() - 30y", id="duration-bad-unit"),
    pytest.param("a > today() - 2h", id="today-in-hours"),
    pytest.param("a > now() - 9999999d", id="duration-too-far"),
    pytest.param("a > 30d", id="bare-duration"),
    pytest.param("a = setup", id="setup-without-name"),
    pytest.param("a = setup.", id="setup-dot-without-name"),
    pytest.param("a. = 1", id="field-dot-without-name"),
    pytest.param("a = " + "9" * 401, id="number-too-long"),
    pytest.param("a = 1\n  and b =\n  and c = 2", id="multi-line"),
]


def _shape(err: RuleSyntaxError) -> dict[str, object]:
    return {"message": err.message, "line": err.line, "column": err.column,
            "end_column": err.end_column, "hint": err.hint}


@pytest.mark.parametrize("text", BAD)
def test_syntax_error_shapes(text: str, snapshot) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    err = caught.value
    assert err.code == "rules.syntax"
    assert err.line >= 1 and 1 <= err.column < err.end_column
    assert _shape(err) == snapshot


def test_unexpected_end_points_past_last_character() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("a = 1 and   \n")
    assert (caught.value.line, caught.value.column) == (1, 10)


def test_rendered_as_diagnostic_inside_a_spec_file(snapshot) -> None:
    text = 'active is true and (jobtype = "T&M" or jobtype = ) and not customernumber in ["1000"]'
    source = f"syncs:\n  projects:\n    filter: {text}\n"
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    diag = caught.value.to_diagnostic(Location("spec.yaml", 3, 13))
    assert (diag.location.line, diag.location.column) == (3, 62)
    assert source.splitlines()[2][diag.location.column - 1] == ")"
    assert render_text([diag], {"spec.yaml": source}) == snapshot


def test_text_length_is_capped() -> None:
    with pytest.raises(RuleSyntaxError, match="limit is 10,000"):
        parse_rule("a = 1 and " * (MAX_LENGTH // 10) + "b = 2")


@pytest.mark.scenario("S30")
@pytest.mark.parametrize("text", [
    pytest.param("(" * 10_000, id="open-parens"),
    pytest.param("(" * 4_995 + "a = 1" + ")" * 4_995, id="balanced-parens"),
    pytest.param("not " * 2_490 + "a = 1", id="nots"),
    pytest.param("[" * 9_000, id="brackets"),
])
def test_deep_nesting_is_a_clear_error_not_a_crash(text: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    assert "deep" in caught.value.message or "expected" in caught.value.message


def test_nesting_at_the_limit_parses() -> None:
    depth = MAX_NESTING
    rule = parse_rule("(" * (depth - 1) + "not a = 1" + ")" * (depth - 1))
    assert rule.expr.operand == Compare(rule.expr.operand.field, "=", Literal(1, "integer"))
    with pytest.raises(RuleSyntaxError, match=f"more than {depth} deep"):
        parse_rule("(" * depth + "not a = 1" + ")" * depth)


def test_long_flat_chains_are_fine() -> None:
    text = " or ".join(f"a = {i}" for i in range(800))
    rule = parse_rule(text)
    assert len(rule.expr.items) == 800


def test_positions_are_one_based_and_exclusive() -> None:
    rule = parse_rule('x = 1 and\n  stage in setup.selected_stages')
    second = rule.expr.items[1]
    assert (second.line, second.column, second.end_line, second.end_column) == (2, 3, 2, 33)
    assert isinstance(second.value, SetupRef)
    assert (second.value.column, second.value.end_column) == (12, 33)
    assert (second.field.column, second.field.end_column) == (3, 8)


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_rule(None)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*'ab =<>!()[],."\'`-+\n', "and ", "or ", "not ", "in ",
                                  "is ", "1", "x"]), max_size=30).map("".join))
def test_every_syntax_error_is_found_and_none_where_it_parses(text: str) -> None:
    from engine.rules.parse import syntax_errors

    errors = syntax_errors(text)
    try:
        parse_rule(text)
    except RuleSyntaxError as first:
        assert errors and (errors[0].line, errors[0].column) == (first.line, first.column)
        positions = [(e.line, e.column) for e in errors]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
    else:
        assert errors == []
