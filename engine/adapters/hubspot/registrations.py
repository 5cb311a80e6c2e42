"""What a HubSpot app must hold for a spec's inbound syncs and workflow actions.

Through the developer APIs the official SDK names (tests/contracts/hubspot/routes.json),
authenticated with the app's developer API key as `?hapikey=` (the SDK's
`developer_hapikey`), never with the portal's private-app token:

- webhook settings, `GET|PUT /webhooks/v3/{appId}/settings` (`SettingsChangeRequest
  {targetUrl, throttling}`): one target URL per app, the runner's
  `/webhooks/<integration>/<connection>`;
- subscriptions, `GET|POST /webhooks/v3/{appId}/subscriptions`, `PATCH|DELETE
  .../subscriptions/{id}`: one `<object>.propertyChange` per triggering property
  (HubSpot subscribes one property at a time; `object.propertyChange` with
  `objectTypeId` for objects without a legacy type, such as projects, 0-970), and one
  per other event a trigger names (`company.creation`);
- workflow action definitions, `GET|POST /automation/v4/actions/{appId}`, `PATCH|DELETE
  .../{definitionId}` (`PublicActionDefinitionEgg`): one per spec action, at the
  runner's `/actions/<integration>/<action>`.

The app belongs to the integration: every subscription of the app the spec does not
need is extra. Action definitions are the integration's when their URL's path is under
`/actions/<integration>/`; other definitions of the app are left alone.

The connection's `webhooks:` block names the app: `app_id` and `developer_key`
(${ENV} references), read only by `connect` and `check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from engine.adapters.base import ActionNeed, ConnectRequest, Registration
from engine.adapters.http import HttpSession
from engine.adapters.retry import RetryPolicy
from engine.errors import SpecsyncError

__all__ = ["HubSpotRegistrar"]

# Catalog objects with a legacy subscription prefix (the SDK's event_type enum).
_LEGACY = {"contacts": "contact", "companies": "company", "deals": "deal",
           "tickets": "ticket", "products": "product", "line_items": "line_item"}
# Spec input types -> FieldTypeDefinition.type. An enumeration's options are not in the
# spec, so it is offered as text.
_INPUT_TYPES = {"string": "string", "number": "number", "date": "date", "boolean": "bool",
                "datetime": "datetime"}
_THROTTLING = {"maxConcurrentRequests": 10}
# The developer API's own budget (HubSpot: 100 requests per 10 s for an app key).
_DEVELOPER_LIMIT = (100, 10.0)

Subscription = tuple[str, str | None, str | None]  # (eventType, objectTypeId, property)


def _path(url: str) -> str:
    return urlsplit(url).path


class _Developer:
    """The app's developer API: `?hapikey=` on each call, through the adapter's client."""

    def __init__(self, adapter: Any, options: Mapping[str, Any]) -> None:
        app_id, key = options.get("app_id"), options.get("developer_key")
        if not app_id or not key:
            raise SpecsyncError(
                "HubSpot webhooks and workflow actions are registered with the app's id and "
                "developer API key: set webhooks.app_id and webhooks.developer_key on the "
                "hubspot connection (${ENV} references) and their environment variables")
        self.app = str(app_id)
        self.key = str(key)
        adapter.context.redactor.add(self.key)
        limit, per = _DEVELOPER_LIMIT
        self.session = HttpSession(
            adapter.session.client, name="hubspot developer",
            budget=adapter.context.budgets.for_credential(f"hubspot-app:{self.key}",
                                                          limit, per),
            retry=RetryPolicy(), redactor=adapter.context.redactor, auth=self._accept)

    @staticmethod
    async def _accept(request: Any) -> None:
        request.headers["Accept"] = "application/json"

    async def call(self, method: str, tail: str, body: Any = None,
                   expected: tuple[int, ...] = (), **query: str) -> Any:
        response = await self.session.request(method, tail.format(app=self.app),
                                              params={**query, "hapikey": self.key},
                                              json=body, expected=expected)
        if response.status_code in expected:
            return None
        return response.json() if response.content else None


class HubSpotRegistrar:
    """HubSpot's `Registrar`: settings, subscriptions and action definitions."""

    async def reconcile(self, adapter: Any, request: ConnectRequest, *,
                        apply: bool) -> list[Registration]:
        if not request.needed:
            return []
        api = _Developer(adapter, request.webhook_options)
        out: list[Registration] = []
        if request.triggers:
            out += await self._settings(api, request, apply)
            out += await self._subscriptions(api, adapter, request, apply)
        out += await self._actions(api, request, apply)
        return out

    # ------------------------------------------------------------------ webhooks

    async def _settings(self, api: _Developer, request: ConnectRequest,
                        apply: bool) -> list[Registration]:
        kind, name = "webhook target", "the app's webhook deliveries"
        current = await api.call("GET", "/webhooks/v3/{app}/settings", expected=(404,))
        url = str((current or {}).get("targetUrl") or "")
        wanted = request.webhook_url
        good = url == wanted if wanted else _path(url) == request.webhook_path
        if good:
            return [Registration(kind, name, "ok", url)]
        detail = f"sends to {url}" if url else ""
        if not apply:
            return [Registration(kind, name, "differs" if url else "missing", wanted, None,
                                 detail)]
        if wanted is None:
            raise SpecsyncError("registering HubSpot's webhook target needs the public URL "
                                "HubSpot sends to (--public-url)")
        await api.call("PUT", "/webhooks/v3/{app}/settings",
                       {"targetUrl": wanted, "throttling": _THROTTLING})
        return [Registration(kind, name, "updated" if url else "created", wanted, None,
                             detail)]

    async def _wanted_subscriptions(self, adapter: Any, request: ConnectRequest
                                    ) -> list[Subscription]:
        wanted: list[Subscription] = []
        for trigger in request.triggers:
            legacy = _LEGACY.get(trigger.object)
            type_id = None if legacy else await adapter._type(trigger.object)
            prefix = legacy or "object"
            kinds = [e.rpartition(".")[2] for e in trigger.events] or ["propertyChange"]
            for kind in dict.fromkeys(kinds):
                if kind != "propertyChange":
                    wanted.append((f"{prefix}.{kind}", type_id, None))
                    continue
                if not trigger.properties:
                    raise SpecsyncError(f"sync {trigger.sync}: HubSpot subscribes to "
                                        "property changes one property at a time; list "
                                        "them in the trigger's properties")
                wanted.extend((f"{prefix}.propertyChange", type_id, prop)
                              for prop in trigger.properties)
        return list(dict.fromkeys(wanted))

    async def _subscriptions(self, api: _Developer, adapter: Any, request: ConnectRequest,
                             apply: bool) -> list[Registration]:
        kind = "webhook subscription"
        wanted = await self._wanted_subscriptions(adapter, request)
        listed = await api.call("GET", "/webhooks/v3/{app}/subscriptions") or {}
        have: dict[Subscription, dict[str, Any]] = {}
        out: list[Registration] = []
        for sub in listed.get("results") or []:
            ident: Subscription = (str(sub.get("eventType")), sub.get("objectTypeId") or None,
                                   sub.get("propertyName") or None)
            if ident in have or ident not in wanted:  # a duplicate, or not the spec's
                if apply:
                    await api.call("DELETE", f"/webhooks/v3/{{app}}/subscriptions/{sub['id']}")
                out.append(Registration(kind, _sub_name(ident), "deleted" if apply else
                                        "extra", None, str(sub.get("id")),
                                        "no trigger of the spec needs it"))
                continue
            have[ident] = sub
        for ident in wanted:
            sub = have.get(ident)
            if sub is not None and sub.get("active", True):
                out.append(Registration(kind, _sub_name(ident), "ok", None, str(sub["id"])))
            elif sub is not None:
                if apply:
                    await api.call("PATCH", f"/webhooks/v3/{{app}}/subscriptions/{sub['id']}",
                                   {"active": True})
                out.append(Registration(kind, _sub_name(ident), "updated" if apply else
                                        "differs", None, str(sub["id"]), "inactive"))
            elif apply:
                body: dict[str, Any] = {"eventType": ident[0], "active": True}
                if ident[1]:
                    body["objectTypeId"] = ident[1]
                if ident[2]:
                    body["propertyName"] = ident[2]
                made = await api.call("POST", "/webhooks/v3/{app}/subscriptions", body)
                out.append(Registration(kind, _sub_name(ident), "created", None,
                                        str((made or {}).get("id"))))
            else:
                out.append(Registration(kind, _sub_name(ident), "missing"))
        return out

    # ------------------------------------------------------------------ actions

    async def _definitions(self, api: _Developer) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            if after:
                page = await api.call("GET", "/automation/v4/actions/{app}", after=after)
            else:
                page = await api.call("GET", "/automation/v4/actions/{app}")
            page = page or {}
            found.extend(d for d in page.get("results") or [] if isinstance(d, dict))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found

    async def _actions(self, api: _Developer, request: ConnectRequest,
                       apply: bool) -> list[Registration]:
        kind = "workflow action"
        prefix = request.action_path.rstrip("/") + "/"
        ours: dict[str, list[dict[str, Any]]] = {}
        for definition in await self._definitions(api):
            path = _path(str(definition.get("actionUrl") or ""))
            if path.startswith(prefix):
                ours.setdefault(path[len(prefix):], []).append(definition)
        out: list[Registration] = []
        wanted = {action.name: action for action in request.actions}
        for name, definitions in ours.items():
            keep = 1 if name in wanted else 0
            for extra in definitions[keep:]:
                if apply:
                    await api.call("DELETE", f"/automation/v4/actions/{{app}}/{extra['id']}")
                why = "a second definition of the action" if keep else \
                    "the spec has no such action"
                out.append(Registration(kind, name, "deleted" if apply else "extra",
                                        str(extra.get("actionUrl")), str(extra.get("id")), why))
        for name, action in wanted.items():
            egg = _egg(action)
            found = ours.get(name, [])
            if found:
                current = found[0]
                why = _definition_differs(current, egg, request.webhook_url is not None)
                if not why:
                    out.append(Registration(kind, action.title, "ok", action.url,
                                            str(current.get("id"))))
                    continue
                if apply:
                    patch = {k: v for k, v in egg.items() if k != "functions"}
                    await api.call("PATCH", f"/automation/v4/actions/{{app}}/{current['id']}",
                                   patch)
                out.append(Registration(kind, action.title, "updated" if apply else
                                        "differs", action.url, str(current.get("id")), why))
            elif apply:
                made = await api.call("POST", "/automation/v4/actions/{app}", egg)
                out.append(Registration(kind, action.title, "created", action.url,
                                        str((made or {}).get("id"))))
            else:
                out.append(Registration(kind, action.title, "missing", action.url))
        return out


