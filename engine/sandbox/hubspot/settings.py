"""The HubSpot sandbox's own knobs, beside its credentials (not in `SandboxConfig.options`).

Defaults are HubSpot's documented limits for a private app on a Professional portal (API
usage guidelines): 190 requests per 10 s and 650,000 per day, 5 CRM searches per second;
OAuth access tokens live 30 minutes. HubSpot retries a failed webhook delivery for about
a day; the sandbox retries `webhook_attempts` times with a short backoff so tests end
quickly. A workflow-action execution that gets no answer within 20 s counts as failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HubSpotSettings"]


@dataclass(frozen=True)
class HubSpotSettings:
    """How the simulated portal limits, signs and times its callers."""

    burst_limit: int = 190  # requests per 10 s
    daily_limit: int = 650_000
    search_per_second: int = 5
    token_lifetime_seconds: int = 1800
    client_id: str = "hubspot-sandbox-client-id"
    refresh_token: str = field(default="hubspot-sandbox-refresh-token", repr=False)
    #: The `hapikey` of the developer endpoints (webhooks settings and subscriptions,
    #: workflow-action definitions): the SDK's `developer_hapikey` auth.
    developer_api_key: str = field(default="hubspot-sandbox-developer-key", repr=False)
    webhook_attempts: int = 4
    webhook_backoff_seconds: float = 0.05
    action_timeout_seconds: float = 20.0
    max_events_per_delivery: int = 100
