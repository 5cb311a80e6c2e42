"""Server-side renderings: one test per shape, None where there is no faithful translation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from hubspot.crm.objects import PublicObjectSearchRequest

from engine.adapters.hubspot.pushdown import to_filter_groups as to_hubspot_filter_groups
from engine.adapters.maconomy.pushdown import to_restriction as to_maconomy_restriction
from engine.rules import parse_rule

NOW = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
SETUP = {"types": ["T&M", "Fixed"], "stages": [12, 14], "pipeline": "Sales"}

MACONOMY = [
    pytest.param("closed is false", "closed=false", id="is-false"),
    pytest.param("active is true", "active=true", id="is-true"),
    pytest.param('jobtype = "T&M"', "jobtype='T&M'", id="string"),
    pytest.param("name = \"O'Brien\"", "name='O''Brien'", id="quote-doubled"),
    pytest.param("statistic3 > 1", "statistic3>1", id="number"),
    pytest.param("amount <= -2.5", "amount<=-2.5", id="decimal"),
    pytest.param('jobtype != "X"', "not(jobtype='X')", id="not-equal"),
    pytest.param('jobtype in ["T&M", "Fixed"]', "(jobtype='T&M' or jobtype='Fixed')", id="in"),
    pytest.param('jobtype in ["T&M"]', "jobtype='T&M'", id="in-one"),
    pytest.param('not customernumber in ["1000", "1001"]',
                 "not(customernumber='1000' or customernumber='1001')", id="not-in"),
    pytest.param("createddate >= 2024-01-31", "createddate>=date(2024, 1, 31)", id="date"),
    pytest.param('active is true and (jobtype = "T&M" or jobtype = "Fixed") and '
                 'not customernumber in ["1000", "1001"]',
                 "active=true and (jobtype='T&M' or jobtype='Fixed') and "
                 "not(customernumber='1000' or customernumber='1001')", id="design-example"),
    pytest.param("jobtype in setup.types", "(jobtype='T&M' or jobtype='Fixed')",
                 id="setup-resolved"),
    pytest.param("createddate >= today() - 30d", "createddate>=date(2024, 1, 31)",
                 id="today-resolved"),
    pytest.param("not (a = 1 or b = 2)", "not(a=1 or b=2)", id="not-group"),
]


@pytest.mark.parametrize(("text", "expected"), MACONOMY)
def test_maconomy_restriction(text: str, expected: str) -> None:
    assert to_maconomy_restriction(parse_rule(text), setup=SETUP, now=NOW) == expected


@pytest.mark.parametrize("text", [
    pytest.param("x is null", id="null-test"),
    pytest.param('name contains "a"', id="contains"),
    pytest.param('name starts with "a"', id="starts-with"),
    pytest.param("t > 2024-01-31T10:00:00Z", id="datetime"),
    pytest.param('address.city = "Lund"', id="dotted-path"),
    pytest.param("`my field` = 1", id="odd-name"),
    pytest.param("x in []", id="empty-list"),
    pytest.param("x < true", id="ordered-boolean"),
    pytest.param("a = 1 and x is null", id="one-part-inexpressible"),
])
def test_maconomy_inexpressible(text: str) -> None:
    assert to_maconomy_restriction(parse_rule(text), setup=SETUP, now=NOW) is None


def test_maconomy_needs_setup_and_clock_to_fill_them_in() -> None:
    assert to_maconomy_restriction(parse_rule("x in setup.types")) is None
    assert to_maconomy_restriction(parse_rule("d > today()")) is None


HUBSPOT = [
    pytest.param('lifecyclestage = "customer"', id="eq"),
    pytest.param("numberofemployees >= 10 and numberofemployees < 50", id="range-and"),
    pytest.param('city = "Lund" or city = "Malmö"', id="or-groups"),
    pytest.param('industry in ["SOFTWARE", "Retail"]', id="in-lowercased"),
    pytest.param("dealstage not in [12, 14]", id="not-in-numbers"),
    pytest.param("domain is null", id="not-has-property"),
    pytest.param("not domain is null", id="has-property"),
    pytest.param("hs_is_active is true", id="boolean"),
    pytest.param("not hs_is_active is true", id="negated-boolean"),
    pytest.param('name contains "acme"', id="contains-token"),
    pytest.param("closedate >= 2024-01-31", id="date-millis"),
    pytest.param("hs_lastmodifieddate >= now() - 1h", id="relative-millis"),
    pytest.param("not (amount = 1 or amount = 2)", id="de-morgan"),
    pytest.param("(a = 1 or a = 2) and (b = 1 or b = 2)", id="distribute"),
    pytest.param("dealstage in setup.stages", id="setup"),
]


@pytest.mark.parametrize("text", HUBSPOT)
def test_hubspot_filter_groups(text: str, snapshot) -> None:
    groups = to_hubspot_filter_groups(parse_rule(text), setup=SETUP, now=NOW)
    assert groups is not None
    # The official client accepts the shape.
    request = PublicObjectSearchRequest(filter_groups=groups)
    assert request.filter_groups == groups
    assert json.dumps(groups, indent=1, ensure_ascii=False) == snapshot


def test_hubspot_dates_are_epoch_millis_at_midnight_utc() -> None:
    (group,) = to_hubspot_filter_groups(parse_rule("closedate >= 2024-01-31"))
    millis = int(group["filters"][0]["value"])
    assert datetime.fromtimestamp(millis / 1000, UTC) == datetime(2024, 1, 31, tzinfo=UTC)
    assert date(2024, 1, 31).isoformat() == "2024-01-31"


@pytest.mark.parametrize("text", [
    pytest.param('name starts with "a"', id="starts-with"),
    pytest.param("not amount < 3", id="negated-ordering"),
    pytest.param('name != "Acme"', id="string-exclusion"),
    pytest.param('name not in ["a"]', id="string-not-in"),
    pytest.param('name contains "two words"', id="contains-not-a-word"),
    pytest.param('address.city = "Lund"', id="dotted-path"),
    pytest.param("x in setup.stages", id="setup-not-given"),
    pytest.param(" or ".join(f"a = {i}" for i in range(6)), id="too-many-groups"),
    pytest.param(" and ".join(f"a = {i}" for i in range(11)), id="too-many-in-group"),
    pytest.param(" or ".join("(" + " and ".join(f"a{g} = {i}" for i in range(6)) + ")"
                             for g in range(5)), id="too-many-in-all"),
    pytest.param("(a = 1 or a = 2 or a = 3) and (b = 1 or b = 2)", id="product-too-big"),
])
def test_hubspot_inexpressible(text: str) -> None:
    assert to_hubspot_filter_groups(parse_rule(text)) is None


def test_hubspot_limits_exactly_reached() -> None:
    text = " or ".join("(" + " and ".join(f"a{g} = {i}" for i in range(5)) + ")"
                       for g in range(5))
    groups = to_hubspot_filter_groups(parse_rule(text))
    assert groups is not None and sum(len(g["filters"]) for g in groups) == 25
