"""The HubSpot simulator: `HubSpotSandbox` (composed in `app`, one module per concept), its
knobs (`settings`), generated data (`seed`) and public sandbox credentials (`credentials`)."""

from engine.sandbox.hubspot.app import HubSpotSandbox
from engine.sandbox.hubspot.catalog import ASSOCIATION_TYPE_IDS, OBJECT_TYPES, ObjectType
from engine.sandbox.hubspot.credentials import HubSpotCredentials
from engine.sandbox.hubspot.settings import HubSpotSettings

__all__ = [
    "ASSOCIATION_TYPE_IDS",
    "OBJECT_TYPES",
    "HubSpotCredentials",
    "HubSpotSandbox",
    "HubSpotSettings",
    "ObjectType",
]
