"""HubSpot's metadata that spec values refer to (`ref` in catalog.json).

- `options:<object>.<property>`: the options of an enumeration property, as
  `GET /crm/v3/properties/{objectType}` lists them (`Property.options[].value`, the
  official SDK's `Option`). A value the portal has no option for is refused by HubSpot
  ("... was not one of the allowed options"), so each value a spec's setup can write
  there (kleer-hubspot's `project_statuses` -> a project's `hs_status`) must be one.
"""

from __future__ import annotations

from typing import Any

from engine.adapters.base import Referent

__all__ = ["OPTIONS", "HubSpotReferences"]

OPTIONS = "options:"  # the kind prefix: options:<object>.<property>


class HubSpotReferences:
    """HubSpot's `ReferenceSource`, through the adapter's property definitions."""

    created_on_write: frozenset[str] = frozenset()

    async def referents(self, adapter: Any, kind: str) -> list[Referent]:
        if kind.startswith(OPTIONS) and "." in kind:
            obj, prop = kind[len(OPTIONS):].split(".", 1)
            definition = (await adapter._property_map(obj)).get(prop)
            if definition is None:
                raise ValueError(f"the portal's {obj} have no property {prop!r}")
            return [Referent(str(o.get("value")), str(o.get("label") or ""))
                    for o in definition.get("options") or [] if isinstance(o, dict)]
        raise ValueError(f"HubSpot has no {kind} to refer to")
