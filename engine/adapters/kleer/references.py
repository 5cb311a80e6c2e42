"""Kleer's metadata that spec values refer to (`ref` in catalog.json), as Kleer's XSD
(kleer-v1.xsd, tests/contracts/kleer) lists it:

- products: `GET /product` (`products` of `product-readable`: `id`, `name`); the product
  an invoice or agreement row falls back to (`setup.default_product_id` in kleer-hubspot)
  must be one of them, or every such row is refused by Kleer.
"""

from __future__ import annotations

from typing import Any

from engine.adapters.base import Referent

__all__ = ["KleerReferences"]


class KleerReferences:
    """Kleer's `ReferenceSource`, through the adapter's session."""

    created_on_write: frozenset[str] = frozenset()

    async def referents(self, adapter: Any, kind: str) -> list[Referent]:
        if kind == "products":
            return [Referent(str(p.get("id")), str(p.get("name") or ""))
                    for p in await adapter._list("products")]
        raise ValueError(f"Kleer has no {kind} to refer to")
