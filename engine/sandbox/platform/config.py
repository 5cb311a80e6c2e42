"""What every simulator is built from: size, seed, clock, faults, rate limits. Each vendor's
credentials live in its own package (its `Credentials`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from engine.sandbox.platform.clock import Clock, SystemClock
from engine.sandbox.platform.faults import Faults


@dataclass
class SandboxConfig:
    """Everything a simulator is built from. Defaults are what `specsync sandbox up` uses."""

    seed: int = 1
    records: int = 50
    clock: Clock = field(default_factory=SystemClock)
    faults: Faults = field(default_factory=Faults)
    rate_limits: bool = True
    # A fraction of generated records that deliberately break a rule (missing cursor
    # field, missing required field) so troubleshooting paths can be exercised.
    defect_rate: float = 0.0
    # Deliveries go through this client when given (e.g. ASGITransport to a receiver app).
    webhook_client: httpx.AsyncClient | None = None
    # Vendor-specific knobs (token lifetimes, page caps, ...); each vendor documents its keys.
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Secrets stay out of reprs (they end up in logs and test output).
        return (f"SandboxConfig(seed={self.seed}, records={self.records}, clock={self.clock!r}, "
                f"faults={self.faults!r}, rate_limits={self.rate_limits}, "
                f"defect_rate={self.defect_rate})")
