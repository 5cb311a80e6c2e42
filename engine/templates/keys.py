"""Record keys built from several fields: "Customer ID Components" and "Separator".

The Maconomy seed: components [customernumber] or [region, customernumber], joined by
the separator: 1234 and 5678 with "-" give "1234-5678"; north and 2024 with "_" give
"north_2024". `match` says whether Cinode holds that key as its external id (the usual
case: Maconomy is the master) or whether the match goes by Cinode's internal id.

A component may not contain the separator: ("a-b", "c") and ("a", "b-c") would both give
"a-b-c", so two different records would claim one key and the second would overwrite the
first's target. That is refused per record ("key.ambiguous") rather than written. An
empty component is refused too ("key.missing-component"): "north_" would collide the
same way with every other record missing that field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from engine.errors import RecordError

__all__ = ["KeySpec", "build_key", "key_function"]


def build_key(components: Sequence[str], separator: str, record: Mapping[str, Any]) -> str:
    """The record's key: its component fields' values as text, joined by `separator`."""
    parts: list[str] = []
    for name in components:
        value = record.get(name)
        text = "" if value is None else str(value).strip()
        if not text:
            raise RecordError(
                "key.missing-component", f"key component {name!r} is empty or missing", field=name
            )
        if len(components) > 1 and separator and separator in text:
            raise RecordError(
                "key.ambiguous",
                f"key component {name!r} contains the separator {separator!r}, so the key "
                "would be ambiguous; choose a separator that never occurs in the values",
                field=name,
            )
        parts.append(text)
    return separator.join(parts)


def key_function(components: Sequence[str], separator: str
                 ) -> Callable[[Mapping[str, Any]], str]:
    """`build_key` for one sync's components, made once: a key of one component (the
    usual case) is its value as text, without building a list to join; a record without
    one fails in `build_key`, with its located error."""
    if len(components) != 1:
        return partial(build_key, tuple(components), separator)
    name = components[0]
    parts = (name,)

    def key_of(record: Mapping[str, Any]) -> str:
        value = record.get(name)
        if value is not None:
            text = (value if type(value) is str else str(value)).strip()
            if text:
                return text
        return build_key(parts, separator, record)  # raises: empty or missing

    return key_of


@dataclass(frozen=True)
class KeySpec:
    """How a sync identifies a record: `key: {components, separator, match}`."""

    components: tuple[str, ...]
    separator: str = "-"
    match: Literal["external", "internal"] = "external"

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("a key needs at least one component")
        if len(self.components) > 1 and not self.separator:
            raise ValueError("a key of several components needs a separator")
        if self.match not in ("external", "internal"):
            raise ValueError(f"key match must be 'external' or 'internal', not {self.match!r}")

    def build(self, record: Mapping[str, Any]) -> str:
        return build_key(self.components, self.separator, record)
