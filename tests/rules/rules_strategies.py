"""Hypothesis strategies for filter trees and records (shared by the rules tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from engine.rules.nodes import (
    And,
    Compare,
    Field,
    Is,
    ListValue,
    Literal,
    Not,
    Or,
    RelativeTime,
    SetupRef,
)

__all__ = [
    "COMMON", "SETUP", "conditions", "exprs", "literals", "records", "relative_times", "values",
]

SETUP = {
    "stages": [1, 2, 30],
    "types": ["T&M", "Fixed"],
    "mixed": ["a", 1, None, True],
    "pipeline": "Sales",
    "limit": 3,
    "cutoff": date(2024, 1, 31),
    "nested": {"values": ["x", "y"]},
}
_LIST_SETUP = [("stages",), ("types",), ("mixed",), ("nested", "values")]
_SCALAR_SETUP = [("pipeline",), ("limit",), ("cutoff",)]

FIELDS = [("a",), ("b",), ("c",), ("a", "b"), ("not",), ("my field",), ("zip-code",)]

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.datetimes(min_value=datetime(1000, 1, 1), timezones=offsets)
# Values that clash on purpose: 1, 1.0, True and "1" must stay apart.
small_strings = st.sampled_from(["", "a", "A", "T&M", "Fixed", "1", "ab", "x y", 'q"t'])

# Values that records hold too, so comparisons hit their boundaries.
COMMON = [Literal(1, "integer"), Literal(30, "integer"), Literal(1.0, "number"),
          Literal(-2.5, "number"), Literal("a", "string"), Literal("T&M", "string"),
          Literal("1", "string"), Literal(True, "boolean"),
          Literal(date(2024, 1, 31), "date"),
          Literal(datetime(2024, 1, 31, 10, tzinfo=UTC), "datetime")]

literals = st.one_of(
    st.sampled_from(COMMON),
    st.one_of(small_strings, st.text(max_size=8)).map(lambda s: Literal(s, "string")),
    st.integers(min_value=-10**20, max_value=10**20).map(lambda n: Literal(n, "integer")),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Literal(f, "number")),
    st.booleans().map(lambda b: Literal(b, "boolean")),
    st.just(Literal(None, "null")),
    st.dates().map(lambda d: Literal(d, "date")),
    aware_datetimes.map(lambda d: Literal(d, "datetime")),
)

names = st.one_of(
    st.text(alphabet="abcxyz_019", min_size=1, max_size=6),
    st.sampled_from(["not", "in", "and", "Or", "TRUE", "setup", "my field", "zip-code", "åsa",
                     "x.y", "1st"]),
)


@st.composite
def relative_times(draw: st.DrawFn) -> RelativeTime:
    base = draw(st.sampled_from(["now", "today"]))
    unit = draw(st.sampled_from([None, "d", "w"] + (["h", "m"] if base == "now" else [])))
    amount = 0 if unit is None else draw(st.integers(min_value=-1000, max_value=1000))
    return RelativeTime(base, amount, unit)


def compares(fields: st.SearchStrategy[Field], setup_only: bool) -> st.SearchStrategy[Compare]:
    lists = st.lists(literals, max_size=4).map(lambda xs: ListValue(tuple(xs)))
    if setup_only:
        list_refs = st.sampled_from(_LIST_SETUP).map(SetupRef)
        scalar_refs = st.sampled_from(_SCALAR_SETUP).map(SetupRef)
    else:
        list_refs = st.lists(names, min_size=1, max_size=2).map(lambda p: SetupRef(tuple(p)))
        scalar_refs = list_refs
    scalars = st.one_of(literals, scalar_refs, relative_times())
    return st.one_of(
        st.builds(Compare, fields, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), scalars),
        st.builds(Compare, fields, st.sampled_from(["in", "not in"]),
                  st.one_of(lists, list_refs)),
        st.builds(Compare, fields, st.sampled_from(["contains", "starts with"]), scalars),
    )


def exprs(*, record_fields: bool = False, max_leaves: int = 10) -> st.SearchStrategy:
    """Random trees; `record_fields` draws fields and setup names that exist in tests."""
    if record_fields:
        fields = st.sampled_from(FIELDS).map(Field)
    else:
        fields = st.lists(names, min_size=1, max_size=3).map(lambda p: Field(tuple(p)))
    tests = st.builds(Is, fields, st.sampled_from(["true", "false", "null", "not null"]))
    leaves = st.one_of(tests, compares(fields, record_fields))
    return st.recursive(
        leaves,
        lambda kids: st.one_of(
            st.lists(kids, min_size=2, max_size=4).map(lambda xs: And(tuple(xs))),
            st.lists(kids, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs))),
            kids.map(Not),
        ),
        max_leaves=max_leaves,
    )


def conditions() -> st.SearchStrategy:
    """Single conditions over the test fields (the differential test's sharpest probe)."""
    fields = st.sampled_from(FIELDS).map(Field)
    return st.one_of(compares(fields, True),
                     st.builds(Is, fields, st.sampled_from(["true", "false", "null", "not null"])))


scalar_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=40),
    st.floats(allow_nan=True), small_strings, st.text(max_size=5),
    st.dates(min_value=date(2023, 12, 1), max_value=date(2024, 3, 31)),
    st.datetimes(min_value=datetime(2023, 12, 1), max_value=datetime(2024, 3, 31)),
    st.datetimes(min_value=datetime(2023, 12, 1), max_value=datetime(2024, 3, 31),
                 timezones=offsets),
    st.decimals(allow_nan=True, allow_infinity=True, places=2),
    st.sampled_from([Decimal("sNaN"), 1, 1.0, "1", True, 30, "T&M", "Fixed", -2.5,
                     date(2024, 1, 31), datetime(2024, 1, 31, 10, tzinfo=UTC),
                     datetime(2024, 1, 31, 10), Decimal("30")]),
)
values = st.one_of(scalar_values, st.lists(scalar_values, max_size=3),
                   st.tuples(scalar_values, scalar_values))


@st.composite
def records(draw: st.DrawFn, hits: tuple[object, ...] = ()) -> dict[str, object]:
    """A record over the test fields; `hits` are values to reuse (a rule's own constants)."""
    pool = st.one_of(st.sampled_from(hits), values) if hits else values
    record: dict[str, object] = {}
    for key in ["a", "b", "c", "not", "my field", "zip-code"]:
        if draw(st.booleans()):
            record[key] = draw(pool)
    if draw(st.booleans()):
        record["a"] = draw(st.one_of(st.dictionaries(st.sampled_from(["b", "c"]), pool), pool))
    return record
