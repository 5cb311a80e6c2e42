"""The environment the maconomy-cinode spec reads, pointed at two local sandboxes.

Shared by the CLI tests that run that spec against sandboxes served on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.sandbox.cinode.credentials import CinodeCredentials
from engine.sandbox.maconomy.credentials import MaconomyCredentials


def export(monkeypatch: pytest.MonkeyPatch, *, maconomy_url: str, cinode_url: str,
           state: Path) -> None:
    """Set the spec's connection variables (and a state store) for this test only."""
    maconomy, cinode = MaconomyCredentials(), CinodeCredentials()
    for name, value in {
        "SPECSYNC_ALLOW_LOOPBACK": "1",
        "MACONOMY_URL": maconomy_url, "MACONOMY_USER": maconomy.user,
        "MACONOMY_PASSWORD": maconomy.password, "MACONOMY_SHORTNAME": maconomy.shortname,
        "CINODE_URL": cinode_url, "CINODE_ACCESS_ID": cinode.access_id,
        "CINODE_ACCESS_SECRET": cinode.access_secret, "CINODE_COMPANY_ID": "1",
        "SPECSYNC_STATE": str(state),
    }.items():
        monkeypatch.setenv(name, value)
