"""Compile the common template shapes to plain Python, skipping Jinja's render machinery.

Rendering through Jinja costs microseconds per field (a context, a generator, a join).
Most field transforms are a field reference, a filter or two, a concatenation: when every
node of the parsed template is in the whitelist below, this module generates one Python
function for it. Everything else renders through the sandbox (`compile.py`).

Equal results by construction, not by imitation:

- the generated code is what Jinja's own code generator writes for these nodes (see
  `ENV.compile(text, raw=True)`): the same operators, `ENV.getattr`/`ENV.getitem` (the
  sandbox's own checks) with an inlined shortcut that is exact for plain dicts, the same
  filter objects, the same `finalize` and `str` for printed values, the same
  StrictUndefined objects for missing names;
- intercepted operators (`*`, `%`, `**`, and `+` unless a side is a number) call the
  same `binop` the sandbox calls;
- both paths end in the same result checks and the same exception-to-RecordError map;
- where a call could mean something else at run time (a record field shadowing a
  function), the generated code bails out to the sandbox for that record.

No template text is pasted into the generated source: every name, key and constant is
bound in the function's namespace as `c<N>` and referred to by that name.

The module is long on purpose: one code emitter per whitelisted Jinja node type, all
sharing one code generator's temporaries and constants; read together they are the
whitelist, and the equality argument above holds only if they stay side by side.
"""

from __future__ import annotations

import keyword
import warnings
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import BuiltinMethodType
from typing import Any

from jinja2 import Undefined, nodes
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import LoopContext, str_join
from jinja2.utils import _PassArg

from engine.templates.context import OMIT
from engine.templates.environment import (
    ENV,
    OmitSignal,
    binop,
    check_native,
    check_text,
    finalize_value,
)
from engine.templates.failures import record_error
from engine.templates.limits import MAX_RESULT_SIZE

__all__ = ["Bail", "compile_fast"]

Render = Callable[[Mapping[str, Any], Any], Any]


class Bail(Exception):
    """This record needs the sandbox path (e.g. a record field shadows a called function)."""


class _Unsupported(Exception):
    pass


def _bail() -> Any:
    raise Bail


_DICT_ATTRS = frozenset(dir(dict))
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=",
            "in": "in", "notin": "not in"}
