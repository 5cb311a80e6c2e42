"""The filter AST: frozen dataclasses that keep where each piece sits in the filter text.

The tree outlives compilation: `check_rule` walks it to point at bad operands,
`format_rule` prints it, `explain_rule` reports per clause, and `render` turns it
into server-side filters. Positions are 1-based; `end_column` is exclusive and
belongs to `end_line`. They are excluded from `==`, so two trees compare equal
when they mean the same thing, wherever their text put them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal as _Lit
from typing import TypeAlias

__all__ = [
    "COMPARE_OPS",
    "IS_TESTS",
    "And",
    "Compare",
    "Expr",
    "Field",
    "Is",
    "ListValue",
    "Literal",
    "LiteralKind",
    "LiteralValue",
    "Node",
    "Not",
    "Operand",
    "Or",
    "RelativeTime",
    "Rule",
    "SetupRef",
    "iter_leaves",
]

LiteralKind: TypeAlias = _Lit["string", "integer", "number", "boolean", "null", "date", "datetime"]
LiteralValue: TypeAlias = str | int | float | bool | date | datetime | None

# Every binary operator a condition may use; `!=` and `not in` are the negations of
# `=` and `in` (two-valued logic, see engine/rules/compile.py).
COMPARE_OPS: tuple[str, ...] = (
    "=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "starts with",
)
IS_TESTS: tuple[str, ...] = ("true", "false", "null", "not null")


@dataclass(frozen=True, kw_only=True)
class Node:
    """Position of a node inside the filter text (not part of equality)."""

    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    end_line: int = field(default=0, compare=False)
    end_column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Field(Node):
    """A record field; `path` has one item per dotted segment (`address.city`)."""

    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal(Node):
    """A constant; `kind` keeps `true` apart from `1` and `1` apart from `1.0`."""

    value: LiteralValue
    kind: LiteralKind


@dataclass(frozen=True)
class ListValue(Node):
    items: tuple[Literal, ...]


@dataclass(frozen=True)
class SetupRef(Node):
    """`setup.name`: a value configured per installation, bound at compile time."""

    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class RelativeTime(Node):
    """`now()` / `today()` shifted by `amount` `unit`s (d, h, m, w); amount is signed."""

    base: _Lit["now", "today"]
    amount: int = 0
    unit: str | None = None


Operand: TypeAlias = Literal | ListValue | SetupRef | RelativeTime


@dataclass(frozen=True)
class Compare(Node):
    """`field <op> value` for every op in COMPARE_OPS."""

    field: Field
    op: str
    value: Operand


@dataclass(frozen=True)
class Is(Node):
    """`field is true|false|null|not null`."""

    field: Field
    test: str


@dataclass(frozen=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True)
class And(Node):
    """A flat chain `a and b and c` (two or more items)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or(Node):
    """A flat chain `a or b or c` (two or more items)."""

    items: tuple[Expr, ...]


Expr: TypeAlias = And | Or | Not | Compare | Is


@dataclass(frozen=True)
class Rule(Node):
    """A parsed filter: the tree plus the text it came from."""

    expr: Expr
    text: str = field(default="", compare=False)


def iter_leaves(expr: Expr) -> list[Compare | Is]:
    """The conditions of `expr` in text order (iterative: nesting is capped, chains are not)."""
    out: list[Compare | Is] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.operand)
        else:
            out.append(node)
    return out
