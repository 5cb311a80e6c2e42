"""The Maconomy sandbox's credentials: fixed, public defaults, never real secrets."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CURL_EXAMPLE", "MaconomyCredentials"]

CURL_EXAMPLE = ('curl -s -u "$MACONOMY_USER:$MACONOMY_PASSWORD" -H "Accept: application/json" '
                '"$MACONOMY_URL/containers/v1/$MACONOMY_SHORTNAME/customercard/filter'
                '?restriction=region%3D%27north%27&limit=2"')


@dataclass(frozen=True)
class MaconomyCredentials:
    """What a spec's maconomy connection needs to reach the sandbox."""

    user: str = "sandbox"
    password: str = field(default="sandbox-password", repr=False)
    shortname: str = "sandbox"

    def environment(self, url: str) -> list[tuple[str, str]]:
        """The `export` variables a spec's `${X}` references use."""
        return [("MACONOMY_URL", url),
                ("MACONOMY_USER", str(self.user)),
                ("MACONOMY_PASSWORD", str(self.password)),
                ("MACONOMY_SHORTNAME", str(self.shortname))]
