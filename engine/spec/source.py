"""Load YAML with a position for every node, and map positions inside scalars.

Specs are loaded with ruamel.yaml's round-trip loader so that each key and value
keeps its line and column; the data is then copied into plain dicts and lists (what
JSON Schema and the model want) while a `SourceMap` remembers, for every JSON
pointer, where its key and value stand in the file. Filters and templates are
strings inside YAML scalars: `ScalarSpan` maps a position inside such a string back
to the file, for plain, quoted and block scalars, so a caret can point inside them.

Hostile YAML is refused with a located diagnostic, never a traceback or a hang:
duplicate keys, more aliases than `MAX_ALIASES`, documents that expand past `MAX_NODES`
(alias bombs, recursive aliases), nesting deeper than `MAX_DEPTH`, any explicit tag
(`!!python/...` in every form) and files larger than `MAX_BYTES`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from engine.diagnostics import Diagnostic, Location

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "LoadedDocument",
    "ScalarSpan",
    "SourceMap",
    "load_yaml",
    "pointer_join",
]

MAX_BYTES = 2_000_000
MAX_ALIASES = 200
MAX_NODES = 200_000
MAX_DEPTH = 64


def pointer_join(pointer: str, part: str | int) -> str:
    text = str(part).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


@dataclass(frozen=True)
class ScalarSpan:
    """Where a string scalar's characters stand in the file (0-based line/col)."""

    line: int
    col: int
    style: str  # "plain", "'", '"', "|", ">"
    offsets: tuple[tuple[int, int], ...] | None = None  # per character of the value

    def locate(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) in the file of character `offset` of the value."""
        if self.offsets:
            if 0 <= offset < len(self.offsets):
                line, col = self.offsets[offset]
            else:  # just past the end: one column after the last character
                line, col = self.offsets[-1]
                col += offset - len(self.offsets) + 1
            return line + 1, col + 1
        return self.line + 1, self.col + 1


@dataclass
class SourceMap:
    """JSON pointer -> positions of the key and of the value, 0-based."""

    keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    scalars: dict[str, ScalarSpan] = field(default_factory=dict)

    def value_at(self, pointer: str) -> tuple[int, int]:
        """Best position for a value: itself, else its key, else the nearest parent."""
        probe = pointer
        while True:
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if not probe:
                return (0, 0)
            probe = probe.rsplit("/", 1)[0]

    def key_at(self, pointer: str) -> tuple[int, int]:
        if pointer in self.keys:
            return self.keys[pointer]
        return self.value_at(pointer)


@dataclass
class LoadedDocument:
    file: str
    text: str
    data: Any
    source_map: SourceMap

    def location(self, pointer: str, *, key: bool = False, width: int | None = None) -> Location:
        """Where the key or value at `pointer` stands; a scalar value is underlined whole."""
        line, col = self.source_map.key_at(pointer) if key else self.source_map.value_at(pointer)
        if width is None and not key:
            span = self.source_map.scalars.get(pointer)
            if span is not None and span.offsets:
                first, last = span.offsets[0], span.offsets[-1]
                if first[0] == last[0] == line:
                    quoted = 1 if span.style in ("'", '"') else 0
                    width = last[1] - col + 1 + quoted
        end = col + 1 + width if width else None
        return Location(self.file, line + 1, col + 1, end)

    def inner_location(self, pointer: str, offset: int, length: int = 1) -> Location:
        """Location of character `offset` inside the string value at `pointer`."""
        span = self.source_map.scalars.get(pointer)
        if span is None:
            return self.location(pointer)
        line, col = span.locate(offset)
        end_line, end_col = span.locate(offset + max(length, 1) - 1)
        return Location(self.file, line, col, end_col + 1 if end_line == line else None)


def _offsets_plain(lines: list[str], line: int, col: int, value: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i, ln, c = 0, line, col
    while i < len(value) and ln < len(lines):
        src = lines[ln]
        if c < len(src) and src[c] == value[i]:
            out.append((ln, c))
            i += 1
            c += 1
            continue
        if value[i] in " \n" and (c >= len(src) or src[c] in " \t#"):
            # a folded line break: the next line's leading blanks are skipped
            out.append((ln, min(c, len(src))))
            i += 1
            ln += 1
            while ln < len(lines) and not lines[ln].strip():
                ln += 1
            c = len(lines[ln]) - len(lines[ln].lstrip()) if ln < len(lines) else 0
            continue
        if c < len(src) and src[c] in " \t":
            c += 1
            continue
        return []
    return out if i == len(value) else []


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _offsets_quoted(lines: list[str], line: int, col: int, quote: str) -> list[tuple[int, int]]:
    """Map each character of a quoted scalar's value to its raw position."""
    out: list[tuple[int, int]] = []
    ln, c = line, col + 1
    while ln < len(lines):
        src = lines[ln]
        if c >= len(src):  # line break inside quotes folds to a space (or newlines)
            start = (ln, c)
            ln += 1
            blanks = 0
            while ln < len(lines) and not lines[ln].strip():
                blanks += 1
                ln += 1
            if ln >= len(lines):
                return []
            if blanks:
                out.extend([start] * blanks)
            else:
                out.append(start)
            c = len(lines[ln]) - len(lines[ln].lstrip())
            continue
        ch = src[c]
        if quote == "'" and ch == "'":
            if c + 1 < len(src) and src[c + 1] == "'":
                out.append((ln, c))
                c += 2
                continue
            return out
        if quote == '"' and ch == '"':
            return out
        if quote == '"' and ch == "\\":
            if c + 1 >= len(src):  # escaped line break: joins lines without a space
                ln += 1
                c = len(lines[ln]) - len(lines[ln].lstrip()) if ln < len(lines) else 0
                continue
            nxt = src[c + 1]
            width = {"x": 2, "u": 4, "U": 8}.get(nxt)
            out.append((ln, c))
            c += 2 + (width or 0)
            continue
        out.append((ln, c))
        c += 1
    return []


