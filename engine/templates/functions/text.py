"""Text filters that could otherwise build unbounded strings."""

from __future__ import annotations

from typing import Any

from engine.templates.limits import MAX_RESULT_SIZE, ResourceLimitError

__all__ = ["replace"]


def replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """`str.replace`, refusing results longer than the result cap before building them."""
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if count is None else min(int(count), text.count(old))
    if hits > 0 and len(text) + hits * (len(new) - len(old)) > MAX_RESULT_SIZE:
        raise ResourceLimitError(f"replace would build more than {MAX_RESULT_SIZE} characters")
    return text.replace(old, new, -1 if count is None else int(count))
