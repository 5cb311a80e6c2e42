"""A Maconomy connection's options, checked once when the adapter is built.

    options:
      shortname: acme                 # the Maconomy system name (required)
      unconfirmed: [timestamp_literal, restriction_extended,
                    transactiontimestamp_restriction]
      timezone: Europe/Stockholm      # the server's local time (default UTC)
      page_size: 1000                 # rows per filter read (1..10000)
      containers: {customers: customercard, jobs: jobs}
      api_path: /maconomy-api         # the current API's root under base_url
      v1_path: /containers/v1         # the v1 API's root under base_url
      containers_version: "5.0"       # the containers format asked for (5.0, 6.1)
      month_base: 1                   # month numbering in date()/timestamp() literals

`unconfirmed` names behaviour no named public client shows (tests/contracts/maconomy/
facts.json): the adapter uses each only when the connection lists it, and
`specsync check` probes each listed one on the live tenant. The names and the facts
they rest on are `UNCONFIRMED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import FatalError

__all__ = ["CONFIRMED_VERSIONS", "UNCONFIRMED", "MaconomyOptions"]

# name -> (fact in tests/contracts/maconomy/facts.json, what it lets the adapter do)
UNCONFIRMED: dict[str, tuple[str, str]] = {
    "filter_endpoint": ("F-FILTER-V2", "list containers with POST {api}/containers/"
                        "{shortname}/{container}/filter instead of the v1 data:filter link"),
    "filter_orderby": ("F-FILTER-ORDERBY-BODY", "send orderby in that filter body"),
    "specification_path": ("F-SPEC-PATH", "read specifications at GET {api}/containers/"
                           "{shortname}/{container} instead of the v1 specification link"),
    "accept_version": ("F-ACCEPT-VERSION-OTHER", "ask for a containers version other than "
                       "5.0 or 6.1"),
    "logout_via_auth": ("F-AUTH-LOGOUT-VIA-AUTH", "log out with GET {api}/auth/{shortname} "
                        "and X-Log-Out"),
    "quote_doubling": ("F-R-DOUBLING", "write a quote inside a restriction value twice"),
    "restriction_extended": ("F-R-EXTENDED", "use 'and', '>=', '>' in restrictions"),
    "timestamp_literal": ("F-R-TIMESTAMP", "write instants as timestamp(y, m, d, h, mi, s, ms)"),
    "transactiontimestamp_restriction": (
        "F-R-TRANSACTIONTIMESTAMP", "restrict changed-since reads on transactiontimestamp "
        "on the server (with timestamp_literal and restriction_extended)"),
}
CONFIRMED_VERSIONS = ("5.0", "6.1")  # containers+json versions real clients ask for
DEFAULT_PAGE_SIZE = 5000
MAX_PAGE_SIZE = 10_000
CONTAINERS = {"customers": "customercard", "jobs": "jobs"}


@dataclass(frozen=True)
class MaconomyOptions:
    shortname: str
    unconfirmed: frozenset[str]
    zone: tzinfo
    page_size: int
    containers: Mapping[str, str]
    api_path: str
    v1_path: str
    containers_version: str
    month_base: int

    def has(self, name: str) -> bool:
        assert name in UNCONFIRMED, name
        return name in self.unconfirmed

    @property
    def server_delta(self) -> bool:
        """Changed-since reads restrict on the server (all three options listed)."""
        return {"transactiontimestamp_restriction", "timestamp_literal",
                "restriction_extended"} <= self.unconfirmed

    @classmethod
    def parse(cls, name: str, options: Mapping[str, Any], base_url: str) -> MaconomyOptions:
        def fail(message: str) -> FatalError:
            return FatalError(f"maconomy connection {name!r}: {message}")

        shortname = options.get("shortname")
        if not shortname:
            raise fail("options.shortname (the Maconomy system name) is missing")
        raw = options.get("unconfirmed") or ()
        listed = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else \
            [str(p).strip() for p in raw]
        unconfirmed = frozenset(p for p in listed if p)
        unknown = sorted(unconfirmed - set(UNCONFIRMED))
        if unknown:
            raise fail(f"options.unconfirmed names {', '.join(unknown)}, which this adapter "
                       f"does not know; known: {', '.join(sorted(UNCONFIRMED))}")
        if "transactiontimestamp_restriction" in unconfirmed and not {
                "timestamp_literal", "restriction_extended"} <= unconfirmed:
            raise fail("options.unconfirmed lists transactiontimestamp_restriction, which "
                       "needs timestamp_literal and restriction_extended listed too (the "
                       "restriction is `transactiontimestamp >= timestamp(...)`)")
        if "filter_orderby" in unconfirmed and "filter_endpoint" not in unconfirmed:
            raise fail("options.unconfirmed lists filter_orderby without filter_endpoint")
        try:
            zone: tzinfo = ZoneInfo(options["timezone"]) if options.get("timezone") else UTC
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(f"options.timezone {options['timezone']!r} is not a time zone name "
                       "(e.g. Europe/Stockholm)") from None
        try:
            page_size = int(options.get("page_size", DEFAULT_PAGE_SIZE))
        except (TypeError, ValueError):
            raise fail("options.page_size is not a whole number") from None
        version = str(options.get("containers_version", "5.0"))
        if version not in CONFIRMED_VERSIONS and "accept_version" not in unconfirmed:
            raise fail(f"options.containers_version {version} is not one real clients ask "
                       f"for ({', '.join(CONFIRMED_VERSIONS)}); add accept_version to "
                       "options.unconfirmed to use it anyway")
        month_base = options.get("month_base", 1)
        if month_base not in (0, 1, "0", "1"):
            raise fail("options.month_base is 1 (January is 1) or 0 (January is 0)")
        containers = dict(CONTAINERS)
        containers.update(options.get("containers") or {})
        base = base_url.rstrip("/")
        api = "" if base.endswith("/maconomy-api") else str(
            options.get("api_path", "/maconomy-api")).rstrip("/")
        return cls(shortname=str(shortname), unconfirmed=unconfirmed, zone=zone,
                   page_size=max(1, min(page_size, MAX_PAGE_SIZE)), containers=containers,
                   api_path=api, v1_path=str(options.get("v1_path", "/containers/v1")).rstrip("/"),
                   containers_version=version, month_base=int(month_base))
