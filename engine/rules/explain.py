"""Why a record passes or fails a filter, clause by clause (for `specsync explain`).

    result = explain_rule(rule, record, setup=spec.setup, clock=clock)
    print(result.render())
    #   ✓ active is true                 active = True
    #   ✗ jobtype = "Fixed"              jobtype = 'T&M'
    #   => skipped

Every condition is evaluated (no short-circuit) so the author sees all of them; a
condition under `not` is shown with its `not` and judged negated, so a clause that held
is never shown as failed;
the overall verdict comes from the same interpreter the compiled predicate falls
back to, so it always agrees with `compile_rule`. Values are shown through the
redactor: a personal identity number in a record never reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.redact import Redactor
from engine.rules.evaluate import evaluate, lookup, match, moment, operand_value, test
from engine.rules.format import format_expr
from engine.rules.nodes import And, Compare, Expr, Is, Not, Or, Rule

__all__ = ["ClauseVerdict", "Explanation", "explain_rule"]


@dataclass(frozen=True)
class ClauseVerdict:
    """One condition: where it is, what the record held there, and whether it held."""

    text: str
    line: int
    column: int
    end_column: int
    field: str
    value: Any  # the record's value (None when missing); print `shown`, not this
    present: bool
    verdict: bool  # of the clause as shown: with its `not`, when it has one
    negated: bool = False

    @property
    def shown(self) -> str:
        """The value for people: repr'd, shortened, identity numbers masked."""
        if not self.present:
            return "(missing)"
        # a Redactor of its own (no secrets: identity numbers, tokens), not a shared one
        text = Redactor().text(repr(self.value))
        return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Explanation:
    verdict: bool
    clauses: tuple[ClauseVerdict, ...]

    def render(self) -> str:
        width = min(48, max((len(c.text) for c in self.clauses), default=0))
        lines = [f"  {'✓' if c.verdict else '✗'} {c.text:<{width}}  {c.field} = {c.shown}"
                 for c in self.clauses]
        lines.append(f"  => {'selected' if self.verdict else 'skipped'}")
        return "\n".join(lines)


def explain_rule(rule: Rule, record: Mapping[str, Any], *, setup: Mapping[str, Any],
                 clock: Callable[[], datetime] | None = None) -> Explanation:
    """Each condition's verdict on `record`, plus the rule's overall verdict."""
    now = moment(clock or (lambda: datetime.now(UTC)))
    leaves = _leaves(rule.expr)
    bound = {id(leaf): operand_value(leaf.value, setup, now)
             for leaf, _, _ in leaves if isinstance(leaf, Compare)}
    clauses = tuple(_clause(rule, leaf, record, bound, negated, wrapper)
                    for leaf, negated, wrapper in leaves)
    verdict = evaluate(rule.expr, record, lambda leaf: bound[id(leaf)])
    return Explanation(verdict, clauses)


def _leaves(expr: Expr) -> list[tuple[Compare | Is, bool, Not | None]]:
    """The conditions in text order, each with whether an odd number of `not`s covers it
    and the `not` written directly around it (whose text then includes the `not`)."""
    out: list[tuple[Compare | Is, bool, Not | None]] = []
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:  # iterative: nesting is capped, chains are not
        node, negated = stack.pop()
        if isinstance(node, And | Or):
            stack.extend((item, negated) for item in reversed(node.items))
        elif isinstance(node, Not):
            if isinstance(node.operand, Compare | Is):
                # a `not` around a condition that an outer `not` negates cancels out
                out.append((node.operand, not negated, None if negated else node))
            else:
                stack.append((node.operand, not negated))
        else:
            out.append((node, negated, None))
    return out


def _clause(rule: Rule, leaf: Compare | Is, record: Mapping[str, Any],
            bound: dict[int, Any], negated: bool, wrapper: Not | None) -> ClauseVerdict:
    value = lookup(record, leaf.field.path)
    present = _present(record, leaf.field.path)
    if isinstance(leaf, Is):
        verdict = test(leaf.test, value)
    else:
        verdict = match(leaf.op, value, bound[id(leaf)])
    shown: Compare | Is | Not = leaf
    text = _source(rule, leaf)
    if wrapper is not None:
        shown, text = wrapper, _source(rule, wrapper)
    elif negated:
        text = f"not {text}"  # under a `not (...)` further out: shown as it is judged
    end = shown.end_column if shown.end_line == shown.line else shown.column + 1
    return ClauseVerdict(text, shown.line, shown.column, end, leaf.field.name, value,
                         present, verdict != negated, negated)


def _present(record: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    return True


def _source(rule: Rule, leaf: Compare | Is | Not) -> str:
    """The condition as its author wrote it, or canonical text for a built tree."""
    lines = rule.text.split("\n")  # lark counts lines by \n only
    if leaf.line and leaf.line == leaf.end_line and leaf.line <= len(lines):
        written = lines[leaf.line - 1][leaf.column - 1:leaf.end_column - 1]
        if written:
            return written
    return format_expr(leaf)
