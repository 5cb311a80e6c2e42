"""Shared by the vendors' filter pushdowns (engine/adapters/*/pushdown.py).

A pushdown writes a rule in a vendor's query language so a read can ask for fewer
records. It is an optimisation only: where a rule (or a part) has no faithful
translation the renderer raises `NotExpressible` and the vendor module answers None;
readers still run the compiled predicate on what comes back, since vendor comparisons
(collation, null handling) are not ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.rules.errors import RuleSetupError
from engine.rules.evaluate import moment, operand_value
from engine.rules.nodes import Compare, RelativeTime

__all__ = ["NotExpressible", "operand"]


class NotExpressible(Exception):
    """Raised inside a renderer; the public function turns it into None."""


def operand(leaf: Compare, setup: Mapping[str, Any] | None, now: datetime | None) -> Any:
    """The comparison's value with `setup.x` and now()/today() filled in."""
    if isinstance(leaf.value, RelativeTime):
        if now is None:
            raise NotExpressible
        return operand_value(leaf.value, {}, moment(lambda: now))
    try:
        return operand_value(leaf.value, setup or {})
    except RuleSetupError:
        raise NotExpressible from None
