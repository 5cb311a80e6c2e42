"""The platform every vendor simulator stands on (one module per concept).

- `clock`: `Clock`, `SystemClock`, `ManualClock`; time is injected.
- `faults`: `Faults`, seeded failure knobs.
- `config`: `SandboxConfig`, the vendor-neutral settings (size, seed, clock, faults).
- `ratelimit`: `RateLimiter`, fixed windows; vendors add their own headers.
- `webhooks`: `WebhookDispatcher`, signed deliveries with retries, faults and a log.
- `collection`: `Collection`, lazily generated records plus an overlay of changes.
- `middleware`: `FaultMiddleware`, faults on vendor routes and the request log.
- `app`: `Sandbox`, the base class, and the `/_sandbox` control API.
- `seed`: Swedish names, identity numbers and companies every vendor's data draws on.

A vendor simulator is a package beside this one (`engine/sandbox/<vendor>/`) whose
`Sandbox` subclass contributes the vendor's routes; `specsync sandbox up` finds them
through the `specsync.sandboxes` entry point group. Usage::

    sandbox = MaconomySandbox(SandboxConfig(records=1000, clock=ManualClock()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://maconomy.test") as client:
        ...
"""

from engine.sandbox.platform.app import Credentials, Sandbox
from engine.sandbox.platform.clock import (
    DEFAULT_START,
    Clock,
    ManualClock,
    SystemClock,
    isoformat_z,
)
from engine.sandbox.platform.collection import Collection, Record
from engine.sandbox.platform.config import SandboxConfig
from engine.sandbox.platform.faults import Faults, FaultsError
from engine.sandbox.platform.middleware import (
    FaultMiddleware,
    RequestLogEntry,
    SandboxDroppedConnection,
)
from engine.sandbox.platform.ratelimit import RateDecision, RateLimiter
from engine.sandbox.platform.webhooks import WebhookDelivery, WebhookDispatcher

__all__ = [
    "DEFAULT_START",
    "Clock",
    "Collection",
    "Credentials",
    "FaultMiddleware",
    "Faults",
    "FaultsError",
    "ManualClock",
    "RateDecision",
    "RateLimiter",
    "Record",
    "RequestLogEntry",
    "Sandbox",
    "SandboxConfig",
    "SandboxDroppedConnection",
    "SystemClock",
    "WebhookDelivery",
    "WebhookDispatcher",
    "isoformat_z",
]
