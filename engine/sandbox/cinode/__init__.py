"""The Cinode simulator: `CinodeSandbox` (routes and behaviour in `app`), its generated data
(`seed`) and its public sandbox credentials (`credentials`)."""

from engine.sandbox.cinode.app import (
    ACTION_TYPES,
    ENTITY_TYPES,
    CinodeSandbox,
    decode_token,
    encode_token,
)
from engine.sandbox.cinode.credentials import CinodeCredentials

__all__ = [
    "ACTION_TYPES",
    "ENTITY_TYPES",
    "CinodeCredentials",
    "CinodeSandbox",
    "decode_token",
    "encode_token",
]
