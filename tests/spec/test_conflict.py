"""Who keeps a two-way field both sides changed: `conflict:` validated at its line and
resolved for both syncs of the pair (engine/spec/conflict.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.spec.load import load_spec, validate_paths

SPEC = Path(__file__).parents[2] / "specs" / "kleer-hubspot" / "spec.yaml"
OUTBOUND = "    direction: outbound\n    fields:\n"
INBOUND = "    direction: inbound\n"
PHONE_OUT = '      phone: "{{ phone or none }}"\n'
PHONE_IN = "      phone: \"{{ phone or '' }}\"\n"



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
    return [d for d in diags if d.code.startswith("spec.conflict") or "conflict" in d.message]


def _line(tmp_path: Path, text: str) -> int:
    lines = (tmp_path / "spec.yaml").read_text().splitlines()
    return 1 + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.scenario("S28")
def test_the_outbound_source_wins_by_default_and_one_declaration_sets_both_sides(
        tmp_path: Path) -> None:
    seed = load_spec(SPEC)
    assert seed.syncs["companies"].merge["phone"] == "source"
    assert seed.syncs["clients_inbound"].merge["phone"] == "target"
    assert "kleer_categories" not in seed.syncs["companies"].merge  # outbound only
    assert seed.syncs["products"].merge == {}  # not a pair
    said = load_spec(_write(tmp_path, (
        PHONE_IN, "      phone: {value: \"{{ phone or '' }}\", conflict: source_wins}\n")))
    assert said.syncs["clients_inbound"].merge["phone"] == "source"
    assert said.syncs["companies"].merge["phone"] == "target"  # follows
    assert said.syncs["companies"].merge["name"] == "source"  # the default still


@pytest.mark.scenario("S28")
def test_newest_needs_both_systems_timestamps(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    [diag] = _diags(tmp_path, monkeypatch,
                    (OUTBOUND, "    direction: outbound\n    conflict: newest\n    fields:\n"))
    assert diag.code == "spec.conflict-newest" and diag.severity.value == "error"
    assert diag.message == ("`newest` compares the systems' own modification timestamps, "
                            "but `kleer.clients` has none")
    assert diag.location.line == _line(tmp_path, "conflict: newest")


def test_a_policy_outside_a_pair_or_on_a_one_way_field_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diags = _diags(tmp_path, monkeypatch,
                   ('      unit: "{{ unit or none }}"\n',
                    '      unit: {value: "{{ unit or none }}", conflict: source_wins}\n'),
                   ("source: categories, direction: outbound,",
                    "source: categories, direction: outbound, conflict: target_wins,"))
    assert sorted(d.code for d in diags) == ["spec.conflict-no-pair", "spec.conflict-one-way"]
    by_code = {d.code: d for d in diags}
    lines = {code: d.location.line for code, d in by_code.items()}
    assert lines == {"spec.conflict-no-pair": _line(tmp_path, "conflict: source_wins"),
                     "spec.conflict-one-way": _line(tmp_path, "conflict: target_wins")}


@pytest.mark.scenario("S28")
def test_contradicting_winners_are_an_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # both syncs say their own source wins the phone: each would overwrite the other
    [diag] = _diags(tmp_path, monkeypatch,
                    (PHONE_OUT, '      phone: {value: "{{ phone or none }}", '
                                'conflict: source_wins}\n'),
                    (PHONE_IN, "      phone: {value: \"{{ phone or '' }}\", "
                               "conflict: source_wins}\n"))
    assert diag.code == "spec.conflict-contradiction"
    assert "`companies` says `source_wins` for field `phone`" in diag.message
    assert diag.location.line == _line(tmp_path, 'phone: {value: "{{ phone or none }}"')


def test_an_unknown_policy_is_a_located_schema_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, (INBOUND, "    direction: inbound\n    conflict: hubspot\n"))
    monkeypatch.chdir(tmp_path)
    diags, _, _ = validate_paths(["spec.yaml"])
    [diag] = [d for d in diags if d.location.line == _line(tmp_path, "conflict: hubspot")]
    assert "source_wins" in diag.message + (diag.hint or "")


def test_contradicting_sync_level_winners_are_said_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diags = _diags(tmp_path, monkeypatch,
                   (OUTBOUND, "    direction: outbound\n    conflict: target_wins\n    fields:\n"),
                   (INBOUND, "    direction: inbound\n    conflict: target_wins\n"))
    assert [d.code for d in diags] == ["spec.conflict-contradiction"]
    assert diags[0].location.line == _line(tmp_path, "    conflict: target_wins")
