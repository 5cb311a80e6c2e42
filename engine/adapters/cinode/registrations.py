"""The Cinode company webhook a spec's webhook-triggered syncs need (`specsync connect`).

Through the routes of Cinode's OpenAPI document (tests/contracts/cinode):
`GET|POST /v0.1/companies/{companyId}/webhooks` and `DELETE .../webhooks/{id}`, with
`WebhookAddModel {isActive, endpointUrl, configurations: [{entityType, actionType}],
credentials: [{isBasicAuthentication, headerName, headerValue}]}`. Cinode has no update
route for a webhook, so one that differs is deleted and added again.

One webhook per connection, at `/webhooks/<integration>/<connection>`: a configuration
per (entity, action) the triggers listen to, and the credential the connection's
`webhooks:` block verifies (`header`, `basic_auth`, the secret as the value). Cinode
never returns a credential's value (`WebhookCredentialsModel` has none), so a changed
secret is not seen as drift: `connect` re-registers only what it can compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.adapters.base import ConnectRequest, Registration, RegistrationState
from engine.errors import SpecsyncError

__all__ = ["CinodeRegistrar"]

# Catalog object -> WebhookEntityType; event action -> ActionType (the OpenAPI enums).
_ENTITY = {"projects": 6, "customers": 5, "users": 3, "subcontractors": 4}
_ACTION = {"created": 2, "updated": 3, "deleted": 4}
_ALL_ACTIONS = 1
_KIND = "company webhook"


def _configurations(request: ConnectRequest) -> set[tuple[int, int]]:
    wanted: set[tuple[int, int]] = set()
    for trigger in request.triggers:
        entity = _ENTITY.get(trigger.object)
        if entity is None:
            raise SpecsyncError(f"sync {trigger.sync}: Cinode sends no webhooks for "
                                f"{trigger.object}; Cinode's webhooks cover "
                                f"{', '.join(sorted(_ENTITY))}")
        actions = {_ACTION[e.rpartition(".")[2]] for e in trigger.events
                   if e.rpartition(".")[2] in _ACTION}
        if not actions or len(actions) == len(_ACTION):
            actions = {_ALL_ACTIONS}
        wanted.update((entity, action) for action in actions)
    return wanted


def _credential(options: Mapping[str, Any]) -> tuple[str, bool]:
    return str(options.get("header") or "Authorization"), bool(options.get("basic_auth"))


def _describe(configurations: set[tuple[int, int]]) -> str:
    objects = {v: k for k, v in _ENTITY.items()}
    actions = {v: k for k, v in _ACTION.items()} | {_ALL_ACTIONS: "all events"}
    return "; ".join(f"{objects.get(e, e)}: {actions.get(a, a)}"
                     for e, a in sorted(configurations))


class CinodeRegistrar:
    """Cinode's `Registrar`: the company webhook, through the adapter's session."""

    async def reconcile(self, adapter: Any, request: ConnectRequest, *,
                        apply: bool) -> list[Registration]:
        if not request.triggers:
            return []
        wanted = _configurations(request)
        header, basic = _credential(request.webhook_options)
        name = _describe(wanted)
        path = await adapter._path("webhooks")
        response = await adapter.session.request("GET", path)
        hooks = [h for h in response.json() or [] if isinstance(h, dict)]
        ours = [h for h in hooks
                if str(h.get("endpointUrl") or "").endswith(request.webhook_path)]
        good: dict[str, Any] | None = None
        out: list[Registration] = []
        for hook in ours:
            why = self._differs(hook, request.webhook_url, wanted, header, basic)
            if good is None and not why:
                good = hook
                continue
            state: RegistrationState = "differs" if why else "extra"
            detail = why or "a second webhook to the same endpoint (each change sent twice)"
            if apply:
                await adapter.session.request("DELETE", f"{path}/{hook.get('id')}")
                state = "deleted"
            out.append(Registration(_KIND, _describe(self._configs_of(hook)), state,
                                    str(hook.get("endpointUrl") or ""),
                                    str(hook.get("id") or ""), detail))
        if good is not None:
            return [Registration(_KIND, name, "ok", str(good.get("endpointUrl")),
                                 str(good.get("id") or "")), *out]
        if not apply:
            return [Registration(_KIND, name, "missing", request.webhook_url), *out]
        if request.webhook_url is None:
            raise SpecsyncError("registering Cinode's webhook needs the public URL "
                                "Cinode sends to (--public-url)")
        secret = request.webhook_options.get("secret")
        if not secret:
            raise SpecsyncError(f"connection {request.connection}: webhooks.secret is "
                                "needed: Cinode sends it with every delivery")
        body = {"isActive": True, "endpointUrl": request.webhook_url,
                "configurations": [{"entityType": e, "actionType": a}
                                   for e, a in sorted(wanted)],
                "credentials": [{"isBasicAuthentication": basic, "headerName": header,
                                 "headerValue": str(secret)}]}
        created = (await adapter.session.request("POST", path, json=body)).json()
        return [Registration(_KIND, name, "created", request.webhook_url,
                             str(created.get("id") or "")), *out]

    @staticmethod
    def _configs_of(hook: Mapping[str, Any]) -> set[tuple[int, int]]:
        return {(int(c.get("entityType") or 0), int(c.get("actionType") or 0))
                for c in hook.get("configurations") or [] if isinstance(c, dict)}

    def _differs(self, hook: Mapping[str, Any], url: str | None,
                 wanted: set[tuple[int, int]], header: str, basic: bool) -> str:
        """Why an existing webhook of ours is not the one needed ('' when it is)."""
        if url is not None and hook.get("endpointUrl") != url:
            return f"sends to {hook.get('endpointUrl')}, not {url}"
        if hook.get("isActive") is False:
            return "inactive"
        have = self._configs_of(hook)
        if have != wanted:
            return f"listens to {_describe(have) or 'nothing'}, not {_describe(wanted)}"
        credentials = [c for c in hook.get("credentials") or [] if isinstance(c, dict)]
        if not any(str(c.get("headerName") or "").lower() == header.lower()
                   and bool(c.get("isBasicAuthentication")) == basic for c in credentials):
            return (f"carries no {'Basic ' if basic else ''}credential named {header}, "
                    "which the connection's webhooks block verifies")
        return ""
