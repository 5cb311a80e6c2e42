"""Deterministic generated data: `common` has the Swedish building blocks; one module per vendor."""

from __future__ import annotations

__all__: list[str] = []
