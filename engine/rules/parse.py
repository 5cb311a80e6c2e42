"""Filter text -> `Rule` tree, with syntax errors people can act on.

    rule = parse_rule('active is true and jobtype in ["T&M", "Fixed"]')

The grammar lives in grammar.lark. The parser is driven token by token (lark's
interactive LALR parser), so on an error we know the last good token and the set
of terminals the parser would have accepted; `_explain` turns that into a message
such as "expected a value after `=`" and a hint with an example. Every failure is
a `RuleSyntaxError` with 1-based positions inside the text: random input never
leaks a lark exception or a RecursionError, because the text length and the
nesting depth are capped before anything recurses over the tree.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime
from functools import cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedToken

from engine.rules.errors import RuleSyntaxError
from engine.rules.nodes import (
    And,
    Compare,
    Expr,
    Field,
    Is,
    ListValue,
    Literal,
    Not,
    Operand,
    Or,
    RelativeTime,
    Rule,
    SetupRef,
)
from engine.rules.tree import ParseTree, subtree, token, tokens

__all__ = ["MAX_DURATION", "MAX_LENGTH", "MAX_NESTING", "parse_rule", "syntax_errors"]

MAX_LENGTH = 10_000  # characters of filter text
MAX_NESTING = 32  # parentheses and `not`s inside each other
MAX_DURATION = 100_000  # amount of a relative-time offset, so dates stay inside year 1..9999
_MAX_NUMBER_DIGITS = 400  # every finite float fits; beyond this it is not a filter value

_VALUES = frozenset({"STRING", "NUMBER", "DATE", "DATETIME", "TRUE", "FALSE", "NULL",
                     "NOW", "TODAY", "SETUP"})
_OPS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE", "IN", "CONTAINS", "STARTS", "IS"})
_COMPARE = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})
_KEYWORDS = frozenset({"OR", "AND", "NOT", "IN", "IS", "CONTAINS", "STARTS", "WITH", "TRUE",
                       "FALSE", "NULL", "NOW", "TODAY", "SETUP"})
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "/": "/"}

_OPERATORS_HINT = ("operators are =, !=, <, <=, >, >=, in [...], not in [...], contains, "
                   "starts with, is true, is false, is null, is not null")
_CONDITION_HINT = 'a condition looks like `active is true` or `jobtype = "Fixed"`'
_VALUE_HINT = ('use a quoted string, a number, a date such as 2024-01-31, true, false, '
               'setup.name or today() - 30d')
_DURATION_HINT = ("a duration is a whole number and a unit: "
                  "d (days), h (hours), m (minutes), w (weeks)")


# One parser for the process, built on first use. Lark builds each of its contextual
# lexers' scanners lazily too, on the lexer object every parse shares, so parses take
# turns: filters are parsed when a spec loads (validate, serve's start and SIGHUP
# reload, explain), never per record, and a parse takes microseconds.
_PARSE_LOCK = threading.Lock()


@cache
def _parser() -> Lark:
    return Lark.open(
        str(Path(__file__).with_name("grammar.lark")),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_rule(text: str) -> Rule:
    """Parse filter text into a `Rule`; raises `RuleSyntaxError` for anything else."""
    if not isinstance(text, str):
        raise TypeError(f"filter text must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        line, column = _position(text, MAX_LENGTH)
        raise RuleSyntaxError(
            f"the filter is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
            line, column, column + 1,
            "split it into setup values (setup.name) or simpler conditions",
        )
    if not text.strip():
        raise RuleSyntaxError("the filter is empty", 1, 1, 2, _CONDITION_HINT)
    with _PARSE_LOCK:
        tree = _drive(text)
    _check_nesting(tree)
    expr = _Builder(text).expr(tree)
    line, column = _end_of_text(text)
    return Rule(expr, text, line=1, column=1, end_line=line, end_column=column)


# ---------------------------------------------------------------------------
# Driving the parser and explaining its errors

def _drive(text: str) -> ParseTree:
    parser = _parser()
    ip = parser.parse_interactive(text)
    tokens = ip.lexer_thread.lex(ip.parser_state)  # type: ignore[no-untyped-call]
    fed: list[Token] = []
    try:
        while True:
            try:
                tok = next(tokens)
            except StopIteration:
                break
            except UnexpectedToken as e:  # contextual lexer: a real token, wrong place
                raise _explain(text, fed, e.token, _accepts(ip)) from None
            except UnexpectedCharacters as e:
                raise _bad_character(text, fed, e.pos_in_stream or 0, _accepts(ip)) from None
            try:
                ip.feed_token(tok)
            except UnexpectedToken as e:
                raise _explain(text, fed, tok, _accepts(ip, e)) from None
            fed.append(tok)
        try:
            tree: ParseTree = ip.feed_eof(  # type: ignore[no-untyped-call]
                fed[-1] if fed else None)
            return tree
        except UnexpectedToken as e:
            raise _explain(text, fed, None, _accepts(ip, e)) from None
    except LarkError as e:  # pragma: no cover - a lark failure mode not explained above
        line, column = _end_of_text(text)
        raise RuleSyntaxError(f"cannot read the filter ({type(e).__name__})",
                              line, column, column + 1, _CONDITION_HINT) from None


def _accepts(ip: object, error: UnexpectedToken | None = None) -> frozenset[str]:
    try:
        found = error.accepts if error is not None else None
        if not found:
            found = ip.accepts()  # type: ignore[attr-defined]
        return frozenset(found)
    except LarkError:  # pragma: no cover - defensive: accepts() replays the parser
        return frozenset()


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def _end_of_text(text: str) -> tuple[int, int]:
    """Just past the last non-blank character: where a missing piece would go."""
    return _position(text, len(text.rstrip()))


def _show(tok: Token) -> str:
    value = str(tok)
    if len(value) > 40:
        value = value[:37] + "..."
    return f"`{value}`"


def _span(tok: Token) -> tuple[int, int, int]:
    line, column = tok.line or 1, tok.column or 1
    end = tok.end_column if tok.end_line == line and tok.end_column else column + 1
    return line, column, max(end, column + 1)


def _field_before(fed: list[Token], index: int) -> str:
    """The field path written just before fed[index] (for examples in hints)."""
    parts: list[str] = []
    i = index - 1
    while i >= 0 and fed[i].type in ("NAME", "QUOTED_NAME", "DOT"):
        parts.append(str(fed[i]))
        i -= 1
    return "".join(reversed(parts)) or "field"


def _open_brackets(fed: list[Token]) -> list[Token]:
    stack: list[Token] = []
    for i, tok in enumerate(fed):
        opens_call = tok.type == "LPAR" and i and fed[i - 1].type in ("NOW", "TODAY")
        if tok.type == "LSQB" or (tok.type == "LPAR" and not opens_call):
            stack.append(tok)
        elif tok.type in ("RPAR", "RSQB") and stack:
            if tok.type == "RPAR" and i >= 2 and fed[i - 2].type in ("NOW", "TODAY"):
                continue
            stack.pop()
    return stack


def _explain(text: str, fed: list[Token], bad: Token | None,
             accepts: frozenset[str]) -> RuleSyntaxError:
    """Turn "token X was not in the accepted set after Y" into words."""
    prev = fed[-1] if fed else None
    ptype = prev.type if prev is not None else None
    if bad is None or bad.type == "$END":
        line, column = _end_of_text(text)
        at = (line, column, column + 1)
        found = ""
        btype = "$END"
    else:
        at = _span(bad)
        found = f", found {_show(bad)}"
        btype = bad.type

    def err(message: str, hint: str | None) -> RuleSyntaxError:
        return RuleSyntaxError(message, *at, hint)

    # Familiar operators from other languages, spelled the way people type them.
    if ptype == "EQ" and btype == "EQ":
        return err("`==` is not an operator", "compare with a single `=`")
    if ptype == "LT" and btype == "GT":
        return err("`<>` is not an operator", "write `!=` for not equal")

    if accepts & _OPS and ptype in ("NAME", "QUOTED_NAME"):
        field = _field_before(fed, len(fed))
        before = fed[-2].type if len(fed) >= 2 else None
        if (ptype == "NAME" and field.upper() in _KEYWORDS
                and before in (None, "AND", "OR", "NOT", "LPAR")):
            # `x = 1 or or ...`: the contextual lexer read the second `or` as a field.
            where = f" after `{fed[-2]}`" if before else ""
            at = _span(prev) if prev is not None else at
            return err(f"expected a condition{where}, found `{field}`",
                       f"`{field}` is a keyword; write a field with that name in backticks")
        meant = _operator_meant(str(bad)) if btype in ("NAME", "QUOTED_NAME") and bad else None
        hint = f"did you mean `{meant}`? {_OPERATORS_HINT}" if meant else _OPERATORS_HINT
        return err(f"expected an operator after `{field}`{found}", hint)
    if accepts == {"IN"}:
        return err(f"expected `in` after `not`{found}", "write `field not in [...]`")
    if accepts & {"NAME", "QUOTED_NAME"} and ptype == "DOT":
        return err(f"expected a name after `.`{found}", "a path looks like address.city")
    if ptype == "IS" and {"TRUE", "NULL"} <= accepts:
        return err(f"expected true, false, null or not null after `is`{found}",
                   "write `field is true`, `field is null` or `field is not null`")
    if ptype == "NOT" and accepts == {"NULL"}:
        return err(f"expected null after `is not`{found}",
                   "write `field is not null`, or `not field is true` to negate a test")
    if ptype == "STARTS":
        return err(f"expected `with` after `starts`{found}", 'write `name starts with "A"`')
    if ptype in ("NOW", "TODAY"):
        return err(f"expected `(` after `{prev}`{found}", f"write {str(prev).lower()}()")
    if ptype == "LPAR" and accepts == {"RPAR"}:
        return err(f"expected `)`{found}", "now() and today() take no arguments")
    if ptype in ("PLUS", "MINUS"):
        return err(f"expected a duration after `{prev}`{found}", _DURATION_HINT)
    if ptype == "SETUP":
        return err(f"expected `.name` after `setup`{found}", "write setup.selected_stages")
    if ptype == "IN" or (ptype == "NOT" and "LSQB" in accepts):
        return err(f"expected a list after `{'not in' if ptype == 'NOT' else 'in'}`{found}",
                   'write a list like ["1000", "1001"] or setup.name')
    if "RSQB" in accepts and "COMMA" not in accepts:
        return err(f"expected a value or `]` in the list{found}",
                   'a list looks like ["T&M", "Fixed"]')
    if ptype == "COMMA":
        return err(f"expected a value after `,`{found}", "remove the trailing comma or add a value")
    if accepts >= {"COMMA", "RSQB"}:
        if btype == "$END":
            return err("the list is never closed", "close it with `]`")
        return err(f"expected `,` or `]` in the list{found}",
                   'separate values with `,`: ["a", "b"]')
    if accepts & _VALUES and prev is not None:
        op = "starts with" if ptype == "WITH" else str(prev)
        field = _field_before(fed, len(fed) - (2 if ptype == "WITH" else 1))
        if btype in ("NAME", "QUOTED_NAME") and bad is not None:
            word = str(bad).strip("`").replace('"', '\\"')
            return err(f"expected a value after `{op}`{found}",
                       f'put text in quotes: {field} {op} "{word}"')
        if op in ("in", "not in"):  # pragma: no cover - lists are explained above
            return err(f"expected a list after `{op}`{found}", 'write ["a", "b"]')
        return err(f"expected a value after `{op}`{found}",
                   f'compare with a quoted string or a number, e.g. {field} {op} "Fixed"')
    if accepts & {"NAME", "NOT", "LPAR"}:
        where = f" after `{prev}`" if prev is not None else ""
        if btype == "STRING":
            return err(f"expected a condition{where}: a field name cannot be a string{found}",
                       "write the field bare, or in backticks: `my field` = 1")
        if btype in _KEYWORDS and bad is not None:
            return err(f"expected a condition{where}{found}",
                       f"`{bad}` is a keyword; write a field with that name in backticks: "
                       f"`{bad}`")
        if ptype == "NOT" and btype in _OPS:
            return err(f"expected a condition after `not`{found}",
                       "`not` is a keyword; write a field named not in backticks: `not`")
        if btype == "RPAR" and ptype == "LPAR":
            return err("empty parentheses", _CONDITION_HINT)
        return err(f"expected a condition{where}{found}", _CONDITION_HINT)
    if accepts & {"AND", "OR", "$END", "RPAR"}:
        if btype == "$END" and "RPAR" in accepts:
            opened = _open_brackets(fed)
            where = f" at line {opened[-1].line}, column {opened[-1].column}" if opened else ""
            return err("missing `)`", f"the `(`{where} is never closed")
        if btype == "RPAR":
            return err("unmatched `)`", "remove it, or add the `(` that it closes")
        if (btype == "NAME" and bad is not None and prev is not None and ptype == "NUMBER"
                and bad.start_pos == prev.end_pos and str(bad).lower() in _UNITS):
            return err(f"a duration such as `{prev}{bad}` needs now() or today()",
                       f"write today() - {prev}{bad}")
        return err(f"expected `and` or `or` between conditions{found}",
                   "join conditions with `and` / `or`; quote text that contains spaces")
    return err(f"unexpected {_show(bad) if bad is not None else 'end of the filter'}",
               _CONDITION_HINT)


# Word operators as people misspell them: `startswith`, `starts_with`, `contain`, `notin`.
_WORD_OPERATORS = ("starts with", "contains", "not in", "in", "is not null", "is null",
                   "is true", "is false")


def _operator_meant(word: str) -> str | None:
    """The word operator `word` most likely means, or None."""
    import difflib

    squashed = {op.replace(" ", ""): op for op in _WORD_OPERATORS}
    typed = word.strip("`").lower().replace("_", "").replace("-", "")
    if len(typed) < 4:
        return None
    found = difflib.get_close_matches(typed, list(squashed), n=1, cutoff=0.75)
    return squashed[found[0]] if found else None


def syntax_errors(text: str, *, limit: int = 10) -> list[RuleSyntaxError]:
    """Every syntax error of a filter that does not parse, not only the first ([] when it
    parses). After an error, reading resumes at the next `and` / `or` outside
    parentheses, brackets and quotes; an error a resumed read only finds because it
    started mid-way (an unmatched `)`) is not reported."""
    errors: list[RuleSyntaxError] = []
    start = 0
    while len(errors) < limit:
        # blank out what was read already, keeping newlines, so positions stay true
        rest = "".join(c if c == "\n" else " " for c in text[:start]) + text[start:]
        if errors and not rest.strip():
            break
        try:
            parse_rule(rest)
        except RuleSyntaxError as e:
            if errors and e.message in ("unmatched `)`", "the filter is empty"):
                break
            errors.append(e)
            resume = _next_joint(text, _offset(text, e.line, e.end_column))
            if resume is None:
                break
            start = resume
            continue
        break
    return errors


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[:line - 1]) + column - 1


_JOINT = re.compile(r"(?<![\w`-])(?:and|or)(?![\w-])", re.IGNORECASE)


def _next_joint(text: str, offset: int) -> int | None:
    """Just past the next `and` / `or` at the outermost level from `offset` on."""
    depth, quote = 0, ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote or c == "\n":
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif i >= offset and depth == 0 and (match := _JOINT.match(text, i)):
            return match.end()
        i += 1
    return None


def _bad_character(text: str, fed: list[Token], pos: int,
                   accepts: frozenset[str]) -> RuleSyntaxError:
    line, column = _position(text, pos)
    char = text[pos] if pos < len(text) else ""
    pair = text[pos:pos + 2]
    if char in "\"'":
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        return RuleSyntaxError("unterminated string", line, column, column + (end - pos),
                               f"close it with {char} on the same line; write \\{char} "
                               f"for a {char} inside the string")
    if char == "`":
        return RuleSyntaxError("unterminated `quoted field name`", line, column, column + 1,
                               "close the field name with another backtick")
    replacements = {"&&": "and", "||": "or", "&": "and", "|": "or", "!": "not` or `!=",
                    "==": "="}
    for written, use in replacements.items():
        if pair.startswith(written):
            return RuleSyntaxError(f"`{written}` is not an operator", line, column,
                                   column + len(written), f"write `{use}`")
    shown = char if char.isprintable() and not char.isspace() else repr(char)
    if accepts & _VALUES:
        hint = _VALUE_HINT
    elif accepts & _OPS:
        hint = _OPERATORS_HINT
    else:
        hint = _CONDITION_HINT
    return RuleSyntaxError(f"unexpected character `{shown}`", line, column, column + 1, hint)


def _check_nesting(tree: ParseTree) -> None:
    """Refuse trees nested deeper than MAX_NESTING, without recursion."""
    stack: list[tuple[ParseTree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("group", "negation"):
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                end = meta.end_column if meta.end_line == meta.line else meta.column + 1
                raise RuleSyntaxError(
                    f"the filter nests parentheses and `not` more than {MAX_NESTING} deep",
                    meta.line, meta.column, end,
                    "flatten it: `not (a or b)` is `not a and not b`")
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth))


# ---------------------------------------------------------------------------
# Parse tree -> nodes


def _pos(item: ParseTree | Token) -> dict[str, int]:
    if isinstance(item, Token):
        return {"line": item.line or 1, "column": item.column or 1,
                "end_line": item.end_line or 1, "end_column": item.end_column or 1}
    meta = item.meta
    return {"line": meta.line, "column": meta.column, "end_line": meta.end_line,
            "end_column": meta.end_column}


class _Builder:
    """Builds nodes from lark's tree; recursion is bounded by `_check_nesting`."""

    def __init__(self, text: str):
        self.text = text

    def fail(self, item: ParseTree | Token, message: str, hint: str | None) -> RuleSyntaxError:
        p = _pos(item)
        end = p["end_column"] if p["end_line"] == p["line"] else p["column"] + 1
        return RuleSyntaxError(message, p["line"], p["column"], max(end, p["column"] + 1), hint)

    def expr(self, tree: ParseTree) -> Expr:
        kind = tree.data
        kids = tree.children
        if kind in ("or_expr", "and_expr"):
            items = tuple(self.expr(c) for c in kids if isinstance(c, Tree))
            cls = Or if kind == "or_expr" else And
            return cls(items, **_pos(tree))
        if kind == "negation":
            return Not(self.expr(subtree(kids[1])), **_pos(tree))
        if kind == "group":
            # Parentheses only steer precedence; keep the inner node (with its own span).
            return self.expr(subtree(kids[1]))
        field = self.field(subtree(kids[0]))
        if kind == "is_test":
            test = " ".join(str(t).lower() for t in kids[2:])
            return Is(field, test, **_pos(tree))
        if kind == "compare":
            op = str(subtree(kids[1]).children[0])
            return Compare(field, op, self.operand(subtree(kids[2])), **_pos(tree))
        if kind == "member":
            return Compare(field, "in", self.operand(subtree(kids[2])), **_pos(tree))
        if kind == "not_member":
            return Compare(field, "not in", self.operand(subtree(kids[3])), **_pos(tree))
        if kind == "contains":
            return Compare(field, "contains", self.operand(subtree(kids[2])), **_pos(tree))
        if kind == "starts_with":
            return Compare(field, "starts with", self.operand(subtree(kids[3])), **_pos(tree))
        raise self.fail(tree, f"unexpected `{kind}`", None)  # pragma: no cover

    def field(self, tree: ParseTree) -> Field:
        names = tuple(self.name(t) for t in tokens(tree) if t.type != "DOT")
        return Field(names, **_pos(tree))

    def name(self, tok: Token) -> str:
        return str(tok)[1:-1] if tok.type == "QUOTED_NAME" else str(tok)

    def operand(self, tree: ParseTree) -> Operand:
        if tree.data == "literal":
            return self.literal(token(tree.children[0]))
        if tree.data == "list":
            items = tuple(self.literal(token(t.children[0])) for t in tree.children
                          if isinstance(t, Tree))
            return ListValue(items, **_pos(tree))
        if tree.data == "setup_ref":
            path = tuple(self.name(t) for t in tokens(tree)[1:] if t.type != "DOT")
            return SetupRef(path, **_pos(tree))
        return self.relative(tree)

    def relative(self, tree: ParseTree) -> RelativeTime:
        base_tok = token(tree.children[0])
        base = "now" if base_tok.type == "NOW" else "today"
        if len(tree.children) == 3:
            return RelativeTime(base, **_pos(tree))  # type: ignore[arg-type]
        sign_tok, dur = token(tree.children[3]), token(tree.children[4])
        m = re.fullmatch(r"(\d+)([a-z]*)", str(dur), re.IGNORECASE)
        digits, unit = (m.group(1), m.group(2).lower()) if m else ("", "")
        if unit not in _UNITS:
            shown = f"the unit `{unit}`" if unit else "no unit"
            raise self.fail(dur, f"`{dur}` has {shown}; expected d, h, m or w", _DURATION_HINT)
        if len(digits) > 6 or int(digits) > MAX_DURATION:
            raise self.fail(dur, f"`{dur}` is too far away; at most {MAX_DURATION:,}{unit}",
                            "relative times must stay inside the years 1 to 9999")
        if base == "today" and unit in ("h", "m"):
            raise self.fail(dur, f"today() moves in whole days, not {_UNITS[unit]}",
                            f"write now() {sign_tok} {dur} for a moment in time")
        amount = int(digits) * (-1 if sign_tok.type == "MINUS" else 1)
        return RelativeTime(base, amount, unit, **_pos(tree))  # type: ignore[arg-type]

    def literal(self, tok: Token) -> Literal:
        pos = _pos(tok)
        kind = tok.type
        raw = str(tok)
        if kind == "STRING":
            return Literal(self.unescape(tok), "string", **pos)
        if kind == "NUMBER":
            if len(raw.lstrip("-").replace(".", "")) > _MAX_NUMBER_DIGITS:
                raise self.fail(tok, f"the number has more than {_MAX_NUMBER_DIGITS} digits",
                                "numbers in filters are ordinary integers or decimals")
            if "." in raw:
                return Literal(float(raw), "number", **pos)
            return Literal(int(raw), "integer", **pos)
        if kind == "TRUE":
            return Literal(True, "boolean", **pos)
        if kind == "FALSE":
            return Literal(False, "boolean", **pos)
        if kind == "NULL":
            return Literal(None, "null", **pos)
        if kind == "DATE":
            try:
                return Literal(date.fromisoformat(raw), "date", **pos)
            except ValueError:
                raise self.fail(tok, f"`{raw}` is not a calendar date",
                                "write dates as YYYY-MM-DD, e.g. 2024-01-31") from None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.fail(tok, f"`{raw}` is not a valid date and time",
                            "write 2024-01-31T10:00:00Z or 2024-01-31T10:00:00+01:00") from None
        if value.tzinfo is None:
            raise self.fail(tok, f"`{raw}` has no time zone",
                            f"add Z for UTC or an offset: {raw}Z or {raw}+01:00")
        return Literal(value, "datetime", **pos)

    def unescape(self, tok: Token) -> str:
        body = str(tok)[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = body[i + 1]  # the STRING terminal never ends on a lone backslash
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
            else:
                col = (tok.column or 1) + 1 + i
                raise RuleSyntaxError(f"unknown escape `\\{nxt}` in a string", tok.line or 1,
                                      col, col + 2,
                                      "escapes are \\\\ \\\" \\' \\n \\t \\r and \\uXXXX")
        return "".join(out)


