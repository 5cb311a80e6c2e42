"""Looking up many keys at once where an API can only search one value at a time.

A first run looks up every unlinked source key in the target, so it adopts what exists
instead of creating it twice. Where the API has no batch read nor a search by many
values, one search per key costs a request per record. One paged listing of the target
costs `total / page size` requests whatever the number of keys, so an adapter lists
once it has spent as many per-value searches as the listing would cost (the ski-rental
rule: never more than twice the cheaper choice, without knowing the run's size), then
answers from the listing.

A listing is a snapshot: values this process created since are added by the adapter
(`created`), and values whose create had an unknown outcome, or that failed, are looked
up one by one again (`unsure`). A listing older than `max_age` seconds is taken again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Listing", "ListingLookups"]


@dataclass
class Listing:
    """Target ids by external value, as one paged read of the target saw them."""

    ids: dict[str, str]
    taken_at: float
    unsure: set[str] = field(default_factory=set)


class ListingLookups:
    """Per (object, field): searches spent, the listing when one was taken."""

    def __init__(self, *, max_age: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self._spent: dict[tuple[str, str], int] = {}
        self._listings: dict[tuple[str, str], Listing] = {}

    def fresh(self, obj: str, field_name: str) -> Listing | None:
        listing = self._listings.get((obj, field_name))
        if listing is not None and self.clock() - listing.taken_at <= self.max_age:
            return listing
        return None

    def worth_listing(self, obj: str, field_name: str, values: int, total: int,
                      page_size: int) -> bool:
        """Whether to list now: the searches spent plus these would pay for a listing."""
        pages = max(1, math.ceil(total / max(page_size, 1)))
        return self._spent.get((obj, field_name), 0) + values >= pages

    def spend(self, obj: str, field_name: str, searches: int) -> None:
        key = (obj, field_name)
        self._spent[key] = self._spent.get(key, 0) + searches

    def keep(self, obj: str, field_name: str, ids: dict[str, str]) -> Listing:
        listing = Listing(ids, self.clock())
        self._listings[(obj, field_name)] = listing
        self._spent[(obj, field_name)] = 0
        return listing

    def created(self, obj: str, field_name: str, value: str, target_id: str) -> None:
        """A record this process created: the listing knows it now."""
        listing = self._listings.get((obj, field_name))
        if listing is not None:
            listing.ids.setdefault(value, target_id)
            listing.unsure.discard(value)

    def unsure(self, obj: str, field_name: str, value: str) -> None:
        """A create whose outcome is unknown (or that failed): ask the API for it."""
        listing = self._listings.get((obj, field_name))
        if listing is not None:
            listing.unsure.add(value)
