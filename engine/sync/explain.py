"""Why one source record is (or is not) synced, and as what: `specsync explain` and the
console's record page show the same `RecordExplanation`.

    explanation = await explain_record(runtime, "customers", "10042")
    explanation.filter.clauses     # each clause held or failed, with the record's value
    explanation.fields             # each mapped field's value (or its error)
    explanation.link               # the target record and the last write

Values pass through a `Redactor` of its own before they are kept here (identity numbers,
e-mail addresses and phone numbers masked): an explanation is for people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.errors import RecordError
from engine.redact import Redactor
from engine.rules import Explanation, explain_rule, parse_rule
from engine.state.base import Link, RecordFailure
from engine.sync.job import SyncJob
from engine.sync.runtime import Runtime

__all__ = ["FieldValue", "RecordExplanation", "explain_record", "show_value"]


def show_value(value: Any, limit: int = 300) -> str:
    """A value as `explain` shows it: JSON, shortened to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class FieldValue:
    target: str
    create_only: bool
    value: str | None  # shown, masked
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RecordExplanation:
    integration: str
    sync: str
    wanted: str  # the key asked for
    source_id: str | None
    found: bool  # the source returned a record
    key: str | None = None
    key_parts: str | None = None  # how the key is built: "region + jobnumber joined by '_'"
    key_match: str | None = None  # "external" | "internal"
    key_error: str | None = None
    filter: Explanation | None = None
    fields: tuple[FieldValue, ...] = ()
    link: Link | None = None
    failure: RecordFailure | None = None
    target_field: str | None = None  # the target field a lookup matches on

    @property
    def selected(self) -> bool:
        return self.filter is None or self.filter.verdict


async def explain_record(runtime: Runtime, sync_name: str, wanted: str,
                         redactor: Redactor | None = None) -> RecordExplanation:
    """Read the record from the source and explain it (KeyError for an unknown sync)."""
    redact = redactor or Redactor()
    job = SyncJob(runtime, sync_name)
    spec, sync = runtime.spec, job.sync
    source_id = job.source_id_for(wanted)
    record = await job.source.get(sync.source_object, source_id) if source_id else None
    key = wanted
    state = runtime.astore
    if record is None:
        link, failure = await state.run(lambda s: (
            s.get_links(spec.integration, sync.name, [key]).get(key),
            s.get_failure(spec.integration, sync.name, key)))
        return RecordExplanation(spec.integration, sync.name, wanted, source_id, False,
                                 key=key, link=link, failure=failure,
                                 target_field=sync.key.target_field)
    key_parts = f"{' + '.join(sync.key.components)} joined by {sync.key.separator!r}"
    key_error = None
    try:
        key = job.key_of(record)
    except RecordError as exc:
        key_error = f"[{exc.code}] {redact.text(exc.message)}"
    explanation = (explain_rule(parse_rule(sync.filter), record, setup=spec.setup,
                                clock=runtime.clock) if sync.filter else None)
    complete = job.mapper.complete(record)
    fields = []
    for compiled in (*job.mapper.fields, *job.mapper.placement):
        try:
            value = compiled.render(complete, job.ctx)
            fields.append(FieldValue(compiled.target, compiled.create_only,
                                     redact.text(show_value(value))))
        except RecordError as exc:
            fields.append(FieldValue(compiled.target, compiled.create_only, None, exc.code,
                                     redact.text(exc.message)))
    link, failure = await state.run(lambda s: (
        s.get_links(spec.integration, sync.name, [key]).get(key),
        s.get_failure(spec.integration, sync.name, key)))
    return RecordExplanation(spec.integration, sync.name, wanted, source_id, True, key=key,
                             key_parts=key_parts, key_match=sync.key.match,
                             key_error=key_error, filter=explanation,
                             fields=tuple(fields), link=link, failure=failure,
                             target_field=sync.key.target_field)
