"""The Maconomy simulator's one config: `MaconomySettings` (tenant behaviour and sandbox knobs).

Two kinds of setting live here:

- how this simulated server behaves where no source settles it: token lifetime and
  rotation, page sizes, an optional rate limit (Maconomy publishes none) [assumed];
- what this tenant offers beyond the contract real clients confirm
  (tests/contracts/maconomy/facts.json). Each such setting is named like the adapter's
  connection option that relies on it (`options.unconfirmed`), so a test can play a
  tenant that has the feature and one that lacks it. The routes outside the contract
  (`filter_endpoint`, `specification_path`) are off by default: the simulator serves
  only confirmed routes unless a test asks for more. The restriction language defaults
  to accepting the opt-in constructs the seed spec's server-side delta needs, with
  `transactiontimestamp` filterable; a test narrows it to play a stricter tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from engine.sandbox.maconomy.restriction import Dialect

__all__ = ["MaconomySettings"]


@dataclass(frozen=True)
class MaconomySettings:
    # -- the simulated server [assumed]
    jobs: int | None = None  # how many jobs; None: as many as SandboxConfig.records
    token_ttl: float = 1800.0  # seconds a reconnect token lives without use
    rotate_every: int = 100  # every n-th call answers a fresh Maconomy-Reconnect (0: never)
    rotation_grace: float = 60.0  # seconds a rotated-away token keeps working
    default_limit: int = 25  # rows when a filter read names no limit (F-DEFAULT-LIMIT)
    max_limit: int = 10_000  # a larger limit is a 400, never a silent clamp
    rate_limit: int | None = None  # requests per rate_window, answered 429 over it
    rate_window: float = 60.0
    page_cache_mb: float = 96.0  # serialised filter answers kept until the next write
    ignore_orderby: bool = False  # a faulty server answering in its own order (S9)
    # -- what this tenant offers beyond the confirmed contract (adapter option names)
    restriction_extended: bool = True  # and/not/<, <=, >, >=/like/numbers (F-R-EXTENDED)
    quote_doubling: bool = True  # '' inside a value (F-R-DOUBLING)
    date_literal: bool = True  # date(y, m, d) (F-R-DATE)
    timestamp_literal: bool = True  # timestamp(y, m, d, h, mi, s, ms) (F-R-TIMESTAMP)
    month_base: int = 1  # month numbering in date()/timestamp(): 1 or 0 (F-R-DATE)
    # Fields the specification marks `unfilterable` and restrictions refuse
    # (F-R-TRANSACTIONTIMESTAMP: one real definition marks transactiontimestamp so).
    unfilterable: frozenset[str] = field(default_factory=frozenset)
    filter_endpoint: bool = False  # POST {api}/containers/{s}/{c}/filter (F-FILTER-V2)
    specification_path: bool = False  # GET {api}/containers/{s}/{c} (F-SPEC-PATH)
    # Versions of the containers format the current API answers (F-ACCEPT-V2; others
    # are a 406, F-ACCEPT-VERSION-OTHER).
    containers_versions: tuple[str, ...] = ("5.0", "6.1")

    def dialect(self) -> Dialect:
        return Dialect(extended=self.restriction_extended, quote_doubling=self.quote_doubling,
                       date_literal=self.date_literal, timestamp_literal=self.timestamp_literal,
                       month_base=self.month_base, unfilterable=frozenset(self.unfilterable))

    def strict(self) -> MaconomySettings:
        """This tenant with nothing beyond the confirmed contract."""
        return replace(self, restriction_extended=False, quote_doubling=False,
                       date_literal=False, timestamp_literal=False, filter_endpoint=False,
                       specification_path=False)
