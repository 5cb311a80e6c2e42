"""Each restriction of the template sandbox, proven by a template that tries to break it.

Hostile templates end as a TransformError (found when the spec is compiled) or a
RecordError (found while rendering one record) — never a traceback, never execution.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import RecordError
from engine.templates import RenderContext, TransformError, compile_transform
from engine.templates.environment import ENV
from engine.templates.limits import MAX_RANGE, MAX_RESULT_SIZE, MAX_TEMPLATE_CHARS

BOTH = pytest.mark.parametrize("fast", [True, False], ids=["fast", "sandbox"])


def compile_problems(template: str) -> set[str]:
    with pytest.raises(TransformError) as info:
        compile_transform(template)
    return {p.code for p in info.value.problems}


def render_code(template: str, record: dict[str, Any], ctx: RenderContext,
                fast: bool = True) -> str:
    with pytest.raises(RecordError) as info:
        compile_transform(template, fast=fast).render(record, ctx)
    return info.value.code


def test_the_environment_is_the_immutable_sandbox_with_strict_undefined() -> None:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    assert isinstance(ENV, ImmutableSandboxedEnvironment)
    assert ENV.undefined is StrictUndefined
    assert ENV.autoescape is False
    assert ENV.loader is None


@pytest.mark.scenario("S30")
@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ record.__class__ }}",
    "{{ record['__class__'] }}",
    "{{ setup.__init__.__globals__ }}",
    "{{ name._private }}",
    "{{ lookup.__globals__ }}",
])
def test_underscore_attributes_are_refused_when_compiled(template: str) -> None:
    assert compile_problems(template) == {"templates.unsafe"}


@BOTH
def test_underscore_attributes_reached_dynamically_are_refused_when_rendered(
        fast: bool, ctx: RenderContext) -> None:
    record = {"key": "__class__", "name": "x"}
    assert render_code("{{ record[key] }}", record, ctx, fast) == "templates.unsafe"
    assert render_code("{{ name[key] }}", record, ctx, fast) == "templates.unsafe"


@pytest.mark.scenario("S30")
@BOTH
def test_str_format_cannot_reach_attributes(fast: bool, ctx: RenderContext) -> None:
    code = render_code("{{ '{0.__class__}'.format(name) }}", {"name": "x"}, ctx, fast)
    assert code == "templates.unsafe"


@pytest.mark.parametrize("template", [
    "{{ cycler(1, 2) }}", "{{ joiner() }}", "{{ namespace(a=1) }}", "{{ lipsum() }}",
    "{{ dict(a=1) }}", "{{ self() }}",
])
def test_jinja_default_globals_are_not_available(template: str) -> None:
    assert compile_problems(template) == {"templates.unknown-function"}


@pytest.mark.parametrize("template", [
    "{{ name | attr('__class__') }}", "{{ '%s' | format(name) }}", "{{ name | center(10**8) }}",
    "{{ name | indent(10**8) }}", "{{ name | safe }}",
])
def test_risky_jinja_filters_are_not_registered(template: str) -> None:
    assert compile_problems(template) == {"templates.unknown-filter"}


@pytest.mark.parametrize("template", [
    "{% include 'other.yaml' %}", "{% extends 'base' %}", "{% import 'm' as m %}",
    "{% from 'm' import x %}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% set x = name ~ name %}{{ x }}", "{% with a = 1 %}{{ a }}{% endwith %}",
    "{% filter upper %}x{% endfilter %}", "{% block b %}x{% endblock %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
])
def test_statements_beyond_if_and_one_for_are_refused(template: str) -> None:
    assert "templates.unsafe" in compile_problems(template)


@BOTH
def test_lists_and_dicts_cannot_be_mutated(fast: bool, ctx: RenderContext) -> None:
    record = {"tags": ["a"], "address": {"city": "Lund"}}
    assert render_code("{{ tags.append('b') }}", record, ctx, fast) == "templates.unsafe"
    assert render_code("{{ address.update(city='x') }}", record, ctx, fast) == "templates.unsafe"
    assert record == {"tags": ["a"], "address": {"city": "Lund"}}


@pytest.mark.scenario("S30")
@BOTH
def test_range_is_capped(fast: bool, ctx: RenderContext) -> None:
    assert compile_transform(f"{{{{ range({MAX_RANGE}) | length }}}}", fast=fast).render(
        {}, ctx) == MAX_RANGE
    template = f"{{% for i in range({MAX_RANGE + 1}) %}}x{{% endfor %}}"
    assert render_code(template, {}, ctx, fast) == "templates.too-large"
    assert render_code("{{ range(10**9) | list }}", {}, ctx, fast) == "templates.too-large"


@BOTH
@pytest.mark.parametrize(("template", "code"), [
    ("{{ 'a' * 10**9 }}", "templates.too-large"),
    ("{{ [1] * 10**9 }}", "templates.too-large"),
    ("{{ 10**9 * name }}", "templates.too-large"),
    ("{{ 2 ** 100000 }}", "templates.too-large"),
    ("{{ name | replace('', name * 20) | replace('x', name * 20) }}", "templates.too-large"),
    ("{{ big ~ big }}", "templates.too-large"),
    ("x{{ big }}{{ big }}", "templates.too-large"),
    ("{{ '%s%s' % (name, name) }}", "templates.unsafe"),
    ("{{ undefined_name }}", "templates.undefined-value"),
])
def test_results_are_capped(template: str, code: str, fast: bool, ctx: RenderContext) -> None:
    record = {"name": "x" * 100, "big": "y" * (MAX_RESULT_SIZE // 2 + 1)}
    assert render_code(template, record, ctx, fast) == code


@pytest.mark.scenario("S30")
@BOTH
@pytest.mark.parametrize("template", [
    pytest.param("{{ ([name] * 100) | join(name * 300) }}", id="join-separator-bomb"),
    pytest.param("{{ ([name * 900] * 900) | join }}", id="join-of-long-items"),
    pytest.param("{{ [name * 900] * 900 }}", id="list-of-long-texts"),
    pytest.param("{{ ([name * 900] * 900) | string }}", id="text-form-of-a-big-list"),
    pytest.param("{{ ([name * 900] * 90) ~ ([name * 900] * 90) }}", id="concat"),
    pytest.param("{{ [big] + [big] + [big] }}", id="list-plus"),
])
def test_intermediate_values_count_against_the_budget(template: str, fast: bool,
                                                      ctx: RenderContext) -> None:
    """Issue 11: `([jobname] * 100000)|join(jobname * 300)` reached 2.7 GB in `plan`.

    Every one of these is refused before the big value exists, in well under a second.
    """
    import time

    record = {"name": "Konsultuppdrag", "big": "y" * (MAX_RESULT_SIZE // 2 + 1)}
    started = time.perf_counter()
    assert render_code(template, record, ctx, fast) == "templates.too-large"
    assert time.perf_counter() - started < 1.0


def test_a_literal_huge_repetition_is_a_validate_diagnostic() -> None:
    assert compile_problems("{{ ([jobname] * 100000) | join(jobname * 300) }}") == {
        "templates.too-large"}
    assert compile_problems("{{ '-' * 200000 }}") == {"templates.too-large"}
    compile_transform("{{ '-' * 40 }}")  # a ruler is fine
    compile_transform("{{ price * 100000 }}")  # arithmetic is not repetition


def test_template_text_is_capped() -> None:
    with pytest.raises(TransformError) as info:
        compile_transform("x" * (MAX_TEMPLATE_CHARS + 1))
    (problem,) = info.value.problems
    assert problem.code == "templates.too-long"
    assert str(MAX_TEMPLATE_CHARS) in problem.message


@pytest.mark.scenario("S30")
@pytest.mark.parametrize("template", [
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ " + "-" * 4000 + "1 }}",
    "{{ " + "[" * 2000 + "]" * 2000 + " }}",
])
def test_deep_nesting_is_a_problem_not_a_crash(template: str) -> None:
    assert compile_problems(template) == {"templates.syntax"}


@pytest.mark.scenario("S21")
def test_undefined_never_renders_as_empty(ctx: RenderContext) -> None:
    for template in ["{{ a }}", "x{{ a }}", "{{ a ~ '' }}", "{{ a | upper }}", "{{ [a] }}",
                     "{{ a.b | default('') }}", "{{ a | ssn_gender }}", "{{ a | lookup({}) }}"]:
        for fast in (True, False):
            assert render_code(template, {}, ctx, fast) == "templates.undefined-value", template
