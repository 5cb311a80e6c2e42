"""`specsync connect` and `specsync check` as a user types them, against the Kleer and
HubSpot sandboxes on loopback: registrations shown, idempotent, drift reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from engine.sandbox.hubspot import HubSpotSandbox
from engine.sandbox.kleer import KleerSandbox
from engine.sandbox.platform import SandboxConfig
from engine.sandbox.serve import serve_in_thread
from engine.spec.load import load_spec

SPEC = str(Path(__file__).parents[2] / "specs" / "kleer-hubspot")
PUBLIC = "https://sync.example.com"


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubSpotSandbox]:
    config = SandboxConfig(records=0, rate_limits=False)
    kleer, hubspot = KleerSandbox(config), HubSpotSandbox(config)
    with serve_in_thread(kleer.app) as kleer_url, serve_in_thread(hubspot.app) as hubspot_url:
        for sandbox, url in ((kleer, kleer_url), (hubspot, hubspot_url)):
            for name, value in sandbox.environment(url):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("SPECSYNC_ALLOW_LOOPBACK", "1")
        monkeypatch.setenv("SPECSYNC_STATE", str(tmp_path / "state.db"))
        monkeypatch.delenv("SPECSYNC_PUBLIC_URL", raising=False)
        yield hubspot


def test_connect_shows_what_it_registered_and_check_reports_drift(
        hubspot: HubSpotSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", SPEC, "--public-url", PUBLIC]) == 1
    out = capsys.readouterr().out
    assert "missing  hubspot (hubspot) webhook target" in out
    assert "missing  hubspot (hubspot) workflow action: Create Kleer Invoice -> " \
           f"{PUBLIC}/actions/kleer-hubspot/create_invoice" in out
    assert "registration(s) drifted: run specsync connect" in out

    assert main(["connect", SPEC, "--public-url", PUBLIC]) == 0
    out = capsys.readouterr().out
    assert f"created  hubspot (hubspot) webhook target: the app's webhook deliveries -> " \
           f"{PUBLIC}/webhooks/kleer-hubspot/hubspot" in out
    assert "ok       hubspot (hubspot) webhook subscription: company.propertyChange name" in out
    assert "deleted  hubspot (hubspot) webhook subscription: company.creation" in out
    actions = load_spec(Path(SPEC) / "spec.yaml").actions
    assert out.count("created  hubspot (hubspot) workflow action") == len(actions)
    assert "hubspot-sandbox-developer-key" not in out

    assert main(["connect", SPEC, "--public-url", PUBLIC]) == 0  # again: nothing to do
    assert {line.split()[0] for line in capsys.readouterr().out.splitlines()} == {"ok"}
    assert main(["check", SPEC, "--public-url", PUBLIC]) == 0
    capsys.readouterr()

    first = min(hubspot.subscriptions)
    del hubspot.subscriptions[first]  # someone removed a subscription in the app settings
    assert main(["check", SPEC]) == 1  # without --public-url: recognised by path
    out = capsys.readouterr().out
    assert out.count("  missing ") == 1 and "1 registration(s) drifted" in out


def test_connect_needs_a_public_url(hubspot: HubSpotSandbox,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", SPEC]) == 1
    err = capsys.readouterr().err
    assert "--public-url" in err and "Traceback" not in err
