"""Parse template text with Jinja's own lexer and parser, keeping token positions.

Jinja's AST has line numbers only. Spec authors need a caret under the exact name, so
the raw token stream is re-located in the source text (each token is the next occurrence
of its text), and a syntax error points at the token the parser stopped on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import Token as JinjaToken
from jinja2.lexer import TokenStream
from jinja2.parser import Parser

from engine.templates.environment import ENV
from engine.templates.limits import MAX_TEMPLATE_CHARS
from engine.templates.problems import TemplateProblem, TransformError

__all__ = ["Token", "locate", "parse_template"]


@dataclass(frozen=True)
class Token:
    """A lexer token at a 1-based line and column; `end_column` is exclusive."""

    kind: str
    value: str
    line: int
    column: int
    end_column: int


def locate(source: str, start: int, end: int) -> tuple[int, int, int]:
    """(line, column, end_column) of a source span; the end is clipped to its line."""
    line = source.count("\n", 0, start) + 1
    line_start = source.rfind("\n", 0, start) + 1
    newline = source.find("\n", start, end)
    stop = end if newline < 0 else newline
    return line, start - line_start + 1, max(stop, start + 1) - line_start + 1


def _problem_at(
    source: str, start: int, end: int, message: str, hint: str | None
) -> TemplateProblem:
    line, column, end_column = locate(source, start, end)
    return TemplateProblem("templates.syntax", message, line, column, end_column, hint)


_HINTS = (
    ("unexpected end of template",
     "close every `{{` with `}}` and every `{% if %}` with `{% endif %}`"),
    ("unexpected char", "quote text with matching quotes: '...' or \"...\""),
    ("unknown tag", "field transforms allow `{% if %}` and `{% for %}` blocks"),
)


def _hint(message: str) -> str | None:
    lowered = message.lower()
    return next((hint for needle, hint in _HINTS if needle in lowered), None)


def parse_template(source: str) -> tuple[nodes.Template, list[Token]]:
    """Parse `source`; raise TransformError("templates.syntax" / "templates.too-long")."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TransformError([TemplateProblem(
            "templates.too-long",
            f"the template is {len(source)} characters long; "
            f"at most {MAX_TEMPLATE_CHARS} are allowed",
            1, 1, 2, "move long constant text into setup values",
        )])
    located: list[Token] = []
    spans: dict[int, tuple[int, int]] = {}
    keep: list[JinjaToken] = []
    offset = [0, 0]  # start and end of the last raw token
    lex_failed_at: list[int] = []

    def raw() -> Iterator[tuple[int, str, str]]:
        pos = 0
        try:
            for lineno, kind, value in ENV.lexer.tokeniter(source, None):
                start = source.find(value, pos) if value else pos
                start = pos if start < 0 else start
                pos = start + len(value)
                offset[:] = [start, pos]
                if kind not in ("whitespace", "comment", "comment_begin", "comment_end", "data"):
                    located.append(Token(kind, value, *locate(source, start, pos)))
                yield lineno, kind, value
        except TemplateSyntaxError:
            rest = source[pos:]
            lex_failed_at.append(pos + len(rest) - len(rest.lstrip()))
            raise

    def wrapped() -> Iterator[JinjaToken]:
        for token in ENV.lexer.wrap(raw()):
            keep.append(token)
            spans[id(token)] = (offset[0], offset[1])
            yield token

    parser: Parser | None = None
    try:
        parser = Parser(ENV, "")
        parser.stream = TokenStream(wrapped(), None, None)
        tree = parser.parse()
    except TemplateSyntaxError as exc:
        message = exc.message or "invalid template"
        at = re.search(r" at (\d+)$", message)
        if at:  # a lexer error names its offset
            start = int(at.group(1))
            message = message[: at.start()]
        elif lex_failed_at:
            start = lex_failed_at[0]
        elif parser is not None and id(parser.stream.current) in spans:
            start, end = spans[id(parser.stream.current)]
            problem = _problem_at(source, start, end, message, _hint(message))
            raise TransformError([problem]) from None
        else:
            start = len(source.rstrip("\n"))
        raise TransformError(
            [_problem_at(source, min(start, len(source)), start + 1, message, _hint(message))]
        ) from None
    return tree, located
