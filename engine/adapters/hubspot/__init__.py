"""HubSpot: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file), webhooks (v3-signed events), custom workflow actions
(automation v4) and filter pushdown into CRM search filter groups.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.hubspot.actions import HubSpotActions
from engine.adapters.hubspot.adapter import DEFAULT_ASSOCIATION_TYPES, HubSpotAdapter
from engine.adapters.hubspot.pushdown import HubSpotPushdown
from engine.adapters.hubspot.webhooks import HubSpotWebhooks

__all__ = ["DEFAULT_ASSOCIATION_TYPES", "VENDOR", "HubSpotAdapter"]

VENDOR = Vendor(name="hubspot", title="HubSpot", adapter=HubSpotAdapter,
                catalog_file=files(__name__) / "catalog.json", webhooks=HubSpotWebhooks(),
                actions=HubSpotActions(), pushdown=HubSpotPushdown())
