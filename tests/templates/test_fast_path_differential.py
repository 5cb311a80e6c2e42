"""The compiled fast path and the Jinja sandbox agree on every template and record.

Templates are generated from the fast path's whitelist (names, attribute and item access,
constants, arithmetic, `~`, comparisons, and/or/not, conditionals, literals, filters,
functions, method calls, `if` and `for` statements); records hold every JSON type and
sometimes lack fields. Both paths must give the same value of the same type, or fail with
the same RecordError code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.templates import RenderContext, compile_transform

CTX = RenderContext(
    setup={"k": "SEK", "n": 3, "table": {"1": "one", 2: "two", "x": "ex"}, "on": True},
    now=datetime(2024, 6, 1, tzinfo=UTC),
)
FIELDS = ["a", "b", "s", "n", "lst", "d", "name"]

scalars = st.one_of(
    st.integers(-5, 5), st.floats(-100, 100, allow_nan=False, width=32),
    st.sampled_from(["", "x", "00123", "A b", "Anna af Trolle", " pad ", "1"]),
    st.booleans(), st.none(),
)
values = st.one_of(
    scalars,
    st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"])), max_size=3),
    st.fixed_dictionaries({"k": scalars}, optional={"upper": scalars}),
)
records = st.one_of(
    st.fixed_dictionaries({name: values for name in FIELDS},
                          optional={"zip-code": values, "first_name": values}),
    st.dictionaries(st.sampled_from([*FIELDS, "zip-code", "first_name"]), values),
)

atoms = st.one_of(
    st.sampled_from([*FIELDS, "missing", "setup.k", "setup.n", "setup.on", "setup.nope",
                     "record['zip-code']", "record.a", "d.k", "d['k']", "d.upper", "d.nope",
                     "omit", "none", "true", "false", "today.year"]),
    st.integers(-5, 5).map(str),
    st.sampled_from(["0.5", "2.5", "'x'", "''", "'00123'", "'a,b'"]),
)

UNARY = ["(not {})", "(-{})", "({} | upper)", "({} | lower)", "({} | trim)", "({} | string)",
         "({} | default('d'))", "({} | default('d', true))", "({} | length)", "({} | first)",
         "({} | join(','))", "({} | round)", "({} | int(0))", "({} | abs)", "({} | title)",
         "({} | lookup(setup.table, 'none'))", "({} | replace('a', 'b'))",
         "first_name({})", "({} | last_name)", "({} | select_tags(['a', 'x']))", "[{}]",
         "{{'k': {}}}", "({},)", "({}).k", "({})['k']", "({} | to_cents)", "({} | int)",
         "({} is defined)", "({} is none)", "({} is string)", "({})[1:]", "({})[::-1]",
         "({} | string).split(',')", "({} | string).strip()", "({}).upper()", "({}).get('k')",
         "({}).items()", "({})[0]", "({})[-1]", "({} | string).split()[0]", "({}).count('a')",
         "({}).append(1)", "({}).format(1)", "({}).keys()"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / {})", "({} // {})", "({} % {})",
          "({} ** {})", "({} ~ {})", "({} and {})", "({} or {})", "({} == {})", "({} != {})",
          "({} < {})", "({} >= {})", "({} in {})", "({} not in {})", "[{}, {}]",
          "({} | default({}))", "lookup({}, setup.table, {})", "({} | join({}))",
          "({})[:{}]", "({} | string).startswith({})", "({}).get({})", "({}).split({})",
          "({}).get('k', {})", "({} ~ {} ~ 'x')"]


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: t[0].format(t[1], t[2])),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


expressions = st.recursive(atoms, _extend, max_leaves=6)
# in a loop body: the counting attributes of `loop` (compiled to integers), the rest
# (Jinja's LoopContext), and uses of `loop` that are no attribute read
COUNTING = ["loop.index", "loop.index0", "loop.first", "loop.last", "loop.length",
            "loop.revindex", "loop.revindex0"]
OTHER_LOOP = ["loop.cycle(1, 'x')", "loop.changed(a)", "loop.previtem", "loop.nextitem",
              "loop.depth", "loop.nope", "loop['index']", "loop", "loop.index()",
              "loop.depth0", "loop.cycle()", "loop.cycle", "loop.changed(a, loop.index)",
              "loop.cycle(a, x=1)", "(loop.nextitem ~ loop.revindex)"]
loop_expressions = st.recursive(
    st.one_of(atoms, st.sampled_from(COUNTING), st.sampled_from(COUNTING),
              st.sampled_from(OTHER_LOOP)),
    _extend, max_leaves=6)
# what a loop runs over: mostly something iterable, of every kind the fast path tells
# apart (sized types, an iterator, a view), sometimes anything
iterables = st.one_of(
    st.sampled_from(["lst", "lst", "s", "d", "name", "(lst | reverse)", "range(n)",
                     "d.items()", "[1, 'a', 2]", "setup.table"]),
    expressions)
loop_tests = st.one_of(
    st.just(""),
    st.sampled_from(["a", "a != 1", "a > 0", "a is string", "not a", "a ~ 'x' != 'bx'"]),
    expressions).map(lambda test: f" if {test}" if test else "")


def _loop_template(t: tuple[str, str, str, str, bool]) -> str:
    return (f"{{% for a in {t[0]}{t[1]} %}}{{{{ {t[2]} }}}}|{{{{ {t[3]} }}}}"
            f"{'{% else %}{{ loop }}' if t[4] else ''}{{% endfor %}}")


# loop bodies that mostly render: attributes of `loop` alone or in one operation
plain_loop = st.sampled_from([*COUNTING, "a"])
loop_parts = st.one_of(
    plain_loop,
    st.tuples(st.sampled_from(BINARY), plain_loop, st.one_of(plain_loop, st.sampled_from(
        ["1", "'x'", "n", "missing"]))).map(lambda t: t[0].format(t[1], t[2])),
    st.tuples(st.sampled_from(UNARY), plain_loop).map(lambda t: t[0].format(t[1])),
    loop_expressions,
)
# records where `lst` is a list and `n` a small count, so that most loops run
loop_records = st.tuples(records, st.fixed_dictionaries({
    "lst": st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", ""])), max_size=4),
    "n": st.integers(0, 4),
})).map(lambda t: {**t[0], **t[1]})
templates = st.one_of(
    expressions.map(lambda e: "{{ " + e + " }}"),
    st.tuples(expressions, expressions).map(lambda t: "x{{ " + t[0] + " }}-{{ " + t[1] + " }}"),
    st.tuples(expressions, expressions).map(lambda t: "{{ " + t[0] + " ~ " + t[1] + " }}!"),
    # in a loop over `a`, the name `a` is the loop variable
    st.tuples(expressions, st.one_of(st.just(""), expressions.map(" if {}".format)),
              expressions, st.booleans()).map(
        lambda t: f"<{{% for a in {t[0]}{t[1]} %}}{{{{ {t[2]} }}}};"
                  f"{'{% else %}-' if t[3] else ''}{{% endfor %}}{{{{ a }}}}>"),
    st.tuples(iterables, loop_tests, loop_expressions, loop_expressions, st.booleans()).map(
        _loop_template),
    st.tuples(expressions, expressions, expressions, expressions).map(
        lambda t: f"{{% if {t[0]} %}}a{{{{ {t[1]} }}}}{{% elif {t[2]} %}}b{{% else %}}"
                  f"{{{{ {t[3]} }}}}{{% endif %}}!"),
)


def outcome(template: str, record: dict[str, Any], fast: bool) -> tuple[str, Any]:
    transform = compile_transform(template, fast=fast)
    assert transform.fast is fast, template
    try:
        value = transform.render(record, CTX)
    except RecordError as exc:
        return "error", exc.code
    return "value", (type(value), repr(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates, records)
def test_fast_path_equals_sandbox(template: str, record: dict[str, Any]) -> None:
    assert outcome(template, record, True) == outcome(template, record, False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(iterables, loop_tests, loop_parts, loop_parts, st.booleans()).map(_loop_template),
       loop_records)
def test_loops_fast_path_equals_sandbox(template: str, record: dict[str, Any]) -> None:
    """Loops that use `loop`, over things that iterate, with bodies that mostly render."""
    assert outcome(template, record, True) == outcome(template, record, False)
