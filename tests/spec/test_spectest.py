"""`specsync test` reports failures readably and catches what it promises to catch."""

from __future__ import annotations

import io
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.spectest import _plain, run_spec_tests, same

SPEC = Path(__file__).parents[2] / "specs" / "maconomy-cinode"
HUBSPOT_SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "maconomy-cinode"
    shutil.copytree(SPEC, target)
    return target


def test_a_wrong_expectation_fails_with_a_diff(tmp_path: Path, snapshot) -> None:
    spec = _copy(tmp_path)
    tests = spec / "tests" / "projects.yaml"
    tests.write_text(tests.read_text().replace("description: 1234 - Backend team extension",
                                               "description: 1234 / Backend team extension", 1))
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    text = out.getvalue()
    assert "FAIL" in text and "-  \"description\": \"1234 / Backend team extension\"" in text
    assert text.replace(str(tmp_path), "<tmp>") == snapshot


def test_a_wrong_error_code_and_filter_verdict_fail(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    tests = spec / "tests" / "projects.yaml"
    text = tests.read_text()
    text = text.replace("expect: {filter: false}\n", "expect: {filter: true}\n", 1)
    text = text.replace("error: links.missing", "error: identity.invalid")
    tests.write_text(text)
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    report = out.getvalue()
    assert "filter: expected to select the record, but it skipped it" in report
    assert "expected error `identity.invalid`, got `links.missing`" in report
    assert "2 failed" in report


def test_a_malformed_test_file_is_a_located_diagnostic(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    (spec / "tests" / "broken.yaml").write_text("sync: projectz\ncases:\n  - name: x\n"
                                                "    record: {}\n    expect: {filter: true}\n")
    out = io.StringIO()
    assert run_spec_tests([spec], out=out) == 1
    assert "error[spectest.unknown-sync]" in out.getvalue()


MONEY_CASES = """\
sync: products
cases:
  - name: 1999 cents are 19.99 in currency units
    record: {id: 50000009, name: Licens, price: 1999}
    expect:
      fields: {price: 19.99}
  - name: a wrong price
    record: {id: 50000009, name: Licens, price: 1999}
    expect:
      payload: {name: Licens, price: 19.98, unit: null, product_type: null,
                vat_percentage: null, hs_sku: null}
"""


def test_money_compares_by_value_and_a_difference_is_a_readable_diff(tmp_path: Path) -> None:
    spec = tmp_path / "kleer-hubspot"
    shutil.copytree(HUBSPOT_SPEC, spec)
    for other in (spec / "tests").glob("*.yaml"):
        other.unlink()
    (spec / "tests" / "money.yaml").write_text(MONEY_CASES)
    out = io.StringIO()
    assert run_spec_tests([spec], out=out, verbose=True) == 1
    report = out.getvalue()
    assert "PASS" in report and "1999 cents are 19.99" in report  # YAML 19.99 == Decimal
    assert "FAIL" in report and "payload differs" in report
    # The Decimal the template made is shown as the number it is, beside the expectation.
    assert '-  "price": 19.98,' in report and '+  "price": 19.99,' in report
    assert "1 passed, 1 failed" in report


def test_same_compares_numbers_by_their_decimal_value_and_nothing_else() -> None:
    assert same(19.99, Decimal("19.99")) and same(19.99, Decimal("19.990"))
    assert same(5, Decimal("5.00")) and same(1250.0, Decimal("1250.00"))
    assert same({"rows": [{"price": 0.1}]}, {"rows": [{"price": Decimal("0.10")}]})
    assert not same(19.99, Decimal("19.98"))
    assert not same(True, Decimal(1)) and not same(1, True)  # a flag is not a number
    assert not same("19.99", Decimal("19.99"))  # text is not a number
    assert not same(None, Decimal(0))


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=4,
                   min_value=-10**9, max_value=10**9))
def test_a_decimal_renders_as_a_number_that_compares_equal(value: Decimal) -> None:
    shown = json.loads(json.dumps(_plain(value)))
    assert isinstance(shown, int | float)  # four places and nine digits fit a float
    assert same(shown, value)
    assert not same(shown, value + Decimal("0.0001"))


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_yaml_float_equals_the_decimal_it_is_written_as(number: float) -> None:
    assert same(number, Decimal(repr(number)))
    assert same({"amount": number}, {"amount": Decimal(repr(number))})


def test_a_name_filter_that_selects_no_case_fails() -> None:
    out = io.StringIO()
    assert run_spec_tests([SPEC], name_filter="zzznomatch", out=out) == 1
    text = out.getvalue()
    assert "no test case name contains 'zzznomatch'" in text and "nothing was tested" in text
    assert "0 passed, 0 failed" not in text
    out = io.StringIO()
    assert run_spec_tests([SPEC], name_filter="customer", out=out) == 0
    assert re.search(r"^[1-9][0-9]* passed, 0 failed$", out.getvalue(), re.MULTILINE)
