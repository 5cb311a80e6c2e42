"""Offset paging through a Maconomy filter, losing no record when the set shifts under it.

Maconomy pages by offset (rowOffset is the offset asked for, rowCount the rows returned:
F-V1-PAGING in tests/contracts/maconomy/facts.json). The server's largest page is
unknown, so a short page does not mean the end: the scan stops only on a page with
nothing new. Offsets shift when records before the read position are added, deleted
or (when the order is by timestamp) changed. So each page after the first starts one
row early, at the last row already read: when that row is where it was, the page goes
on from it. When it is not, the scan re-synchronises:

- the last row is further on (records were added before it): what follows it is new;
- it is not in the page (records before it went away or moved to the end): the rows
  just before the page are read again, and everything after the last row already read
  among them is new.

Both need only the restriction language's confirmed part (none at all): no key-set
condition such as `key > 'x'` is sent. Keys of the last page's worth of rows are kept to
recognise rows already read; more than a page of shift in one step can repeat rows (it
is logged), never lose them. The next page is asked for while the caller works through
this one; at most one request is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

__all__ = ["Fetch", "scan"]

log = logging.getLogger("engine.adapters.maconomy")

Row = dict[str, Any]
Fetch = Callable[[int, int], Awaitable[list[Row]]]  # (offset, limit) -> rows


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a dropped read-ahead's outcome as seen (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()


async def scan(fetch: Fetch, key: str, size: int, what: str) -> AsyncIterator[list[Row]]:
    """Pages of rows in the server's order, each row once (see the module docstring)."""
    recent: deque[Any] = deque(maxlen=size)
    position = 0  # rows of the server's order before the next row to read
    last: Any = None  # key of the row at position - 1
    ahead: asyncio.Task[list[Row]] | None = None
    try:
        while True:
            start = position - 1 if last is not None else position
            if ahead is not None:
                raw, ahead = await ahead, None
            else:
                raw = await fetch(start, size)
            matched = last is not None and bool(raw) and raw[0].get(key) == last
            if last is None:
                new = raw
            elif matched:
                new = raw[1:]
            else:
                new = await _resync(fetch, raw, start, key, last, recent, size, what)
            position = start + len(raw)
            done = not raw or (matched and len(raw) == 1)
            if raw:
                last = raw[-1].get(key)
            recent.extend(row.get(key) for row in new)
            if not done:
                ahead = asyncio.ensure_future(fetch(position - 1, size))
            if new:
                yield new
            if done:
                return
    finally:
        if ahead is not None:  # the caller stopped early: drop the page asked for
            ahead.cancel()
            ahead.add_done_callback(_retrieve)


async def _resync(fetch: Fetch, raw: list[Row], start: int, key: str, last: Any,
                  recent: deque[Any], size: int, what: str) -> list[Row]:
    keys = [row.get(key) for row in raw]
    if last in keys:  # records were added before the read position
        return raw[keys.index(last) + 1:]
    # Records before the read position went away: look just before it.
    window = max(0, start - size)
    before = await fetch(window, start - window) if start > window else []
    seen = set(recent)
    anchor = max((i for i, row in enumerate(before) if row.get(key) in seen), default=None)
    if anchor is None:
        log.warning("maconomy: more than a page of %s records moved during the read; "
                    "some may be read twice", what)
        return [row for row in before if row.get(key) not in seen] + raw
    log.debug("maconomy: %s records moved during the read; re-synchronised", what)
    return before[anchor + 1:] + raw
