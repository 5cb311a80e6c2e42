"""Filter clauses for coverage: every node of a rule, evaluated without short-circuit.

A clause is the whole filter, each item of an `and` / `or`, each `not` and each
condition; coverage wants each seen true and seen false by some spec test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.rules.evaluate import evaluate, moment, operand_value
from engine.rules.format import format_expr
from engine.rules.nodes import And, Compare, Expr, Not, Or, Rule, SetupRef

__all__ = ["Clause", "clause_outcomes", "clauses", "setup_names"]


@dataclass(frozen=True)
class Clause:
    """One node of a rule: its place in the rule's text and the text written there."""

    index: int
    line: int  # in the rule's text, 1-based
    column: int
    length: int
    text: str


def _nodes(expr: Expr) -> list[Expr]:
    out: list[Expr] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, And | Or):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.operand)
    return out


def _text(rule: Rule, node: Expr) -> str:
    lines = rule.text.split("\n")
    if node.line and node.line == node.end_line and node.line <= len(lines):
        written = lines[node.line - 1][node.column - 1:node.end_column - 1]
        if written:
            return written
    return format_expr(node)


def clauses(rule: Rule) -> list[Clause]:
    """The clauses of a rule, in text order (the whole filter first)."""
    out = []
    for i, node in enumerate(_nodes(rule.expr)):
        length = node.end_column - node.column if node.end_line == node.line else 1
        out.append(Clause(i, node.line or 1, node.column or 1, max(length, 1),
                          _text(rule, node)))
    return out


def clause_outcomes(rule: Rule, record: Mapping[str, Any], *, setup: Mapping[str, Any],
                    clock: Callable[[], datetime]) -> list[bool]:
    """Each clause's value on `record`, in the order of `clauses(rule)`."""
    now = moment(clock)
    bound: dict[int, Any] = {}

    def operand(leaf: Compare) -> Any:
        if id(leaf) not in bound:
            bound[id(leaf)] = operand_value(leaf.value, setup, now)
        return bound[id(leaf)]

    return [evaluate(node, record, operand) for node in _nodes(rule.expr)]


def setup_names(rule: Rule) -> set[str]:
    """The setup values a rule reads (`setup.x`)."""
    return {node.value.path[0] for node in _nodes(rule.expr)
            if isinstance(node, Compare) and isinstance(node.value, SetupRef)
            and node.value.path}
