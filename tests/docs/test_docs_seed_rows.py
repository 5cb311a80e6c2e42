"""The key test: generated docs carry every row of the seed documents' field tables.

`seed_rows.yaml` holds the rows, transcribed by hand from the seeds in their own words;
each row is one test, so a failure names exactly the row a spec (or a catalog label)
cannot carry. Matching is by labels (case, spaces and punctuation ignored) and by the
comment's words, in order. Integrations whose spec does not exist yet are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.docs import IntegrationDoc, Row, SyncDoc, describe_spec
from engine.spec.load import load_spec
from engine.spec.model import Spec

ROOT = Path(__file__).parents[2]
SEED_ROWS = YAML(typ="safe").load((Path(__file__).parent / "seed_rows.yaml").read_text("utf-8"))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def same_label(a: str, b: str) -> bool:
    return "".join(words(a)) == "".join(words(b))


def says(text: str, phrase: str) -> bool:
    """`phrase`'s words appear in `text`, consecutively and in order."""
    haystack, needle = words(text), words(phrase)
    return any(haystack[i:i + len(needle)] == needle
               for i in range(len(haystack) - len(needle) + 1))


def row_matches(row: Row, source: Any, target: str | None, comment: Any) -> bool:
    if target is not None and not same_label(row.target, target):
        return False
    if source == "":
        if row.source.strip():
            return False
    elif source is not None:
        wanted = [source] if isinstance(source, str) else list(source)
        if not all(any(same_label(s, label) for label in row.source_labels) for s in wanted):
            return False
    phrases = [comment] if isinstance(comment, str) else list(comment)
    return all(says(row.comment, p) for p in phrases if p)


@cache
def integration(name: str) -> tuple[Spec, IntegrationDoc]:
    path = ROOT / "specs" / name / "spec.yaml"
    if not path.is_file():
        pytest.skip(f"specs/{name}/spec.yaml does not exist yet (another engineer is writing "
                    "it); its seed rows are checked once it does")
    spec = load_spec(path)
    return spec, describe_spec(spec)


def selected_syncs(spec: Spec, doc: IntegrationDoc, selectors: Sequence[str]) -> list[SyncDoc]:
    """The syncs named "<adapter>.<object> -> <adapter>.<object>"."""
    found = []
    for sync_doc in doc.syncs:
        sync = spec.syncs[sync_doc.name]
        src = f"{spec.connections[sync.source_connection].adapter}.{sync.source_object}"
        tgt = f"{spec.connections[sync.target_connection].adapter}.{sync.target_object}"
        if f"{src} -> {tgt}" in selectors:
            found.append(sync_doc)
    return found


def syncs_for(name: str, table: str) -> tuple[Spec, list[SyncDoc]]:
    spec, doc = integration(name)
    selectors = SEED_ROWS[name]["tables"][table]["syncs"]
    found = selected_syncs(spec, doc, selectors)
    assert found, (f"{name}: no sync implements the seed's {table!r} table "
                   f"({' or '.join(selectors)}); the spec's syncs: "
                   f"{', '.join(spec.syncs) or 'none'}")
    return spec, found


def show(rows: Sequence[Row]) -> str:
    return "\n".join(f"  {r.source!r} | {r.target!r} | {r.comment!r}" for r in rows)


def table_cases() -> Iterator[Any]:
    for name, entry in SEED_ROWS.items():
        for table in entry["tables"]:
            yield pytest.param(name, table, id=f"{name}/{table}")


def row_cases() -> Iterator[Any]:
    for name, entry in SEED_ROWS.items():
        for table, spec_table in entry["tables"].items():
            for source, target, comment in spec_table["rows"]:
                shown = source if isinstance(source, str) or source is None else "+".join(source)
                yield pytest.param(name, table, source, target, comment,
                                   id=f"{name}/{table}/{shown}->{target}")


def action_cases() -> Iterator[Any]:
    for name, entry in SEED_ROWS.items():
        for title, object_type, pushed_back in entry.get("actions", []):
            yield pytest.param(name, title, object_type, pushed_back, id=f"{name}/{title}")


@pytest.mark.parametrize(("name", "table", "source", "target", "comment"), list(row_cases()))
def test_seed_row_is_documented(name: str, table: str, source: Any, target: str | None,
                                comment: Any) -> None:
    _, syncs = syncs_for(name, table)
    rows = [row for sync in syncs for row in sync.rows]
    assert any(row_matches(row, source, target, comment) for row in rows), (
        f"{name}: the seed's {table!r} row {source!r} | {target!r} | {comment!r} is not in "
        f"the generated table of {', '.join(s.name for s in syncs)}:\n{show(rows)}")


@pytest.mark.parametrize(("name", "table"), list(table_cases()))
def test_seed_table_facts(name: str, table: str) -> None:
    entry = SEED_ROWS[name]["tables"][table]
    _, syncs = syncs_for(name, table)
    for sync in syncs:
        told = " ".join(filter(None, [sync.schedule, sync.trigger, sync.delta, sync.unmatched,
                                      *(r.comment for r in sync.rows if r.kind == "filter")]))
        for phrase in entry.get("facts", []):
            assert says(told, phrase), f"{name}/{sync.name} does not say {phrase!r}: {told}"
        triggering = entry.get("triggering")
        if triggering:
            trigger = sync.trigger or ""
            missing = [p for p in triggering if p not in re.findall(r"[\w.]+", trigger)]
            assert not missing, f"{name}/{sync.name}: trigger lacks {missing}: {trigger}"


@pytest.mark.parametrize(("name", "table"), [
    case for case in table_cases()
    if SEED_ROWS[case.values[0]]["tables"][case.values[1]].get("triggering")])
def test_one_way_badge_outside_triggering_properties(name: str, table: str) -> None:
    _, syncs = syncs_for(name, table)
    listed = set(SEED_ROWS[name]["tables"][table]["triggering"])
    for sync_doc in syncs:
        for row in sync_doc.rows:
            if row.kind != "field" or not row.source_fields:
                continue
            outside = not listed & set(row.source_fields)
            assert says(row.comment, "One-way") == outside, (
                f"{name}/{sync_doc.name}: {row.source_fields} -> {row.target}: {row.comment!r}")


@pytest.mark.parametrize(("name", "title", "object_type", "pushed_back"), list(action_cases()))
def test_seed_workflow_action_is_documented(name: str, title: str, object_type: str,
                                            pushed_back: bool) -> None:
    _, doc = integration(name)
    actions = [a for a in doc.actions if same_label(a.title, title)]
    assert actions, (f"{name}: no workflow action titled {title!r}; actions: "
                     f"{', '.join(a.title for a in doc.actions) or 'none'}")
    action = actions[0]
    assert says(action.workflow, f"object type {object_type}"), action.workflow
    if pushed_back:
        assert action.pushed_back and says(action.pushed_back, "pushed back"), action
