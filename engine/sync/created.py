"""Fields the target sets at creation only: a later source change is held, and said.

A field is written at creation only when the spec says `on: create` or the target's
catalog says its API cannot change it (`create_only`, or an object with no update).
Writing it again is impossible, but dropping the change silently would leave the two
systems apart with nobody told. So the values a record was created with are kept
(state store `created_values`), and each run compares the source's current values with
them: a difference is a *held* change, shown by `plan` (old -> new, "not written"),
counted by `run` and listed by `status` until the source agrees again (or someone fixes
the target by hand and the source is changed back).

`placement` is not watched: it is where new records land, and later moves in the
target are the target's business.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.state.base import CreatedValues
from engine.state.created_values import encode_values
from engine.sync.changes import FieldChange

__all__ = ["created_values", "held_fields", "observe"]


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """As the store keeps them: JSON types only."""
    loaded: dict[str, Any] = json.loads(encode_values(dict(values)))
    return loaded


def observe(key: str, now: Mapping[str, Any], stored: CreatedValues | None
            ) -> tuple[tuple[FieldChange, ...], CreatedValues | None]:
    """(the held fields, the creation values to store or None when nothing changed) for
    a linked record whose create-only fields map to `now`.

    A record linked before its creation values were kept starts from what the source
    says now (nothing to compare with yet)."""
    current = _plain(now)
    if stored is None:
        return (), CreatedValues(key, current)
    created = dict(stored.created)
    if current == created:
        return (), (CreatedValues(key, created) if stored.held else None)
    held = {name: (created.get(name), current.get(name))
            for name in sorted(set(created) | set(current))
            if created.get(name) != current.get(name)}
    fields = held_fields(held)
    if stored.held is not None and {k: tuple(v) for k, v in stored.held.items()} == held:
        return fields, None  # already recorded as it is
    return fields, CreatedValues(key, created, held)


def held_fields(held: Mapping[str, tuple[Any, Any]]) -> tuple[FieldChange, ...]:
    return tuple(FieldChange(name, old, new) for name, (old, new) in sorted(held.items()))


def created_values(key: str, values: Mapping[str, Any]) -> CreatedValues:
    """What a record was created (or adopted) with."""
    return CreatedValues(key, _plain(values))
