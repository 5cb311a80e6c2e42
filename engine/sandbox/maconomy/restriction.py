"""The Maconomy restriction language the simulator understands: a parser and evaluator.

Never `eval`: restrictions are tokenised, parsed into predicates over a record, and
cached per text. What a tenant accepts beyond the syntax real clients confirm is the
`Dialect` (built from `MaconomySettings`): a construct it does not accept is a
`RestrictionError`, answered 400 like any other syntax error.

    expr       := term ("or" term)*
    term       := factor ("and" factor)*                    [extended]
    factor     := "not" factor [extended] | "(" expr ")" | comparison
    comparison := operand [op operand | ["not"] "like" string]
    op         := "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="  (all but "=" extended)
    operand    := field | 'text' | "text" [extended] | number [extended]
                | true | false | date(y, m, d) | timestamp(y, m, d, h, mi, s[, ms])

Confirmed by real clients (tests/contracts/maconomy/facts.json): single-quoted values
compared with '=' (F-R-QUOTE), 'or' and parentheses (F-R-OR-PAREN), the whole restriction
'true' (F-R-TRUE), lower-case field names (F-R-LOWER). Everything else is a tenant knob:
`and`/`not`/other comparisons/`like`/numbers/double quotes/bare boolean fields
(F-R-EXTENDED), `''` inside a value (F-R-DOUBLING), `date(...)` (F-R-DATE, with the month
numbering `month_base`), `timestamp(...)` (F-R-TIMESTAMP) and conditions on fields the
container's specification marks `unfilterable` (F-R-TRANSACTIONTIMESTAMP).

Keywords are case-insensitive, field names are lowercased. A bare field tests truthiness
(`blocked and not(closed)`). A date compared with a timestamp field means midnight;
timestamps compare as their canonical text `YYYY-MM-DD HH:MM:SS.fff` (how Maconomy prints
`transactiontimestamp`, F-RESP-VALUES). `like` patterns use `*`/`%` for any run and
`?`/`_` for one character, case-insensitively [assumed]. Comparisons with a missing field
are false. Numbers compare numerically with numeric strings (`statistic3 > "1"`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Dialect",
    "Predicate",
    "Restriction",
    "RestrictionError",
    "always",
    "compile_restriction",
    "maconomy_timestamp",
]

MAX_RESTRICTION_LENGTH = 10_000
MAX_DEPTH = 64


def maconomy_timestamp(moment: datetime) -> str:
    """`2025-01-15 09:00:00.000`: how Maconomy prints `transactiontimestamp`
    (F-RESP-VALUES: a space, no 'T', no zone; the server's local time)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Dialect:
    """What one tenant's restriction parser accepts beyond the confirmed syntax.

    The default accepts everything (the simulator's historical behaviour); a tenant
    built from `MaconomySettings` narrows it.
    """

    extended: bool = True
    quote_doubling: bool = True
    date_literal: bool = True
    timestamp_literal: bool = True
    month_base: int = 1  # date(...)/timestamp(...) month numbering: 1 (January = 1) or 0
    unfilterable: frozenset[str] = frozenset()


PERMISSIVE = Dialect()


class RestrictionError(ValueError):
    """A restriction that cannot be parsed, names an unknown field, or uses a construct
    this tenant does not accept."""

    def __init__(self, message: str, position: int, field_name: str | None = None) -> None:
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position
        self.field_name = field_name


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "true", "false"}
_FUNCTIONS = {"date", "timestamp"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # string number name op punct end
    text: str
    value: Any
    pos: int


def _tokenize(text: str, dialect: Dialect) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "bad"
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "bad":
            raise RestrictionError(f"unexpected character {raw!r}", start)
        if kind == "string":
            quote = raw[0]
            if quote == '"' and not dialect.extended:
                raise RestrictionError("double-quoted values are not supported; quote "
                                       "values with '", start)
            inner = raw[1:-1]
            if quote * 2 in inner and not dialect.quote_doubling:
                raise RestrictionError("a value may not contain a quote", start)
            value: Any = inner.replace(quote * 2, quote)
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        else:
            value = raw.lower() if kind == "name" else raw
        tokens.append(_Tok(kind, raw, value, start))
        pos = match.end()
    tokens.append(_Tok("end", "", None, len(text)))
    return tokens


class _Temporal(str):
    """A date/timestamp literal, kept as canonical `YYYY-MM-DD HH:MM:SS.fff` text."""


@dataclass(frozen=True)
class _Field:
    name: str


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Restriction:
    """A compiled restriction: `matches(record)` and the fields it reads.

    `lower` lists what the whole restriction implies as `field >= literal` or `field >
    literal` for timestamp literals (top-level conjuncts, as delta reads send them):
    (field, op, canonical timestamp text). `lower_only` says one such comparison is
    all there is, so every record past the bound matches.
    """

    text: str
    matches: Predicate
    fields: frozenset[str]
    lower: tuple[tuple[str, str, str], ...] = ()
    lower_only: bool = False


class _Parser:
    def __init__(self, text: str, known: Iterable[str], dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens = _tokenize(text, dialect)
        self.i = 0
        self.known = set(known)
        self.used: set[str] = set()
        # Lower bounds on a field found among the top-level conjuncts (see Restriction).
        self.bound: tuple[str, str, str] | None = None  # of the factor just parsed
        self.lower: list[tuple[str, str, str]] = []
        self.conjuncts = 0

    # -- token helpers

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        tok = self.tok
        if tok.kind == "name" and tok.value == word:
            if word in ("and", "not", "like") and not self.dialect.extended:
                raise RestrictionError(f"{tok.text!r} is not supported in a restriction",
                                       tok.pos)
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None, what: str = "") -> _Tok:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            found = "the end of the restriction" if tok.kind == "end" else repr(tok.text)
            raise RestrictionError(f"expected {what or text or kind}, found {found}", tok.pos)
        self.i += 1
        return tok

    def extended(self, what: str, position: int) -> None:
        if not self.dialect.extended:
            raise RestrictionError(f"{what} is not supported in a restriction", position)

    # -- grammar

    def parse(self) -> Predicate:
        if self.tok.kind == "end":
            return always
        if (self.tok.kind == "name" and self.tok.value == "true"
                and self.tokens[1].kind == "end"):
            return always  # the whole restriction 'true' selects everything (F-R-TRUE)
        predicate = self.expr(0)
        if self.tok.kind != "end":
            raise RestrictionError(f"unexpected {self.tok.text!r}; expected 'and', 'or' or "
                                   "the end of the restriction", self.tok.pos)
        return predicate

    def expr(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise RestrictionError("restriction is nested too deeply", self.tok.pos)
        parts = [self.term(depth)]
        while self.keyword("or"):
            parts.append(self.term(depth))
        if len(parts) == 1:
            return parts[0]
        if depth == 0:
            self.lower.clear()  # an `or` at the top: no conjunct bounds the whole
        return lambda r: any(p(r) for p in parts)

    def term(self, depth: int) -> Predicate:
        parts = [self.conjunct(depth)]
        while self.keyword("and"):
            parts.append(self.conjunct(depth))
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda r: first(r) and second(r)
        return lambda r: all(p(r) for p in parts)

    def conjunct(self, depth: int) -> Predicate:
        """A factor of a term; at the top level, noting whether it is a lower bound."""
        self.bound = None
        predicate = self.factor(depth)
        if depth == 0:
            self.conjuncts += 1
            if self.bound is not None:
                self.lower.append(self.bound)
        return predicate

    def factor(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise RestrictionError("restriction is nested too deeply", self.tok.pos)
        if self.keyword("not"):
            inner = self.factor(depth + 1)
            self.bound = None
            return lambda r: not inner(r)
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.i += 1
            inner = self.expr(depth + 1)
            self.expect("punct", ")", "')'")
            self.bound = None
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        start = self.tok.pos
        left = self.operand()
        tok = self.tok
        if tok.kind == "op":
            if tok.text != "=":
                self.extended(f"the comparison {tok.text!r}", tok.pos)
            self.i += 1
            right = self.operand()
            self.bound = _lower_bound(left, tok.text, right)
            return _compare(left, tok.text, right, start)
        negate = False
        if tok.kind == "name" and tok.value == "not" and self.tokens[self.i + 1].value == "like":
            self.extended("'not like'", tok.pos)
            self.i += 1
            negate = True
        if self.keyword("like"):
            if not isinstance(left, _Field):
                raise RestrictionError("'like' needs a field on its left", start)
            pattern = self.expect("string", what="a quoted pattern after 'like'").value
            return _like(left.name, pattern, negate)
        if isinstance(left, _Field):
            self.extended("a field without a comparison", start)
            name = left.name
            return lambda r: bool(r.get(name))
        if isinstance(left, bool):
            return always if left else _never
        raise RestrictionError("expected a comparison such as field = 'value'", start)

    def operand(self) -> Any:
        tok = self.tok
        if tok.kind == "string":
            self.i += 1
            return tok.value
        if tok.kind == "number":
            self.extended("a number as a value", tok.pos)
            self.i += 1
            return tok.value
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                self.extended("true/false as a value", tok.pos)
                self.i += 1
                return tok.value == "true"
            if tok.value in _FUNCTIONS and self.tokens[self.i + 1].text == "(":
                return self.temporal()
            if tok.value in _KEYWORDS:
                raise RestrictionError(f"expected a field or a value, found {tok.text!r}",
                                       tok.pos)
            self.i += 1
            if tok.value not in self.known:
                raise RestrictionError(f"unknown field {tok.value!r}", tok.pos, tok.value)
            if tok.value in self.dialect.unfilterable:
                raise RestrictionError(f"the field {tok.value!r} cannot be used in a "
                                       "restriction", tok.pos, tok.value)
            self.used.add(tok.value)
            return _Field(tok.value)
        found = "the end of the restriction" if tok.kind == "end" else repr(tok.text)
        raise RestrictionError(f"expected a field or a value, found {found}", tok.pos)

    def temporal(self) -> _Temporal:
        name_tok = self.tok
        allowed = self.dialect.date_literal if name_tok.value == "date" else \
            self.dialect.timestamp_literal
        if not allowed:
            raise RestrictionError(f"unknown function {name_tok.value!r}", name_tok.pos)
        self.i += 2  # name and "("
        args: list[int] = []
        while True:
            number = self.expect("number", what="a whole number")
            if not isinstance(number.value, int):
                raise RestrictionError("expected a whole number", number.pos)
            args.append(number.value)
            if self.tok.text == ",":
                self.i += 1
                continue
            self.expect("punct", ")", "')'")
            break
        wanted = (3, 3) if name_tok.value == "date" else (6, 7)
        if not wanted[0] <= len(args) <= wanted[1]:
            shape = "date(y, m, d)" if name_tok.value == "date" else \
                "timestamp(y, m, d, h, mi, s[, ms])"
            raise RestrictionError(f"expected {shape}", name_tok.pos)
        args[1] += 1 - self.dialect.month_base
        try:
            y, mo, d, h, mi, s = [*args, 0, 0, 0][:6]  # a date is midnight
            moment = datetime(y, mo, d, h, mi, s)
        except ValueError as exc:
            raise RestrictionError(f"invalid {name_tok.value}: {exc}", name_tok.pos) from None
        millis = args[6] if len(args) == 7 else 0
        if not 0 <= millis <= 999:
            raise RestrictionError("milliseconds must be 0..999", name_tok.pos)
        return _Temporal(moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis:03d}")


def _lower_bound(left: Any, op: str, right: Any) -> tuple[str, str, str] | None:
    """(field, ">=" or ">", timestamp text) when a comparison bounds a field from below."""
    if isinstance(right, _Field) and isinstance(left, _Temporal):
        left, right = right, left
        op = {"<": ">", "<=": ">="}.get(op, "")
    if isinstance(left, _Field) and isinstance(right, _Temporal) and op in (">", ">="):
        return left.name, op, str(right)
    return None


def always(record: dict[str, Any]) -> bool:
    return True


def _never(record: dict[str, Any]) -> bool:
    return False


PAD = " 00:00:00.000"  # a date compared with a timestamp means midnight


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring two values to comparable forms, or None when they cannot be compared."""
    if left is None or right is None:
        return None
    if isinstance(right, _Temporal) or isinstance(left, _Temporal):
        if not (isinstance(left, str) and isinstance(right, str)) or not left or not right:
            return None
        left = left + PAD if len(left) == 10 else left
        right = right + PAD if len(right) == 10 else right
        return str(left), str(right)
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, str):
            left = left.strip().lower() == "true"
        if isinstance(right, str):
            right = right.strip().lower() == "true"
        if not (isinstance(left, bool | int) and isinstance(right, bool | int)):
            return None
        return int(left), int(right)
    left_num = isinstance(left, int | float)
    right_num = isinstance(right, int | float)
    if left_num and right_num:
        return left, right
    if left_num or right_num:
        try:
            return (left, float(right)) if left_num else (float(left), right)
        except ValueError:
            return str(left), str(right)
    return str(left), str(right)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(left: Any, op: str, right: Any, position: int) -> Predicate:
    compare = _OPS[op]
    left_field = isinstance(left, _Field)
    right_field = isinstance(right, _Field)
    if not left_field and not right_field:
        pair = _coerce_pair(left, right)
        result = pair is not None and compare(*pair)
        return always if result else _never
    if left_field and right_field:
        a_name, b_name = left.name, right.name

        def both(record: dict[str, Any]) -> bool:
            pair = _coerce_pair(record.get(a_name), record.get(b_name))
            return pair is not None and compare(*pair)

        return both
    if right_field:  # literal op field -> field flipped-op literal
        left, right = right, left
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        compare = _OPS[op]
    name = left.name
    literal = right
    if isinstance(literal, _Temporal):
        # The delta-sync hot path: plain string comparison on canonical timestamps.
        def temporal(record: dict[str, Any]) -> bool:
            value = record.get(name)
            if not isinstance(value, str) or not value:
                return False
            return compare(value + PAD if len(value) == 10 else value, literal)

        return temporal
    if isinstance(literal, str) and not isinstance(literal, bool):
        def text(record: dict[str, Any]) -> bool:
            value = record.get(name)
            if isinstance(value, str):
                return compare(value, literal)
            pair = _coerce_pair(value, literal)
            return pair is not None and compare(*pair)

        return text

    def general(record: dict[str, Any]) -> bool:
        pair = _coerce_pair(record.get(name), literal)
        return pair is not None and compare(*pair)

    return general


def _like(name: str, pattern: str, negate: bool) -> Predicate:
    regex = re.compile(
        "".join(".*" if c in "*%" else "." if c in "?_" else re.escape(c) for c in pattern),
        re.IGNORECASE | re.DOTALL,
    )

    def like(record: dict[str, Any]) -> bool:
        value = record.get(name)
        if value is None:
            return False
        return (regex.fullmatch(str(value)) is not None) != negate

    return like


def compile_restriction(text: str, fields: Iterable[str],
                        dialect: Dialect = PERMISSIVE) -> Restriction:
    """Parse `text` against the container's `fields`; raises `RestrictionError`."""
    if len(text) > MAX_RESTRICTION_LENGTH:
        raise RestrictionError(f"restriction is longer than {MAX_RESTRICTION_LENGTH} "
                               "characters", MAX_RESTRICTION_LENGTH)
    parser = _Parser(text, fields, dialect)
    predicate = parser.parse()
    return Restriction(text, predicate, frozenset(parser.used), tuple(parser.lower),
                       len(parser.lower) == 1 and parser.conjuncts == 1)
