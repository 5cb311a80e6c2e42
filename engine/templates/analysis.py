"""Static facts about a parsed template, and the problems visible without running it.

Facts: the record fields it reads (dotted paths where the path is static, e.g.
`customer.name` or `record['zip-code']` -> "zip-code"), the setup names, the syncs named
by `linked('...')`, and the filters and functions it calls.

Problems: `_`-prefixed attributes, statements other than `if` and one level of `for`
(includes, macros, `set`, ...), unknown filters, tests and functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jinja2 import nodes

from engine.templates.environment import ENV
from engine.templates.limits import MAX_LOOP_DEPTH, MAX_REPEAT, MAX_RESULT_SIZE
from engine.templates.problems import TemplateProblem
from engine.templates.tokens import Token

__all__ = ["Facts", "analyse", "did_you_mean"]

_STATEMENT_TAGS: dict[type[nodes.Node], str] = {
    nodes.Assign: "set", nodes.AssignBlock: "set", nodes.Block: "block",
    nodes.CallBlock: "call", nodes.Extends: "extends", nodes.FilterBlock: "filter",
    nodes.FromImport: "from", nodes.Import: "import", nodes.Include: "include",
    nodes.Macro: "macro", nodes.With: "with",
}


def did_you_mean(word: str, options: Iterable[str], what: str) -> str:
    options = sorted(set(options))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    shown = options if len(options) <= 30 else [*options[:30], "…"]
    prefix = f"did you mean `{close[0]}`? " if close else ""
    return f"{prefix}{what}: {', '.join(shown)}"


@dataclass
class Facts:
    fields: list[str] = field(default_factory=list)
    setup_names: list[str] = field(default_factory=list)
    linked_syncs: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    # names of template functions used as plain values (`{{ orgno }}`): ambiguous when
    # the source also has a field of that name
    global_values: list[str] = field(default_factory=list)
    problems: list[TemplateProblem] = field(default_factory=list)
    # where each field / setup name / sync is first written, for later checks
    field_tokens: dict[str, Token | None] = field(default_factory=dict)
    setup_tokens: dict[str, Token | None] = field(default_factory=dict)
    sync_tokens: dict[str, Token | None] = field(default_factory=dict)


def _add(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


class _Analyser:
    def __init__(self, tokens: Sequence[Token]):
        self.tokens = tokens
        self.facts = Facts()
        self.locals: list[set[str]] = []

    # -- positions --------------------------------------------------------------------
    def find(self, kind: str, value: str, after: tuple[str, str] | None = None) -> Token | None:
        for i, tok in enumerate(self.tokens):
            if after is not None:
                before = self.tokens[i - 1] if i else None
                if before is None or (before.kind, before.value) != after:
                    continue
            text = tok.value[1:-1] if tok.kind == "string" else tok.value
            if tok.kind == kind and text == value:
                return tok
        return None

    def problem(self, code: str, message: str, tok: Token | None, hint: str | None = None) -> None:
        if tok is None:
            self.facts.problems.append(TemplateProblem(code, message, 1, 1, None, hint))
        else:
            self.facts.problems.append(
                TemplateProblem(code, message, tok.line, tok.column, tok.end_column, hint)
            )

    # -- statements -------------------------------------------------------------------
    def statements(self, body: Iterable[nodes.Node]) -> None:
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    self.expr(child)
            elif isinstance(node, nodes.If):
                self.expr(node.test)
                self.statements(node.body)
                for elif_ in node.elif_:
                    self.statements([elif_])
                self.statements(node.else_)
            elif isinstance(node, nodes.For):
                self.for_loop(node)
            else:
                tag = _STATEMENT_TAGS.get(type(node), type(node).__name__.lower())
                self.problem(
                    "templates.unsafe", f"`{{% {tag} %}}` is not allowed in field transforms",
                    self.find("name", tag),
                    "a field transform is one expression or text with `{% if %}`/`{% for %}`",
                )

    def for_loop(self, node: nodes.For) -> None:
        if len(self.locals) >= MAX_LOOP_DEPTH:
            self.problem("templates.unsafe", "loops may not be nested in field transforms",
                         self.find("name", "for"), "flatten the data with filters such as join")
        self.expr(node.iter)
        targets = [node.target, *node.target.find_all(nodes.Name)]
        names = {n.name for n in targets if isinstance(n, nodes.Name)} | {"loop"}
        self.locals.append(names)
        self.statements(node.body)
        if node.test is not None:
            self.expr(node.test)
        self.locals.pop()
        self.statements(node.else_)

    # -- expressions ------------------------------------------------------------------
    def is_local(self, name: str) -> bool:
        return any(name in scope for scope in self.locals)

    def chain(self, node: nodes.Expr) -> tuple[nodes.Expr, list[str]]:
        """The base of an attribute/item chain and its static segments, outermost last."""
        segments: list[str] = []
        while True:
            if isinstance(node, nodes.Getattr):
                segments.append(node.attr)
                self.check_attr(node.attr, ".")
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                    and isinstance(node.arg.value, str):
                segments.append(node.arg.value)
                self.check_attr(node.arg.value, "[")
                node = node.node
            elif isinstance(node, nodes.Getitem):
                self.expr(node.arg)
                segments.clear()  # a dynamic step: only the part below it is static
                node = node.node
            else:
                segments.reverse()
                unsafe = [i for i, s in enumerate(segments) if s.startswith("_")]
                return node, segments[: unsafe[0]] if unsafe else segments

    def check_attr(self, name: str, how: str) -> None:
        if name.startswith("_"):
            if how == ".":
                tok = self.find("name", name, ("operator", "."))
            else:
                tok = self.find("string", name)
            self.problem(
                "templates.unsafe",
                f"`{name}` starts with an underscore; templates cannot reach such attributes",
                tok, "read record fields by name, e.g. record['field-name']",
            )

    def name_use(self, name: str, segments: list[str]) -> None:
        facts = self.facts
        if self.is_local(name) or name in ("now", "today", "omit"):
            return
        if name == "record":
            if segments:
                path = ".".join(segments)
                _add(facts.fields, path)
                facts.field_tokens.setdefault(path, self.find("string", segments[0])
                                              or self.find("name", segments[0]))
            return
        if name == "setup":
            if segments:
                _add(facts.setup_names, segments[0])
                token = self.find("name", segments[0], ("operator", "."))
                token = token or self.find("string", segments[0])
                facts.setup_tokens.setdefault(segments[0], token)
            return
        if name in ENV.globals:
            _add(facts.global_values, name)
            facts.field_tokens.setdefault(name, self.find("name", name))
            return
        path = ".".join([name, *segments])
        _add(facts.fields, path)
        facts.field_tokens.setdefault(path, self.find("name", name))

    def expr(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.name_use(node.name, [])
        elif isinstance(node, (nodes.Getattr, nodes.Getitem)):
            base, segments = self.chain(node)
            if isinstance(base, nodes.Name):
                self.name_use(base.name, segments)
            else:
                self.expr(base)
        elif isinstance(node, nodes.Filter):
            self.callable_use(node.name, ENV.filters, "filter", ("operator", "|"))
            if node.name in ("linked", "linked_source") and node.args and \
                    isinstance(node.args[0], nodes.Const):
                self.sync_use(node.args[0].value)
            if node.name in ("linked", "linked_source"):
                self.missing_choice(node)
            self.children(node)
        elif isinstance(node, nodes.Test):
            if node.name not in ENV.tests:
                self.problem("templates.unknown-filter", f"no test named `{node.name}`",
                             self.find("name", node.name),
                             did_you_mean(node.name, ENV.tests, "Tests"))
            self.children(node)
        elif isinstance(node, nodes.Call):
            self.call(node)
        elif isinstance(node, nodes.Mul):
            self.repetition(node)
            self.children(node)
        else:
            self.children(node)

    def repetition(self, node: nodes.Mul) -> None:
        """`x * N` with a literal N: repeating text or a list N times can exceed the size
        budget, whatever the record holds, once N is that large; say so at validate."""
        for count, other in ((node.right, node.left), (node.left, node.right)):
            if not (isinstance(count, nodes.Const) and type(count.value) is int):
                continue
            repeats = (isinstance(other, nodes.Const) and isinstance(other.value, str)) or \
                isinstance(other, (nodes.List, nodes.Tuple, nodes.Concat))
            if not repeats:
                return  # arithmetic, or a field whose type decides at run time
            times = count.value
            each = len(other.value) if isinstance(other, nodes.Const) and \
                isinstance(other.value, str) else 1
            if times * each > MAX_RESULT_SIZE or times > MAX_REPEAT:
                self.problem(
                    "templates.too-large",
                    f"repeating a value {times} times can build more than "
                    f"{MAX_RESULT_SIZE} characters, the size budget of a field",
                    self.find("integer", str(times)),
                    f"repeat at most {MAX_REPEAT} times; templates map values, they do "
                    "not generate data")
            return

    def children(self, node: nodes.Node) -> None:
        for child in node.iter_child_nodes():
            self.expr(child)

    def callable_use(self, name: str, table: Iterable[str], what: str,
                     after: tuple[str, str] | None) -> None:
        _add(self.facts.functions, name)
        if name not in table:
            code = f"templates.unknown-{what}"
            self.problem(code, f"no {what} named `{name}`",
                         self.find("name", name, after) or self.find("name", name),
                         did_you_mean(name, table, what.capitalize() + "s"))

    def missing_choice(self, node: nodes.Filter) -> None:
        """`missing=` of `linked`/`linked_source` is a literal 'fail' or 'skip': what a
        record with no link does is decided in the spec, visibly, not per record."""
        from engine.templates.functions.links import MISSING_CHOICES

        for keyword in node.kwargs:
            if keyword.key != "missing":
                continue
            value = keyword.value
            if isinstance(value, nodes.Const) and value.value in MISSING_CHOICES:
                continue
            shown = repr(value.value) if isinstance(value, nodes.Const) else "an expression"
            self.problem("templates.invalid-argument",
                         f"`{node.name}(missing=...)` is {shown}",
                         self.find("name", "missing"),
                         "write missing='fail' (the default: the record fails and is "
                         "retried) or missing='skip' (skipped, with the reason, once the "
                         "other sync has run)")

    def sync_use(self, sync: object) -> None:
        if isinstance(sync, str):
            _add(self.facts.linked_syncs, sync)
            self.facts.sync_tokens.setdefault(sync, self.find("string", sync))

    def call(self, node: nodes.Call) -> None:
        callee = node.node
        if isinstance(callee, nodes.Name) and not self.is_local(callee.name):
            functions = [n for n in ENV.globals if n != "range"] + ["range"]
            self.callable_use(callee.name, functions, "function", None)
        elif isinstance(callee, nodes.Getattr):  # a method: `name.split(' ')`
            self.check_attr(callee.attr, ".")
            self.expr(callee.node)
        else:
            self.expr(callee)
        for child in (*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs):
            if child is not None:
                self.expr(child)


def analyse(tree: nodes.Template, tokens: Sequence[Token]) -> Facts:
    analyser = _Analyser(tokens)
    analyser.statements(tree.body)
    analyser.facts.problems.sort(key=lambda p: (p.line, p.column))
    return analyser.facts
