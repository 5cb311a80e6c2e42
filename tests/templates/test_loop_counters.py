"""Loops whose body reads `loop.index` and friends: integers on the fast path, Jinja's values.

The counting attributes (index, index0, first, last, length, revindex, revindex0) compile
to arithmetic over an `enumerate`; the rest of `loop` keeps Jinja's own LoopContext, read
without the sandbox's per-access checks.
Each case is checked against the sandbox, and the counting against plain Python.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.runtime import LoopContext

from engine.errors import RecordError
from engine.templates import RenderContext, compile_transform
from engine.templates.environment import ENV
from engine.templates.fastpath import _LOOP_PUBLIC, _loop_attribute

ALL = ("{{ loop.index }}.{{ loop.index0 }}.{{ loop.first }}.{{ loop.last }}."
       "{{ loop.length }}.{{ loop.revindex }}.{{ loop.revindex0 }};")


def both(template: str, record: dict[str, Any], ctx: RenderContext) -> Any:
    """The fast path's outcome, after checking that it is the sandbox's."""
    outcomes = []
    for fast in (True, False):
        transform = compile_transform(template, fast=fast)
        assert transform.fast is fast
        try:
            outcomes.append(("value", transform.render(record, ctx)))
        except RecordError as exc:
            outcomes.append(("error", exc.code, exc.message))
    assert outcomes[0] == outcomes[1], template
    return outcomes[0]


def source(template: str) -> str:
    return compile_transform(template).render.specsync_source  # type: ignore[attr-defined]


@pytest.mark.parametrize(("template", "record", "expected"), [
    ("{% for x in a %}" + ALL + "{% endfor %}", {"a": ["p", "q", "r"]},
     "1.0.True.False.3.3.2;2.1.False.False.3.2.1;3.2.False.True.3.1.0;"),
    # index and length count the items that pass the test
    ("{% for x in a if x %}" + ALL + "{% endfor %}", {"a": [0, "p", "", "q"]},
     "1.0.True.False.2.2.1;2.1.False.True.2.1.0;"),
    ("{% for x in a if x > 1 %}{{ loop.index }}{% else %}none{% endfor %}", {"a": [0, 1]},
     "none"),
    ("{% for x in a %}{{ loop.length }}{% else %}empty{% endfor %}", {"a": []}, "empty"),
    ("{% for x in a %}{{ x }}{{ ',' if not loop.last else '' }}{% endfor %}", {"a": "abc"},
     "a,b,c"),
    ("{% for k in a %}{{ k }}={{ loop.revindex }} {% endfor %}", {"a": {"x": 1, "y": 2}},
     "x=2 y=1 "),
    ("{% for i in range(a) %}{{ loop.index * i }}{% endfor %}", {"a": 4}, "02612"),
    # an iterator has no len(): its items are listed first
    ("{% for x in a | reverse %}{{ x }}{{ loop.length }}{{ loop.last }}{% endfor %}",
     {"a": [1, 2]}, "22False12True"),
    ("{% for x in a.items() %}{{ x[0] }}{{ loop.revindex0 }}{% endfor %}", {"a": {"k": 1}},
     "k0"),
    ("{% for x in a %}{{ loop.index if loop.first else '-' ~ loop.index0 }}{% endfor %}",
     {"a": [5, 6, 7]}, "1-1-2"),
])
def test_counting_attributes(template: str, record: dict[str, Any], expected: str,
                             ctx: RenderContext) -> None:
    assert both(template, record, ctx) == ("value", expected)
    assert "LOOP(" not in source(template)


@pytest.mark.parametrize("part", ["loop.cycle('a', 'b')", "loop.changed(x)", "loop.previtem",
                                  "loop.nextitem", "loop.depth", "loop.cycle(x, loop.length)",
                                  "loop.changed(x, loop.last)", "loop.revindex ~ loop.depth0"])
def test_other_attributes_read_jinjas_loop_context_directly(part: str,
                                                            ctx: RenderContext) -> None:
    """LoopContext for the rest of `loop`, its attributes read without the sandbox's checks."""
    template = "{% for x in a if x %}{{ loop.index }}{{ " + part + " }};{% endfor %}"
    both(template, {"a": [1, 0, 2, 2]}, ctx)
    code = source(template)
    assert "LOOP(" in code and "GA(" not in code and "CA(" not in code


@pytest.mark.parametrize("part", ["loop", "loop['index']", "loop.length()", "loop.nope"])
def test_loop_itself_goes_through_the_sandbox(part: str, ctx: RenderContext) -> None:
    template = "{% for x in a %}{{ " + part + " }};{% endfor %}"
    both(template, {"a": [1, 2]}, ctx)


def test_the_sandbox_allows_the_loop_attributes_read_directly() -> None:
    """What `_loop_attribute` and the direct reads stand on: every one passes the sandbox."""
    loop = LoopContext(iter([1, 2, 3]), ENV.undefined)
    next(loop), next(loop)  # in the middle: previtem and nextitem are items
    for name in _LOOP_PUBLIC:
        value = getattr(loop, name)
        assert ENV.is_safe_attribute(loop, name, value), name
        assert ENV.getattr(loop, name) == _loop_attribute(loop, name)


@pytest.mark.parametrize("template", [
    # Jinja fails in the first body (`x.nope.k`) before `loop.length` tests the second item
    "{% for x in a if x > 0 %}{{ x.nope.k }}{{ loop.length }}{% endfor %}",
    # ...and here it tests the second item (`loop.last` peeks) before the body fails
    "{% for x in a if x > 0 %}{{ loop.last }}{{ x.nope.k }}{% endfor %}",
    "{% for x in a | reverse %}{{ x.nope.k }}{{ loop.revindex }}{% endfor %}",
    "{% for x in missing %}{{ loop.length }}{% endfor %}",
    "{% for x in 3 %}{{ loop.index }}{% endfor %}",
    "{% for x in a if x > 0 %}{{ loop.index }}{{ x.nope.k }}{% endfor %}",
])
def test_failures_are_jinjas(template: str, ctx: RenderContext, snapshot: Any) -> None:
    """Counting up front changes when a failing test runs; the record then fails as in Jinja."""
    outcome = both(template, {"a": [1, "x"]}, ctx)
    assert outcome[0] == "error"
    assert outcome == snapshot


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-2, 2), st.sampled_from(["", "a"])), max_size=6))
def test_counting_matches_python(items: list[Any]) -> None:
    template = "{% for x in a if x %}" + ALL + "{% else %}-{% endfor %}"
    kept = [x for x in items if x]
    n = len(kept)
    expected = "".join(f"{i + 1}.{i}.{i == 0}.{i == n - 1}.{n}.{n - i}.{n - i - 1};"
                       for i in range(n)) or "-"
    ctx = RenderContext(setup={})
    assert compile_transform(template).render({"a": items}, ctx) == expected
