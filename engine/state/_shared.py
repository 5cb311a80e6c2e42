"""Small pieces both state stores share: time conversion, input checks, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import cast

from engine.errors import StateError
from engine.state.base import (
    ACTION_STATUSES,
    LINK_ORIGINS,
    RUN_OUTCOMES,
    Link,
)

__all__ = [
    "INTERRUPTED_MESSAGE",
    "aware",
    "check_action_status",
    "check_link",
    "check_outcome",
    "chunks",
    "dump_json",
    "from_epoch",
    "load_json",
    "to_epoch",
]

INTERRUPTED_MESSAGE = "the process running this sync ended before the run finished"


def aware(moment: datetime) -> datetime:
    """As an aware UTC datetime; a naive one is local time (what datetime.now() gives)."""
    return moment.astimezone(UTC)


def to_epoch(moment: datetime) -> float:
    return moment.timestamp()


@lru_cache(maxsize=4096)
def from_epoch(seconds: float) -> datetime:
    # Cached: the links of one batch share a timestamp, and streaming 200k links
    # should not build 200k equal datetimes.
    return datetime.fromtimestamp(seconds, UTC)


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dump_json(value: Mapping[str, object] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), sort_keys=True)


def load_json(text: str | None) -> dict[str, object] | None:
    return None if text is None else cast("dict[str, object]", json.loads(text))


def load_counts(text: str | None) -> dict[str, int]:
    """A run's per-kind record counts, stored as a JSON object of integers."""
    loaded = load_json(text) or {}
    return {str(kind): int(cast("int", count)) for kind, count in loaded.items()}


def check_link(link: Link) -> Link:
    """Called while rows stream into the transaction: a bad link rolls the batch back."""
    if link.origin not in LINK_ORIGINS:
        raise StateError(
            f"link {link.source_key!r} has origin {link.origin!r}; "
            f"expected one of {sorted(LINK_ORIGINS)}"
        )
    return link


def check_outcome(outcome: str) -> None:
    if outcome not in RUN_OUTCOMES:
        raise StateError(f"run outcome {outcome!r} is not one of {sorted(RUN_OUTCOMES)}")


def check_action_status(status: str) -> None:
    """A completed action succeeded or failed; "pending" is only ever set by a claim."""
    final = sorted(ACTION_STATUSES - {"pending"})
    if status not in final:
        raise StateError(f"action status {status!r} is not one of {final}")
