"""A source field named like a template function must be written unambiguously."""

from __future__ import annotations

from engine.templates import check_transform


def _resolve(path: str) -> str | None:
    return "string" if path in ("orgno", "name") else None


def test_a_bare_name_that_is_also_a_function_is_refused() -> None:
    [problem] = check_transform("{{ orgno }}", _resolve, ["orgno", "name"], {}, [])
    assert problem.code == "templates.ambiguous-name"
    assert (problem.line, problem.column, problem.end_column) == (1, 4, 9)
    assert "record.orgno" in (problem.hint or "")


def test_record_dot_name_and_calls_are_fine() -> None:
    assert check_transform("{{ record.orgno | orgno }}", _resolve, ["orgno"], {}, []) == []
    assert check_transform("{{ orgno(name) }}", _resolve, ["orgno", "name"], {}, []) == []


def test_linked_source_names_are_checked_like_linked() -> None:
    [problem] = check_transform("{{ name | linked_source('custs') }}", _resolve, ["name"], {},
                                ["customers"])
    assert problem.code == "templates.unknown-sync"
    assert "customers" in (problem.hint or "")
