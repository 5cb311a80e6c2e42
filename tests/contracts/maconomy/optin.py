"""Which unconfirmed Maconomy facts a test has opted into.

Maconomy publishes no contract; `facts.json` lists what real clients confirm and names a
connection option for each fact that is only corroborated or shown nowhere (its
"options" table). A request that relies on such a fact is a contract violation unless
the test that sent it enabled the option, exactly as an operator would have to enable it
on a live connection.

How a test signals it (nothing travels on the wire: a header naming the option would be
a request no real client sends):

    from tests.contracts.maconomy.optin import allow_unconfirmed, allow_from_options

    allow_unconfirmed("filter_endpoint", "timestamp_literal")   # names from facts.json
    # or, with the adapter's own connection options (its key "unconfirmed"):
    options = {"shortname": "acme", "unconfirmed": ["filter_endpoint"]}
    allow_from_options(options)

The declaration lasts for the running test (it is tied to the test's ledger, see
tests/contracts/recording.py) and is read by checker.py when the ledger is checked.
Unknown names raise at once, so a typo cannot silently allow traffic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.contracts.recording import Ledger, current_ledger

__all__ = ["OPTIONS", "allow_from_options", "allow_unconfirmed", "enabled_options"]

OPTIONS: frozenset[str] = frozenset(
    json.loads((Path(__file__).with_name("facts.json")).read_text(encoding="utf-8"))["options"])

# (ledger, options) pairs; a ledger is a mutable dataclass, so it is matched by identity.
_DECLARED: list[tuple[Ledger, set[str]]] = []


def _validate(options: Iterable[str]) -> set[str]:
    names = {str(o) for o in options}
    unknown = sorted(names - OPTIONS)
    if unknown:
        raise ValueError(f"unknown Maconomy option(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(OPTIONS))}")
    return names


def allow_unconfirmed(*options: str, ledger: Ledger | None = None) -> None:
    """Allow requests relying on these unconfirmed facts for the rest of this test."""
    names = _validate(options)
    target = ledger or current_ledger()
    for known, enabled in _DECLARED:
        if known is target:
            enabled.update(names)
            return
    _DECLARED.append((target, names))


def allow_from_options(connection_options: Mapping[str, Any],
                       ledger: Ledger | None = None) -> None:
    """`allow_unconfirmed` for the names in a connection's `options["unconfirmed"]` (a list,
    or the comma-separated text a spec writes)."""
    listed = connection_options.get("unconfirmed") or ()
    if isinstance(listed, str):
        listed = [name.strip() for name in listed.split(",") if name.strip()]
    allow_unconfirmed(*listed, ledger=ledger)


def enabled_options(ledger: Ledger | None = None) -> frozenset[str]:
    """The options declared for `ledger` (default: the running test's)."""
    target = ledger or current_ledger()
    # Forget ledgers whose test is over (they are no longer the current one).
    live = [(known, enabled) for known, enabled in _DECLARED
            if known is target or known is current_ledger()]
    _DECLARED[:] = live
    for known, enabled in _DECLARED:
        if known is target:
            return frozenset(enabled)
    return frozenset()
