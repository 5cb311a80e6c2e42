"""The one Jinja environment field transforms run in, and the rules both render paths share.

`ENV` is an `ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)`
(a subclass only to intercept `*`, `%` and `**`). Its globals and filters are registered
explicitly here, and its filters, globals and tests are read-only once built: every
thread shares ENV, and nothing may add to what templates reach later. Jinja's defaults
(`cycler`, `joiner`, `namespace`, `lipsum`, `dict`, `attr`, `format`, ...) are not
available. Security comes from three layers:

- the sandbox: no `_`-prefixed or internal attributes, no mutation of lists and dicts,
  `str.format` intercepted; a violation raises `SecurityError`;
- explicit allow-lists of filters and functions, all small and pure;
- caps (`engine.templates.limits`): template length, result size, `range`, `*`, `**`,
  `replace`, and no string formatting with `%`.

A template sees the record's fields by name, `record` (the whole mapping, for names that
are not identifiers: `record['zip-code']`), `setup`, `now`, `today` and `omit`. Those five
names win over record fields of the same name; functions are shadowed by record fields
(Jinja's usual rule), so a field called `lookup` still reads as the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Undefined, nodes, pass_context, pass_eval_context
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.templates.context import OMIT
from engine.templates.functions import FILTERS, FUNCTIONS, is_contextual
from engine.templates.limits import (
    MAX_POWER_EXPONENT,
    MAX_RANGE,
    MAX_RESULT_SIZE,
    ResourceLimitError,
)

if TYPE_CHECKING:
    from engine.templates.context import RenderContext

__all__ = [
    "BUILTIN_FILTERS",
    "CONTEXT_KEY",
    "ENV",
    "RESERVED_NAMES",
    "OmitSignal",
    "SpecsyncEnvironment",
    "binop",
    "capped_range",
    "check_native",
    "check_text",
    "finalize",
    "finalize_value",
    "template_vars",
]

CONTEXT_KEY = "specsync:ctx"  # not an identifier, so no template can name it
RESERVED_NAMES = frozenset({"record", "setup", "now", "today", "omit"})

# Jinja builtins that are pure, bounded by their input and reach objects only through the
# sandbox. Not here on purpose: attr (CVE-2025-27516), format (% formatting), center,
# indent, wordwrap (unbounded padding), xmlattr, urlize, safe/escape (HTML), pprint.
BUILTIN_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "first", "join", "last", "length",
    "list", "lower", "map", "max", "min", "reverse", "round", "sort", "string", "sum",
    "title", "trim", "truncate", "unique", "upper",
)


class OmitSignal(Exception):
    """`omit` was printed inside a text template: the whole field is left out."""


def finalize_value(value: Any) -> Any:
    """What `{{ expr }}` prints inside text: None prints as nothing, `omit` drops the field."""
    if value is None:
        return ""
    if value is OMIT:
        raise OmitSignal
    return value


@pass_eval_context
def finalize(eval_ctx: EvalContext, value: Any) -> Any:
    # Taking the eval context stops Jinja from folding printed constants at compile time
    # (it would evaluate `{{ [(0)[1:]] }}` to "[Undefined]" while rendering raises).
    return finalize_value(value)


def _check_size(n: int) -> None:
    if n > MAX_RESULT_SIZE:
        raise ResourceLimitError(f"the template would build more than {MAX_RESULT_SIZE} items")


def size_of(value: Any, _depth: int = 0) -> int:
    """What a value weighs against the size budget: characters of text, items of lists
    and mappings, and what their items weigh. A list of 100,000 copies of one long text
    weighs what its text form would: the budget counts what it could become."""
    kind = type(value)
    if kind is str:
        return len(value)
    if kind in _SCALARS or _depth > 20:
        return 1
    if isinstance(value, (list, tuple)):
        return len(value) + sum(size_of(item, _depth + 1) for item in value
                                if type(item) not in _SCALARS or type(item) is str)
    if isinstance(value, Mapping):
        return len(value) + sum(size_of(k, _depth + 1) + size_of(v, _depth + 1)
                                for k, v in value.items())
    return 1


def checked_size(value: Any) -> Any:
    """`value` when it is within the size budget; else ResourceLimitError.

    Applied to every value that can grow beyond its operands (`+`, `~`, `join`), so an
    intermediate never exceeds the budget on its way to a result.
    """
    kind = type(value)
    if kind is str:
        if len(value) > MAX_RESULT_SIZE:
            raise ResourceLimitError(
                f"the template would build text longer than {MAX_RESULT_SIZE} characters")
    elif (kind is list or kind is tuple or kind is dict) and size_of(value) > MAX_RESULT_SIZE:
        raise ResourceLimitError(
            f"the template would build a value larger than {MAX_RESULT_SIZE} characters")
    return value


def capped_join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: Any = None) -> str:
    """Jinja's `join`, refusing before it builds text over the budget (a long separator
    between many items multiplies)."""
    items = list(value) if not isinstance(value, (str, list, tuple)) else value
    if isinstance(items, (list, tuple)) and attribute is None:
        parts = [item if type(item) is str else str(item) for item in items]
        total = sum(map(len, parts)) + len(str(d)) * max(0, len(parts) - 1)
        _check_join(total)
        return str(d).join(parts)
    text = str(_JINJA_JOIN(eval_ctx, items, d, attribute))
    checked_size(text)
    return text


_JINJA_JOIN = jinja_filters.do_join


def _check_join(total: int) -> None:
    if total > MAX_RESULT_SIZE:
        raise ResourceLimitError(
            f"join would build text of {total} characters; the budget is {MAX_RESULT_SIZE}")


def binop(operator: str, left: Any, right: Any) -> Any:
    """`*`, `+`, `%` and `**` as templates may use them; the fast path calls this too."""
    if operator == "*":
        if isinstance(right, int) and isinstance(left, (str, list, tuple)):
            _check_size(size_of(left) * right)
        elif isinstance(left, int) and isinstance(right, (str, list, tuple)):
            _check_size(size_of(right) * left)
        return left * right
    if operator == "+":
        return checked_size(left + right)
    if operator == "%":
        if isinstance(left, str):
            raise SecurityError("`%` formatting of text is not allowed; join text with `~`")
        return left % right
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and abs(right) > MAX_POWER_EXPONENT:
            raise ResourceLimitError(f"exponents above {MAX_POWER_EXPONENT} are not allowed")
        return left**right
    raise SecurityError(f"operator {operator!r} is not intercepted")


def capped_range(*args: int) -> range:
    """`range()` of at most MAX_RANGE items (Jinja's own cap is 100,000)."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise ResourceLimitError(f"range() may produce at most {MAX_RANGE} items")
    return rng


class _BudgetCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every `~` concatenation checked against the budget."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_size(")
        super().visit_Concat(node, frame)
        self.write(")")


class SpecsyncEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "%", "**"})
    code_generator_class = _BudgetCodeGenerator

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return binop(operator, left, right)

    @staticmethod
    def checked_size(value: Any) -> Any:
        return checked_size(value)


def _with_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's way of handing a contextual function our RenderContext."""

    @pass_context
    def call(context: Context, *args: Any, **kwargs: Any) -> Any:
        # the names `template_vars` made are the context's parent (a derived context's
        # parent holds them too); no template can assign this key, it is no identifier.
        # Without keywords the call skips building an empty mapping: this runs per call.
        if kwargs:
            return fn(context.parent[CONTEXT_KEY], *args, **kwargs)
        return fn(context.parent[CONTEXT_KEY], *args)

    call.__name__ = call.__qualname__ = fn.__name__
    call.__doc__ = fn.__doc__
    call.specsync_target = fn  # type: ignore[attr-defined]  # the fast path calls this
    return call


def _jinja_callable(fn: Callable[..., Any]) -> Callable[..., Any]:
    return _with_context(fn) if is_contextual(fn) else fn


def _build() -> SpecsyncEnvironment:
    # optimized=False: Jinja's constant folding evaluates sub-expressions while compiling
    # and lets some failures escape as exceptions (`{{ a if (0).k else b }}` raises
    # UndefinedError at compile time); without it every failure happens at render time,
    # as in the fast path, and becomes a RecordError.
    env = SpecsyncEnvironment(
        undefined=StrictUndefined, autoescape=False, finalize=finalize, optimized=False
    )
    builtin = {name: jinja_filters.FILTERS[name] for name in BUILTIN_FILTERS}
    builtin["join"] = pass_eval_context(capped_join)
    env.filters.clear()
    env.filters.update(builtin)
    env.filters.update({name: _jinja_callable(fn) for name, fn in FILTERS.items()})
    env.globals.clear()
    env.globals["range"] = capped_range
    env.globals.update({name: _jinja_callable(fn) for name, fn in FUNCTIONS.items()})
    # Read-only from here on: ENV is shared by every thread of `serve`, so what templates
    # can reach is fixed once, here, and nothing can add to it later. Jinja only reads
    # these three after construction.
    env.filters = MappingProxyType(env.filters)  # type: ignore[assignment]
    env.globals = MappingProxyType(env.globals)  # type: ignore[assignment]
    env.tests = MappingProxyType(env.tests)  # type: ignore[assignment]
    return env


