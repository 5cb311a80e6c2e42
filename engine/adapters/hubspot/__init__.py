"""HubSpot: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file), webhooks (v3-signed events), custom workflow actions
(automation v4), filter pushdown into CRM search filter groups, and `notes`: what
HubSpot's API cannot do that the seed integration meets (`specsync docs` shows them).
Modules: adapter (the protocol, reads and metadata; its docstring cites the SDK element
behind every fact), writes (batches and associations), webhooks (deliveries),
actions (executions, answers, callbacks), signatures (v1/v2/v3), pushdown (filters).
The contract is the official SDK, `hubspot-api-client` (tests/contracts/hubspot).
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.hubspot.actions import HubSpotActions
from engine.adapters.hubspot.adapter import DEFAULT_ASSOCIATION_TYPES, HubSpotAdapter
from engine.adapters.hubspot.pushdown import HubSpotPushdown
from engine.adapters.hubspot.references import HubSpotReferences
from engine.adapters.hubspot.registrations import HubSpotRegistrar
from engine.adapters.hubspot.webhooks import HubSpotWebhooks
from engine.adapters.text import C0_CONTROLS, TextRules

__all__ = ["DEFAULT_ASSOCIATION_TYPES", "NOTES", "VENDOR", "HubSpotAdapter"]

NOTES = (
    "HubSpot has no agreements object: agreements are a custom object, which needs a "
    "HubSpot Enterprise subscription and must be defined in the portal before the first "
    "sync (POST /crm-object-schemas/v3/schemas, or name it in "
    "options.agreements_object_type). specsync creates missing properties, never the "
    "object itself.",
    "Projects are HubSpot object type 0-970, which HubSpot's official SDK does not "
    "cover: specsync check says whether the portal answers for it "
    "(options.projects_object_type names another type id).",
    "HubSpot webhooks are subscribed per property: each triggering property needs its "
    "own propertyChange subscription in the HubSpot app (projects through generic "
    "object.propertyChange subscriptions for object type 0-970, which HubSpot does not "
    "confirm for projects). A delivery HubSpot gives up on is not sent again, so the "
    "inbound syncs keep a scheduled changed-since read as a safety net.",
    "A changed-since read is a CRM search, and HubSpot returns at most 10,000 results "
    "per search: specsync restarts the search at the last change time it saw, so only "
    "more than 10,000 records changed in the same millisecond cannot be read "
    "incrementally.",
    "HubSpot allows a private app 190 requests per 10 seconds on Professional and "
    "Enterprise portals and 100 on Free and Starter: set the connection's rate_limit "
    "on a smaller portal.",
    "Workflow actions are custom actions of a public HubSpot app, defined with the "
    "app's developer API key; their output fields reach the workflow as text, and a "
    "slow action is completed later through HubSpot's callback API.",
)

# HubSpot property values are JSON strings shown in its UI, exports and e-mail tokens: a
# NUL or another C0 control character (a value pasted from a PDF, a CSV import) means
# nothing there and is cut or garbled by what reads it later, so it is removed (tab,
# line feed and carriage return are kept).
TEXT = TextRules(remove=C0_CONTROLS)

VENDOR = Vendor(name="hubspot", title="HubSpot", adapter=HubSpotAdapter,
                catalog_file=files(__name__) / "catalog.json", webhooks=HubSpotWebhooks(),
                actions=HubSpotActions(), pushdown=HubSpotPushdown(),
                registrar=HubSpotRegistrar(), references=HubSpotReferences(), notes=NOTES,
                text=TEXT)
