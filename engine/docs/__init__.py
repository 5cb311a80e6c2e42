"""Generated documentation of an integration from its spec (`specsync docs SPEC`).

    from engine.docs import render_docs
    print(render_docs(load_spec("specs/maconomy-cinode"), "md"))

`describe.py` turns a spec into rows and sentences (`model.py`), `words.py` says spec
settings in plain words, `render.py` lays them out as Markdown or HTML.
"""

from __future__ import annotations

from engine.docs.describe import describe_spec
from engine.docs.model import ActionDoc, IntegrationDoc, Row, SyncDoc
from engine.docs.render import FORMATS, render_docs, render_html, render_markdown

__all__ = [
    "FORMATS",
    "ActionDoc",
    "IntegrationDoc",
    "Row",
    "SyncDoc",
    "describe_spec",
    "render_docs",
    "render_html",
    "render_markdown",
]
