"""What the threads of `serve` share in engine.templates, and proof that sharing is safe.

Shared, and read-only after import: ENV's filters, globals and tests, and the fast path's
table of builtin methods it may call without the sandbox's checks. Shared behind
functools' cache: the date formats. Owned, never shared: the tables `lookup` and
`select_tags` derive (each RenderContext has its own), the eval context of a compiled
template. The hammer tests render from many threads at once, with the interpreter
switching threads as often as it can, and compare with a render on one thread.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from template_support import NOW, SETUP, DictLinks

from engine.templates import RenderContext, compile_transform
from engine.templates.environment import ENV
from engine.templates.fastpath import _PLAIN_METHODS, call_attribute
from engine.templates.functions.dates import _format_date_text
from engine.templates.functions.dates import date as date_filter

THREADS = 8


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can, so races get their chance."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _hammer(work: Callable[[int], Any], rounds: int) -> list[Any]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, range(rounds)))


@pytest.mark.parametrize("table", ["filters", "globals", "tests"])
def test_what_templates_reach_is_read_only(table: str) -> None:
    mapping = getattr(ENV, table)
    with pytest.raises(TypeError):
        mapping["os"] = print
    assert "os" not in mapping


# other values of each builtin type: the table, built from one value per type, must
# answer for these as the sandbox's own checks do
_OTHER_VALUES = ["abc", "", -7, 2**70, 1.5, True, [1, "a"], (None,), {"a": 1, "get": 2}]


@pytest.mark.parametrize("value", _OTHER_VALUES, ids=repr)
def test_the_plain_method_table_is_what_the_sandbox_decides(value: Any) -> None:
    from types import BuiltinMethodType

    from jinja2.utils import _PassArg

    for name in dir(type(value)):
        try:
            method = ENV.getattr(value, name)
        except Exception:
            allowed = False
        else:
            allowed = (isinstance(method, BuiltinMethodType) and method.__self__ is value
                       and ENV.is_safe_callable(method) and _PassArg.from_obj(method) is None)
        assert ((type(value), name) in _PLAIN_METHODS) is allowed, name


def test_the_plain_method_table_holds_no_unsafe_name() -> None:
    names = {name for _, name in _PLAIN_METHODS}
    assert {"split", "get", "upper"} <= names
    assert not {"format", "format_map", "append", "update", "pop", "clear"} & names
    assert not [name for name in names if name.startswith("_")]
    # not in the table, so the sandbox's checks run: its own `str.format`, not Python's
    assert call_attribute("a{0}", "format", 1) == "a1"
    with pytest.raises(Exception, match="access to attribute"):
        call_attribute("a{0.__class__}", "format", 1)


TRANSFORMS: dict[str, Any] = {
    "lookup": "{{ payment_days | lookup(setup.payment_terms_tags, 'none') }}",
    "tags": "{{ categories | select_tags(setup.synced_tags) }}",
    "literal tags": "{{ categories | select_tags(['Gold', 'x' ~ payment_days]) }}",
    "method": "{{ name.split(' ')[0] ~ '/' ~ name.upper().strip() }}",
    "join": "{{ categories | join(', ') }}",
    "date": "{{ start | date('%d/%m/%Y') }}",
    "linked": "{{ customer | linked('customers', 'none') }}",
    "loop": "{% for c in categories %}{{ loop.index }}:{{ c }} {% endfor %}",
    "positional": {"template": "{0}-{1}", "from": ["name", "payment_days"]},
}


def _record(n: int) -> dict[str, Any]:
    return {
        "payment_days": (10, 30, 45)[n % 3],
        "categories": ["Silver", "Gold", "Partner"][: 1 + n % 3],
        "name": f"Ann {n} Lind",
        "start": date(2024, 1 + n % 12, 1 + n % 28).isoformat(),
        "customer": str(1000 + n % 3),
    }


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
def test_renders_from_many_threads_equal_one_thread(fast: bool, busy_switching: None) -> None:
    transforms = {name: compile_transform(value, fast=fast) for name, value in TRANSFORMS.items()}
    links = DictLinks({"customers": {"1000": "cin-1", "1001": "cin-2"}})
    _format_date_text.cache_clear()  # the threads fill the shared date cache together

    def render_all(n: int) -> dict[str, Any]:
        ctx = RenderContext(setup=SETUP, links=links, now=NOW)  # one per run, as in a run
        out: dict[str, Any] = {}
        for i in range(n * 7, n * 7 + 40):
            record = _record(i)
            for name, transform in transforms.items():
                out[f"{i}:{name}"] = transform.render(record, ctx)
        return out

    expected = [render_all(n) for n in range(48)]
    assert _hammer(render_all, 48) == expected


def test_dates_from_many_threads(busy_switching: None) -> None:
    _format_date_text.cache_clear()
    days = [date(2024, 1, 1).fromordinal(date(2024, 1, 1).toordinal() + n) for n in range(600)]

    def format_some(n: int) -> list[str]:
        return [date_filter(d.isoformat(), "%d/%m/%Y") for d in days[n::7]]

    expected = [[d.strftime("%d/%m/%Y") for d in days[n::7]] for n in range(56)]
    assert _hammer(format_some, 56) == expected
