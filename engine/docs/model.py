"""What generated docs say, before any format: rows, syncs, actions, the integration.

The Markdown and HTML renderers only lay these out, and tests check the seeds' rows
against them rather than against rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ActionDoc", "IntegrationDoc", "Row", "SyncDoc"]


@dataclass(frozen=True)
class Row:
    """One row of a field table, in the seeds' shape: Source | Target | Comments.

    `source_fields` / `target_field` keep the field names behind the labels; `kind` is
    "field", "key", "filter" or "placement".
    """

    source: str
    target: str
    comment: str
    kind: str = "field"
    source_fields: tuple[str, ...] = ()
    target_field: str | None = None
    # What a rendered table shows: every field as its label and its name in the spec,
    # the same way for all (`describe.with_names`); empty: the labels above.
    source_cell: str = field(default="", compare=False)
    target_cell: str = field(default="", compare=False)

    @property
    def source_labels(self) -> tuple[str, ...]:
        """The labels a joined source column is made of."""
        return tuple(part for part in self.source.split(", ") if part)


@dataclass(frozen=True)
class SyncDoc:
    name: str
    title: str
    description: str | None
    source_system: str
    source_object: str
    target_system: str
    target_object: str
    schedule: str | None  # plain words, None when the sync only runs on webhooks
    trigger: str | None
    delta: str | None
    unmatched: str | None
    rows: tuple[Row, ...]
    safeguards: str | None = None  # the limits the spec sets, in words
    source_delete: str | None = None  # on_source_delete, when the spec sets it
    merge: str | None = None  # two-way fields merged field by field, and who wins


@dataclass(frozen=True)
class ActionDoc:
    name: str
    title: str
    description: str | None
    workflow: str  # "HubSpot deal workflows (object type DEAL)"
    effect: str  # "Creates a Kleer invoice"
    inputs: tuple[tuple[str, str], ...]
    rows: tuple[Row, ...]
    outputs: tuple[tuple[str, str], ...]  # (output field, what it holds)
    pushed_back: str | None


@dataclass(frozen=True)
class IntegrationDoc:
    integration: str
    version: str
    title: str
    description: str | None
    source_document: str | None
    systems: tuple[str, ...]
    setup: tuple[tuple[str, str], ...]  # (name, value in words)
    syncs: tuple[SyncDoc, ...]
    actions: tuple[ActionDoc, ...]
    # (system, sentence): what each system's real API cannot do, from its vendor package,
    # so a reader learns the limits (create-only fields, missing routes) up front.
    limits: tuple[tuple[str, str], ...] = ()
