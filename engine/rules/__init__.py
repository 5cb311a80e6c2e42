"""The record filter language ("rules"): parse, check, compile, format, explain.

    rule = parse_rule('active is true and jobtype in ["T&M", "Fixed"]')
    problems = check_rule(rule, catalog.type_of, setup)      # [] when sound
    keep = compile_rule(rule, setup=setup, clock=clock)      # keep(record) -> bool

Semantics are documented in engine/rules/compile.py; the grammar in grammar.lark.
"""

from __future__ import annotations

from engine.rules.check import FIELD_TYPES, RuleProblem, check_rule, diagnose_rule
from engine.rules.compile import Predicate, compile_rule
from engine.rules.errors import RuleError, RuleSetupError, RuleSyntaxError
from engine.rules.explain import ClauseVerdict, Explanation, explain_rule
from engine.rules.format import format_rule
from engine.rules.nodes import (
    And,
    Compare,
    Expr,
    Field,
    Is,
    ListValue,
    Literal,
    Not,
    Operand,
    Or,
    RelativeTime,
    Rule,
    SetupRef,
)
from engine.rules.parse import MAX_LENGTH, MAX_NESTING, parse_rule

__all__ = [
    "FIELD_TYPES",
    "MAX_LENGTH",
    "MAX_NESTING",
    "And",
    "ClauseVerdict",
    "Compare",
    "Explanation",
    "Expr",
    "Field",
    "Is",
    "ListValue",
    "Literal",
    "Not",
    "Operand",
    "Or",
    "Predicate",
    "RelativeTime",
    "Rule",
    "RuleError",
    "RuleProblem",
    "RuleSetupError",
    "RuleSyntaxError",
    "SetupRef",
    "check_rule",
    "compile_rule",
    "diagnose_rule",
    "explain_rule",
    "format_rule",
    "parse_rule",
]
