"""The Cinode simulator: `CinodeSandbox` (wiring in `app`, one module per concept beside
it), its settings (`CinodeSettings`), generated data (`seed`) and public sandbox
credentials (`credentials`)."""

from engine.sandbox.cinode.app import CinodeSandbox
from engine.sandbox.cinode.auth import decode_token, encode_token
from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.cinode.settings import CinodeSettings
from engine.sandbox.cinode.webhooks import ACTION_TYPES, ENTITY_TYPES

__all__ = [
    "ACTION_TYPES",
    "ENTITY_TYPES",
    "CinodeCredentials",
    "CinodeSandbox",
    "CinodeSettings",
    "decode_token",
    "encode_token",
]
