"""Positions inside YAML scalars map back to the file, for every scalar style."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.spec.source import load_yaml


def _located_char(text: str, pointer: str, offset: int) -> str:
    doc, diags = load_yaml("t.yaml", text)
    assert doc is not None, diags
    loc = doc.inner_location(pointer, offset)
    return text.splitlines()[loc.line - 1][loc.column - 1]


@pytest.mark.parametrize(("text", "pointer", "value"), [
    ("f: a = 1 and b\n", "/f", "a = 1 and b"),
    ('f: "x = \\"q\\" and y"\n', "/f", 'x = "q" and y'),
    ("f: 'it''s = y'\n", "/f", "it's = y"),
    ("f: |\n  line one\n  line = two\n", "/f", "line one\nline = two\n"),
    ("f: >-\n  folded = 1\n  and more\n", "/f", "folded = 1 and more"),
    ("s:\n  - first\n  - 'sec = ond'\n", "/s/1", "sec = ond"),
    ("f: plain\n  continued = 2\n", "/f", "plain continued = 2"),
])
def test_every_character_maps_to_itself(text: str, pointer: str, value: str) -> None:
    doc, _ = load_yaml("t.yaml", text)
    assert doc is not None
    got = doc.data
    for part in pointer.strip("/").split("/"):
        got = got[int(part)] if isinstance(got, list) else got[part]
    assert got == value
    for i, ch in enumerate(value):
        if ch not in "\n ":  # an escaped character maps to its backslash
            assert _located_char(text, pointer, i) in (ch, "\\")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
               min_size=1, max_size=40))
def test_quoted_strings_map_exactly(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    text = f'key: "{escaped}"\n'
    doc, diags = load_yaml("t.yaml", text)
    assert doc is not None, diags
    assert doc.data["key"] == value
    for i, ch in enumerate(value):
        loc = doc.inner_location("/key", i)
        raw = text.splitlines()[0][loc.column - 1]
        assert raw == ch or raw == "\\"


@pytest.mark.scenario("S29")
def test_duplicate_keys_and_alias_caps() -> None:
    _, diags = load_yaml("t.yaml", "a: 1\nb: 2\na: 3\n")
    assert [(d.code, d.location.line) for d in diags] == [("yaml.duplicate-key", 3)]
    many = "a: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(300))
    _, diags = load_yaml("t.yaml", many)
    assert [d.code for d in diags] == ["yaml.aliases"]