def _offsets_block(lines: list[str], line: int, value: str) -> list[tuple[int, int]]:
    """Literal and folded blocks: content starts on the line after the indicator."""
    ln = line + 1
    while ln < len(lines) and not lines[ln].strip():
        ln += 1
    if ln >= len(lines):
        return []
    indent = len(lines[ln]) - len(lines[ln].lstrip(" "))
    out: list[tuple[int, int]] = []
    ln = line + 1
    i = 0
    while i < len(value) and ln < len(lines):
        src = lines[ln]
        body = src[indent:] if len(src) >= indent else ""
        for j, _ch in enumerate(body):
            if i >= len(value):
                break
            out.append((ln, indent + j))
            i += 1
        if i < len(value):  # the line break (newline in "|", space or newline in ">")
            out.append((ln, indent + len(body)))
            i += 1
        ln += 1
    return out if i >= len(value) else []


def _scalar_span(lines: list[str], value: str, line: int, col: int) -> ScalarSpan:
    if isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString):
        quote = '"' if isinstance(value, DoubleQuotedScalarString) else "'"
        offs = _offsets_quoted(lines, line, col, quote)
        return ScalarSpan(line, col, quote, tuple(offs) if len(offs) == len(value) else None)
    if isinstance(value, LiteralScalarString | FoldedScalarString):
        style = "|" if isinstance(value, LiteralScalarString) else ">"
        offs = _offsets_block(lines, line, str(value))
        return ScalarSpan(line, col, style, tuple(offs[: len(value)]) if offs else None)
    offs = _offsets_plain(lines, line, col, str(value))
    return ScalarSpan(line, col, "plain", tuple(offs) if offs else None)


class _TooLarge(Exception):
    pass


