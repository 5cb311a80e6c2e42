"""Deltek Maconomy: the vendor package.

`VENDOR` is what the `specsync.adapters` entry point loads: the adapter, its catalog
(catalog.json beside this file) and filter pushdown into restrictions.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from engine.adapters.maconomy.adapter import MaconomyAdapter, restriction_literal
from engine.adapters.maconomy.pushdown import MaconomyPushdown

__all__ = ["VENDOR", "MaconomyAdapter", "restriction_literal"]

VENDOR = Vendor(name="maconomy", title="Maconomy", adapter=MaconomyAdapter,
                catalog_file=files(__name__) / "catalog.json", pushdown=MaconomyPushdown())
