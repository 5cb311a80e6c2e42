"""Cinode's wire values (engine/adapters/cinode/wire.py) against what the sandbox and the
contract accept: int32 as JSON integers, RFC 3339 UTC date-times, access-level names."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.adapters.cinode.wire import (
    ACCESS_LEVELS,
    INT32,
    access_levels,
    level_names,
    parse_country_ids,
    whole_number,
    wire_moment,
)
from engine.errors import RecordError
from engine.sandbox.cinode.validation import Body
from tests.contracts.cinode.checker import _date_time


@given(st.integers(min_value=INT32[0], max_value=INT32[1]))
def test_an_int32_goes_out_as_a_json_integer_the_sandbox_binds(value: int) -> None:
    for given_value in (value, float(value)):
        sent = whole_number(given_value, "estimatedValue")
        text = json.dumps({"estimatedValue": sent})
        assert "." not in text  # a JSON integer token, never 3450000.0
        body = Body(json.loads(text))
        assert body.integer("estimatedValue") == value and not body.errors


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
def test_a_fraction_fails_the_record_and_the_sandbox_refuses_it_too(value: float) -> None:
    with pytest.raises(RecordError) as raised:
        whole_number(value, "estimatedValue")
    assert raised.value.field == "estimatedValue"
    body = Body({"estimatedValue": value})
    assert body.integer("estimatedValue") is None
    assert "System.Int32" in body.errors["estimatedValue"][0]


@given(st.integers().filter(lambda n: not INT32[0] <= n <= INT32[1]))
def test_outside_int32_fails_the_record(value: int) -> None:
    with pytest.raises(RecordError, match="int32"):
        whole_number(value, "contractValue")


@given(st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), None])))
def test_date_times_go_out_as_rfc3339_utc_and_bind_to_the_same_instant(moment: datetime
                                                                        ) -> None:
    sent = wire_moment(moment)
    assert sent.endswith("Z") and _date_time(sent, offset_required=True)
    stored = Body({"d": sent}).moment("d")
    expected = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert stored == expected.astimezone(UTC).replace(tzinfo=None).isoformat()
    # What Cinode prints back (no zone) goes out again as the same instant.
    assert wire_moment(stored) == sent


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_a_date_is_midnight_utc(day: date) -> None:
    assert wire_moment(day) == f"{day.isoformat()}T00:00:00Z"


def test_access_levels_by_name_any_case_or_value_and_back() -> None:
    assert access_levels(["CompanyUser", "teammanager", 300, "CompanyUser"]) == [200, 270, 300]
    assert level_names([{"level": 270}, {"level": 200}, {"level": 999}]) == [
        "TeamManager", "CompanyUser"]
    assert set(ACCESS_LEVELS.values()) >= {"CompanyAdmin", "Owner", "NoAccess"}
    with pytest.raises(RecordError, match="not a Cinode access level") as raised:
        access_levels(["Konsult"])
    assert raised.value.field == "roles"


def test_country_ids_option() -> None:
    assert parse_country_ids("SE=1, no=2; DK=3") == {"SE": 1, "NO": 2, "DK": 3}
    assert parse_country_ids(None) == {}
    with pytest.raises(ValueError, match="CODE=id"):
        parse_country_ids("SE:1")
