"""The Kleer sandbox's credentials: fixed, public defaults, never real secrets."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CURL_EXAMPLE", "KleerCredentials"]

CURL_EXAMPLE = ('curl -s -H "X-Token: $KLEER_TOKEN" -H "Content-Type: application/json" '
                '"$KLEER_URL/v1/company/$KLEER_COMPANY_ID/client"')


@dataclass(frozen=True)
class KleerCredentials:
    """What a spec's kleer connection needs to reach the sandbox."""

    token: str = field(default="kleer-sandbox-token", repr=False)
    company_id: int = 1

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The `export` variables a spec's `${X}` references use."""
        return [("KLEER_URL", url),
                ("KLEER_TOKEN", str(self.token)),
                ("KLEER_COMPANY_ID", str(self.company_id))]
