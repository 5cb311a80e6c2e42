"""Architecture rules the code must keep, checked on the source text.

1. The generic engine knows no vendor by name: in `engine/runner`, `rules`, `sync`,
   `spec` and `docs`, no code or string token (docstrings and comments aside) names one
   of the four seed vendors. A vendor's behaviour belongs in its package
   (`engine/adapters/<vendor>/`, or a third-party one) behind the Protocols of
   `engine/adapters/base.py`.
2. No module in `engine/` is longer than 600 lines, unless its module docstring says
   why it is long (the word "long" and a reason). The modules that were longer when
   this rule came in are listed in `LONG_MODULES`; the list may only shrink, and an
   entry that no longer needs to be there fails the test until it is removed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
ENGINE = ROOT / "engine"
GENERIC = ("runner", "rules", "sync", "spec", "docs", "scale")
VENDOR_NAMES = re.compile(r"hubspot|cinode|kleer|maconomy", re.IGNORECASE)
MAX_LINES = 600

# Modules over MAX_LINES without a "long" docstring on the day the rule came in. Do not
# add to this list: split the module, or say in its docstring why it is long.
LONG_MODULES: dict[str, str] = {
    # empty: every module over the limit says in its docstring why it is long
}


def _python_files(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(folder.rglob("*.py"))


def _docstring_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where each docstring (module, class, function) starts and ends."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                      ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                value = first.value
                assert value.end_lineno is not None and value.end_col_offset is not None
                spans.append(((value.lineno, value.col_offset),
                              (value.end_lineno, value.end_col_offset)))
    return spans


# Python 3.12 splits f-strings into parts; their text is in FSTRING_MIDDLE tokens.
_CODE_TOKENS = {tokenize.NAME, tokenize.STRING,
                getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def vendor_names_in_code(source: str) -> list[tuple[int, str]]:
    """(line, token) of every vendor name in a code or string token that is not a
    docstring; comments are not tokens of this kind, so they never count."""
    spans = _docstring_spans(ast.parse(source))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _CODE_TOKENS or not VENDOR_NAMES.search(token.string):
            continue
        if token.type == tokenize.STRING and any(
                start <= token.start and token.end <= end for start, end in spans):
            continue
        found.append((token.start[0], token.string))
    return found


def test_the_checker_sees_code_and_strings_but_not_docstrings_or_comments() -> None:
    source = '''"""Module docstring naming HubSpot."""
import x  # a comment naming Kleer


class A:
    """Class docstring: Cinode."""

    def f(self):
        """Function docstring: Maconomy."""
        kind = "hubspot"
        return f"{kind} and cinode" + kleer_value
'''
    found = [(line, VENDOR_NAMES.findall(text)) for line, text in vendor_names_in_code(source)]
    assert found == [(10, ["hubspot"]), (11, ["cinode"]), (11, ["kleer"])]


def test_the_generic_engine_names_no_vendor() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]}"
        for path in _python_files(*(ENGINE / folder for folder in GENERIC))
        for line, text in vendor_names_in_code(path.read_text(encoding="utf-8"))]
    assert offenders == [], (
        "vendor names in the generic engine (move the behaviour into the vendor's "
        "package behind a Protocol of engine/adapters/base.py):\n" + "\n".join(offenders))


def _says_why_long(path: Path) -> bool:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return re.search(r"\blong\b", re.sub(r"\bas long as\b", "", docstring, flags=re.I),
                     re.IGNORECASE) is not None


def test_no_module_is_longer_than_600_lines_without_a_reason() -> None:
    too_long = {}
    for path in _python_files(ENGINE):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and not _says_why_long(path):
            too_long[path.relative_to(ROOT).as_posix()] = lines
    new = {name: lines for name, lines in too_long.items() if name not in LONG_MODULES}
    assert new == {}, (
        f"modules over {MAX_LINES} lines: split them, or say in the module docstring why "
        f"they are long (the word 'long' and the reason): {new}")
    stale = sorted(set(LONG_MODULES) - set(too_long))
    assert stale == [], (
        f"these modules are no longer over {MAX_LINES} lines (or now say why they are "
        f"long): remove them from LONG_MODULES so the list only shrinks: {stale}")
