"""Filters parsed from many threads at once (serve reloads specs while its work loop
runs) give exactly what one thread gives: lark builds its lexers' scanners lazily on
objects every parse shares, so parses take turns (`engine.rules.parse._PARSE_LOCK`)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from engine.rules import parse_rule
from engine.rules.errors import RuleSyntaxError
from engine.rules.parse import _parser

FILTERS = [
    'active is true and jobtype in ["T&M", "Fixed"]',
    "not customernumber in setup.excluded and amount >= 100",
    'name starts with "A" or (city contains "holm" and updated > today() - 30d)',
    "country is null or country = \"SE\"",
    "jobtype = ",  # a syntax error: the message must not depend on the interleaving
    'a != 1 and b < 2 and c <= 3 and d > 4 and e >= 5 and f not in ["x"]',
]


def _parse(text: str) -> str:
    try:
        return repr(parse_rule(text))
    except RuleSyntaxError as exc:
        return f"error {exc}"


def test_parses_from_many_threads_equal_one_thread() -> None:
    expected = [_parse(text) for text in FILTERS]
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            _parser.cache_clear()  # a new parser: its scanners are built while threads parse
            with ThreadPoolExecutor(8) as pool:
                got = list(pool.map(_parse, FILTERS * 40))
            assert got == expected * 40
    finally:
        sys.setswitchinterval(before)
