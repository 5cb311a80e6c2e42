"""The simulated tenant's data: one `Collection` per object plus tags, webhooks and the
look-ups (currencies, countries, languages, the company's addresses).

Records are kept flat, in the shape of `seed` (what Cinode stores); `views` renders the
response models from them. Every write stamps `updatedDateTime` with a time later than
every earlier one, so the search's UpdatedDateTime order is total even when a test's
clock stands still.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.sandbox.cinode.errors import invalid
from engine.sandbox.cinode.seed import (
    COUNTRIES,
    CURRENCIES,
    LANGUAGES,
    OFFICES,
    TAGS,
    CinodeCounts,
    cinode_datetime,
    customer_id,
    customer_index,
    customer_index_fields,
    customer_record,
    project_id,
    project_index,
    project_indices_for_customer,
    project_record,
    subcontractor_index,
    subcontractor_record,
    user_id,
    user_index,
    user_record,
)
from engine.sandbox.platform import Clock, Collection

__all__ = ["CinodeStore", "Record"]

Record = dict[str, Any]


class CinodeStore:
    """Users, subcontractors, customers and projects of one company, generated lazily."""

    def __init__(self, seed: int, company_id: int, counts: CinodeCounts, clock: Clock) -> None:
        self.company_id = company_id
        self.counts = counts
        self.clock = clock
        self.owner_id = user_id(0)
        self._ticks = itertools.count(1)
        self._last_moment: datetime | None = None
        self.users = self._collection("users", counts.users,
                                      lambda i: user_record(seed, i, company_id), user_index)
        self.subcontractors = self._collection(
            "subcontractors", counts.subcontractors,
            lambda i: subcontractor_record(seed, i, company_id), subcontractor_index)
        self.customers = self._collection(
            "customers", counts.customers,
            lambda i: customer_record(seed, i, company_id, counts), customer_index)
        self.projects = self._collection(
            "projects", counts.projects,
            lambda i: project_record(seed, i, company_id, counts), project_index)
        #: The fields the search indexes read of a generated customer, built alone.
        self.customer_index_fields: Callable[[int], Record] = \
            lambda i: customer_index_fields(seed, i)
        self.tags: dict[int, Record] = {t["id"]: dict(t) for t in TAGS}
        self.webhooks: dict[str, Record] = {}
        self._user_emails = {u["companyUserEmail"].casefold(): u["id"] for u in self.users}
        # Projects moved to (or created for) a customer outside the generated pattern.
        self._projects_of_customer: dict[int, set[int]] = {}
        self._ids = {
            "user": itertools.count(user_id(counts.users)),
            "customer": itertools.count(customer_id(counts.customers)),
            "project": itertools.count(project_id(counts.projects)),
            "child": itertools.count(1_000_000_001),
        }
        self._tag_ids = itertools.count(max(self.tags) + 1)

    def _collection(self, name: str, size: int, factory: Callable[[int], Record],
                    index_of: Callable[[Any], int | None]) -> Collection:
        return Collection(name, key="id", size=size, factory=factory, clock=self.clock,
                          index_of=index_of, stamp=self._stamp)

    def _stamp(self, record: Record, now: datetime, previous: Record | None) -> None:
        stamp = self.now_text(now)
        record["updatedDateTime"] = stamp
        if previous is None and not record.get("createdDateTime"):
            record["createdDateTime"] = stamp

    def now_text(self, now: datetime | None = None) -> str:
        """A timestamp later than every earlier one (the seventh digit is cosmetic)."""
        moment = (now or self.clock.now()).astimezone(UTC)
        if self._last_moment is not None and moment <= self._last_moment:
            moment = self._last_moment + timedelta(microseconds=1)
        self._last_moment = moment
        return cinode_datetime(moment, next(self._ticks))

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    # ------------------------------------------------------------------ look-ups

    @staticmethod
    def currency(currency_id: Any) -> Record | None:
        found = next((c for c in CURRENCIES if c["id"] == currency_id), None)
        return dict(found) if found else None

    @staticmethod
    def country(country_id: Any) -> Record | None:
        found = next((c for c in COUNTRIES if c["countryId"] == country_id), None)
        return dict(found) if found else None

    @staticmethod
    def office(address_id: Any) -> Record | None:
        found = next((a for a in OFFICES if a["id"] == address_id), None)
        return dict(found) if found else None

    currency_ids = tuple(c["id"] for c in CURRENCIES)
    country_ids = tuple(c["countryId"] for c in COUNTRIES)
    language_ids = tuple(lang["languageId"] for lang in LANGUAGES)
    office_ids = tuple(a["id"] for a in OFFICES)

    # ------------------------------------------------------------------ users

    def email_owner(self, email: str) -> int | None:
        owner = self._user_emails.get(email.casefold())
        return owner if owner is not None and self.users.get(owner) is not None else None

    def store_user(self, record: Record, previous: Record | None) -> Record:
        if previous is not None and previous.get("companyUserEmail"):
            self._user_emails.pop(previous["companyUserEmail"].casefold(), None)
        stored = self.users.put(record)
        if stored.get("companyUserEmail"):
            self._user_emails[stored["companyUserEmail"].casefold()] = stored["id"]
        return stored

    def delete_user(self, record: Record) -> None:
        self.users.delete(record["id"])
        self._user_emails.pop(str(record.get("companyUserEmail", "")).casefold(), None)

    # ------------------------------------------------------------------ projects

    def store_project(self, record: Record, previous: Record | None) -> Record:
        """Store a project, appending to `stateHistory` when its state changed."""
        before = previous.get("currentState") if previous else None
        history = list(record.get("stateHistory") or [])
        if previous is None or before != record.get("currentState"):
            history.append({"state": record.get("currentState", 0),
                            "updated": self.now_text(), "reason": None})
        stored = self.projects.put({**record, "stateHistory": history})
        self._projects_of_customer.setdefault(stored["customerId"], set()).add(stored["id"])
        return stored

    def customer_projects(self, customer: int) -> list[Record]:
        ids: set[int] = set(self._projects_of_customer.get(customer, ()))
        index = customer_index(customer)
        if index is not None and 0 <= index < self.counts.customers:
            ids.update(project_id(i) for i in project_indices_for_customer(index, self.counts))
        found = (self.projects.get(pid) for pid in sorted(ids))
        return [p for p in found if p is not None and p.get("customerId") == customer]

    # ------------------------------------------------------------------ tags

    def resolve_tags(self, data: Any) -> list[Record]:
        """`CompanyTagModel[]` -> tags, creating the ones named without an id."""
        if not isinstance(data, list):
            raise invalid("", "A list of tags is required.")
        by_name = {t["name"].casefold(): t for t in self.tags.values()}
        result: list[Record] = []
        for item in data:
            if not isinstance(item, dict):
                raise invalid("", "Each tag must be an object with a name.")
            tag_id, name = item.get("id"), item.get("name")
            if isinstance(tag_id, bool) or (tag_id is not None and not isinstance(tag_id, int)):
                raise invalid("id", "The JSON value could not be converted to System.Int32.")
            if tag_id is not None and tag_id in self.tags:
                tag = self.tags[tag_id]
            elif tag_id is not None:
                raise invalid("id", f"Tag {tag_id} was not found.")
            elif isinstance(name, str) and name.strip():
                known = by_name.get(name.strip().casefold())
                if known is not None:
                    tag = known
                else:
                    tag = {"id": next(self._tag_ids), "name": name.strip()}
                    self.tags[tag["id"]] = tag
                    by_name[tag["name"].casefold()] = tag
            else:
                raise invalid("name", "The Name field is required.")
            if all(t["id"] != tag["id"] for t in result):
                result.append({"id": tag["id"], "name": tag["name"]})
        return result