def _sub_name(ident: Subscription) -> str:
    event, type_id, prop = ident
    return " ".join(p for p in (event, f"({type_id})" if type_id else "", prop or "") if p)


def _field(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "type": kind, "options": [], "externalOptions": False}


def _egg(action: ActionNeed) -> dict[str, Any]:
    """The `PublicActionDefinitionEgg` of a spec action."""
    return {
        "actionUrl": action.url,
        "published": True,
        "objectTypes": [action.object_type] if action.object_type else [],
        "labels": {"en": {"actionName": action.title}},
        "inputFields": [{"typeDefinition": _field(name, _INPUT_TYPES.get(kind, "string")),
                         "isRequired": False, "supportedValueTypes": ["STATIC_VALUE"]}
                        for name, kind in action.inputs.items()],
        "outputFields": [{"typeDefinition": _field(name, "string")}
                         for name in action.outputs],
        "functions": [],
    }


def _definition_differs(current: Mapping[str, Any], egg: Mapping[str, Any],
                        compare_url: bool) -> str:
    """Why a definition is not what the spec's action needs ('' when it is)."""
    if compare_url and current.get("actionUrl") != egg["actionUrl"]:
        return f"calls {current.get('actionUrl')}"
    if not current.get("published"):
        return "not published"
    if list(current.get("objectTypes") or []) != egg["objectTypes"]:
        return f"for {current.get('objectTypes')}, not {egg['objectTypes']}"
    label = ((current.get("labels") or {}).get("en") or {}).get("actionName")
    if label != egg["labels"]["en"]["actionName"]:
        return f"named {label!r}"

    def fields(items: Any) -> list[tuple[str, str]]:
        return [(str((f.get("typeDefinition") or {}).get("name")),
                 str((f.get("typeDefinition") or {}).get("type"))) for f in items or []]

    if fields(current.get("inputFields")) != fields(egg["inputFields"]):
        return "other input fields"
    if fields(current.get("outputFields")) != fields(egg["outputFields"]):
        return "other output fields"
    return ""
