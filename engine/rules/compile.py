"""Rule -> fast predicate over records.

    pred = compile_rule(parse_rule("active is true and jobtype in setup.types"),
                        setup={"types": ["T&M", "Fixed"]})
    keep = [r for r in records if pred(r)]        # or: list(pred.filter(records))

Semantics (the reference is engine/rules/evaluate.py):

- A missing field is null. A dotted path (`address.city`) walks nested mappings;
  a step that is missing or not a mapping gives null.
- Two-valued logic. `=`, `<`, `<=`, `>`, `>=`, `in`, `contains` and `starts with`
  are false when the field is null or its value's type does not fit the operand
  (a string never equals 3, `true` never equals 1, `null` equals nothing).
  `!=` is exactly `not =` and `not in` is exactly `not (... in ...)`, so both are
  true for a missing field. Nothing raises on record data.
- Types: strings compare with strings (ordered by code point), numbers (int,
  float, Decimal; never bool) with numbers, booleans only with `=`/`!=`, dates and
  datetimes with dates and datetimes. Naive datetimes in records are taken as UTC.
- Date against datetime (a date field vs a datetime literal or now(), or a
  datetime field vs a date literal or today()): both sides become calendar dates,
  the datetime cut in its own UTC offset. `created = 2024-01-31` holds all day.
- `in [...]` holds when the value `=` one item; `in setup.x` needs x to be a list.
- `contains`: substring for a string value; for a list value, some item `=` the
  operand. `starts with`: string prefix, case-sensitive.
- `is true`/`is false` hold only for the booleans themselves; `is null` holds for
  missing or None; `is not null` is its negation.
- `now()` is the injected clock's reading (naive readings are UTC); `today()` is
  its calendar date in the clock's own zone; `- 30d`, `- 2h`, `- 15m`, `- 1w` shift
  them. A predicate reads the clock once per call, `bind()` reads it once and
  returns a function for a whole batch, `filter(records)` does that for you.
- `setup.x` is bound when compiling; changing the setup means compiling again.

How it is fast: the validated tree becomes Python source where each condition is
an expression with a fast path for the expected exact type (`v == K3` when `v` is
a str) and otherwise a call into the interpreter's `match` for that one value.
Field names and constants are never pasted into the source: they are arguments
of a generated builder function, bound once. The source is compiled with
`compile()`, and any TypeError on the fast path re-runs that record through the
interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.rules.errors import RuleSetupError
from engine.rules.evaluate import (
    evaluate,
    lookup,
    match,
    moment,
    operand_value,
    relative_value,
)
from engine.rules.nodes import And, Compare, Expr, Is, Not, Or, RelativeTime, Rule, iter_leaves

__all__ = ["Predicate", "compile_rule"]

Record = Mapping[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Predicate:
    """A compiled rule: call it with a record, or `bind()` it for a batch.

    Keeps `.rule` (the tree, for rendering and explaining) and `.source` (the
    generated Python, for the curious).
    """

    __slots__ = ("_dynamic", "_last", "_leaves", "_operands", "_relative", "_static",
                 "_static_fn", "clock", "rule", "source")

    def __init__(self, rule: Rule, source: str, static: Callable[..., Callable[[Record], bool]],
                 dynamic: Callable[[Record], bool], operands: list[Any],
                 leaves: list[Compare | Is], clock: Callable[[], datetime]):
        self.rule = rule
        self.source = source
        self.clock = clock
        self._static = static
        self._dynamic = dynamic
        self._operands = operands
        self._leaves = leaves
        self._relative = [op for op in operands if isinstance(op, RelativeTime)]
        self._last: tuple[datetime, tuple[Any, ...]] | None = None
        self._static_fn = None if self._relative else static()

    @property
    def uses_clock(self) -> bool:
        return self._static_fn is None

    def __call__(self, record: Record) -> bool:
        fn = self._static_fn
        return fn(record) if fn is not None else self._dynamic(record)

    def bind(self, now: datetime | None = None) -> Callable[[Record], bool]:
        """A plain function with now()/today() fixed (read from the clock when not given)."""
        if self._static_fn is not None:
            return self._static_fn
        return self._static(*self._relative_values(now))

    def filter(self, records: Iterable[Record]) -> Iterator[Record]:
        """The records that match, with the clock read once for the whole batch."""
        return filter(self.bind(), records)

    def _relative_values(self, now: datetime | None = None) -> tuple[Any, ...]:
        reading = self.clock() if now is None else now
        last = self._last
        if last is not None and last[0] == reading and last[0].tzinfo is reading.tzinfo:
            return last[1]  # same reading as the previous call: reuse the shifted values
        at = moment(lambda: reading)
        values = tuple(relative_value(op, at) for op in self._relative)
        self._last = (reading, values)
        return values

    def _slow(self, record: Record, relative: tuple[Any, ...]) -> bool:
        """The interpreter, for records the fast path could not handle."""
        values = iter(relative)
        bound = {id(leaf): (next(values) if isinstance(op, RelativeTime) else op)
                 for leaf, op in zip(self._leaves, self._operands, strict=True)
                 if isinstance(leaf, Compare)}
        return evaluate(self.rule.expr, record, lambda leaf: bound[id(leaf)])

    def __repr__(self) -> str:
        text = self.rule.text if len(self.rule.text) < 80 else self.rule.text[:77] + "..."
        return f"<Predicate {text!r}>"


def compile_rule(rule: Rule, *, setup: Mapping[str, Any],
                 clock: Callable[[], datetime] | None = None) -> Predicate:
    """Compile a parsed (and checked) rule; binds `setup.x` now, reads `clock` per use.

    Raises RuleSetupError when a `setup.x` the rule needs is missing or unusable.
    """
    leaves = iter_leaves(rule.expr)
    # operands[i] is the bound value of leaves[i], or the RelativeTime node itself.
    operands: list[Any] = []
    for leaf in leaves:
        if isinstance(leaf, Is):
            operands.append(None)
        elif isinstance(leaf.value, RelativeTime):
            operands.append(leaf.value)
        else:
            value = operand_value(leaf.value, setup)
            if leaf.op in ("in", "not in") and not isinstance(value, tuple):
                raise RuleSetupError(f"`{leaf.field.name} {leaf.op}` needs a list, "
                                     f"but the setup value is a {type(value).__name__}")
            operands.append(value)
    gen = _Generator(leaves, operands)
    body = gen.expr(rule.expr)
    rel_names = [f"K{i}" for i, op in enumerate(operands) if isinstance(op, RelativeTime)]
    rel_tuple = "(" + "".join(f"{n}, " for n in rel_names) + ")"
    params = ", ".join(gen.names)
    source = "\n".join([
        f"def _build({params}):",
        f"    def _static({', '.join(rel_names)}):",
        "        def _pred(r):",
        "            try:",
        f"                return {body}",
        "            except _TypeError:",
        f"                return _slow(r, {rel_tuple})",
        "        return _pred",
        "    def _dynamic(r):",
        f"        {rel_tuple} = _rel()" if rel_names else "        pass",
        "        try:",
        f"            return {body}",
        "        except _TypeError:",
        f"            return _slow(r, {rel_tuple})",
        "    return _static, _dynamic",
    ])
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, "<specsync rule>", "exec"), namespace)  # generated, never user text
    the_clock = clock or _utc_now
    holder: list[Predicate] = []
    consts = dict(gen.values)
    consts["_slow"] = lambda r, rel: holder[0]._slow(r, rel)
    consts["_rel"] = lambda: holder[0]._relative_values()
    static, dynamic = namespace["_build"](*(consts[n] for n in gen.names))
    pred = Predicate(rule, source, static, dynamic, operands, leaves, the_clock)
    holder.append(pred)
    return pred


_NUMBER_TYPES = frozenset({int, float})


class _Generator:
    """Emits one Python expression per condition; constants become builder parameters."""

    def __init__(self, leaves: list[Compare | Is], operands: list[Any]):
        self.index = {id(leaf): i for i, leaf in enumerate(leaves)}
        self.operands = operands
        self.values: dict[str, Any] = {
            "_slow": None, "_rel": None, "_M": match, "_L": lookup,
            "_str": str, "_list": list, "_date": date, "_datetime": datetime,
            "_nums": _NUMBER_TYPES, "_TypeError": TypeError,
        }

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def const(self, name: str, value: Any) -> str:
        self.values[name] = value
        return name

    def expr(self, node: Expr) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.operand)})"
        i = self.index[id(node)]
        get = self.getter(i, node.field.path)
        if isinstance(node, Is):
            return {"true": f"({get} is True)", "false": f"({get} is False)",
                    "null": f"({get} is None)", "not null": f"({get} is not None)"}[node.test]
        if node.op == "!=":
            return f"(not {self.leaf(i, '=', get)})"
        if node.op == "not in":
            return f"(not {self.leaf(i, 'in', get)})"
        return self.leaf(i, node.op, get)

    def getter(self, i: int, path: tuple[str, ...]) -> str:
        if len(path) == 1:
            return f"r.get({self.const(f'F{i}', path[0])})"
        return f"_L(r, {self.const(f'F{i}', path)})"

    def leaf(self, i: int, op: str, get: str) -> str:
        """`(FAST if type fits else (v is not None and _M(op, v, K)))`, one `v` per leaf."""
        operand = self.operands[i]
        k = f"K{i}"
        v = f"v{i}"
        relative = isinstance(operand, RelativeTime)
        if not relative:
            self.const(k, operand)
        if isinstance(operand, bool) and op == "=":
            return f"({get} is {k})"  # `= true` holds only for True itself
        if isinstance(operand, str) and op == "=":
            # No builtin non-str value equals a str, so `==` alone is the semantics;
            # an odd __eq__ that raises lands in the interpreter through TypeError.
            return f"({get} == {k})"
        if (isinstance(operand, tuple) and op == "in" and operand
                and all(type(x) is str for x in operand)):
            # Unhashable values (lists, dicts) raise TypeError and go to the interpreter.
            return f"({get} in {self.const(f'S{i}', frozenset(operand))})"
        slow = f"({v} is not None and _M({self.const(f'O{i}', op)}, {v}, {k}))"
        fast = self.fast(op, operand, v, k, i)
        if fast is None:
            return f"(({v} := {get}) is not None and _M(O{i}, {v}, {k}))"
        test, expr = fast
        return f"({expr} if {test.format(v=f'({v} := {get})')} else {slow})"

    def fast(self, op: str, operand: Any, v: str, k: str, i: int) -> tuple[str, str] | None:
        """(type test with {v} placeholder, expression) for exact expected types, else None."""
        ordered = {"=": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        if isinstance(operand, RelativeTime):
            if op not in ordered:
                return None
            if operand.base == "today":
                return "{v}.__class__ is _date", f"({v} {ordered[op]} {k})"
            return ("{v}.__class__ is _datetime and " + v + ".tzinfo is not None",
                    f"({v} {ordered[op]} {k})")
        if isinstance(operand, bool):
            return None
        if isinstance(operand, str):
            if op in ordered:
                return "{v}.__class__ is _str", f"({v} {ordered[op]} {k})"
            if op == "contains":
                return ("({v}.__class__ is _str or " + v + ".__class__ is _list)",
                        f"({k} in {v})")
            if op == "starts with":
                return "{v}.__class__ is _str", f"{v}.startswith({k})"
            return None
        if isinstance(operand, (int, float)) and not isinstance(operand, Decimal):
            if op in ordered:
                return "{v}.__class__ in _nums", f"({v} {ordered[op]} {k})"
            return None
        if isinstance(operand, datetime):
            if op in ordered:
                return ("{v}.__class__ is _datetime and " + v + ".tzinfo is not None",
                        f"({v} {ordered[op]} {k})")
            return None
        if isinstance(operand, date):
            if op in ordered:
                return "{v}.__class__ is _date", f"({v} {ordered[op]} {k})"
            return None
        if isinstance(operand, tuple) and op == "in" and operand:
            if all(type(x) is str for x in operand):
                self.const(f"S{i}", frozenset(operand))
                return "{v}.__class__ is _str", f"({v} in S{i})"
            if all(type(x) in _NUMBER_TYPES for x in operand):
                self.const(f"S{i}", frozenset(operand))
                return "{v}.__class__ in _nums", f"({v} in S{i})"
        return None
