"""Cinode: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file) and its company webhooks.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.cinode.adapter import CinodeAdapter
from engine.adapters.cinode.webhooks import CinodeWebhooks

__all__ = ["VENDOR", "CinodeAdapter"]

VENDOR = Vendor(name="cinode", title="Cinode", adapter=CinodeAdapter,
                catalog_file=files(__name__) / "catalog.json", webhooks=CinodeWebhooks())
