"""Point the sandboxes' webhooks and workflow actions at the runner: `specsync connect`.

The demo registers exactly what a user's `specsync connect SPEC --public-url URL` does
(engine/runner/connect.py and each vendor's registrar), through the vendors' own APIs,
with the runner's loopback URL as the public URL:

- Cinode: the company webhook for project events, with the credential header the
  spec's `webhooks` block verifies;
- HubSpot: the app's webhook target, one subscription per triggering property of the
  inbound syncs (extra ones removed), and one workflow action definition per spec
  action, calling the runner's `/actions/{integration}/{action}`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.adapters.base import Registration
from engine.demo.world import DemoError, DemoWorld
from engine.runner.connect import reconcile_spec

__all__ = ["connect", "define_actions", "subscribe_cinode", "subscribe_hubspot"]


async def connect(world: DemoWorld, integration: str) -> list[Registration]:
    """`specsync connect` for one integration against the runner's URL."""
    runtime = world.runtime(integration)
    try:
        reports = await reconcile_spec(runtime, world.runner_url, apply=True)
    finally:
        await runtime.aclose()
    failed = [f"{r.connection}: {r.error}" for r in reports if r.error]
    if failed:
        raise DemoError("; ".join(failed))
    return [item for report in reports for item in report.registrations]


async def subscribe_cinode(world: DemoWorld, integration: str = "kleer-cinode") -> str:
    """Register the runner's Cinode endpoint for project events; returns its URL."""
    registrations = await connect(world, integration)
    hooks = [r for r in registrations if r.kind == "company webhook"
             and r.state in ("ok", "created")]
    if not hooks or not hooks[0].target:
        raise DemoError("connect registered no Cinode webhook")
    return hooks[0].target


async def subscribe_hubspot(world: DemoWorld, integration: str = "kleer-hubspot") -> str:
    """Register the app's webhook target, subscriptions and action definitions; returns
    the URL HubSpot delivers to."""
    registrations = await connect(world, integration)
    world.registrations[integration] = registrations
    targets = [r.target for r in registrations if r.kind == "webhook target" and r.target]
    if not targets:
        raise DemoError(f"{integration} has no HubSpot-triggered sync to subscribe to")
    return targets[0]


async def define_actions(world: DemoWorld, integration: str = "kleer-hubspot"
                         ) -> dict[str, str]:
    """The workflow action definitions connect registered: action name -> definition id."""
    registrations = world.registrations.get(integration)
    if registrations is None:
        registrations = await connect(world, integration)
    ids = {urlsplit(r.target).path.rsplit("/", 1)[-1]: r.vendor_id
           for r in registrations if r.kind == "workflow action" and r.target
           and r.vendor_id and r.state in ("ok", "created", "updated")}
    if not ids:
        raise DemoError(f"connect defined no workflow action for {integration}")
    return ids
