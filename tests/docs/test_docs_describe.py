"""Field tables derived from a spec: labels, and comments in the seeds' phrases.

`fixtures/sample.spec.yaml` uses every feature the docs describe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.docs import IntegrationDoc, Row, SyncDoc, describe_spec, render_docs
from engine.spec.load import load_spec

ROOT = Path(__file__).parents[2]
SAMPLE = Path(__file__).parent / "fixtures" / "sample.spec.yaml"


@pytest.fixture(scope="module")
def doc() -> IntegrationDoc:
    return describe_spec(load_spec(SAMPLE))


def sync(doc: IntegrationDoc, name: str) -> SyncDoc:
    return next(s for s in doc.syncs if s.name == name)


def row(doc: IntegrationDoc, sync_name: str, target: str) -> Row:
    rows = [r for r in sync(doc, sync_name).rows if r.target == target]
    assert len(rows) == 1, rows
    return rows[0]


def test_labels_come_from_the_catalogs(doc: IntegrationDoc) -> None:
    r = row(doc, "users", "Employment number")
    assert (r.source, r.source_fields, r.target_field) == ("ID Number", ("internal-id",),
                                                           "employmentNumber")
    assert row(doc, "users", "Gender").source == "SSN"  # payroll.ssn
    assert row(doc, "users", "Last Name").source == "Full Name"


def test_required_comes_from_the_spec_or_the_target_catalog(doc: IntegrationDoc) -> None:
    assert row(doc, "users", "First Name").comment == "Required"  # catalog: firstName required
    assert row(doc, "users", "Gender").comment == ""
    assert row(doc, "clients_in", "Name").comment == "Required"  # catalog: Kleer name required
    assert doc.actions[0].rows[0].comment == "Required"  # the spec's required: true


def test_setup_only_rows_have_no_source(doc: IntegrationDoc) -> None:
    r = row(doc, "users", "Language")
    # Cinode takes a user's language at creation only (its add model alone has it).
    assert r.source == "" and r.comment == (
        "Set when the record is created only: Cinode's API cannot change it later "
        "(a later change is reported by plan and status, not written); "
        "Configured during setup (setup.language_id = 2)")


def test_setup_switch_tags_and_create_only(doc: IntegrationDoc) -> None:
    assert row(doc, "users", "Base Salary").comment == (
        "Can be disabled during setup (configured during setup: setup.sync_salary = false); "
        "Disabled in this setup")
    assert row(doc, "users", "Tags").comment == "Synced tags are configured during setup"
    assert row(doc, "users", "Office Location").comment.startswith(
        "Written when the record is created; must not be modified")


def test_constants_and_combined_fields(doc: IntegrationDoc) -> None:
    assert row(doc, "users", "title").comment == 'Always "Consultant"'
    r = row(doc, "subcontractors", "Company Name")
    assert r.source == "Supplier Name, Supplier Organisation Number"
    # Cinode cannot update a subcontractor at all: every row says so.
    assert r.comment == ("Set when the record is created only: Cinode's API cannot change it "
                         "later (a later change is reported by plan and status, not "
                         'written); Combined as "{0} ({1})"')


def test_key_rows(doc: IntegrationDoc) -> None:
    r = row(doc, "users", "Internal/External ID")
    assert (r.kind, r.source) == ("key", "Internal ID")
    assert r.comment.startswith("Required and must not be modified in either Cinode or Kleer; "
                                "External matching")
    r = row(doc, "subcontractors", "Internal/External ID")
    assert 'Key: Supplier Organisation Number and Internal ID joined by "/"' in r.comment
    r = row(doc, "clients_in", "Customer Number")
    assert r.comment.endswith("Internal matching: the key is Kleer's own ID; a record whose "
                              "key names no existing Kleer record is not created but "
                              "reported (key.not-found)")


def test_filter_row_and_what_happens_when_a_record_stops_matching(doc: IntegrationDoc) -> None:
    first = sync(doc, "users").rows[0]
    assert (first.kind, first.source, first.target, first.comment) == (
        "filter", "Active", "", "Only synced when set to Active in Kleer")
    assert sync(doc, "users").unmatched == (
        "A synced record that stops matching is deactivated in Cinode (status = 0)")
    assert sync(doc, "clients_out").unmatched is None  # no filter, nothing stops matching


def test_schedule_and_trigger_words(doc: IntegrationDoc) -> None:
    assert sync(doc, "users").schedule == (
        "every 5 minutes (configured during setup: setup.user_schedule = every 5m)")
    assert sync(doc, "subcontractors").schedule == "on a cron schedule: 0 6 * * 1-5"
    inbound = sync(doc, "clients_in")
    assert inbound.schedule is None
    assert inbound.trigger is not None
    assert inbound.trigger.startswith("when HubSpot sends company.propertyChange, if one of "
                                      "these HubSpot properties changed: name, phone")


def test_one_way_marks_only_properties_outside_the_triggering_list(doc: IntegrationDoc) -> None:
    marked = {r.target: "One-way" in r.comment for r in sync(doc, "clients_in").rows}
    assert marked == {"Name": False, "Phone": False, "Internal Notes": True,
                      "Customer Number": False}
    assert not any("One-way" in r.comment for r in sync(doc, "clients_out").rows)


def test_actions(doc: IntegrationDoc) -> None:
    (action,) = doc.actions
    assert action.workflow == "HubSpot company workflows (object type COMPANY)"
    assert action.effect == "Creates a Kleer Client (customer)"
    assert action.outputs == (("kleer_client_id", "the written record's Customer Number"),)
    assert action.pushed_back == ("After success the record is pushed back at once by "
                                  "clients_out (to HubSpot Company), without waiting for the "
                                  "next scheduled sync")


def test_placement_is_for_new_records_only() -> None:
    path = ROOT / "specs" / "maconomy-cinode" / "spec.yaml"
    if not path.is_file():
        pytest.skip("specs/maconomy-cinode is not in this checkout")
    projects = sync(describe_spec(load_spec(path)), "projects")
    placement = [r for r in projects.rows if r.kind == "placement"]
    assert placement, projects.rows
    for r in placement:
        assert r.comment.startswith("New records only; later changes in Cinode are kept")


def test_markdown_escapes_table_cells_and_html_escapes_everything() -> None:
    spec = load_spec(SAMPLE)
    md = render_docs(spec, "md")
    assert ("| E-mail (`email`) | E-mail (`email`) | Required; Work e-mail \\| used to log in |"
            in md)
    page = render_docs(spec, "html")
    assert "<h1>Docs sample &lt;Kleer | Cinode | HubSpot&gt;</h1>" in page
    assert "<Kleer" not in page
    assert page.count("<table>") == len(spec.syncs) + len(spec.actions) + 1  # + setup values
    for external in ("http://", "https://", "src=", "<link", "<script", "@import"):
        assert external not in page


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of md, html"):
        render_docs(load_spec(SAMPLE), "pdf")


def test_docs_say_what_each_real_api_cannot_do() -> None:
    """A vendor package's notes reach the integration's docs, once per system."""
    import dataclasses

    from engine.adapters.registry import default_registry
    from engine.docs.render import render_docs

    registry = default_registry()
    original = registry.vendor("cinode")
    note = "Subcontractors have no update route: every field is set when one is created."
    registry.register(dataclasses.replace(original, notes=(note,)))
    try:
        spec = load_spec(ROOT / "specs" / "maconomy-cinode")
        doc = describe_spec(spec)
        assert [limit for limit in doc.limits if limit[0] == "Cinode"] == [("Cinode", note)]
        assert f"- **Cinode:** {note}" in render_docs(spec, "md")
        assert "<li><strong>Cinode:</strong> Subcontractors" in render_docs(spec, "html")
    finally:
        registry.register(original)


@pytest.mark.parametrize("name", ["maconomy-cinode", "kleer-cinode", "kleer-hubspot"])
def test_tables_name_every_field_the_same_way(name: str) -> None:
    """Each field cell is "Label (`name`)" or, without a catalog label, "`name`": never a
    bare name beside labels (`vatnumber` next to `E-mail`)."""
    import re

    from engine.docs.render import render_docs

    md = render_docs(load_spec(ROOT / "specs" / name), "md")
    field = r"(?:[^`|]+? \(`[^`]+`\)|`[^`]+`)"
    cell = re.compile(rf"{field}(?:, {field})*|ID|")
    lines = md.splitlines()
    rows = [line.split(" | ") for i, line in enumerate(lines)
            if line.startswith("| ") and not line.startswith("| `")  # setup values
            and not lines[i + 1].startswith("|---")]  # a table's header
    cells = [c.removeprefix("| ") for row in rows for c in row[:2]]
    assert cells and [c for c in cells if not cell.fullmatch(c)] == []
    assert "(a table; see the spec)" not in md


def test_a_setup_table_is_shown_entry_by_entry() -> None:
    from engine.docs.words import setup_table_words

    md = render_docs(load_spec(ROOT / "specs" / "maconomy-cinode"), "md")
    assert "| `country_codes` | sweden → SE, norway → NO, denmark → DK, finland → FI, " in md
    many = {f"k{i}": i for i in range(10)}
    assert setup_table_words(many).endswith("k7 → 7 and 2 more (see the spec)")
    assert setup_table_words({"a": {"b": 1}}) == "a → (nested)"


def test_two_way_fields_say_who_wins_a_conflict(tmp_path: Path) -> None:
    """kleer-hubspot's companies/clients_inbound pair: the default keeps Kleer's value
    (the outbound sync's source); `conflict: target_wins` on the outbound sync keeps
    HubSpot's, and the inbound sync's docs say the same from its side."""
    spec_file = ROOT / "specs" / "kleer-hubspot" / "spec.yaml"
    default = describe_spec(load_spec(spec_file))
    merged = sync(default, "companies").merge
    assert merged is not None and "Kleer's value is kept (Company name, phone" in merged
    assert "Kleer's value is kept" in (sync(default, "clients_inbound").merge or "")
    assert sync(default, "products").merge is None  # one way: nothing to merge
    text = spec_file.read_text(encoding="utf-8")
    side = "    direction: outbound\n    fields:\n      name:"
    assert side in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(side, side.replace(
        "    fields:", "    conflict: target_wins\n    fields:"), 1), encoding="utf-8")
    flipped = describe_spec(load_spec(path))
    assert "HubSpot's value is kept" in (sync(flipped, "companies").merge or "")
    assert "HubSpot's value is kept" in (sync(flipped, "clients_inbound").merge or "")
