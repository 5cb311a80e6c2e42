"""Spec settings in plain words: schedules, triggers and filters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.docs.words import filter_words, join_words, schedule_words, trigger_words
from engine.rules import parse_rule
from engine.rules.format import format_value
from engine.rules.nodes import iter_leaves

LABELS = {"active": "Active", "jobtype": "Job type", "customernumber": "Customer number",
          "state": "State", "budget": "Budget amount", "phone": "Phone"}
SETUP = {"types": ["T&M", "Fixed"], "excluded": ["1000"], "stages": [15, 23],
         "table": {"a": 1}, "limit": 5}


def label(name: str) -> str:
    return LABELS.get(name, name)


def say(text: str, value_name=None) -> str:
    return filter_words(parse_rule(text).expr, label, "Kleer", SETUP, value_name)


@pytest.mark.parametrize(("schedule", "words"), [
    ("never", "never on a schedule"),
    ("hourly", "hourly"),
    ("daily", "daily"),
    ("every 5m", "every 5 minutes"),
    ("every 1m", "every minute"),
    ("every 2h", "every 2 hours"),
    ("every 30s", "every 30 seconds"),
    ("every 1d", "every day"),
    ("cron 0 6 * * 1-5", "on a cron schedule: 0 6 * * 1-5"),
])
def test_schedule_words(schedule: str, words: str) -> None:
    assert schedule_words(schedule) == words


def test_trigger_words_name_events_and_properties() -> None:
    assert trigger_words("Cinode", ["project.created", "project.updated"], []) == (
        "when Cinode sends project.created or project.updated")
    text = trigger_words("HubSpot", [], ["name", "phone"])
    assert text.startswith("when HubSpot sends a webhook, if one of these HubSpot properties "
                           "changed: name, phone")
    assert "every mapped field is synced" in text


def test_join_words() -> None:
    assert [join_words([]), join_words(["a"]), join_words(["a", "b"]),
            join_words(["a", "b", "c"], "or")] == ["", "a", "a and b", "a, b or c"]


@pytest.mark.parametrize(("rule", "sentence"), [
    ("active is true", "Only synced when set to Active in Kleer"),
    ("active is false", "Only synced when not set to Active in Kleer"),
    ("not active is true", "Only synced when not set to Active in Kleer"),
    ("phone is null", "Only synced when Phone is empty"),
    ("not phone is null", "Only synced when Phone is filled in"),
    ('jobtype = "T&M"', 'Only synced when Job type is "T&M"'),
    ('jobtype != "T&M"', 'Only synced when Job type is not "T&M"'),
    ("budget > 100", "Only synced when Budget amount is greater than 100"),
    ("not budget > 100", "Only synced when Budget amount is at most 100"),
    ('jobtype in ["T&M", "Fixed"]', 'Only synced when Job type is one of "T&M" or "Fixed"'),
    ("jobtype in setup.types",
     "Only synced when Job type is one of T&M, Fixed (configured during setup: setup.types)"),
    ("not customernumber in setup.excluded",
     "Only synced when Customer number is not one of 1000 (configured during setup: "
     "setup.excluded)"),
    ('not jobtype contains "x"', 'Only synced when Job type does not contain "x"'),
    ("budget < setup.limit",
     "Only synced when Budget amount is less than 5 (configured during setup: setup.limit)"),
    ("budget in setup.table",
     "Only synced when Budget amount is one of the values configured during setup "
     "(setup.table)"),
    ('active is true and (jobtype = "A" or not jobtype = "B")',
     'Only synced when set to Active in Kleer and (either Job type is "A" or Job type is '
     'not "B")'),
    ('not (active is true and jobtype = "A")',
     'Only synced when not (set to Active in Kleer and Job type is "A")'),
    ("budget > now() - 3d", "Only synced when Budget amount is greater than 3 days ago"),
])
def test_filter_words(rule: str, sentence: str) -> None:
    assert say(rule) == sentence


def test_coded_values_are_named_when_the_catalog_says_what_they_mean() -> None:
    meanings = {"30": "won", "15": "signed"}

    def meaning(field: str, value: object) -> str | None:
        return meanings.get(str(value)) if field == "state" else None

    assert say("state = 30 or state in setup.stages", meaning) == (
        "Only synced when either State is 30 (won) or State is one of 15 (signed), 23 "
        "(configured during setup: setup.stages)")


_FIELDS = st.sampled_from(sorted(LABELS))
_VALUES = st.one_of(st.integers(-5, 5), st.text("abc &\"", max_size=4), st.booleans())


@st.composite
def conditions(draw: st.DrawFn) -> str:
    field = draw(_FIELDS)
    kind = draw(st.sampled_from(["is", "cmp", "in", "setup"]))
    if kind == "is":
        return f"{field} is {draw(st.sampled_from(['true', 'false', 'null', 'not null']))}"
    if kind == "in":
        items = draw(st.lists(_VALUES, min_size=1, max_size=3))
        return f"{field} in [{', '.join(format_value(v) for v in items)}]"
    if kind == "setup":
        return f"{field} {draw(st.sampled_from(['in', 'not in']))} setup.types"
    return f"{field} {draw(st.sampled_from(['=', '!=', '<', '>=']))} {format_value(draw(_VALUES))}"


rules = st.recursive(
    conditions(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda r: f"not ({r})"),
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(rules)
def test_every_filter_is_said_and_names_every_field(text: str) -> None:
    rule = parse_rule(text)
    sentence = filter_words(rule.expr, label, "Kleer", SETUP)
    assert sentence.startswith("Only synced when ")
    for leaf in iter_leaves(rule.expr):
        assert label(leaf.field.name) in sentence
