"""Declared field direction in two-way pairs: validate checks the pair, the model holds
back a field that would carry a one-way field back (engine/spec/direction.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.spec.load import load_spec, validate_paths

SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot" / "spec.yaml"
# the outbound companies sync writes kleer_your_reference; clients_inbound reads it back
# into the Kleer client's contact
REFERENCE = ('kleer_your_reference: {value: "{{ contact or none }}", source: contact}',
             'kleer_your_reference: {value: "{{ contact or none }}", source: contact,\n'
             '                             direction: outbound}')


def _write(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = SPEC.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _diags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *edits: tuple[str, str]):
    _write(tmp_path, *edits)
    monkeypatch.chdir(tmp_path)
    diags, _, _ = validate_paths(["spec.yaml"])
    return [d for d in diags if d.code.startswith("spec.direction")]


def test_the_seed_pair_is_consistent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC.parents[2])
    diags, _, _ = validate_paths([str(SPEC.relative_to(SPEC.parents[2]))])
    assert [d for d in diags if d.code.startswith("spec.direction")] == []
    spec = load_spec(SPEC)
    assert spec.syncs["companies"].direction == "outbound"
    categories = next(f for f in spec.syncs["companies"].fields
                      if f.target == "kleer_categories")
    assert categories.direction == "outbound"
    assert all(f.held_back is None for f in spec.syncs["clients_inbound"].fields)


def test_a_field_carrying_back_an_outbound_field_is_held_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [diag] = _diags(tmp_path, monkeypatch, REFERENCE)
    assert diag.code == "spec.direction-held-back" and diag.severity.value == "warning"
    assert diag.message == ("field `contact` of `clients_inbound` is never written: it would "
                            "carry back `kleer_your_reference`, which `companies` declares "
                            "outbound only")
    spec = load_spec(tmp_path / "spec.yaml")
    contact = next(f for f in spec.syncs["clients_inbound"].fields if f.target == "contact")
    assert (contact.enabled, contact.held_back) == (False, "companies.kleer_your_reference")
    others = [f for f in spec.syncs["clients_inbound"].fields if f.target != "contact"]
    assert all(f.held_back is None for f in others)


def test_contradicting_declarations_are_errors(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    both = ("contact: {value: \"{{ kleer_your_reference or '' }}\", source: kleer_your_reference,",
            "contact: {value: \"{{ kleer_your_reference or '' }}\", source: kleer_your_reference,"
            " direction: both,")
    [diag] = _diags(tmp_path, monkeypatch, REFERENCE, both)
    assert diag.code == "spec.direction-conflict" and diag.severity.value == "error"
    assert diag.location.line == 1 + next(
        i for i, line in enumerate((tmp_path / "spec.yaml").read_text().splitlines())
        if "direction: both" in line)


def test_a_field_declared_the_wrong_way_and_a_sync_without_a_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = ('phone: {value: "{{ phone }}", source: phone, direction: inbound}',)
    diags = _diags(tmp_path, monkeypatch,
                   ('      phone: "{{ phone or none }}"\n      address:',
                    f"      {wrong[0]}\n      address:"),
                   ("    direction: inbound\n", ""))
    # in the order of their lines
    assert [d.code for d in diags] == ["spec.direction-field", "spec.direction-pair"]
    assert diags[1].message == ("sync `clients_inbound` writes the other way of `companies` "
                                "(outbound) but does not say which side it is")
    assert diags[0].message.startswith("field `phone` is declared inbound only, but "
                                       "`companies` is the outbound sync")
