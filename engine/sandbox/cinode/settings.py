"""The Cinode sandbox's own knobs, beside its credentials (not in `SandboxConfig.options`).

Defaults are Cinode's documented plan (README of github.com/Cinode-Labs/api, "Rate
limiting"): 40 requests per 2-second window and 10,000 per UTC day per company; 2 per
2 s on `/token` per AccessId; access tokens live 120 seconds. `max_items_per_page` caps
`pageAndSortBy.itemsPerPage` [assumed: Cinode documents no cap].
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CinodeSettings"]


@dataclass(frozen=True)
class CinodeSettings:
    """How the simulated tenant limits and times its callers."""

    requests_per_window: int = 40
    window_seconds: float = 2.0
    daily_requests: int = 10_000
    token_requests_per_window: int = 2
    token_lifetime: int = 120
    max_items_per_page: int = 1000
