"""Kleer (formerly PE Accounting): the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file). Kleer pushes no webhooks and has no workflow actions.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.kleer.adapter import KleerAdapter

__all__ = ["VENDOR", "KleerAdapter"]

VENDOR = Vendor(name="kleer", title="Kleer", adapter=KleerAdapter,
                catalog_file=files(__name__) / "catalog.json")
