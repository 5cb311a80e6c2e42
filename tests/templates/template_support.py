"""Shared test helpers for engine.templates (imported by conftest and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class DictLinks:
    """A LinkResolver over a plain mapping: {sync: {key: target id}}."""

    def __init__(self, links: Mapping[str, Mapping[str, str]]):
        self.links = links
        self.asked: list[tuple[str, Any]] = []

    def linked(self, sync: str, key: Any) -> str | None:
        self.asked.append((sync, key))
        return self.links.get(sync, {}).get(str(key))


SETUP: dict[str, Any] = {
    "gender_codes": {"male": 1, "female": 2},
    "payment_terms_tags": {10: "BV=10", 30: "BV=30"},
    "synced_tags": ["Gold", "Partner"],
    "sync_salary": True,
    "pipeline": "Sales",
    "currency": "SEK",
}


