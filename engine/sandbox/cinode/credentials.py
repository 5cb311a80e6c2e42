"""The Cinode sandbox's credentials: fixed, public defaults, never real secrets."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CURL_EXAMPLE", "CinodeCredentials"]

CURL_EXAMPLE = 'curl -s -u "$CINODE_ACCESS_ID:$CINODE_ACCESS_SECRET" "$CINODE_URL/token"'


@dataclass(frozen=True)
class CinodeCredentials:
    """What a spec's cinode connection needs to reach the sandbox."""

    access_id: str = "cinode-sandbox-access-id"
    access_secret: str = field(default="cinode-sandbox-access-secret", repr=False)
    company_id: int = 1
    # the header value a Cinode webhook subscription sends (Cinode lets the subscriber
    # choose it); a spec's `webhooks.secret` checks it
    webhook_secret: str = field(default="cinode-sandbox-webhook-secret", repr=False)

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The `export` variables a spec's `${X}` references use."""
        return [("CINODE_URL", url),
                ("CINODE_ACCESS_ID", str(self.access_id)),
                ("CINODE_ACCESS_SECRET", str(self.access_secret)),
                ("CINODE_COMPANY_ID", str(self.company_id)),
                ("CINODE_WEBHOOK_SECRET", str(self.webhook_secret))]
