"""Field transforms: what a spec writes in `fields:`, compiled once, rendered per record.

Shapes (`compile_transform`):

- `"{{ expr }}"` — exactly one expression: the expression's own value and type (a number
  stays a number, "00123" stays a string, a list stays a list). Computed, never guessed
  back from rendered text; Jinja's NativeEnvironment is not used.
- `"Job {{ jobnumber }} for {{ name1 | upper }}"` — text around: renders a string. A null
  prints as nothing; printing `omit` leaves the whole field out.
- `{template: "{0} - {1}", from: [jobnumber, jobname]}` — positional (`positional.py`).
- `{value: X}` and plain YAML scalars (int, float, bool, null) — constants.

Rendering returns `OMIT` when the template says "do not write this field", and raises
RecordError with a stable code on any failure. Jinja templates render through compiled
Python when every node is in the fast path's whitelist (`fastpath.py`), otherwise in the
sandbox; the two give equal results and equal error codes.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, nodes
from jinja2.runtime import Context
from jinja2.runtime import new_context as jinja_new_context

from engine.templates.analysis import Facts, analyse, did_you_mean
from engine.templates.context import OMIT, RenderContext
from engine.templates.environment import (
    ENV,
    OmitSignal,
    check_native,
    check_text,
    template_vars,
)
from engine.templates.failures import record_error
from engine.templates.fastpath import compile_fast
from engine.templates.positional import compile_positional
from engine.templates.problems import TemplateProblem, TransformError
from engine.templates.tokens import Token, parse_template

__all__ = ["Render", "Transform", "check_transform", "compile_transform"]

Render = Callable[[Mapping[str, Any], RenderContext], Any]
_RESULT = "__specsync_result__"


@dataclass(frozen=True, slots=True)
class Transform:
    """A compiled field transform. `render(record, ctx)` is a plain function attribute."""

    kind: str  # "expression" | "text" | "positional" | "constant"
    source: Any = field(repr=True)
    render: Render = field(repr=False, compare=False)
    fields: tuple[str, ...] = ()  # record fields read; dotted paths where static
    setup_names: tuple[str, ...] = ()
    linked_syncs: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()  # filters and functions called
    fast: bool = False  # rendered by compiled Python rather than the sandbox


def _constant(value: Any) -> Render:
    if isinstance(value, (list, dict)):
        return lambda record, ctx: copy.deepcopy(value)
    return lambda record, ctx: value


def _context_factory(template: Template) -> Callable[[dict[str, Any]], Context]:
    """`template.new_context(names, shared=True)`, less the per-render globals scan.

    A shared context reads names only from `names` (which `template_vars` built with the
    globals in it); Jinja still lists the template's globals for `{% import %}`, which
    field transforms cannot use. Building it without them saves a set of every
    global's name per render.
    """
    blocks, name = template.blocks, template.name

    def new_context(names: dict[str, Any]) -> Context:
        return jinja_new_context(ENV, name, blocks, names, True)

    return new_context


def _slow_text(text: str) -> Render:
    template = ENV.from_string(text)
    root, new_context = template.root_render_func, _context_factory(template)

    def render(record: Mapping[str, Any], ctx: RenderContext) -> Any:
        try:
            context = new_context(template_vars(record, ctx))
            return check_text("".join(root(context)))
        except OmitSignal:
            return OMIT
        except Exception as exc:
            raise record_error(exc) from None

    return render


def _slow_native(expr: nodes.Expr) -> Render:
    body = [nodes.Assign(nodes.Name(_RESULT, "store", lineno=1), expr, lineno=1)]
    template = ENV.from_string(nodes.Template(body, lineno=1))
    root, new_context = template.root_render_func, _context_factory(template)

    def render(record: Mapping[str, Any], ctx: RenderContext) -> Any:
        try:
            context = new_context(template_vars(record, ctx))
            for _ in root(context):
                pass
            return check_native(context.vars[_RESULT])
        except Exception as exc:
            raise record_error(exc) from None

    return render


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    if len(tree.body) == 1 and isinstance(tree.body[0], nodes.Output):
        parts = tree.body[0].nodes
        if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
            return parts[0]
    return None


_TOO_DEEP = TemplateProblem(
    "templates.syntax", "the template is nested too deeply", 1, 1, None,
    "split it into simpler expressions",
)


def _compile_jinja(text: str, fast: bool) -> tuple[Transform, Facts, list[Token]]:
    try:
        tree, tokens = parse_template(text)
        facts = analyse(tree, tokens)
        if facts.problems:
            raise TransformError(facts.problems)
        fresh = ENV.parse(text)  # the sandbox path gets its own nodes
        expr = _single_expression(fresh)
        with warnings.catch_warnings():
            # `{{ none[1:] }}` compiles to `None[1:]`, which CPython warns about; it is
            # a render-time TypeError like any other, not a compile problem
            warnings.simplefilter("ignore", SyntaxWarning)
            slow = _slow_native(expr) if expr is not None else _slow_text(text)
    except (RecursionError, SyntaxError, MemoryError):  # Jinja's parser and code generator recurse
        raise TransformError([_TOO_DEEP]) from None
    native = expr is not None
    render = compile_fast(tree, native=native, slow=slow) if fast else None
    transform = Transform(
        kind="expression" if native else "text",
        source=text,
        render=render or slow,
        fields=tuple(facts.fields),
        setup_names=tuple(facts.setup_names),
        linked_syncs=tuple(facts.linked_syncs),
        functions=tuple(facts.functions),
        fast=render is not None,
    )
    return transform, facts, tokens


def _shape_problem(value: Any) -> TransformError:
    return TransformError([TemplateProblem(
        "templates.syntax",
        f"a field transform cannot be a {type(value).__name__}",
        0, 0, None,
        'write "{{ field }}", a constant, {value: X} or {template: "{0} - {1}", from: [a, b]}',
    )])


def _compile(value: Any, fast: bool) -> tuple[Transform, Facts | None]:
    if isinstance(value, str):
        transform, facts, _ = _compile_jinja(value, fast)
        return transform, facts
    if value is None or isinstance(value, (bool, int, float)):
        return Transform("constant", value, _constant(value)), None
    if isinstance(value, Mapping):
        if set(value) == {"value"}:
            return Transform("constant", value, _constant(value["value"])), None
        if set(value) == {"template", "from"}:
            render, names = compile_positional(value["template"], value["from"])
            return Transform("positional", value, render, fields=names, fast=True), None
    raise _shape_problem(value)


def compile_transform(value: Any, *, fast: bool = True) -> Transform:
    """Compile one `fields:` value; raise TransformError listing every problem.

    `fast=False` forces the sandbox path (for tests and benchmarks).
    """
    return _compile(value, fast)[0]


def check_transform(
    value: Any,
    resolve_field: Callable[[str], str | None],
    field_names: Iterable[str],
    setup: Mapping[str, Any],
    syncs: Iterable[str],
) -> list[TemplateProblem]:
    """Every problem of a transform in the context of its spec (empty when fine).

    `resolve_field(path)` returns None for a field the source object does not have;
    `field_names` feed the did-you-mean hint.
    """
    try:
        transform, facts = _compile(value, True)
    except TransformError as exc:
        return exc.problems
    names = list(field_names)
    sync_names = list(syncs)
    problems: list[TemplateProblem] = []

    def at(token: Token | None) -> tuple[int, int, int | None]:
        return (token.line, token.column, token.end_column) if token else (0, 0, None)

    for path in transform.fields:
        if resolve_field(path) is None:
            token = facts.field_tokens.get(path) if facts else None
            problems.append(TemplateProblem(
                "templates.undefined", f"`{path}` is not a field of the source object",
                *at(token), did_you_mean(path, names, "Fields"),
            ))
    for name in facts.global_values if facts else ():
        if resolve_field(name) is not None:
            token = facts.field_tokens.get(name) if facts else None
            problems.append(TemplateProblem(
                "templates.ambiguous-name",
                f"`{name}` is both a field of the source object and a template function",
                *at(token), f"write record.{name} for the field, or {name}(...) to call "
                "the function",
            ))
    for name in transform.setup_names:
        if name not in setup:
            token = facts.setup_tokens.get(name) if facts else None
            problems.append(TemplateProblem(
                "templates.unknown-setup", f"`setup.{name}` is not defined in the spec's setup",
                *at(token), did_you_mean(name, setup, "Setup values"),
            ))
    for sync in transform.linked_syncs:
        if sync not in sync_names:
            token = facts.sync_tokens.get(sync) if facts else None
            problems.append(TemplateProblem(
                "templates.unknown-sync", f"`linked('{sync}')` names no sync of this spec",
                *at(token), did_you_mean(sync, sync_names, "Syncs"),
            ))
    return sorted(problems, key=lambda p: (p.line, p.column))
