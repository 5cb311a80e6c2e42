"""The safeguards a spec configures, with the defaults that hold when it says nothing.

Each limit stops one kind of damage at scale (reliability.md section 4):

    deletions    S12  a mass deactivation or delete, or a listing mistaken for "all gone"
    failures     S20  a run that fails most of what it writes (a broken mapping, a target
                      refusing everything) stops instead of churning through the source
    write_rate   S27  a record bounced back and forth by a two-way pair is quarantined
    breaker      S15  an endpoint answering 5xx or timing out is left alone for a while

The defaults are chosen to stay out of the way of a healthy run and to trip on the
failure each names; `schemas/spec.schema.json` documents every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["BreakerSettings", "DeletionLimits", "FailureLimits", "Safeguards",
           "WriteRateLimits", "breaker_settings", "safeguards"]


@dataclass(frozen=True)
class DeletionLimits:
    max: int = 100
    max_share: float = 0.2
    min: int = 10


@dataclass(frozen=True)
class FailureLimits:
    max_share: float = 0.5
    min: int = 20


@dataclass(frozen=True)
class WriteRateLimits:
    max_writes: int = 10
    window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Safeguards:
    deletions: DeletionLimits = field(default_factory=DeletionLimits)
    failures: FailureLimits = field(default_factory=FailureLimits)
    write_rate: WriteRateLimits = field(default_factory=WriteRateLimits)


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = 5
    cool_down: timedelta = timedelta(minutes=1)


def _given(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def safeguards(raw: Any) -> Safeguards:
    """A sync's `safeguards:` block (already schema-valid) over the defaults."""
    from engine.spec.model import parse_duration

    given = _given(raw)
    deletions, failures, rate = (_given(given.get(k))
                                 for k in ("deletions", "failures", "write_rate"))
    d, f, w = DeletionLimits(), FailureLimits(), WriteRateLimits()
    return Safeguards(
        deletions=DeletionLimits(max=int(deletions.get("max", d.max)),
                                 max_share=float(deletions.get("max_share", d.max_share)),
                                 min=int(deletions.get("min", d.min))),
        failures=FailureLimits(max_share=float(failures.get("max_share", f.max_share)),
                               min=int(failures.get("min", f.min))),
        write_rate=WriteRateLimits(
            max_writes=int(rate.get("max_writes", w.max_writes)),
            window=parse_duration(rate["window"]) if "window" in rate else w.window))


def breaker_settings(raw: Any) -> BreakerSettings:
    """A connection's `circuit_breaker:` block (already schema-valid) over the defaults."""
    from engine.spec.model import parse_duration

    given = _given(raw)
    default = BreakerSettings()
    return BreakerSettings(
        failures=int(given.get("failures", default.failures)),
        cool_down=parse_duration(given["cool_down"]) if "cool_down" in given
        else default.cool_down)
