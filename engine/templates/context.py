"""What a transform sees besides the record: setup values, other syncs' links, the clock.

`OMIT` is the value a template returns to say "do not write this field" (the seeds'
"can be disabled during setup"): `{{ monthly_salary / 100 if setup.sync_salary else omit }}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Final, Protocol

__all__ = ["OMIT", "LinkResolver", "NoLinks", "Omit", "RenderContext"]


class Omit:
    """The type of `OMIT`; a singleton so `value is OMIT` is the test."""

    _instance: Omit | None = None

    def __new__(cls) -> Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "omit"

    def __reduce__(self) -> str:
        return "OMIT"


OMIT: Final = Omit()


class LinkResolver(Protocol):
    """Target ids written by other syncs, read from the state store."""

    def linked(self, sync: str, key: Any) -> str | None:
        """The target id that sync `sync` wrote for source key `key`, or None if none yet."""
        ...

    def source_of(self, sync: str, target_id: Any) -> str | None:
        """The source key whose link in sync `sync` points at `target_id`, or None."""
        ...

    def settled(self, sync: str) -> bool:
        """Whether sync `sync` has completed a run: a link it has not made by then is
        not one it is about to make (`missing='skip'` skips instead of failing)."""
        ...


class NoLinks:
    """A resolver that knows no links: for spec tests and syncs that use no `linked`."""

    def linked(self, sync: str, key: Any) -> str | None:
        return None

    def source_of(self, sync: str, target_id: Any) -> str | None:
        return None

    def settled(self, sync: str) -> bool:
        return False


@dataclass(frozen=True)
class RenderContext:
    """Everything a render may depend on besides the record; `now` must be timezone-aware.

    `lookup_tables` and `tag_sets` are this context's own memory of what `lookup` and
    `select_tags` derive from setup tables (engine.templates.functions.lookup). A
    context is made per run or per action and used by one thread, so nothing there is
    shared between runs or between the threads of `serve`.
    """

    setup: Mapping[str, Any] = field(default_factory=dict)
    links: LinkResolver = field(default_factory=NoLinks)
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())
    lookup_tables: dict[int, tuple[Any, dict[Any, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    tag_sets: dict[int, tuple[Any, frozenset[str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise TypeError("RenderContext.now must be timezone-aware")

    @cached_property
    def today(self) -> date:
        # cached: identity and date filters ask for it on every record
        return self.now.date()
