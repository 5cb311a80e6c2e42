"""The field-level merge of one record (engine/sync/merge.py): each rule of its table,
and `newest` deciding by the systems' own modification timestamps, skewed clocks and all.

Two HubSpot portals' companies stand in for a pair whose objects both carry a
modification timestamp (`hs_lastmodifieddate`); the catalogs and the mapper are the
real ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.adapters.registry import default_registry
from engine.spec.model import FieldMap
from engine.sync.mapping import Mapper
from engine.sync.merge import Merger, digest

CATALOG = default_registry().catalog("hubspot")
assert CATALOG is not None
INFO = CATALOG.objects["companies"]
FIELDS = tuple(FieldMap(name, "{{ " + name + " }}", False, True, "always", None, None,
                        f"/syncs/a/fields/{name}") for name in ("name", "phone"))
AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def merger(policy: str, *, outbound: bool = True) -> Merger:
    mapper = Mapper(FIELDS, {}, target=INFO, source=INFO)
    return Merger(integration="i", sync="a", policies={"name": policy, "phone": policy},
                  fields=mapper.fields, source_object="west.companies",
                  target_object="east.companies", source_info=INFO, target_info=INFO,
                  source_system="west", target_system="east", outbound=outbound, at=AT,
                  opposite=("b",))


def record(name: str, phone: str, modified: str) -> dict[str, Any]:
    return {"id": "1", "name": name, "phone": phone, "hs_lastmodifieddate": modified}


BASE = {"name": digest("Base"), "phone": digest("0")}


@pytest.mark.parametrize(("source", "target", "payload", "conflicts"), [
    # one side changed: its change wins, whichever side it is
    (("New", "0"), ("Base", "0"), {"name": "New"}, 0),
    (("Base", "0"), ("Theirs", "0"), {}, 0),
    # different fields on each side: both survive (only ours is written)
    (("New", "0"), ("Base", "9"), {"name": "New"}, 0),
    # both changed to the same value: agreed, nothing to write, no conflict
    (("Same", "0"), ("Same", "0"), {}, 0),
    # both changed the same field: source_wins writes ours and records it
    (("New", "0"), ("Theirs", "0"), {"name": "New"}, 1),
])
@pytest.mark.scenario("S28")
def test_each_rule_of_the_merge(source: tuple[str, str], target: tuple[str, str],
                                payload: dict[str, Any], conflicts: int) -> None:
    m = merger("source")
    src, tgt = record(*source, "2026-12-01T00:00:00Z"), record(*target, "2026-12-01T00:00:00Z")
    merged = m.merge("k", src, {"name": src["name"], "phone": src["phone"]}, tgt, BASE,
                     "1", "2")
    assert merged.payload == payload
    assert len(merged.outcome.conflicts) == conflicts
    assert merged.outcome.stale == ((("b", "1"),) if payload else ())


@pytest.mark.parametrize(("ours", "theirs", "winner"), [
    ("2026-12-03T10:00:05Z", "2026-12-03T10:00:00Z", "source"),
    ("2026-12-03T10:00:00Z", "2026-12-03T10:00:05Z", "target"),
    # epoch milliseconds on one side, ISO text on the other: the same instant compared
    ("1796292005000", "2026-12-03T10:00:00Z", "source"),
    # a tie goes to the outbound sync's source (the same answer from either sync)
    ("2026-12-03T10:00:00Z", "2026-12-03T10:00:00Z", "source"),
])
@pytest.mark.scenario("S28")
def test_newest_compares_the_systems_own_timestamps(ours: str, theirs: str,
                                                    winner: str) -> None:
    m = merger("newest")
    src, tgt = record("Ours", "0", ours), record("Theirs", "0", theirs)
    merged = m.merge("k", src, {"name": "Ours", "phone": "0"}, tgt, BASE, "1", "2")
    if winner == "source":
        assert merged.payload == {"name": "Ours"}
        [conflict] = merged.outcome.conflicts
        assert (conflict.field, conflict.winner, conflict.policy) == ("name", "west",
                                                                       "newest")
        assert (conflict.source_value, conflict.target_value) == ('"Ours"', '"Theirs"')
    else:  # left for the opposite sync, which records it when it carries "Theirs"
        assert merged.payload == {} and merged.outcome.conflicts == ()
        assert merged.kept == ("name",)
    # the opposite sync decides the same from its side: no oscillation
    back = merger("newest", outbound=False).merge(
        "k", tgt, {"name": "Theirs", "phone": "0"}, src, BASE, "1", "2")
    assert bool(back.payload) == (winner == "target")


def test_a_value_is_masked_in_the_conflict_it_records() -> None:
    m = merger("source")
    m.redact = lambda text: text.replace("555", "***")
    src, tgt = record("Base", "555", "x"), record("Base", "556", "x")
    merged = m.merge("k", src, {"name": "Base", "phone": "555"}, tgt, BASE, "1", "2")
    [conflict] = merged.outcome.conflicts
    assert "555" not in conflict.source_value
