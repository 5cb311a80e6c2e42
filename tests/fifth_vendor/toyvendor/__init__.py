"""Toy Desk: a made-up help desk, packaged the way a third party adds a system.

Nothing in the engine names this package. It is found because its distribution
(`toyvendor-0.1.dist-info/entry_points.txt` beside it) declares

    [specsync.adapters]   toy = toyvendor:VENDOR
    [specsync.sandboxes]  toy = toyvendor.sandbox:ToySandbox

`VENDOR` bundles the adapter, its catalog (catalog.json beside this file), its webhooks
and its automation-rule actions. Toy Desk has no query language, so no pushdown.
"""

from importlib.resources import files

from engine.adapters.base import Vendor
from toyvendor.actions import ToyActions
from toyvendor.adapter import ToyAdapter
from toyvendor.webhooks import ToyWebhooks

__all__ = ["VENDOR", "ToyAdapter"]

VENDOR = Vendor(name="toy", title="Toy Desk", adapter=ToyAdapter,
                catalog_file=files(__name__) / "catalog.json", webhooks=ToyWebhooks(),
                actions=ToyActions())