_ARITH = {nodes.Add: "+", nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//"}
_INTERCEPTED = {nodes.Mul: "*", nodes.Mod: "%", nodes.Pow: "**"}
_SCALARS = frozenset({str, int, float, bool, type(None), Decimal, date, datetime})
_SEQUENCES = frozenset({list, tuple, str})
_STR_METHODS = {"upper": "upper", "lower": "lower", "trim": "strip"}


class _Codegen:
    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "__builtins__": {}, "Exception": Exception, "str": str, "type": type, "dict": dict,
            "len": len, "isinstance": isinstance, "enumerate": enumerate,
            "M": _MISSING, "U": ENV.undefined, "GA": ENV.getattr, "GI": ENV.getitem,
            "BO": binop, "FIN": finalize_value, "BAIL": _bail, "SC": _SCALARS,
            "MAXR": MAX_RESULT_SIZE, "SJ": str_join, "SCN": _SCALARS - {str},
        }
        # what Jinja hands a `pass_eval_context` filter (`join`); they only read it.
        # One per compiled template, as Jinja makes one per render: never shared.
        self.eval_context = EvalContext(ENV)
        self.prelude: list[str] = []
        self.names: dict[str, str] = {}
        self.temps = 0
        self.consts: dict[int, str] = {}
        self.loop_names: dict[str, str] = {}  # a `{% for %}` target -> its Python name
        # inside a loop whose body reads only the counting attributes of `loop`: the
        # Python names of its 0-based index and of its length
        self.counter: tuple[str, str] | None = None

    def const(self, value: Any) -> str:
        key = id(value)
        if key in self.consts and self.ns[self.consts[key]] is value:
            return self.consts[key]
        name = f"c{len(self.consts)}"
        self.ns[name] = value
        self.consts[key] = name
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"t{self.temps}"

    def name(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        var = f"v{len(self.names)}"
        if name == "record":
            self.prelude.append(f"{var} = rec")
        elif name == "setup":
            self.prelude.append(f"{var} = ctx.setup")
        elif name == "now":
            self.prelude.append(f"{var} = ctx.now")
        elif name == "today":
            self.prelude.append(f"{var} = ctx.now.date()")
        elif name == "omit":
            self.prelude.append(f"{var} = {self.const(OMIT)}")
        else:
            key = self.const(name)
            if name in ENV.globals:
                self.prelude.append(f"{var} = rec.get({key}, {self.const(ENV.globals[name])})")
            else:
                self.prelude.append(f"{var} = rec.get({key}, M)")
                self.prelude.append(f"if {var} is M: {var} = U(name={key})")
        self.names[name] = var
        return var

    # -- expressions ------------------------------------------------------------------
    def expr(self, node: nodes.Node) -> str:
        method = getattr(self, f"e_{type(node).__name__}", None)
        if method is None:
            raise _Unsupported(type(node).__name__)
        code: str = method(node)
        return code

    def e_Const(self, node: nodes.Const) -> str:
        return self.const(node.value)  # never a literal: `None[1:]` would be a SyntaxWarning

    def e_TemplateData(self, node: nodes.TemplateData) -> str:
        return self.const(node.data)

    def e_Name(self, node: nodes.Name) -> str:
        if node.ctx != "load":
            raise _Unsupported("store")
        if node.name in self.loop_names:
            return self.loop_names[node.name]
        if node.name == "loop" and self.counter is not None:
            raise _Unsupported("loop")  # `_loop_reads` should have sent it to LoopContext
        return self.name(node.name)

    def e_Getattr(self, node: nodes.Getattr) -> str:
        if self.counter is not None and _is_loop_name(node.node):
            i, n = self.counter
            return _COUNTING[node.attr].format(i=i, n=n)
        if "loop" in self.loop_names and _is_loop_name(node.node):
            # Jinja's LoopContext: the sandbox allows every public attribute of it
            loop = self.loop_names["loop"]
            if node.attr in _LOOP_PLAIN:
                return f"{loop}.{node.attr}"
            if node.attr in _LOOP_PUBLIC:
                return f"LA({loop}, {self.const(node.attr)})"
        obj, key = self.expr(node.node), self.const(node.attr)
        if node.attr in _DICT_ATTRS:
            return f"GA({obj}, {key})"
        t = self.temp()
        return f"({t}[{key}] if type({t} := {obj}) is dict and {key} in {t} else GA({t}, {key}))"

    def e_Getitem(self, node: nodes.Getitem) -> str:
        obj = self.expr(node.node)
        if isinstance(node.arg, nodes.Slice):  # Jinja subscripts slices directly
            s = node.arg
            parts = [self.expr(p) if p is not None else "" for p in (s.start, s.stop)]
            step = f":{self.expr(s.step)}" if s.step is not None else ""
            return f"({obj})[{parts[0]}:{parts[1]}{step}]"
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key, t = self.const(node.arg.value), self.temp()
            return (f"({t}[{key}] if type({t} := {obj}) is dict and {key} in {t} "
                    f"else GI({t}, {key}))")
        if isinstance(node.arg, nodes.Const) and type(node.arg.value) is int:
            # `parts[0]`: a plain index of a list, tuple or text within its bounds is
            # what the sandbox's getitem returns; anything else asks it
            key, t = self.const(node.arg.value), self.temp()
            return (f"({t}[{key}] if type({t} := {obj}) in SEQ and -len({t}) <= {key} < len({t}) "
                    f"else GI({t}, {key}))")
        return f"GI({obj}, {self.expr(node.arg)})"

    def e_Concat(self, node: nodes.Concat) -> str:
        # Jinja's str_join, `"".join(map(str, operands))`: every operand is evaluated
        # before any is turned into text, which decides which error a record gets when
        # two operands would fail. Names and constants are already values; the rest go
        # to temporaries first. `f"{x!s}"` is `str(x)`.
        first: list[str] = []
        items: list[str] = []
        for child in node.nodes:
            code = self.expr(child)
            if not _is_plain(code):
                t = self.temp()
                first.append(f"({t} := {code})")
                code = t
            items.append(code)
        text = 'f"' + "".join("{" + item + "!s}" for item in items) + '"'
        return f"(({', '.join(first)},) and {text})" if first else text

    def text_part(self, node: nodes.Node, top: bool) -> str:
        """One printed part: `str(finalize(x))` (`{(...)!s}` in the top-level f-string)."""
        if isinstance(node, nodes.TemplateData):
            return "{" + self.expr(node) + "}" if top else self.expr(node)
        code = self.expr(node)
        if self.counter is not None and isinstance(node, nodes.Getattr) and _is_loop_name(
                node.node):
            # an int or a bool: finalize returns it as is
            return "{" + code + "!s}" if top else f"str({code})"
        if not _is_plain(code):
            t = self.temp()
            code, value = f"({t} := {code})", t
        else:
            value = code
        # finalize inline: None prints as nothing, `omit` drops the field (FIN raises)
        final = f"{value} if {code} is not None and {value} is not OMIT else FIN({value})"
        return "{(" + final + ")!s}" if top else f"str({final})"

    def e_BinExpr(self, node: nodes.BinExpr) -> str:
        left, right = self.expr(node.left), self.expr(node.right)
        if type(node) is nodes.Mul and any(
            isinstance(side, nodes.Const) and type(side.value) is float
            for side in (node.left, node.right)
        ):
            # nothing repeats a text or list a float number of times: no cap to check
            return f"({left} * {right})"
        if type(node) in _INTERCEPTED:
            return f"BO({self.const(_INTERCEPTED[type(node)])}, {left}, {right})"
        if type(node) is nodes.Add and not any(
                isinstance(side, nodes.Const) and type(side.value) in (int, float)
                for side in (node.left, node.right)):
            # `+` of texts or lists is checked against the size budget, as in the sandbox
            return f"BO({self.const('+')}, {left}, {right})"
        if type(node) in _ARITH:
            return f"({left} {_ARITH[type(node)]} {right})"
        raise _Unsupported(type(node).__name__)

    e_Add = e_Sub = e_Mul = e_Div = e_FloorDiv = e_Mod = e_Pow = e_BinExpr

    def e_And(self, node: nodes.And) -> str:
        return f"({self.expr(node.left)} and {self.expr(node.right)})"

    def e_Or(self, node: nodes.Or) -> str:
        return f"({self.expr(node.left)} or {self.expr(node.right)})"

    def e_Not(self, node: nodes.Not) -> str:
        return f"(not {self.expr(node.node)})"

    def e_Neg(self, node: nodes.Neg) -> str:
        return f"(-{self.expr(node.node)})"

    def e_Pos(self, node: nodes.Pos) -> str:
        return f"(+{self.expr(node.node)})"

    def e_Compare(self, node: nodes.Compare) -> str:
        out = [self.expr(node.expr)]
        for op in node.ops:
            out.append(_COMPARE[op.op])
            out.append(self.expr(op.expr))
        return "(" + " ".join(out) + ")"

    def e_CondExpr(self, node: nodes.CondExpr) -> str:
        if node.expr2 is None:
            raise _Unsupported("if without else")
        return f"({self.expr(node.expr1)} if {self.expr(node.test)} else {self.expr(node.expr2)})"

    def e_List(self, node: nodes.List) -> str:
        return "[" + ", ".join(self.expr(item) for item in node.items) + "]"

    def e_Tuple(self, node: nodes.Tuple) -> str:
        if node.ctx != "load":
            raise _Unsupported("store")
        return "(" + "".join(self.expr(item) + ", " for item in node.items) + ")"

    def e_Dict(self, node: nodes.Dict) -> str:
        pairs = (f"{self.expr(p.key)}: {self.expr(p.value)}" for p in node.items)
        return "{" + ", ".join(pairs) + "}"

    def text(self, body: list[nodes.Node], top: bool = False) -> str:
        """A string expression for statements of a text template: output and `if`.

        Parts are evaluated and turned into text in order, as Jinja yields them. The top
        level is one f-string; nested bodies (inside `if`) concatenate, because Python
        3.11 cannot nest f-strings that use the same quotes. No generated code holds a
        string literal, so quotes only ever come from these f-strings.
        """
        parts: list[str] = []
        for node in body:
            if isinstance(node, nodes.Output):
                parts.extend(self.text_part(child, top) for child in node.nodes)
            elif isinstance(node, nodes.If):
                part = self.if_text(node.test, node.body, node.elif_, node.else_)
                parts.append("{" + part + "}" if top else part)
            elif isinstance(node, nodes.For):
                part = self.for_text(node)
                parts.append("{" + part + "}" if top else part)
            else:
                raise _Unsupported(type(node).__name__)
        if not parts:
            return self.const("")
        # single quotes: a `~` inside a part is a double-quoted f-string
        return "f'" + "".join(parts) + "'" if top else "(" + " + ".join(parts) + ")"

    def if_text(self, test: nodes.Node, body: list[nodes.Node], elifs: list[nodes.If],
                else_: list[nodes.Node]) -> str:
        if elifs:
            first = elifs[0]
            otherwise = self.if_text(first.test, first.body, elifs[1:], else_)
        else:
            otherwise = self.text(else_)
        return f"({self.text(body)} if {self.expr(test)} else {otherwise})"

    def for_text(self, node: nodes.For) -> str:
        """`{% for x in items [if test] %}body{% else %}other{% endfor %}` as a join.

        What Jinja generates, as a comprehension: the iterable is evaluated once, up front
        (`iter()` of an undefined value fails there), then test and body per item, in
        order. Not here: recursive loops, unpacking targets, nested loops, `loop` in the
        test. How a body that uses `loop` is written depends on what it reads of it:

        - only `index`, `index0`, `first`: an `enumerate` of the lazily filtered items;
        - also `length`, `revindex`, `revindex0`, `last`: the same over the items
          materialised first (`_materialised`), with their count;
        - anything else (`cycle`, `changed`, `previtem`, `nextitem`, `depth`, `loop`
          itself): Jinja's own `LoopContext` over the lazily filtered items.
        """
        target = node.target
        test_names = ({n.name for n in [node.test, *node.test.find_all(nodes.Name)]
                       if isinstance(n, nodes.Name)} if node.test is not None else set())
        if (self.loop_names or node.recursive or not isinstance(target, nodes.Name)
                or target.name == "loop" or "loop" in test_names):
            raise _Unsupported("loop")
        reads = _loop_reads(node.body)
        counting = reads is not None and reads <= _COUNTING.keys()
        sized = counting and not reads.isdisjoint(_SIZED_READS)  # type: ignore[union-attr]
        items = self.expr(node.iter)
        var = "l" + self.temp()
        self.loop_names[target.name] = var
        try:
            test = self.expr(node.test) if node.test is not None else None
            if counting:
                self.counter = index, size = "l" + self.temp(), self.temp()
            elif reads is not None:
                self.loop_names["loop"] = loop = "l" + self.temp()
            body = self.text(node.body)
        finally:
            self.loop_names.pop("loop", None)
            self.counter = None
            del self.loop_names[target.name]
        otherwise = self.text(node.else_)
        seq, out, src = self.temp(), self.temp(), self.temp()
        first = [f"({seq} := {items})"]
        # built before the comprehension: Python allows no `:=` in its iterable
        if sized:
            if test is not None:
                first.append(f"({src} := LISTED({seq}, lambda {var}: {test}))")
            else:
                first.append(f"({src} := {seq} if type({seq}) in SIZED else LISTED({seq}, None))")
            first.append(f"({size} := len({src}))")
            each = f"[{body} for {index}, {var} in enumerate({src})]"
        elif counting:
            if test is not None:
                first.append(f"({src} := ({var} for {var} in {seq} if {test}))")
            each = f"[{body} for {index}, {var} in enumerate({src if test else seq})]"
        elif reads is not None:
            source = f"FILTER({seq}, lambda {var}: {test})" if test is not None else seq
            first.append(f"({out} := LOOP({source}, U))")
            each = f"[{body} for {var}, {loop} in {out}]"
        else:
            each = f"[{body} for {var} in {seq}{f' if {test}' if test is not None else ''}]"
        if node.else_:
            joined = f"(JOIN({out}) if ({out} := {each}) else {otherwise})"
        else:
            joined = f"JOIN({each})"
        return f"(({', '.join(first)},) and {joined})"

    def arguments(self, node: nodes.Filter | nodes.Call | nodes.Test, first: list[str]) -> str:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported("dynamic arguments")
        args = first + [self.expr(arg) for arg in node.args]
        keys = [kw.key for kw in node.kwargs]
        if all(_is_keyword_name(key) for key in keys) and len(set(keys)) == len(keys):
            # `default=none`: a checked ASCII identifier is a name, never code
            args += [f"{kw.key}={self.expr(kw.value)}" for kw in node.kwargs]
        elif node.kwargs:
            pairs = ", ".join(f"{self.const(kw.key)}: {self.expr(kw.value)}" for kw in node.kwargs)
            args.append("**{" + pairs + "}")
        return ", ".join(args)

    def checked_literal(self, node: nodes.Expr) -> tuple[str, str] | None:
        """A list, tuple or dict display with constant keys, and a test that its items
        need no `check_native` walk (every one a scalar, texts within the cap).

        When the test fails the whole value goes to `check_native`, so the outcome is
        always the walk's; the test only skips it. Keys are constants from a template of
        at most MAX_TEMPLATE_CHARS, so they and the item count are within the caps.
        """
        if isinstance(node, nodes.Dict):
            if not all(isinstance(p.key, nodes.Const) and type(p.key.value) in _SCALARS
                       for p in node.items):
                return None
            values = [p.value for p in node.items]
        elif isinstance(node, nodes.List) or (isinstance(node, nodes.Tuple)
                                              and node.ctx == "load"):
            values = list(node.items)
        else:
            return None
        names: list[str] = []
        codes: list[str] = []
        for value in values:
            code = self.expr(value)
            if not _is_plain(code):
                t = self.temp()
                code = f"({t} := {code})"
                names.append(t)
            else:
                names.append(code)
            codes.append(code)
        if isinstance(node, nodes.Dict):
            keys = [self.expr(p.key) for p in node.items]
            display = "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, codes, strict=True)) + "}"
        elif isinstance(node, nodes.List):
            display = "[" + ", ".join(codes) + "]"
        else:
            display = "(" + "".join(code + ", " for code in codes) + ")"
        test = " and ".join(
            f"((tx := type({n})) is str and len({n}) <= MAXR or tx in SCN)" for n in names
        )
        return display, test or "True"

    def callee(self, fn: object) -> tuple[str, list[str]]:
        """How to call a registered function: its target and what goes before the arguments."""
        target = getattr(fn, "specsync_target", None)
        if target is not None:
            return self.const(target), ["ctx"]
        if not callable(fn):
            raise _Unsupported("not callable")
        pass_arg = _PassArg.from_obj(fn)
        if pass_arg is None:
            return self.const(fn), []
        if pass_arg is _PassArg.environment:
            return self.const(fn), [self.const(ENV)]
        if pass_arg is _PassArg.eval_context:
            return self.const(fn), [self.const(self.eval_context)]
        raise _Unsupported("needs the Jinja context")

    def e_Filter(self, node: nodes.Filter) -> str:
        if node.node is None or node.name not in ENV.filters:
            raise _Unsupported("filter")
        fn, before = self.callee(ENV.filters[node.name])
        inline = self.inline_filter(node, fn)
        if inline is not None:
            return inline
        return f"{fn}({self.arguments(node, [*before, self.expr(node.node)])})"

    def inline_filter(self, node: nodes.Filter, fn: str) -> str | None:
        """Jinja's `upper`, `lower`, `trim` and `default` written out for the common case.

        `do_upper(s)` is `soft_str(s).upper()`, and `soft_str` of a str is the str itself;
        `do_default(v, d)` is `d if isinstance(v, Undefined) else v`. Anything else calls
        the filter. `default`'s argument must be a name or constant: written out, it is
        evaluated only when needed, and evaluating those cannot fail.
        """
        if node.node is None:
            return None  # a filter block: the generic path handles it
        plain = node.dyn_args is None and node.dyn_kwargs is None and not node.kwargs
        builtin = ENV.filters[node.name] is jinja_filters.FILTERS.get(node.name)
        if not (plain and builtin):
            return None
        if node.name in _STR_METHODS and not node.args:
            value, t = self.expr(node.node), self.temp()
            method = _STR_METHODS[node.name]
            return f"({t}.{method}() if type({t} := {value}) is str else {fn}({t}))"
        if node.name in ("default", "d") and len(node.args) <= 1 and all(
            isinstance(arg, (nodes.Const, nodes.Name)) for arg in node.args
        ):
            value, t = self.expr(node.node), self.temp()
            other = self.expr(node.args[0]) if node.args else self.const("")
            return f"({other} if isinstance(({t} := {value}), UNDEF) else {t})"
        return None

    def e_Test(self, node: nodes.Test) -> str:
        if node.name not in ENV.tests:
            raise _Unsupported("test")
        fn, before = self.callee(ENV.tests[node.name])
        return f"{fn}({self.arguments(node, [*before, self.expr(node.node)])})"

    def e_Call(self, node: nodes.Call) -> str:
        callee = node.node
        if (isinstance(callee, nodes.Getattr) and _is_loop_name(callee.node)
                and callee.attr in _LOOP_METHODS and "loop" in self.loop_names):
            # `loop.cycle('a', 'b')`: the sandbox's call of a LoopContext method is the
            # call itself (it is safe, takes no context and raises no StopIteration)
            method = f"{self.loop_names['loop']}.{callee.attr}"
            return f"{method}({self.arguments(node, [])})"
        if isinstance(callee, nodes.Getattr) and all(
            isinstance(arg, (nodes.Const, nodes.Name))
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]
        ):
            # a method such as `name.split(' ')`: the sandbox's getattr and call checks,
            # remembered per builtin type and name (`call_attribute`). Only when the
            # arguments are names or constants (already values): Jinja looks the method up
            # before it evaluates the arguments, which decides the error when both fail.
            first = [self.expr(callee.node), self.const(callee.attr)]
            return f"CA({self.arguments(node, first)})"
        if isinstance(callee, nodes.Name) and callee.name in self.loop_names:
            raise _Unsupported("calling a loop variable")
        if not isinstance(callee, nodes.Name) or callee.name not in ENV.globals:
            # anything else callable: the sandbox's checks, then the call
            return f"CM({self.arguments(node, [self.expr(callee)])})"
        value = ENV.globals[callee.name]
        fn, before = self.callee(value)
        var = self.name(callee.name)
        return f"({fn}({self.arguments(node, before)}) if {var} is {self.const(value)} else BAIL())"


