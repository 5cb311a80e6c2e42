"""Template branches for coverage, through an instrumented copy of each template.

The copy is the template's own Jinja tree with probes around each branch point; it is
rendered in the same sandbox with the same names as the real render, only to see which
way each branch went (its output is thrown away, the real mapping is unchanged):

    x if c else y, {% if c %}   the condition seen true and false
    a or b                      `a` used, and the fallback `b` used
    v | default(d)              the value used, and the default used
    v | lookup(table)           a hit and a miss
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from engine.templates import RenderContext
from engine.templates.environment import ENV, template_vars

__all__ = ["Branch", "Instrumented", "instrument"]

_PROBE = "specsync_coverage_probe"
_LOOKUP = "specsync_coverage_lookup"
_MISS = object()
# the two outcomes of each kind of branch, as the report names them
OUTCOMES: dict[str, tuple[str, str]] = {
    "if": ("true", "false"),
    "or": ("its value", "the fallback"),
    "default": ("the value", "the default"),
    "lookup": ("a hit", "a miss"),
}


@dataclass(frozen=True)
class Branch:
    index: int
    kind: str  # a key of OUTCOMES
    line: int  # in the template's text, 1-based


class _Probes(NodeTransformer):
    def __init__(self) -> None:
        self.branches: list[Branch] = []

    def _probe(self, kind: str, node: nodes.Expr, name: str = _PROBE,
               extra: tuple[nodes.Expr, ...] = ()) -> nodes.Expr:
        branch = Branch(len(self.branches), kind, node.lineno or 1)
        self.branches.append(branch)
        return nodes.Call(nodes.Name(name, "load", lineno=node.lineno),
                          [nodes.Const(branch.index), node, *extra], [], None, None,
                          lineno=node.lineno)

    def visit_CondExpr(self, node: nodes.CondExpr) -> nodes.Node:
        self.generic_visit(node)  # children first, changed in place
        node.test = self._probe("if", node.test)
        return node

    def visit_If(self, node: nodes.If) -> nodes.Node:
        self.generic_visit(node)  # children first, changed in place
        node.test = self._probe("if", cast(nodes.Expr, node.test))
        return node

    def visit_Or(self, node: nodes.Or) -> nodes.Node:
        self.generic_visit(node)  # children first, changed in place
        node.left = self._probe("or", node.left)
        return node

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        self.generic_visit(node)  # children first, changed in place
        if node.node is None:
            return node
        if node.name in ("default", "d"):
            node.node = self._probe("default", node.node, extra=(nodes.Const("default"),))
        elif node.name == "lookup" and node.args:
            node.node = self._probe("lookup", node.node, _LOOKUP, extra=(node.args[0],))
        return node


@dataclass
class Instrumented:
    """A template with its probes: `run(record, ctx)` gives {branch index: outcomes}."""

    branches: list[Branch]
    _render: Callable[[dict[str, Any]], None] | None

    def run(self, record: Mapping[str, Any], ctx: RenderContext) -> dict[int, set[bool]]:
        seen: dict[int, set[bool]] = {}
        if self._render is None:
            return seen

        def probe(index: int, value: Any, how: str = "") -> Any:
            # or: a truthy left side is used; default: a missing or none value is replaced
            used = value is not None and not _undefined(value) if how == "default" \
                else bool(value) if not _undefined(value) else False
            seen.setdefault(index, set()).add(used)
            return value

        def lookup_probe(index: int, value: Any, table: Any) -> Any:
            from engine.templates.functions.lookup import lookup

            try:
                hit = lookup(ctx, value, table, default=_MISS) is not _MISS
            except Exception:  # a table that is not one: the real render says so
                return value
            seen.setdefault(index, set()).add(hit)
            return value

        names = template_vars(record, ctx)
        names[_PROBE], names[_LOOKUP] = probe, lookup_probe
        with contextlib.suppress(Exception):  # the real render reports it; probes so far count
            self._render(names)
        return seen


def _undefined(value: Any) -> bool:
    from jinja2 import Undefined

    return isinstance(value, Undefined)


def instrument(transform: Any) -> Instrumented:
    """The instrumented copy of a field transform (no branches for constants and
    positional templates, nor for a template that does not compile)."""
    if not isinstance(transform, str) or "{" not in transform:
        return Instrumented([], None)
    try:
        tree = ENV.parse(transform)
        probes = _Probes()
        tree = probes.visit(tree)
        template = ENV.from_string(tree)
    except Exception:
        return Instrumented([], None)
    root = template.root_render_func

    def render(names: dict[str, Any]) -> None:
        from jinja2.runtime import new_context

        for _ in root(new_context(ENV, template.name, template.blocks, names, True)):
            pass

    return Instrumented(probes.branches, render)
