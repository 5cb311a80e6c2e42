"""The safeguards of a sync in words, for `specsync docs` (only when the spec sets them;
the defaults are the README's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.spec.model import Spec, Sync
from engine.sync.write_rate import pair_of

__all__ = ["safeguard_words"]


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} seconds"


def safeguard_words(spec: Spec, sync: Sync, raw: Mapping[str, Any]) -> str | None:
    """"At most 20 deactivations or deletes a run (...)"; None when the spec sets none."""
    if not raw.get("safeguards"):
        return None
    limits = sync.safeguards
    d, f, w = limits.deletions, limits.failures, limits.write_rate
    parts = []
    if (sync.filter and sync.on_unmatched != "ignore") or \
            sync.on_source_delete in ("deactivate", "delete"):
        parts.append(f"at most {d.max} deactivations or deletes a run, and no more than "
                     f"{d.max_share:.0%} of the linked records once there are {d.min}, "
                     "unless an operator confirms them")
    parts.append(f"the run stops when more than {f.max_share:.0%} of the records it writes "
                 f"fail (judged from {f.min} on)")
    if pair_of(spec, sync):
        parts.append(f"a record written more than {w.max_writes} times within "
                     f"{_duration(w.window.total_seconds())} by this sync and its opposite "
                     "is quarantined until released")
    text = "; ".join(parts)
    return text[0].upper() + text[1:]
