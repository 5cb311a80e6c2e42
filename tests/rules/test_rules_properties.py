"""Properties: print/parse round trips, no crash on any text, compiled == interpreted."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rules_strategies import (
    COMMON,
    SETUP,
    conditions,
    exprs,
    literals,
    records,
    relative_times,
    values,
)

from engine.rules import RuleSyntaxError, compile_rule, explain_rule, format_rule, parse_rule
from engine.rules.nodes import (
    COMPARE_OPS,
    And,
    Compare,
    Field,
    ListValue,
    Literal,
    Not,
    Or,
    Rule,
    iter_leaves,
)
from engine.rules.parse import MAX_NESTING

PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
TREES = settings(PROPS, max_examples=120)  # tree generation dominates; keep CI quick
NOW = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)


def _nesting(expr: object, depth: int = 0) -> int:
    if isinstance(expr, Not):
        return _nesting(expr.operand, depth + 1)
    if isinstance(expr, (And, Or)):
        return max(_nesting(i, depth + 1) for i in expr.items)
    return depth


@TREES
@given(exprs())
def test_format_then_parse_gives_the_same_tree(expr) -> None:
    assume(_nesting(expr) <= MAX_NESTING)
    text = format_rule(Rule(expr))
    assert parse_rule(text).expr == expr
    assert format_rule(parse_rule(text)) == text  # canonical text is a fixed point


TOKENS = ["a", "b.c", "`x y`", "not", "and", "or", "in", "is", "true", "false", "null",
          "contains", "starts", "with", "=", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]",
          ",", '"s"', "'t'", "1", "-2.5", "2024-01-31", "2024-01-31T10:00:00Z", "now()",
          "today()", "-", "+", "30d", "2h", "setup.x", ".", '"', "`", "\\", "\n", "==", "&&",
          "9" * 30, "2024-13-45", "today", "now", "setup"]


@PROPS
@given(st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=25).map("".join),
))
def test_any_text_parses_or_raises_rule_syntax_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as e:
        lines = text.split("\n")
        assert 1 <= e.line <= len(lines)
        assert 1 <= e.column <= len(lines[e.line - 1]) + 1
        assert e.end_column > e.column
        assert e.message
    else:
        # Whatever parses prints canonically and means the same thing.
        assert parse_rule(format_rule(rule)).expr == rule.expr


def _constants(rule: Rule) -> tuple[object, ...]:
    """The values a rule compares with, so records can sit exactly on its boundaries."""
    out: list[object] = []
    for leaf in iter_leaves(rule.expr):
        value = getattr(leaf, "value", None)
        if isinstance(value, Literal):
            out.append(value.value)
        elif isinstance(value, ListValue):
            out.extend(item.value for item in value.items)
    return tuple(out)


@TREES
@given(st.one_of(conditions(), exprs(record_fields=True, max_leaves=5)), st.data())
def test_compiled_predicate_agrees_with_interpreter(expr, data) -> None:
    assume(_nesting(expr) <= MAX_NESTING)
    rule = parse_rule(format_rule(Rule(expr)))
    pred = compile_rule(rule, setup=SETUP, clock=lambda: NOW)
    bound = pred.bind()
    batch = data.draw(st.lists(records(_constants(rule)), min_size=1, max_size=8))
    for record in batch:
        expected = explain_rule(rule, record, setup=SETUP, clock=lambda: NOW).verdict
        assert pred(record) is expected, (pred.source, record)
        assert bound(record) is expected


@PROPS
@given(st.sampled_from(COMPARE_OPS), st.one_of(literals, st.sampled_from(COMMON)), st.data())
def test_each_operator_agrees_on_its_boundaries(op, literal, data) -> None:
    """One condition, records holding the operand itself or a near miss of another type."""
    if op in ("in", "not in"):
        extra = data.draw(st.lists(st.one_of(literals, st.sampled_from(COMMON)), max_size=3))
        operand = ListValue((literal, *extra))
    else:
        operand = data.draw(st.one_of(st.just(literal), relative_times()))
    rule = parse_rule(format_rule(Rule(Compare(Field(("a",)), op, operand))))
    pred = compile_rule(rule, setup={}, clock=lambda: NOW)
    near = [literal.value, NOW, NOW.date(), NOW.replace(tzinfo=None)]
    value = data.draw(st.one_of(st.sampled_from(near), values))
    for record in ({"a": value}, {"a": [value]}, {}):
        expected = explain_rule(rule, record, setup={}, clock=lambda: NOW).verdict
        assert pred(record) is expected, (pred.source, record)
