"""The HubSpot simulator: `HubSpotSandbox` (routes and behaviour in `app`), its generated data
(`seed`) and its public sandbox credentials (`credentials`)."""

from engine.sandbox.hubspot.app import (
    ASSOCIATION_TYPE_IDS,
    OBJECT_TYPES,
    HubSpotSandbox,
    ObjectType,
)
from engine.sandbox.hubspot.credentials import HubSpotCredentials

__all__ = [
    "ASSOCIATION_TYPE_IDS",
    "OBJECT_TYPES",
    "HubSpotCredentials",
    "HubSpotSandbox",
    "ObjectType",
]
