from __future__ import annotations

import pytest
from template_support import NOW, SETUP, DictLinks

from engine.templates import RenderContext


@pytest.fixture
def links() -> DictLinks:
    return DictLinks({"customers": {"1000": "cin-17", "1001": "cin-18"}})


@pytest.fixture
def ctx(links: DictLinks) -> RenderContext:
    return RenderContext(setup=SETUP, links=links, now=NOW)
