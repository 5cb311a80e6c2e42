"""Verify: a key the target must keep, changed there by someone, found and reported.

External matching keeps the source's key in a target field (`key.target_field`, e.g.
an "Internal/External ID" that "must not be modified"). A person editing it in the
target breaks the pair silently: updates still go to the linked id, but a new
installation or a lost state store would adopt nothing and create duplicates, and
reports in the target show a wrong id. With `key.verify: true`, every full run (and
`plan`) reads the target's records once and compares that field with the links; a
linked record whose field no longer holds its key fails `key.modified`, with the value
found and the one to set back, until it is set back. Delta and webhook runs skip the
read (it costs one pass over the target).
"""

from __future__ import annotations

from typing import Any

from engine.adapters.base import Adapter
from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import default_registry
from engine.errors import RecordError
from engine.spec.model import Sync
from engine.state.asyncstore import AsyncStateStore

__all__ = ["modified_keys"]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def modified_keys(sync: Sync, target: Adapter, target_info: ObjectInfo | None,
                        store: AsyncStateStore, integration: str) -> dict[str, RecordError]:
    """Per source key: the error of a linked target whose key field was changed there."""
    field = sync.key.target_field
    if not (sync.key.verify and sync.key.match == "external" and field and target_info
            and "read" in target_info.operations):
        return {}
    held: dict[str, str] = {}
    async for record in target.read(sync.target_object):
        target_id = record.get(target_info.id_field)
        if target_id is not None:
            held[str(target_id)] = _text(record.get(field))
    system = default_registry().title(target.name)
    label = (target_info.fields[field].label if field in target_info.fields
             and target_info.fields[field].label else field)
    obj = target_info.label.lower()
    found: dict[str, RecordError] = {}
    async for link in store.iter_links(integration, sync.name):
        now = held.get(link.target_id)
        if not link.active or now is None or now == link.source_key:
            continue  # in step, or gone from the target (not this check's business)
        now_words = f"holds {now!r}" if now else "is empty"
        found[link.source_key] = RecordError(
            "key.modified",
            f"the {system} {obj} {link.target_id} linked to {link.source_key}: its {label} "
            f"({field}) {now_words}, but it must keep {link.source_key!r}; someone changed "
            f"it in {system}. Set it back to {link.source_key} there (nothing is written to "
            "this record until then)")
    return found
