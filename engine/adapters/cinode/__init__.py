"""Cinode: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file), its company webhooks and `notes`, the plain sentences
`specsync docs` shows about what Cinode's real API cannot do.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.cinode.adapter import CinodeAdapter
from engine.adapters.cinode.references import CinodeReferences
from engine.adapters.cinode.registrations import CinodeRegistrar
from engine.adapters.cinode.webhooks import CinodeWebhooks
from engine.adapters.text import C0_CONTROLS, TextRules

__all__ = ["NOTES", "VENDOR", "CinodeAdapter"]

#: What Cinode's API cannot do, each from its OpenAPI document (tests/contracts/cinode).
NOTES = (
    "Subcontractors cannot be updated: Cinode's API has only GET and DELETE for "
    "/subcontractors/{id}, so every subcontractor field is set when the subcontractor is "
    "created, and later changes in the source are not written.",
    "A user's language (languageId) can be set only when the user is created: only "
    "Cinode's add model takes it.",
    "Cinode has no country list: a customer's countryCode becomes a Cinode country id from "
    "the connection's options.country_ids (e.g. \"SE=1, NO=2\") or from a customer of that "
    "country the integration has read; an unknown country fails the record.",
    "Customers have no timestamps in Cinode's API, so they cannot be read changed-since; "
    "the integration notices its own changes to customers by the content it last wrote.",
    "Project search results carry no state, stage or timestamp: every project a read or "
    "safety-net poll looks at costs one GET (Cinode allows 10,000 requests a day).",
    "Projects have no partial update: a project update re-sends the whole project, and "
    "that Cinode keeps a location given by its id alone is unconfirmed.",
    "Money on projects (estimatedValue, contractValue) is a whole number: a value with "
    "a fraction fails the record rather than being rounded silently.",
    "User roles are Cinode access levels (CompanyUser, TeamManager, ...), set with "
    "PUT users/{id}/permissions, which needs an API account with CompanyAdmin.",
    "A customer's status cannot be set in the same call that creates it (read-only in "
    "Cinode's add model): an inactive customer is created, then patched.",
)

# Cinode's values are JSON strings shown in its UI and CV exports: a NUL or another C0
# control character (a value pasted from a PDF, a CSV import) means nothing there and is
# cut or garbled by what reads it later, so it is removed (tab, line feed and carriage
# return are kept).
TEXT = TextRules(remove=C0_CONTROLS)

VENDOR = Vendor(name="cinode", title="Cinode", adapter=CinodeAdapter,
                catalog_file=files(__name__) / "catalog.json", webhooks=CinodeWebhooks(),
                registrar=CinodeRegistrar(), references=CinodeReferences(), notes=NOTES,
                text=TEXT)
