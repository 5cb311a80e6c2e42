"""How a template function declares that it needs the render context.

Most functions are pure in their arguments. A few need the `RenderContext` (links from
the state store, today's date): they take it as first parameter and are marked
`@contextual`. The Jinja environment hands them the context through Jinja's own
`pass_context`; the compiled fast path passes it directly. The template author never
sees the difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["contextual", "is_contextual", "safe_value_repr"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "specsync_contextual"


def contextual(fn: F) -> F:
    setattr(fn, _MARK, True)
    return fn


def is_contextual(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, _MARK, False))


def safe_value_repr(value: Any) -> str:
    """A value for an error message, unless it could be personal data.

    Numbers and short words are shown (a payment term of 45, a gender code); long strings
    and anything with six or more digits in a row (identity, phone and account numbers)
    are described by type only, because record errors end up in logs and run history.
    """
    import re

    if isinstance(value, bool) or value is None:
        return repr(value)
    text = str(value)
    if len(text) > 32 or re.search(r"\d{6}", text.replace("-", "").replace(" ", "")):
        return f"a {type(value).__name__} value"
    return repr(value)