class _Converter:
    """Copy ruamel nodes into plain data, recording positions; bounded against bombs."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.map = SourceMap()
        self.budget = MAX_NODES
        self.stack: set[int] = set()

    def convert(self, node: Any, pointer: str) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        if isinstance(node, CommentedMap):
            if id(node) in self.stack:
                raise _TooLarge
            self.stack.add(id(node))
            out: dict[str, Any] = {}
            for k in node:
                child = pointer_join(pointer, str(k))
                self.map.keys[child] = tuple(node.lc.key(k))
                pos = node.lc.value(k)
                self.map.values[child] = tuple(pos)
                value = node[k]
                if isinstance(value, str) and pos is not None:
                    self.map.scalars[child] = _scalar_span(self.lines, value, pos[0], pos[1])
                out[str(k)] = self.convert(value, child)
            self.stack.discard(id(node))
            return out
        if isinstance(node, CommentedSeq):
            if id(node) in self.stack:
                raise _TooLarge
            self.stack.add(id(node))
            items = []
            for i, value in enumerate(node):
                child = pointer_join(pointer, i)
                pos = node.lc.item(i)
                self.map.values[child] = tuple(pos)
                if isinstance(value, str) and pos is not None:
                    self.map.scalars[child] = _scalar_span(self.lines, value, pos[0], pos[1])
                items.append(self.convert(value, child))
            self.stack.discard(id(node))
            return items
        if isinstance(node, str):
            return str(node)
        if isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if node is None:
            return None
        # timestamps and other YAML types: keep their text so the schema can judge them
        return str(node)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.allow_duplicate_keys = False
    return y


def _hostile(file: str, text: str) -> Diagnostic | None:
    """The first shape no spec needs, found on the event stream before anything is built.

    Parsing into events is iterative, so a deeply nested document is refused here (with
    its position) instead of exhausting the recursive composer; an explicit tag (`!!str`,
    `!!python/object/apply:...`, `!custom`) is refused before any constructor sees it.
    """
    aliases = depth = 0
    for event in _yaml().parse(io.StringIO(text)):
        if isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return Diagnostic(
                    "yaml.aliases",
                    f"the document uses more than {MAX_ALIASES} aliases",
                    _mark_location(file, event.start_mark),
                    hint="anchors and aliases are for small reuse; repeated aliases can "
                    "expand exponentially (an alias bomb)")
        elif isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Diagnostic(
                    "yaml.too-deep",
                    f"lists and mappings are nested more than {MAX_DEPTH} levels deep",
                    _mark_location(file, event.start_mark),
                    hint="specs are shallow; flatten this value")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        tag = getattr(event, "tag", None)
        if tag is not None and isinstance(event, NodeEvent):
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            return Diagnostic(
                "yaml.tag", f"YAML tags are not allowed in specs (found `{shown[:60]}`)",
                _mark_location(file, event.start_mark),
                hint="write the plain value; quote it if it should be text")
    return None


def _mark_location(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def load_yaml(file: str, text: str) -> tuple[LoadedDocument | None, list[Diagnostic]]:
    """Parse one YAML document; on failure return None and the diagnostics why."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [Diagnostic(
            "yaml.too-large",
            f"the file is larger than {MAX_BYTES // 1_000_000} MB; specs are small text files",
            Location(file, 1, 1),
            hint="split the spec or move data (lookup tables) out of it",
        )]
    try:
        hostile = _hostile(file, text)
        if hostile is not None:
            return None, [hostile]
        node = _yaml().load(io.StringIO(text))
    except DuplicateKeyError as exc:
        first = _first_of_duplicate(text, exc)
        return None, [Diagnostic(
            "yaml.duplicate-key",
            _first_line(exc.problem or "duplicate key"),
            _mark_location(file, exc.problem_mark),
            hint=f"each key may appear once in a mapping; the first is at line {first}"
            if first else "each key may appear once in a mapping",
        )]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [Diagnostic(
            "yaml.syntax",
            _first_line(problem),
            _mark_location(file, mark),
            hint=_indentation_hint(text, problem, mark) or _yaml_hint(problem),
        )]
    except (YAMLError, RecursionError, ValueError) as exc:
        return None, [Diagnostic("yaml.syntax", _first_line(str(exc)) or "invalid YAML",
                                 Location(file, 1, 1))]
    lines = text.splitlines()
    converter = _Converter(lines)
    try:
        data = converter.convert(node, "")
    except (_TooLarge, RecursionError):
        return None, [Diagnostic(
            "yaml.aliases",
            f"the document expands to more than {MAX_NODES} nodes (recursive or nested aliases)",
            Location(file, 1, 1),
            hint="write the values out instead of nesting aliases",
        )]
    return LoadedDocument(file, text, data, converter.map), []


