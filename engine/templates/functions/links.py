"""`linked('customers')` and `linked_source('customers')`: ids across two syncs.

A project row names its customer by the source's customer number; Cinode wants its own
customer id. The customers sync recorded that pair in the state store. When the link is
not there yet (the customers sync has not run, or failed for that customer) the record
fails with "links.missing" and is retried on the next run, after the other sync ran.

`linked_source` reads the same links the other way round. A sync running in the
opposite direction (Cinode projects -> Kleer client projects) sees the *target* id of
the customers sync (the Cinode customer id) and needs its *source* key (the Kleer
client id): `{{ customerId | linked_source('customers') }}`.

Both take an optional `default`, returned instead of failing when there is no link: for
optional references (a customer responsible who is not synced) where an empty value is
better than a record that can never sync. A run reading everything writes the value
as soon as the link exists, because the payload hash then changes.

`missing='skip'` is for a reference that may never be linked, by design: a Cinode
project whose customer is Cinode's own (not made from a Kleer client) cannot become a
Kleer project. Once the other sync has completed a run, such a record is skipped
(counted as filtered, with the reason, and reported by the run) instead of failing
every run; before that it still fails "links.missing" and is retried, because the link
may simply not be made yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import RecordError, RecordSkipped
from engine.templates.functions.base import contextual, safe_value_repr

if TYPE_CHECKING:
    from engine.templates.context import RenderContext

__all__ = ["MISSING_CHOICES", "linked", "linked_source"]

#: What `missing=` may say: fail the record (retried next run) or skip it.
MISSING_CHOICES = ("fail", "skip")


class _Raise:
    def __repr__(self) -> str:
        return "<raise>"


_RAISE: Any = _Raise()


def _shown_id(value: Any) -> str:
    """A record key or id for the message: keys are shown wherever runs are (plans,
    history), so this one is too; identity numbers, phones and e-mails are still masked."""
    from engine.redact import Redactor

    text = str(value)
    if len(text) > 64:
        return safe_value_repr(value)
    return Redactor().text(repr(value))


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _unlinked(ctx: RenderContext, sync: str, missing: str, what: str,
              waiting: str) -> RecordError:
    """The error for a reference sync `sync` has no link for: a skip where the spec says
    so and that sync has completed a run (the link will not come by waiting), else a
    failure retried next run."""
    if missing not in MISSING_CHOICES:
        return RecordError("templates.invalid-argument",
                           f"missing={missing!r}: say 'fail' or 'skip'")
    if missing == "skip" and ctx.links.settled(sync):
        return RecordSkipped(
            "links.unlinked",
            f"{what} and has completed a run, so it is not about to (missing='skip'); the "
            f"record syncs once {sync!r} links it and the record changes or a full run "
            "reads it")
    return RecordError("links.missing", waiting)


@contextual
def linked(ctx: RenderContext, key: Any, sync: str, default: Any = _RAISE,
           missing: str = "fail") -> Any:
    """The target id that sync `sync` wrote for source key `key`."""
    if key is None or key == "":
        if default is not _RAISE:
            return default
        message = f"no key to look up in sync {sync!r}: the value is empty"
        raise RecordError("links.missing", message)
    sync = sync if type(sync) is str else str(sync)
    found = ctx.links.linked(sync, key)
    if found is None:
        if default is not _RAISE:
            return default
        what = f"sync {sync!r} has no target id for key {_shown_id(key)}"
        raise _unlinked(ctx, sync, missing, what, f"{what} yet; retried after that sync runs")
    return found


@contextual
def linked_source(ctx: RenderContext, target_id: Any, sync: str,
                  default: Any = _RAISE, missing: str = "fail") -> Any:
    """The source key whose link in sync `sync` points at target id `target_id`."""
    if _empty(target_id):
        if default is not _RAISE:
            return default
        message = f"no target id to look up in sync {sync!r}: the value is empty"
        raise RecordError("links.missing", message)
    sync = str(sync)
    found = ctx.links.source_of(sync, target_id)
    if found is None:
        if default is not _RAISE:
            return default
        what = f"sync {sync!r} has not written target id {_shown_id(target_id)}"
        raise _unlinked(ctx, sync, missing, what,
                        f"{what}: the record it refers to is not synced yet (retried after "
                        "that sync runs)")
    return found
