"""Generated documentation of an integration, as Markdown or as one self-contained HTML page.

    text = render_docs(load_spec("specs/maconomy-cinode"), "md")

Each sync gets a field table in the seed documents' shape (Source | Target | Comments),
then its schedule, trigger, delta reads and what happens to records that stop
matching; each workflow action gets its workflow, fields, outputs and push-back. The
HTML page escapes every value and needs nothing from the network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from engine.docs.describe import describe_spec
from engine.docs.model import ActionDoc, IntegrationDoc, Row, SyncDoc
from engine.spec.model import Spec

__all__ = ["FORMATS", "render_docs", "render_html", "render_markdown"]

FORMATS = ("md", "html")


def render_docs(spec: Spec, fmt: str = "md") -> str:
    """The docs of a valid spec in `fmt` ("md" or "html")."""
    doc = describe_spec(spec)
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "html":
        return render_html(doc)
    raise ValueError(f"docs format {fmt!r} is not one of {', '.join(FORMATS)}")


def _facts(sync: SyncDoc) -> list[tuple[str, str]]:
    facts = [("Direction", f"{sync.source_object} → {sync.target_object}")]
    if sync.schedule:
        facts.append(("Schedule", sync.schedule))
    if sync.trigger:
        facts.append(("Trigger", sync.trigger))
    if sync.delta:
        facts.append(("Changes", sync.delta))
    if sync.unmatched:
        facts.append(("Stops matching", sync.unmatched))
    if sync.source_delete:
        facts.append(("Deleted in the source", sync.source_delete))
    if sync.merge:
        facts.append(("Edited on both sides", sync.merge))
    if sync.safeguards:
        facts.append(("Safeguards", sync.safeguards))
    return facts


def _action_facts(action: ActionDoc) -> list[tuple[str, str]]:
    facts = [("Workflow", action.workflow), ("Does", action.effect)]
    if action.inputs:
        facts.append(("Inputs", ", ".join(f"{n} ({t})" for n, t in action.inputs)))
    if action.outputs:
        facts.append(("Outputs", "; ".join(f"{n}: {w}" for n, w in action.outputs)))
    if action.pushed_back:
        facts.append(("Then", action.pushed_back))
    return facts


# Markdown ---------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _md_rows(source: str, target: str, rows: Sequence[Row]) -> list[str]:
    return _md_table([source, target, "Comments"],
                     ((r.source_cell or r.source, r.target_cell or r.target, r.comment)
                      for r in rows))


def render_markdown(doc: IntegrationDoc) -> str:
    """The integration as one Markdown page."""
    out = [f"# {doc.title}", "",
           f"Integration `{doc.integration}`, version {doc.version}, between "
           f"{' and '.join(doc.systems)}."]
    if doc.source_document:
        out.append(f"Implements the vendor document `{doc.source_document}`.")
    if doc.description:
        out += ["", " ".join(doc.description.split())]
    for sync in doc.syncs:
        out += ["", f"## {sync.title}", ""]
        if sync.description:
            out += [" ".join(sync.description.split()), ""]
        out += [f"- **{name}:** {_cell(value)}" for name, value in _facts(sync)]
        out += ["", *_md_rows(sync.source_system, sync.target_system, sync.rows)]
    for action in doc.actions:
        out += ["", f"## Workflow action: {action.title}", ""]
        if action.description:
            out += [" ".join(action.description.split()), ""]
        out += [f"- **{name}:** {_cell(value)}" for name, value in _action_facts(action)]
        if action.rows:
            out += ["", *_md_rows("Source", "Target", action.rows)]
    if doc.setup:
        out += ["", "## Setup values", "",
                *_md_table(["Setting", "Value"], ((f"`{n}`", v) for n, v in doc.setup))]
    if doc.limits:
        out += ["", "## What the real APIs cannot do", ""]
        out += [f"- **{system}:** {_cell(note)}" for system, note in doc.limits]
    return "\n".join(out) + "\n"


# HTML -------------------------------------------------------------------------------------

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;line-height:1.4}table{border-collapse:collapse;width:100%}"
          "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;"
          "vertical-align:top}th{background:#f3f3f3}")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CODE = re.compile(r"`([^`]+)`")


def _cell_html(text: str) -> str:
    """A table cell: escaped, with `name` (a field's name in the spec) as code."""
    return _CODE.sub(r"<code>\1</code>", _e(text))


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>"]
    out.extend("<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>"
               for row in rows)
    out.append("</table>")
    return out


def _html_facts(facts: Sequence[tuple[str, str]]) -> list[str]:
    return ["<ul>", *(f"<li><strong>{_e(n)}:</strong> {_e(v)}</li>" for n, v in facts),
            "</ul>"]


def render_html(doc: IntegrationDoc) -> str:
    """The integration as one HTML page: escaped, plain tables, no external assets."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{_e(doc.title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
           f"<h1>{_e(doc.title)}</h1>",
           f"<p>Integration <code>{_e(doc.integration)}</code>, version {_e(doc.version)}, "
           f"between {_e(' and '.join(doc.systems))}.</p>"]
    if doc.source_document:
        out.append(f"<p>Implements the vendor document <code>{_e(doc.source_document)}"
                   "</code>.</p>")
    if doc.description:
        out.append(f"<p>{_e(' '.join(doc.description.split()))}</p>")
    for sync in doc.syncs:
        out.append(f'<section id="sync-{_e(sync.name)}">')
        out.append(f"<h2>{_e(sync.title)}</h2>")
        if sync.description:
            out.append(f"<p>{_e(' '.join(sync.description.split()))}</p>")
        out += _html_facts(_facts(sync))
        out += _html_table([sync.source_system, sync.target_system, "Comments"],
                           ((r.source_cell or r.source, r.target_cell or r.target, r.comment)
                            for r in sync.rows))
        out.append("</section>")
    for action in doc.actions:
        out.append(f'<section id="action-{_e(action.name)}">')
        out.append(f"<h2>Workflow action: {_e(action.title)}</h2>")
        if action.description:
            out.append(f"<p>{_e(' '.join(action.description.split()))}</p>")
        out += _html_facts(_action_facts(action))
        if action.rows:
            out += _html_table(["Source", "Target", "Comments"],
                               ((r.source_cell or r.source, r.target_cell or r.target, r.comment)
                                for r in action.rows))
        out.append("</section>")
    if doc.setup:
        out += ["<h2>Setup values</h2>", *_html_table(["Setting", "Value"], doc.setup)]
    if doc.limits:
        out += ["<h2>What the real APIs cannot do</h2>", "<ul>"]
        out += [f"<li><strong>{_e(system)}:</strong> {_e(note)}</li>"
                for system, note in doc.limits]
        out.append("</ul>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
