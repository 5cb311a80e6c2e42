"""Translate a value through a table configured during setup, and pick synced tags.

`{{ payment_days | lookup(setup.payment_terms_tags) }}` turns 30 into "BV=30". Keys are
compared as text, because YAML setup tables have string or integer keys at the author's
whim and source systems send numbers as either: 30 and "30" both match. (30.0 does not:
its text is "30.0".)

Both are `@contextual`: what they derive from a setup table (keys by text, a set of tag
names) is kept in the render context (`RenderContext.lookup_tables`, `.tag_sets`), not
in a module global, so nothing is shared between runs or between the threads of `serve`.
Entries are keyed by the table object's id and hold the table itself, so an id cannot be
reused by another object while its entry exists; setup tables do not change while a
context uses them (templates cannot change anything).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import RecordError
from engine.templates.functions.base import contextual, safe_value_repr

if TYPE_CHECKING:
    from engine.templates.context import RenderContext

__all__ = ["lookup", "select_tags"]


class _Raise:
    def __repr__(self) -> str:
        return "<raise>"


_RAISE: Any = _Raise()
D = TypeVar("D")
# entries a context keeps per function; a table built per record (`select_tags(['a',
# 'b'])`) would otherwise fill it for the length of a run
LIMIT = 256


def _remember(cache: dict[int, tuple[Any, D]], table: Any, derived: D) -> D:
    if len(cache) > LIMIT:
        cache.clear()
    cache[id(table)] = (table, derived)
    return derived


def _by_text(table: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in table.items()}


def _keys(table: Mapping[Any, Any]) -> dict[Any, Any]:
    """The table by text, plus each text that is an integer's own text by that integer.

    An `int` value then needs no `str()`: `str(30)` is "30" exactly when "30" is the text
    of the integer 30 (not "030", "+30" or "3_0"). Only `int` and `str` values look up
    directly; floats, bools and the rest go by their text.
    """
    keys: dict[Any, Any] = _by_text(table)
    for text, value in list(keys.items()):
        try:
            number = int(text)
        except ValueError:
            continue
        if str(number) == text:
            keys[number] = value
    return keys


@contextual
def lookup(ctx: RenderContext, value: Any, table: Mapping[Any, Any],
           default: Any = _RAISE) -> Any:
    """`table[value]`, keys compared as text; without `default` a miss is a record error."""
    hit = ctx.lookup_tables.get(id(table))
    if hit is not None and hit[0] is table:  # only mappings are remembered
        keys = hit[1]
    elif type(table) is not dict and not isinstance(table, Mapping):
        raise RecordError(
            "lookup.table", f"lookup needs a mapping as its table, not {type(table).__name__}"
        )
    else:
        keys = _remember(ctx.lookup_tables, table, _keys(table))
    kind = type(value)
    found = keys.get(value if kind is str or kind is int else str(value), _RAISE)
    if found is not _RAISE:
        return found
    if default is not _RAISE:
        return default
    known = ", ".join(sorted(_by_text(table))[:20])
    shown = safe_value_repr(value)
    raise RecordError("lookup.missing", f"no entry for {shown} in the lookup table (keys: {known})")


def _tag_name(item: Any) -> str | None:
    if type(item) is str:
        return item
    if isinstance(item, Mapping):
        name = item.get("name")
        return None if name is None else str(name)
    return None if item is None else str(item)


def _wanted(ctx: RenderContext, allowed: Iterable[Any]) -> Container[str]:
    if type(allowed) in (set, frozenset):
        return allowed  # type: ignore[return-value]
    if not isinstance(allowed, (list, tuple)):  # maybe a one-shot iterator: never remembered
        return {str(a) for a in allowed}
    return _remember(ctx.tag_sets, allowed, frozenset(str(a) for a in allowed))


@contextual
def select_tags(ctx: RenderContext, categories: Any, allowed: Iterable[Any]) -> list[str]:
    """Names among `categories` that are in `allowed`, in source order, each once.

    Categories may be strings or mappings with a `name` (Kleer sends both shapes).
    """
    if categories is None:
        return []
    if type(categories) is not list and isinstance(categories, (str, Mapping)):
        categories = [categories]
    hit = ctx.tag_sets.get(id(allowed))
    wanted = hit[1] if hit is not None and hit[0] is allowed else _wanted(ctx, allowed)
    out: list[str] = []
    seen: set[str] = set()
    for item in categories:
        name = item if type(item) is str else _tag_name(item)
        if name is not None and name in wanted and name not in seen:
            seen.add(name)
            out.append(name)
    return out
