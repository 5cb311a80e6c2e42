"""`specsync connect` and the registration half of `specsync check`: what each vendor
must hold for a spec's triggers and workflow actions to reach `specsync serve`.

For every connection, the syncs its webhooks start (`trigger: {webhook: ...}`) and the
workflow actions its workflows call (`trigger: {workflow: ...}`) make one
`ConnectRequest`: the runner's URLs under the public URL (`/webhooks/<integration>/
<connection>`, `/actions/<integration>/<action>`) and the connection's `webhooks:` block
resolved. The vendor's `Registrar` (engine/adapters/<vendor>/registrations.py) compares
it with what the vendor holds and, for `connect`, registers it through the vendor's
API. A connection whose vendor has no registrar but which triggers need is reported:
someone must register it in the vendor's own UI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.adapters.base import ActionNeed, ConnectRequest, Registration, TriggerNeed
from engine.errors import SpecsyncError
from engine.spec.environment import MissingEnvironmentError, resolve_text
from engine.spec.model import Spec
from engine.sync.runtime import Runtime

__all__ = ["ConnectionReport", "connect_request", "reconcile_spec"]

log = logging.getLogger(__name__)


@dataclass
class ConnectionReport:
    """One connection's registrations, or why they could not be compared or made."""

    connection: str
    vendor: str
    registrations: list[Registration] = field(default_factory=list)
    error: str | None = None

    @property
    def drift(self) -> list[Registration]:
        return [r for r in self.registrations if r.state in ("missing", "extra", "differs")]


def _resolved_options(spec: Spec, connection: str, environ: Mapping[str, str], *,
                      strict: bool) -> dict[str, Any]:
    """The `webhooks:` block resolved. Not `strict` (comparing only): a setting whose
    variable is unset is left out, and the registrar says so if it needs it."""
    out: dict[str, Any] = {}
    missing: list[str] = []
    for key, value in spec.connections[connection].webhooks.items():
        if not isinstance(value, str):
            out[key] = value
            continue
        unset: list[str] = []
        text = resolve_text(value, environ, unset)
        missing.extend(unset)
        if not unset:
            out[key] = text
    if missing and strict:
        raise MissingEnvironmentError(sorted(set(missing)), connection, what="webhooks")
    return out


def connect_request(spec: Spec, name: str, public_url: str | None,
                    environ: Mapping[str, str], *, strict: bool = True
                    ) -> ConnectRequest | None:
    """What must be registered for connection `name`; None when nothing uses it."""
    base = public_url.rstrip("/") if public_url else None
    triggers = tuple(
        TriggerNeed(sync.name, sync.source_object, tuple(sync.trigger.events),
                    tuple(sync.trigger.properties))
        for sync in spec.syncs.values()
        if sync.trigger is not None and sync.trigger.webhook == name)
    action_path = f"/actions/{spec.integration}"
    actions = tuple(
        ActionNeed(action.name, action.title or action.name,
                   f"{base or ''}{action_path}/{action.name}", action.object_type,
                   dict(action.inputs), tuple(action.outputs))
        for action in spec.actions.values() if action.workflow_connection == name)
    if not triggers and not actions:
        return None
    webhook_path = f"/webhooks/{spec.integration}/{name}"
    return ConnectRequest(
        integration=spec.integration, connection=name, webhook_path=webhook_path,
        action_path=action_path, webhook_url=f"{base}{webhook_path}" if base else None,
        webhook_options=_resolved_options(spec, name, environ, strict=strict),
        triggers=triggers,
        actions=actions)


async def reconcile_spec(runtime: Runtime, public_url: str | None, *,
                         apply: bool) -> list[ConnectionReport]:
    """Compare (and with `apply`, register) every connection's registrations."""
    if apply and not public_url:
        raise SpecsyncError("connect needs --public-url: the https address the vendors "
                            "reach `specsync serve` at")
    spec = runtime.spec
    reports: list[ConnectionReport] = []
    for name, connection in spec.connections.items():
        report = ConnectionReport(name, connection.adapter)
        try:
            request = connect_request(spec, name, public_url, runtime.environ,
                                      strict=apply)
        except SpecsyncError as exc:
            report.error = runtime.redactor.text(str(exc))
            reports.append(report)
            continue
        if request is None:
            continue
        reports.append(report)
        adapter_name = connection.adapter
        vendor = runtime.registry.find(adapter_name)
        registrar = vendor.registrar if vendor is not None else None
        if registrar is None:
            report.error = (f"{adapter_name} offers no way to register webhooks or actions "
                            "through its API: set them up in its own settings")
            continue
        try:
            report.registrations = await registrar.reconcile(runtime.adapter(name), request,
                                                             apply=apply)
        except SpecsyncError as exc:
            report.error = runtime.redactor.text(str(exc))
        except Exception as exc:  # reported per connection, never a traceback
            log.debug("registrations of %s failed", name, exc_info=True)
            report.error = runtime.redactor.text(f"{type(exc).__name__}: {exc}")
    return reports
