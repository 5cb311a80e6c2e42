"""Local simulators of Kleer, Cinode, Maconomy and HubSpot (demo and tests).

The shared platform lives in `engine.sandbox.platform`; each vendor's simulator in
`engine.sandbox.<vendor>`, its generated data in `engine.sandbox.seed.<vendor>`.
Vendor modules are imported where used, so one unfinished simulator never breaks
the others.
"""

from __future__ import annotations

from engine.sandbox.platform import (
    Clock,
    Collection,
    Faults,
    FaultsError,
    ManualClock,
    RateDecision,
    RateLimiter,
    Sandbox,
    SandboxConfig,
    SystemClock,
    WebhookDispatcher,
)

__all__ = [
    "Clock",
    "Collection",
    "Faults",
    "FaultsError",
    "ManualClock",
    "RateDecision",
    "RateLimiter",
    "Sandbox",
    "SandboxConfig",
    "SystemClock",
    "WebhookDispatcher",
]