ENV: SpecsyncEnvironment = _build()


def template_vars(record: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
    """The names a template sees; the reserved ones win over record fields."""
    # record fields shadow functions, as in Jinja; `proxy | dict` is one C-level merge
    names = ENV.globals | record if type(record) is dict else {**ENV.globals, **record}
    names["record"] = record
    names["setup"] = ctx.setup
    names["now"] = ctx.now
    names["today"] = ctx.now.date()
    names["omit"] = OMIT
    names[CONTEXT_KEY] = ctx
    return names


_SCALARS = frozenset({int, float, bool, type(None), Decimal, date, datetime})


def check_text(text: str) -> str:
    if len(text) > MAX_RESULT_SIZE:
        raise ResourceLimitError(f"the result is longer than {MAX_RESULT_SIZE} characters")
    return text


def check_native(value: Any, _depth: int = 0) -> Any:
    """Refuse results that hold an undefined value or are over the caps; else return as is.

    Items of plain lists, tuples and dicts that are scalars are checked inline: a mapped
    address (a dict of five strings) is one call, not eleven.
    """
    kind = type(value)
    if kind is str:
        return check_text(value)
    if kind in _SCALARS or value is OMIT:
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if _depth > 20:
        raise ResourceLimitError("the result is nested more than 20 levels deep")
    if kind is list or kind is tuple:
        _check_size(len(value))
        for item in value:
            kind = type(item)
            if kind is str:
                if len(item) > MAX_RESULT_SIZE:
                    check_text(item)
            elif kind not in _SCALARS:
                check_native(item, _depth + 1)
    elif kind is dict:
        _check_size(len(value))
        for key, item in value.items():
            if type(key) is not str or len(key) > MAX_RESULT_SIZE:
                check_native(key, _depth + 1)
            kind = type(item)
            if kind is str:
                if len(item) > MAX_RESULT_SIZE:
                    check_text(item)
            elif kind not in _SCALARS:
                check_native(item, _depth + 1)
    elif isinstance(value, (list, tuple)):
        _check_size(len(value))
        for item in value:
            check_native(item, _depth + 1)
    elif isinstance(value, Mapping):
        _check_size(len(value))
        for key, item in value.items():
            check_native(key, _depth + 1)
            check_native(item, _depth + 1)
    elif isinstance(value, str):
        check_text(value)
    elif not isinstance(value, (int, float, Decimal, date)):
        # a method, a range, a loop helper...: nothing a target system could store
        raise TypeError(f"the template produced a {type(value).__name__}, not a data value")
    return value
