"""Which syncs the demo runs on their schedule, and in which order.

A sync whose field table calls `linked('customers')` needs the customers sync's links:
it runs after it. The order is worked out from the templates themselves, so a spec
that gains a dependency is run in the right order without the demo knowing about it.
Syncs started by a webhook keep their schedule only as a safety net for lost
deliveries; the demo shows them live instead.
"""

from __future__ import annotations

from engine.runner.dependencies import ordered_syncs
from engine.spec.model import Spec

__all__ = ["live_syncs", "scheduled_syncs"]


def scheduled_syncs(spec: Spec) -> list[str]:
    """Syncs run by schedule only, each after the ones it depends on (spec order where
    the templates do not decide; a dependency cycle falls back to spec order)."""
    return ordered_syncs(spec, [name for name, sync in spec.syncs.items()
                                if sync.trigger is None and sync.schedule != "never"])


def live_syncs(spec: Spec) -> list[str]:
    """Syncs started by webhooks (their schedule, if any, is the safety net)."""
    return [name for name, sync in spec.syncs.items() if sync.trigger is not None]
