"""Kleer (formerly PE Accounting): the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter (`adapter`, its
write bodies in `bodies`, its reading of Kleer's JSON in `shapes`, `check`'s route probes
in `probe`, the metadata `check` resolves in `references`) and its catalog (catalog.json
beside this file). Kleer pushes no webhooks and has no workflow actions.
`notes` say what Kleer's real API cannot do, for `specsync docs` and validate.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.kleer.adapter import KleerAdapter
from engine.adapters.kleer.references import KleerReferences
from engine.adapters.text import XML_1_0_FORBIDDEN, TextRules

__all__ = ["VENDOR", "KleerAdapter"]

NOTES = (
    "No public operation closes or reopens a client project: the schema says closing is "
    "\"another operation\", and no real client shows it. A status change synced to "
    "Kleer fails the record (vendor.unsupported) until someone changes the project's "
    "status in Kleer.",
    "A client project's client, name and fixed-price setting can be set only when the "
    "project is created; later changes are not written.",
    "Client projects have no foreign-id: a key kept in Kleer (a Cinode project id, a "
    "HubSpot deal) goes in the required project number, which people in Kleer must not "
    "change.",
    "Invoices cannot be changed through the API once created; they are certified in "
    "Kleer.",
    "A user's phone exists only on the payroll contract: users without one "
    "(subcontractors, mostly) have no phone.",
    "No change timestamps and no webhooks: every read is a full read.",
    "Routes no real client shows, which `specsync check` probes by reading where it can: "
    "GET /client/{id}, GET /client/agreement, GET /client/agreement/{id}, "
    "GET /client/invoice/{id}, the invoice list's offset/limit paging, "
    "GET /payroll/schedule, GET /subcontractor; and the writes PUT /client-project, "
    "POST /client-project/{id}, PUT /client/agreement, POST /client/agreement/{id}, "
    "which it cannot probe.",
)

# Kleer's records are XML 1.0 documents (kleer-v1.xsd; the JSON API is a view of them):
# a character XML 1.0 cannot carry (NUL, most C0 controls) cannot be stored, and
# dropping it would change a name or a number without anyone knowing. Refused.
TEXT = TextRules(refuse=XML_1_0_FORBIDDEN,
                 why="Kleer keeps its records as XML 1.0, which cannot carry that character")

VENDOR = Vendor(name="kleer", title="Kleer", adapter=KleerAdapter,
                catalog_file=files(__name__) / "catalog.json", notes=NOTES, text=TEXT,
                references=KleerReferences())