def recover_yaml(file: str, text: str, *, limit: int = 12
                 ) -> tuple[LoadedDocument | None, list[Diagnostic], set[int]]:
    """After a YAML error: the document read with the offending lines left out, so the
    other checks still run (one YAML slip should not hide every other problem).

    Returns the document (None when leaving out `limit` lines does not make it read),
    further YAML errors found on the way that the left-out lines did not cause, and the
    1-based numbers of the lines left out (diagnostics there are not to be trusted).
    """
    lines = text.split("\n")
    blanked: set[int] = set()
    more: list[Diagnostic] = []
    for _ in range(limit):
        doc, diags = load_yaml(file, "\n".join(lines))
        if doc is not None:
            return doc, more, blanked
        if not diags or diags[0].code not in ("yaml.syntax", "yaml.duplicate-key"):
            return None, more, blanked
        line = diags[0].location.line
        if line in blanked or not 1 <= line <= len(lines):
            return None, more, blanked
        if blanked and line - 1 not in blanked:  # a slip of its own, not a consequence
            more.append(diags[0])
        lines[line - 1] = ""
        blanked.add(line)
    return None, more, blanked


def _first_of_duplicate(text: str, exc: DuplicateKeyError) -> int | None:
    """The line of the first occurrence of a duplicated key (ruamel's context mark is
    the mapping's start, not the key's)."""
    mark, start = exc.problem_mark, exc.context_mark
    found = re.search(r'duplicate key "([^"]*)"', exc.problem or "")
    if mark is None or found is None:
        return start.line + 1 if start is not None else None
    key = re.escape(found.group(1))
    pattern = re.compile(rf"\s{{{mark.column}}}(?:{key}|'{key}'|\"{key}\")\s*:")
    lines = text.split("\n")
    for number in range(start.line if start is not None else 0, mark.line):
        if pattern.match(lines[number]):
            return number + 1
    return start.line + 1 if start is not None else None


def _indentation_hint(text: str, problem: str, mark: Any) -> str | None:
    """`mapping values are not allowed here` where a line is indented deeper than the
    `key: value` line before it: an indentation slip, not a value to quote."""
    if mark is None or "mapping values are not allowed" not in problem:
        return None
    lines = text.split("\n")
    if not 0 <= mark.line < len(lines):
        return None
    here = lines[mark.line]
    indent = len(here) - len(here.lstrip(" "))
    for number in range(mark.line - 1, -1, -1):
        before = lines[number]
        stripped = before.strip()
        if not stripped or stripped.startswith("#"):
            continue
        other = len(before) - len(before.lstrip(" "))
        has_value = re.match(r"\s*(?:- )?[^\s:#][^:#]*:\s+\S", before) is not None
        if indent > other and has_value:
            return (f"line {mark.line + 1} is indented more than line {number + 1}, which "
                    f"already has its value: keys of one mapping line up (line "
                    f"{number + 1} starts at column {other + 1}, line {mark.line + 1} at "
                    f"column {indent + 1}); check the indentation of both lines")
        return None
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _yaml_hint(problem: str) -> str | None:
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted"
    if "found character '\\t'" in problem:
        return "YAML indentation uses spaces, not tabs"
    if "could not find expected ':'" in problem:
        return "each line of a mapping needs `key: value`"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return ("a `[` or `{` opened a flow list or mapping that is not closed before this "
                "point; quote a value that starts with [ or {")
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    return None
