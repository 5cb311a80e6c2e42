"""Deltek Maconomy: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file), filter pushdown into restrictions, and `notes`: what
Maconomy's API cannot do, as far as public clients show it (`specsync docs` shows them).
Modules: adapter (the protocol; its docstring cites every fact relied on), options
(connection options, the unconfirmed ones), wire (HTTP: auth, links, pages), scan
(offset paging), convert (values), restriction (literals), probes (`specsync check`).
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.maconomy.adapter import MaconomyAdapter
from engine.adapters.maconomy.pushdown import MaconomyPushdown
from engine.adapters.maconomy.restriction import restriction_literal
from engine.adapters.text import C0_CONTROLS, TextRules

__all__ = ["VENDOR", "MaconomyAdapter", "restriction_literal"]

NOTES = (
    "Maconomy is read only here: its container API writes through container instances, "
    "which this integration does not use.",
    "Maconomy publishes no API contract: the adapter sends only requests public clients "
    "confirm; anything else runs only when the connection lists it in "
    "options.unconfirmed, and `specsync check` tests each listed option on your tenant.",
    "Changed-since reads on the server need the connection options "
    "transactiontimestamp_restriction, timestamp_literal and restriction_extended, and a "
    "tenant that accepts them; otherwise every run reads all records and keeps those "
    "whose transactiontimestamp changed (the overlap window still applies).",
    "Maconomy sends no change notifications (no webhooks): syncs run on schedules.",
    "A record deleted in Maconomy is not seen by a changed-since read.",
)

# Maconomy's values are JSON strings kept in its database and printed on its reports: a
# NUL or another C0 control character (a value pasted from a PDF, a CSV import) means
# nothing there and is cut or garbled by what reads it later, so it is removed (tab,
# line feed and carriage return are kept).
TEXT = TextRules(remove=C0_CONTROLS)

VENDOR = Vendor(name="maconomy", title="Maconomy", adapter=MaconomyAdapter,
                catalog_file=files(__name__) / "catalog.json", pushdown=MaconomyPushdown(),
                notes=NOTES, text=TEXT)
