"""`linked('customers')`: the target id another sync wrote for this key.

A project row names its customer by the source's customer number; Cinode wants its own
customer id. The customers sync recorded that pair in the state store. When the link is
not there yet (the customers sync has not run, or failed for that customer) the record
fails with "links.missing" and is retried on the next run, after the other sync ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import RecordError
from engine.templates.functions.base import contextual, safe_value_repr

if TYPE_CHECKING:
    from engine.templates.context import RenderContext

__all__ = ["linked"]


@contextual
def linked(ctx: RenderContext, key: Any, sync: str) -> str:
    """The target id that sync `sync` wrote for source key `key`."""
    if key is None or key == "":
        message = f"no key to look up in sync {sync!r}: the value is empty"
        raise RecordError("links.missing", message)
    found = ctx.links.linked(str(sync), key)
    if found is None:
        raise RecordError(
            "links.missing",
            f"sync {sync!r} has no target id for key {safe_value_repr(key)} yet; "
            "retried after that sync runs",
        )
    return found
