"""Every transform shape: what it renders, which type it keeps, what it reads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from template_support import NOW, SETUP, DictLinks

from engine.errors import RecordError
from engine.templates import OMIT, RenderContext, Transform, TransformError, compile_transform

RECORD: dict[str, Any] = {
    "jobname": "Bridge", "jobnumber": "00123", "name1": "acme ab", "count": 7,
    "rate": 2.5, "active": True, "nothing": None, "tags": ["a", "b"],
    "address": {"city": "Malmö", "zip": "211 45"}, "zip-code": "411 05",
    "customernumber": "1000", "ssn": "880320-0016", "name": "Karl af Trolle",
    "categories": ["Partner", {"name": "Gold"}, "Silver", "Partner"], "payment_days": 30,
    "monthly_salary": 4_500_000, "start": "2024-05-01",
}


def render(value: Any, ctx: RenderContext, record: dict[str, Any] | None = None,
           fast: bool = True) -> Any:
    return compile_transform(value, fast=fast).render(RECORD if record is None else record, ctx)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{ jobnumber }}", "00123", id="leading-zeros-stay-text"),
        pytest.param("{{ count }}", 7, id="int"),
        pytest.param("{{ rate }}", 2.5, id="float"),
        pytest.param("{{ active }}", True, id="bool"),
        pytest.param("{{ nothing }}", None, id="none"),
        pytest.param("{{ tags }}", ["a", "b"], id="list"),
        pytest.param("{{ address }}", {"city": "Malmö", "zip": "211 45"}, id="dict"),
        pytest.param("{{ address.city }}", "Malmö", id="dotted"),
        pytest.param("{{ record['zip-code'] }}", "411 05", id="kebab-case-via-record"),
        pytest.param("{{ count * 2 + 1 }}", 15, id="arithmetic"),
        pytest.param("{{ count / 2 }}", 3.5, id="true-division"),
        pytest.param("{{ count // 2 }}", 3, id="floor-division"),
        pytest.param("{{ [count, jobname] }}", [7, "Bridge"], id="list-literal"),
        pytest.param("{{ {'n': count} }}", {"n": 7}, id="dict-literal"),
        pytest.param("{{ '42' }}", "42", id="string-constant-not-guessed"),
        pytest.param("{{ jobnumber ~ '-' ~ count }}", "00123-7", id="concatenation"),
        pytest.param("{{ 'yes' if active and count > 5 else 'no' }}", "yes", id="conditional"),
        pytest.param("{{ not active or count == 7 }}", True, id="boolean-logic"),
        pytest.param("{{ nothing | default('n/a', true) }}", "n/a", id="default-boolean"),
        pytest.param("{{ missing_field | default('n/a') }}", "n/a", id="default-on-missing"),
        pytest.param("{{ name1 | upper }}", "ACME AB", id="upper"),
        pytest.param("{{ '  x ' | trim }}", "x", id="trim"),
        pytest.param("{{ tags | join(',') }}", "a,b", id="join"),
        pytest.param("{{ rate | round }}", 2.0, id="round"),
        pytest.param("{{ '12' | int }}", 12, id="int-filter"),
        pytest.param("{{ monthly_salary | cents }}", Decimal("45000.00"), id="cents"),
        pytest.param("{{ '45 000,50' | to_cents }}", 4500050, id="to-cents"),
        pytest.param("{{ start | date('%d/%m/%Y') }}", "01/05/2024", id="date-format"),
        pytest.param("{{ start | date }}", "2024-05-01", id="date-iso"),
        pytest.param("{{ ssn | ssn_birth_date }}", date(1988, 3, 20), id="ssn-birth-date"),
        pytest.param("{{ ssn | ssn_gender | lookup(setup.gender_codes) }}", 1, id="gender-code"),
        pytest.param("{{ name | first_name }}", "Karl", id="first-name"),
        pytest.param("{{ name | last_name }}", "af Trolle", id="last-name"),
        pytest.param("{{ categories | select_tags(setup.synced_tags) }}", ["Partner", "Gold"],
                     id="select-tags"),
        pytest.param("{{ payment_days | lookup(setup.payment_terms_tags) }}", "BV=30",
                     id="payment-tag"),
        pytest.param("{{ customernumber | linked('customers') }}", "cin-17", id="linked"),
        pytest.param("{{ first_name(name) }}", "Karl", id="function-call"),
        pytest.param("{{ setup.pipeline }}", "Sales", id="setup-value"),
        pytest.param("{{ today }}", date(2024, 6, 1), id="today"),
        pytest.param("{{ now.year }}", 2024, id="now"),
        pytest.param("{{ monthly_salary / 100 if setup.sync_salary else omit }}", 45000.0,
                     id="switch-on"),
        pytest.param("{{ jobname.split(' ')[0] }}", "Bridge", id="method-call-sandbox-only"),
    ],
)
def test_single_expression_keeps_its_type(template: str, expected: Any, fast: bool,
                                          ctx: RenderContext) -> None:
    result = render(template, ctx, fast=fast)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Job {{ jobnumber }} for {{ name1 | upper }}", "Job 00123 for ACME AB"),
        ("{{ count }} items", "7 items"),
        ("[{{ nothing }}]", "[]"),  # null prints as nothing
        ("{{ active }}!", "True!"),
        ("plain text", "plain text"),
        ("", ""),
        ("{{ jobname }}\n", "Bridge"),  # YAML block scalars end in a newline
        ("{% if active %}on{% else %}off{% endif %}", "on"),
        ("{% for t in tags %}{{ t }};{% endfor %}", "a;b;"),
        ("a {# note #}b", "a b"),
    ],
)
def test_text_templates_render_strings(template: str, expected: str, fast: bool,
                                       ctx: RenderContext) -> None:
    assert render(template, ctx, fast=fast) == expected


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
@pytest.mark.parametrize("template", [
    "{{ monthly_salary / 100 if not setup.sync_salary else omit }}",
    "Salary {{ omit if setup.sync_salary else monthly_salary }}",
    "{{ omit }}",
])
def test_omit_leaves_the_field_out(template: str, fast: bool, ctx: RenderContext) -> None:
    assert render(template, ctx, fast=fast) is OMIT


def test_omit_when_setup_disables_the_field(links: DictLinks) -> None:
    off = RenderContext(setup={**SETUP, "sync_salary": False}, links=links, now=NOW)
    on = RenderContext(setup=SETUP, links=links, now=NOW)
    transform = compile_transform("{{ monthly_salary / 100 if setup.sync_salary else omit }}")
    assert transform.render(RECORD, off) is OMIT
    assert transform.render(RECORD, on) == 45000.0


def test_reserved_names_win_over_record_fields_and_functions_are_shadowed(
        ctx: RenderContext) -> None:
    record = {"setup": "field", "lookup": "a field", "record": 1}
    assert render("{{ setup.pipeline }}", ctx, record) == "Sales"
    assert render("{{ lookup }}", ctx, record) == "a field"
    assert render("{{ record.lookup }}", ctx, record) == "a field"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
def test_function_shadowed_by_a_record_field_bails_to_the_sandbox(fast: bool,
                                                                   ctx: RenderContext) -> None:
    transform = compile_transform("{{ first_name(name) }}", fast=fast)
    assert transform.fast is fast
    with pytest.raises(RecordError) as info:
        transform.render({"name": "Anna Ek", "first_name": "not callable"}, ctx)
    assert info.value.code == "templates.type-error"


class TestPositional:
    def test_seed_example(self, ctx: RenderContext) -> None:
        value = {"template": "{0} - {1}", "from": ["jobnumber", "jobname"]}
        transform = compile_transform(value)
        assert transform.kind == "positional"
        assert transform.fields == ("jobnumber", "jobname")
        assert transform.render(RECORD, ctx) == "00123 - Bridge"

    def test_null_renders_empty_and_braces_escape(self, ctx: RenderContext) -> None:
        value = {"template": "{{{0}}} {1}/{0}", "from": ["count", "nothing"]}
        assert compile_transform(value).render(RECORD, ctx) == "{7} /7"

    def test_missing_field_fails_the_record(self, ctx: RenderContext) -> None:
        value = {"template": "{0} - {1}", "from": ["jobnumber", "nope"]}
        with pytest.raises(RecordError) as info:
            compile_transform(value).render(RECORD, ctx)
        assert (info.value.code, info.value.field) == ("templates.undefined-value", "nope")

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.one_of(st.integers(0, 2), st.text("ab {}-'\"\\", max_size=4)), max_size=6),
           st.dictionaries(st.sampled_from(["x", "y", "z"]),
                           st.one_of(st.none(), st.integers(), st.text(max_size=3),
                                     st.lists(st.integers(), max_size=2))))
    def test_renders_like_str_join(self, parts: list[int | str], record: dict[str, Any]) -> None:
        names = ["x", "y", "z"]
        template = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str)
                           else f"{{{p}}}" for p in parts)
        transform = compile_transform({"template": template, "from": names})
        wanted = [names[p] for p in parts if isinstance(p, int)]
        missing = [name for name in wanted if name not in record]
        if missing:
            with pytest.raises(RecordError) as info:
                transform.render(record, RenderContext())
            assert info.value.field == missing[0]
            return
        expected = "".join(p if isinstance(p, str) else
                           "" if record[names[p]] is None else str(record[names[p]])
                           for p in parts)
        assert transform.render(record, RenderContext()) == expected

    @pytest.mark.parametrize("template", ["{5}", "{0:>5}", "{name}", "{0", "a}b"])
    def test_bad_placeholders_are_compile_problems(self, template: str) -> None:
        with pytest.raises(TransformError) as info:
            compile_transform({"template": template, "from": ["a", "b"]})
        assert {p.code for p in info.value.problems} == {"templates.positional"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [({"value": 2}, 2), (3, 3), (1.5, 1.5), (False, False), (None, None),
     ({"value": "{{ not a template }}"}, "{{ not a template }}"), ({"value": [1]}, [1])],
)
def test_constants(value: Any, expected: Any, ctx: RenderContext) -> None:
    transform = compile_transform(value)
    assert transform.kind == "constant"
    assert transform.fields == ()
    assert transform.render({}, ctx) == expected


def test_list_constants_are_not_shared_between_records(ctx: RenderContext) -> None:
    transform = compile_transform({"value": ["a"]})
    first = transform.render({}, ctx)
    first.append("mutated")
    assert transform.render({}, ctx) == ["a"]


def test_static_facts() -> None:
    transform: Transform = compile_transform(
        "{{ customernumber | linked('customers') }} {{ address.city | upper }} "
        "{{ record['zip-code'] }} {{ ssn | ssn_gender | lookup(setup.gender_codes) }}"
        "{% for c in categories %}{{ c.name }}{% endfor %}"
    )
    assert transform.fields == ("customernumber", "address.city", "zip-code", "ssn", "categories")
    assert transform.setup_names == ("gender_codes",)
    assert transform.linked_syncs == ("customers",)
    assert transform.functions == ("linked", "upper", "lookup", "ssn_gender")


@pytest.mark.scenario("S21")
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])
@pytest.mark.parametrize(
    ("template", "record", "code"),
    [
        ("{{ jobname }}", {}, "templates.undefined-value"),
        ("{{ address.street }}", {"address": {}}, "templates.undefined-value"),
        ("Hi {{ jobname }}", {}, "templates.undefined-value"),
        ("{{ [jobname] }}", {}, "templates.undefined-value"),
        ("{{ a / b }}", {"a": 1, "b": 0}, "templates.zero-division"),
        ("{{ a + b }}", {"a": 1, "b": "x"}, "templates.type-error"),
        ("{{ a | int }}", {"a": "abc"}, "number.invalid"),
        ("{{ a | ssn_gender }}", {"a": "880320-0018"}, "identity.invalid"),
        ("{{ a | first_name }}", {"a": "Cher"}, "name.missing-last"),
        ("{{ a | first_name }}", {"a": "  "}, "name.missing"),
        ("{{ a | lookup(setup.payment_terms_tags) }}", {"a": 45}, "lookup.missing"),
        ("{{ a | linked('customers') }}", {"a": "9999"}, "links.missing"),
        ("{{ a | date }}", {"a": "yesterday"}, "date.invalid"),
    ],
)
def test_render_failures_are_record_errors(template: str, record: dict[str, Any], code: str,
                                           fast: bool, ctx: RenderContext) -> None:
    with pytest.raises(RecordError) as info:
        render(template, ctx, record, fast=fast)
    assert info.value.code == code


def test_links_missing_names_sync_and_key(ctx: RenderContext, links: DictLinks) -> None:
    with pytest.raises(RecordError) as info:
        render("{{ customernumber | linked('customers') }}", ctx, {"customernumber": "77"})
    assert "'customers'" in info.value.message and "'77'" in info.value.message
    assert links.asked == [("customers", "77")]


def test_common_shapes_take_the_fast_path() -> None:
    for template in ["{{ a }}", "{{ a | upper ~ b }}", "x {{ a }} y", "{{ a if b else omit }}",
                     "{{ record['a-b'] | default('') }}", "{{ a | linked('s') }}",
                     "{{ lookup(a, setup.t) }}", "{{ a.b.c }}", "{{ a * 2 ** 3 % 5 }}",
                     "{% if a %}x{% elif b %}{{ b }}{% endif %}", "{{ a.split(',') }}",
                     "{{ a is defined }}", "{{ a[1:] }}", "{% for x in a %}{{ x }}{% endfor %}",
                     "{% for x in a if x %}{{ x }},{% else %}-{% endfor %}",
                     "{% for x in a %}{{ loop.index }}{% endfor %}"]:
        assert compile_transform(template).fast, template
    for template in ["{% for x in a recursive %}{{ loop(x) }}{% endfor %}", "{{ a if b }}",
                     "{% for x, y in a %}{{ x }}{% endfor %}",
                     "{{ a | map(attribute='x') | list }}"]:
        transform = compile_transform(template)
        assert not transform.fast, template