# `loop.<attribute>` as Python over the 0-based index `i` and the item count `n`, each
# what `LoopContext`'s property of that name returns
_COUNTING = {
    "index": "({i} + 1)", "index0": "{i}", "first": "({i} == 0)",
    "length": "{n}", "revindex": "({n} - {i})", "revindex0": "({n} - {i} - 1)",
    "last": "({i} == {n} - 1)",
}
_SIZED_READS = frozenset({"length", "revindex", "revindex0", "last"})
# LoopContext's public attributes (the sandbox's getattr returns them as they are);
# the plain ones are numbers that reading cannot fail, the methods are called directly
_LOOP_PLAIN = frozenset({"index", "index0", "first", "depth", "depth0"})
_LOOP_METHODS = frozenset({"cycle", "changed"})
_LOOP_PUBLIC = _LOOP_PLAIN | _LOOP_METHODS | _SIZED_READS | {"previtem", "nextitem"}
# iterables whose `len()` is Jinja's `loop.length` and whose iteration cannot fail: a
# loop without a test runs over these as they are, anything else is listed first
_SIZED = frozenset({list, tuple, str, dict, range})


def _is_loop_name(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "loop"


def _loop_reads(body: list[nodes.Node]) -> set[str] | None:
    """The attributes a loop body reads of `loop`; None when it does not use `loop`.

    A `loop` that is not the object of an attribute read (`{{ loop }}`, `loop['index']`,
    `loop.cycle(1, 2)` reads `cycle`) counts as the read of `""`, which no shortcut covers.
    """
    reads: set[str] = set()
    used = False
    for child in body:
        called = {id(n.node) for n in child.find_all(nodes.Call)}  # `loop.index()`: a call
        wrapped = {id(n.node) for n in child.find_all(nodes.Getattr)
                   if _is_loop_name(n.node) and id(n) not in called}
        for name in child.find_all(nodes.Name):
            if name.name == "loop":
                used = True
                if id(name) not in wrapped:
                    reads.add("")
        for attr in child.find_all(nodes.Getattr):
            if _is_loop_name(attr.node):
                reads.add(attr.attr)
    return reads if used else None


def _materialised(items: Any, test: Callable[[Any], Any] | None) -> Any:
    """The items a loop will run over, all at once, for a body that needs their count.

    Jinja counts lazily: `loop.length` lists the rest of the items when first read,
    `loop.last` peeks one ahead, so a failing test or iteration surfaces wherever the
    body first asks. Listing up front is the same when nothing fails; when something
    does, the record goes to the sandbox (`Bail`), which fails it exactly as Jinja does.
    """
    iterator = iter(items)  # first in both: an undefined or non-iterable value fails here
    try:
        if test is None:
            return list(iterator)
        return [item for item in iterator if test(item)]
    except Exception:
        raise Bail from None


def _loop_attribute(loop: LoopContext, name: str) -> Any:
    """`ENV.getattr(loop, name)` for a public attribute of LoopContext, without the checks.

    The sandbox allows these (no underscore, not a known mutable type), so its getattr
    comes down to this: an AttributeError (raised by a test while `length` lists the
    items) gives an undefined value, and a text's `format` method is wrapped.
    """
    try:
        value = getattr(loop, name)
    except AttributeError:
        return ENV.undefined(obj=loop, name=name)
    wrapped = ENV.wrap_str_format(value)
    return value if wrapped is None else wrapped


def _filtered(items: Any, test: Callable[[Any], Any]) -> Any:
    """The items that pass a `{% for ... if test %}`, lazily, as Jinja's own filter."""
    for item in items:
        if test(item):
            yield item


def _is_keyword_name(key: object) -> bool:
    return (isinstance(key, str) and key.isascii() and key.isidentifier()
            and not keyword.iskeyword(key))


def _is_plain(code: str) -> bool:
    """Generated code that is a bound name (`v3`, `c0`, `t2`): a value, nothing to evaluate."""
    return code.isidentifier()


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def call_method(obj: Any, *args: Any, **kwargs: Any) -> Any:
    """What the sandbox's `call` and Jinja's `Context.call` do for a plain callable."""
    if not ENV.is_safe_callable(obj):
        raise SecurityError(f"{obj!r} is not safely callable")
    if _PassArg.from_obj(obj) is not None or (
        hasattr(obj, "__call__") and _PassArg.from_obj(obj.__call__) is not None  # noqa: B004
    ):
        raise Bail  # wants a Jinja context: let the sandbox do it
    try:
        return obj(*args, **kwargs)
    except StopIteration:
        return ENV.undefined(_UNDEFINED_BY_STOP)


_UNDEFINED_BY_STOP = "value was undefined because a callable raised a StopIteration exception"
# Exact builtin types whose attributes the sandbox judges by type and name alone, and one
# value of each to ask it with.
_BUILTIN_SAMPLES: tuple[Any, ...] = ("", 0, 0.0, False, [], (), {})


def _is_plain_method(sample: Any, name: str) -> bool:
    """Whether `sample.name` is a builtin method the sandbox lets templates call as is.

    The sandbox's getattr and call checks for these types look at the type and the name
    only (no instance attributes, no per-value rules), so one value of the type answers
    for all: `call_attribute` skips the checks for exactly these pairs.
    """
    try:
        method = ENV.getattr(sample, name)
    except Exception:
        return False
    return (
        isinstance(method, BuiltinMethodType)
        and method.__self__ is sample
        and ENV.is_safe_callable(method)
        and _PassArg.from_obj(method) is None
    )


# Computed once, at import, from the sandbox itself; immutable afterwards, so the
# threads of `serve` share it without a lock.
_PLAIN_METHODS: frozenset[tuple[type, str]] = frozenset(
    (type(sample), name)
    for sample in _BUILTIN_SAMPLES
    for name in dir(type(sample))
    if _is_plain_method(sample, name)
)


def call_attribute(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """`obj.name(*args)` as the sandbox does it: its getattr, then `call_method`.

    For a builtin type and a method the sandbox allows (`str.split`, `dict.get`), the
    checks are skipped: their outcome cannot differ for that pair (`_PLAIN_METHODS`).
    """
    if (type(obj), name) in _PLAIN_METHODS:
        try:
            return getattr(obj, name)(*args, **kwargs)
        except StopIteration:
            return ENV.undefined(_UNDEFINED_BY_STOP)
    return call_method(ENV.getattr(obj, name), *args, **kwargs)


def compile_fast(tree: nodes.Template, *, native: bool, slow: Render) -> Render | None:
    """A Python render function equal to the sandbox render of `tree`, or None if unsupported."""
    gen = _Codegen()
    try:
        if native:
            (only,) = tree.body[0].nodes  # type: ignore[attr-defined]
            literal = gen.checked_literal(only)
            if literal is not None:
                result = [f"r = {literal[0]}", f"if not ({literal[1]}): r = CHECK(r)"]
            else:
                result = [f"r = {gen.expr(only)}",
                          "if (tr := type(r)) is str:",
                          "    if len(r) > MAXR: r = CHECK(r)",
                          "elif tr not in SC: r = CHECK(r)"]
        else:
            result = [f"r = {gen.text(tree.body, top=True)}", "if len(r) > MAXR: r = CHECK_TEXT(r)"]
    except (_Unsupported, RecursionError):
        return None
    gen.ns.update(CM=call_method, CA=call_attribute, JOIN="".join, LOOP=LoopContext,
                  FILTER=_filtered, LISTED=_materialised, LA=_loop_attribute, SIZED=_SIZED,
                  SEQ=_SEQUENCES, UNDEF=Undefined,
                  CHECK=check_native, CHECK_TEXT=check_text, SLOW=slow, BAILX=Bail,
                  OMITX=OmitSignal, OMIT=OMIT, ERR=record_error)
    body = "\n".join("        " + line for line in [*gen.prelude, *result])
    source = (
        "def render(rec, ctx):\n"
        "    try:\n"
        f"{body}\n"
        "    except BAILX:\n"
        "        return SLOW(rec, ctx)\n"
        "    except OMITX:\n"
        "        return OMIT\n"
        "    except Exception as exc:\n"
        "        raise ERR(exc) from None\n"
        "    return r\n"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(source, "<specsync template>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # e.g. nesting past CPython's limits
        return None
    exec(code, gen.ns)
    render: Render = gen.ns["render"]
    render.__qualname__ = "fast_render"
    render.specsync_source = source  # type: ignore[attr-defined]  # for debugging and tests
    return render
