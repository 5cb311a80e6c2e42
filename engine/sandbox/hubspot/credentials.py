"""The HubSpot sandbox's credentials: fixed, public defaults, never real secrets."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CURL_EXAMPLE", "HubSpotCredentials"]

CURL_EXAMPLE = ('curl -s -H "Authorization: Bearer $HUBSPOT_TOKEN" '
                '"$HUBSPOT_URL/crm/v3/objects/companies?limit=2"')


@dataclass(frozen=True)
class HubSpotCredentials:
    """What a spec's hubspot connection needs to reach the sandbox."""

    token: str = field(default="pat-sandbox-token", repr=False)
    client_secret: str = field(default="hubspot-sandbox-secret", repr=False)
    portal_id: int = 1
    app_id: int = 1

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The `export` variables a spec's `${X}` references use."""
        return [("HUBSPOT_URL", url),
                ("HUBSPOT_TOKEN", str(self.token)),
                ("HUBSPOT_CLIENT_SECRET", str(self.client_secret))]
