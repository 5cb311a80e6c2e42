"""HubSpot's contract: the official SDK (`hubspot-api-client`), checked strictly.

Routes and verbs come from `routes.json` (derived from the SDK's API classes by
`derive.py`); bodies are checked against the SDK's generated models, imported at test
time (the SDK is a pinned test dependency), with client-side validation ON and more
strictly than the SDK's own deserializer:

- a JSON key the model does not declare (`attribute_map`) is a violation, at any depth;
- JSON types must be the declared ones (`str` is a JSON string, `int` a JSON integer,
  `float` a number, `bool` a boolean, `datetime` an ISO 8601 string, `dict[str, X]` an
  object whose values are X); the SDK would silently coerce `str(12.5)`. CRM
  `properties` maps are `dict[str, str]`: every value a string or null;
- required fields (the setter refuses None) must be present and not null; enums and
  other setter checks run as the SDK runs them with `client_side_validation = True`.

Requests: the route and verb must exist in an SDK API class, query parameters must be
ones that operation takes, and the JSON body must deserialise into the operation's body
model. Answers: a 2xx must carry a status the operation documents, and its JSON must
deserialise into that status's response model with no undeclared fields.

Beyond the SDK's API classes (HubSpot -> us, which the SDK does not model):
`check_webhook_events` (a webhook delivery, against the documented event fields),
`check_action_execution` (a workflow-action execution request HubSpot posts to the
action URL), `check_action_answer` (our synchronous answer) and
`check_callback_completion` (the body of `POST /automation/v4/actions/callbacks/
{callbackId}/complete` or the batch complete, against the SDK's
`CallbackCompletionRequest` / `BatchInputCallbackCompletionBatchRequest` plus the
documented `hs_execution_state` values). `example_events()` gives one documented
example per event kind, for parser tests.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from tests.contracts.recording import Exchange

__all__ = [
    "ENFORCED",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "Operation",
    "check_action_answer",
    "check_action_execution",
    "check_body",
    "check_callback_completion",
    "check_request",
    "check_response",
    "check_webhook_events",
    "example_events",
    "operation_for",
    "route_of",
    "routes",
]

ROUTES_FILE = Path(__file__).with_name("routes.json")
#: Once the adapter and sandbox keep the contract, a violation fails the test that
#: caused it (tests/conftest.py); until then violations are only counted.
ENFORCED = True
#: The sandbox's control API (a person using HubSpot's UI), not HubSpot's: never checked.
SKIPPED_PREFIXES = ("/_sandbox/",)


def _skipped(path: str) -> bool:
    return path.startswith(SKIPPED_PREFIXES) or path == "/_sandbox"


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Operation:
    """One SDK API class method: `module.api.operation` does `method path`."""

    method: str
    path: str
    module: str
    api: str
    operation: str
    body: str | None
    responses: Mapping[str, str]
    query: tuple[str, ...]
    auth: tuple[str, ...]
    form: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.module} {self.api}.{self.operation}"

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class _Template:
    path: str
    pattern: re.Pattern[str]
    literals: int
    params: int
    operations: tuple[Operation, ...]


@cache
def routes() -> dict[str, Any]:
    """routes.json as loaded (source, derivation date, operations)."""
    data: dict[str, Any] = json.loads(ROUTES_FILE.read_text(encoding="utf-8"))
    return data


@cache
def _templates() -> tuple[_Template, ...]:
    by_path: dict[str, list[Operation]] = {}
    for raw in routes()["operations"]:
        op = Operation(raw["method"], raw["path"], raw["module"], raw["api"],
                       raw["operation"], raw.get("body"), dict(raw.get("responses") or {}),
                       tuple(raw.get("query") or ()), tuple(raw.get("auth") or ()),
                       tuple(raw.get("form") or ()))
        by_path.setdefault(op.path, []).append(op)
    out = []
    for path, ops in by_path.items():
        regex, literals, params = "", 0, 0
        for segment in path.strip("/").split("/"):
            if re.fullmatch(r"\{[^}]+\}", segment):
                regex += "/[^/]+"
                params += 1
            else:
                regex += "/" + re.escape(segment)
                literals += 1
        out.append(_Template(path, re.compile(regex + "/?"), literals, params, tuple(ops)))
    # Most specific first: more literal segments, then fewer parameters.
    out.sort(key=lambda t: (-t.literals, t.params, t.path))
    return tuple(out)


def _matching(path: str) -> list[_Template]:
    return [t for t in _templates() if t.pattern.fullmatch(path)]


def _resolve(method: str, path: str) -> tuple[list[Operation], list[_Template]]:
    """The operations for (method, path) at the most specific matching template, and
    every template the path matches (to name the verbs that do exist)."""
    matching = _matching(path)
    method = method.upper()
    for template in matching:
        ops = [o for o in template.operations if o.method == method]
        if ops:
            return ops, matching
    return [], matching


def operation_for(method: str, path: str) -> Operation | None:
    """The SDK operation a request is (the first, when modules share a path)."""
    ops, _ = _resolve(method, path)
    return ops[0] if ops else None


def route_of(method: str, path: str) -> str | None:
    """`METHOD /template` of the SDK route a request is, or None when it is none."""
    if _skipped(path):
        return None
    op = operation_for(method, path)
    return op.route if op else None


def _sdk() -> str:
    source = routes()["source"]
    return f"{source['package']} {source['version']}"


# --------------------------------------------------------------------------- models


_LIST = re.compile(r"list\[(.*)\]")
_DICT = re.compile(r"dict\[([^,]*), (.*)\]")


@cache
def _models(module: str) -> Any:
    return importlib.import_module(f"{module}.models")


@cache
def _configuration(module: str) -> Any:
    config = importlib.import_module(f"{module}.configuration").Configuration()
    config.client_side_validation = True  # off by default in SDK 12; the contract has it on
    return config


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _primitive_problem(value: Any, kind: str) -> str | None:
    if kind == "str":
        ok = isinstance(value, str)
        want = "a JSON string"
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "a JSON integer"
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        want = "a JSON number"
    elif kind == "bool":
        ok = isinstance(value, bool)
        want = "a JSON boolean"
    elif kind == "datetime":
        want = "an ISO 8601 date-time string"
        ok = isinstance(value, str) and _is_datetime(value)
    elif kind == "date":
        want = "an ISO 8601 date string (YYYY-MM-DD)"
        ok = isinstance(value, str) and _is_date(value)
    else:
        return None
    return None if ok else f"{_show(value)} is {_json_type(value)}, not {want}"


def _is_datetime(text: str) -> bool:
    if "T" not in text:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


#: Fields whose generated SDK type is known to be wrong, where HubSpot documents (and
#: answers to) another shape: (model, JSON field) -> checker of the documented shape.
#: PublicObjectSearchRequest.sorts is `list[str]` in every SDK, but the CRM search guide
#: ("Sort search results") documents `[{"propertyName": ..., "direction": "ASCENDING" |
#: "DESCENDING"}]`; HubSpot/hubspot-api-python#236 (open) and hubspot-api-nodejs#14, #559.
#: Both forms are accepted here; an object must be exactly that shape.
SORT_DIRECTIONS = ("ASCENDING", "DESCENDING")


def _sorts_problems(value: Any, where: str, owner: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{where}: {_show(value)} is {_json_type(value)}, not an array ({owner})"]
    problems = []
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        if isinstance(item, str):
            continue
        if not isinstance(item, dict):
            problems.append(f"{at}: {_show(item)} is {_json_type(item)}, not a property "
                            f"name or a {{propertyName, direction}} object ({owner})")
            continue
        for key in sorted(set(item) - {"propertyName", "direction"}):
            problems.append(f"{at}.{key}: a sort has only propertyName and direction "
                            f"({owner}, CRM search guide)")
        if not isinstance(item.get("propertyName"), str):
            problems.append(f"{at}.propertyName: required, a property name ({owner})")
        if item.get("direction") not in SORT_DIRECTIONS:
            problems.append(f"{at}.direction: {_show(item.get('direction'))} is not one of "
                            f"{', '.join(SORT_DIRECTIONS)} ({owner})")
    return problems


_OVERRIDES = {("PublicObjectSearchRequest", "sorts"): _sorts_problems}


class _Walk:
    """One strict deserialisation: collects every problem, not just the first."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.problems: list[str] = []

    def value(self, value: Any, kind: str, where: str, owner: str,
              declared: str | None = None) -> None:
        """Check `value` against the SDK type `kind`; `owner` and `declared` name the
        model field it sits in and that field's whole type, for messages."""
        declared = declared or kind
        if value is None:
            return  # null: the SDK leaves it None; required-ness is the setter's call
        match = _LIST.fullmatch(kind)
        if match:
            if not isinstance(value, list):
                self.problems.append(f"{where}: {_show(value)} is {_json_type(value)}, not "
                                     f"an array ({owner}: {declared})")
                return
            for index, item in enumerate(value):
                self.value(item, match.group(1), f"{where}[{index}]", owner, declared)
            return
        match = _DICT.fullmatch(kind)
        if match:
            if not isinstance(value, dict):
                self.problems.append(f"{where}: {_show(value)} is {_json_type(value)}, not "
                                     f"an object ({owner}: {declared})")
                return
            for key, item in value.items():
                self.value(item, match.group(2), f"{where}.{key}", owner, declared)
            return
        if kind == "object":
            return
        if kind in ("str", "int", "float", "bool", "datetime", "date"):
            problem = _primitive_problem(value, kind)
            if problem:
                self.problems.append(f"{where}: {problem} ({owner}: {declared})")
            return
        klass = getattr(_models(self.module), kind, None)
        if klass is None:
            self.problems.append(f"{where}: the SDK names model {kind} but "
                                 f"{self.module}.models has none")
            return
        self.model(value, klass, where)

    def model(self, data: Any, klass: type, where: str) -> None:
        name = klass.__name__
        if not isinstance(data, dict):
            self.problems.append(f"{where}: {_show(data)} is {_json_type(data)}, not a "
                                 f"{name} object")
            return
        types: dict[str, str] = getattr(klass, "openapi_types", None) or {}
        names: dict[str, str] = getattr(klass, "attribute_map", None) or {}
        if not types:
            return  # a free-form object in the SDK
        declared = {json_name: attr for attr, json_name in names.items()}
        for key in data:
            if key not in declared:
                self.problems.append(f"{where}.{key}: {name} declares no field {key!r} "
                                     f"(fields: {', '.join(sorted(declared))})")
        for attr, kind in types.items():
            json_name = names[attr]
            if json_name not in data:
                continue
            override = _OVERRIDES.get((name, json_name))
            if override is not None:
                if data[json_name] is not None:
                    self.problems += override(data[json_name], f"{where}.{json_name}",
                                              f"{name}.{json_name}")
                continue
            self.value(data[json_name], kind, f"{where}.{json_name}", f"{name}.{json_name}")
        self._validate(data, klass, where, declared)

    def _validate(self, data: Mapping[str, Any], klass: type, where: str,
                  declared: Mapping[str, str]) -> None:
        """Run the model's own setters with client-side validation on (required, enums,
        patterns), each on its own so every refusal is reported."""
        instance = klass.__new__(klass)
        instance.local_vars_configuration = _configuration(self.module)
        for json_name, attr in declared.items():
            raw = data.get(json_name)
            try:
                setattr(instance, attr, raw)
            except ValueError as exc:
                message = str(exc)
                if raw is None:
                    if "must not be `None`" in message:
                        state = "null" if json_name in data else "missing"
                        self.problems.append(f"{where}.{json_name}: required by "
                                             f"{klass.__name__} but {state}")
                    continue  # an optional enum left out: the SDK skips its setter
                self.problems.append(f"{where}.{json_name}: {klass.__name__} refuses "
                                     f"{_show(raw)}: {message}")
            except TypeError as exc:
                self.problems.append(f"{where}.{json_name}: {klass.__name__} refuses "
                                     f"{_show(raw)}: {exc}")


def check_body(model: str, data: Any, module: str, where: str = "body") -> list[str]:
    """Every way `data` (parsed JSON) fails to deserialise strictly into `module`'s
    model `model` (e.g. "BatchReadInputSimplePublicObjectId", "hubspot.crm.companies")."""
    walk = _Walk(module)
    walk.value(data, model, where, model)
    if data is None:
        walk.problems.append(f"{where}: null where {module}.models.{model} is required")
    return walk.problems


def _parse(raw: bytes, what: str) -> tuple[Any, str | None]:
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, f"{what} is not JSON: {raw[:60]!r}"


# --------------------------------------------------------------------------- exchanges


def _verbs(matching: Iterable[_Template]) -> str:
    seen = sorted({(o.method, t.path) for t in matching for o in t.operations})
    return "; ".join(f"{m} {p}" for m, p in seen)


def check_request(exchange: Exchange) -> list[str]:
    """The request against the SDK: route, verb, query parameters, body model."""
    if _skipped(exchange.path):
        return []
    ops, matching = _resolve(exchange.method, exchange.path)
    if not ops:
        if matching:
            refs = ", ".join(sorted({o.ref for o in matching[0].operations}))
            return [f"the SDK has no {exchange.method} for this path; it has only "
                    f"{_verbs(matching[:1])} ({refs})"]
        return [f"no API class of the SDK ({_sdk()}) has this route"]
    best: list[str] | None = None
    for op in ops:
        problems = _request_problems(op, exchange)
        if not problems:
            return []
        best = problems if best is None else best
    assert best is not None
    return best


def _request_problems(op: Operation, exchange: Exchange) -> list[str]:
    problems: list[str] = []
    allowed = set(op.query)
    if "developer_hapikey" in op.auth:
        allowed.add("hapikey")
    for name in sorted({name for name, _ in exchange.query} - allowed):
        problems.append(f"query parameter {name!r} is not one {op.api}.{op.operation} "
                        f"takes ({', '.join(op.query) or 'none'}) [{op.module}]")
    if op.form:
        content_type = exchange.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            problems.append(f"{op.api}.{op.operation} takes a form "
                            f"(application/x-www-form-urlencoded), not {content_type or 'none'}"
                            f" [{op.module}]")
        fields = {name for name, _ in parse_qsl(exchange.body.decode("utf-8", "replace"))}
        for name in sorted(fields - set(op.form)):
            problems.append(f"form field {name!r} is not one {op.api}.{op.operation} takes "
                            f"({', '.join(op.form)}) [{op.module}]")
        return problems
    if op.body is None:
        if exchange.body.strip():
            problems.append(f"{op.api}.{op.operation} takes no body, but one was sent "
                            f"[{op.module}]")
        return problems
    if not exchange.body.strip():
        problems.append(f"{op.api}.{op.operation} requires a JSON body "
                        f"({op.body}); none was sent [{op.module}]")
        return problems
    data, error = _parse(exchange.body, "the body")
    if error:
        return [*problems, f"{error} ({op.api}.{op.operation} takes {op.body})"]
    problems.extend(f"{p} [{op.body}, {op.ref}]" for p in check_body(op.body, data, op.module))
    return problems


def check_response(exchange: Exchange) -> list[str]:
    """A 2xx answer against the response model the SDK names for its status."""
    if not 200 <= exchange.status < 300 or _skipped(exchange.path):
        return []
    ops, _ = _resolve(exchange.method, exchange.path)
    if not ops:
        return []  # the request side already says the route is not in the SDK
    best: list[str] | None = None
    for op in ops:
        problems = _response_problems(op, exchange)
        if not problems:
            return []
        best = problems if best is None else best
    assert best is not None
    return best


def _response_problems(op: Operation, exchange: Exchange) -> list[str]:
    status = str(exchange.status)
    body = exchange.response_body.strip()
    documented = {s: m for s, m in op.responses.items() if s.startswith("2")}
    if not documented:
        if body:
            return [f"{op.api}.{op.operation} answers with no body in the SDK, but this "
                    f"answer has one: {body[:60]!r} [{op.module}]"]
        return []
    model = documented.get(status)
    if model is None:
        return [f"status {status} is not one {op.api}.{op.operation} documents "
                f"({', '.join(sorted(documented))}); the SDK deserialises no body for it "
                f"[{op.module}]"]
    if not body:
        return [f"answered {status} with no body; {op.api}.{op.operation} expects {model} "
                f"[{op.module}]"]
    data, error = _parse(exchange.response_body, "the answer")
    if error:
        return [f"{error} ({op.api}.{op.operation} answers {model})"]
    return [f"{p} [{model}, {op.ref}]" for p in check_body(model, data, op.module,
                                                             where="answer")]


# --------------------------------------------------------------------------- webhooks

#: Subscription (event) types HubSpot documents: the enum of the SDK's
#: `hubspot.webhooks.models.SubscriptionCreateRequest.event_type`.
EVENT_TYPES: tuple[str, ...] = (
    "contact.propertyChange", "company.propertyChange", "deal.propertyChange",
    "ticket.propertyChange", "product.propertyChange", "line_item.propertyChange",
    "contact.creation", "contact.deletion", "contact.privacyDeletion", "company.creation",
    "company.deletion", "deal.creation", "deal.deletion", "ticket.creation",
    "ticket.deletion", "product.creation", "product.deletion", "line_item.creation",
    "line_item.deletion", "conversation.creation", "conversation.deletion",
    "conversation.newMessage", "conversation.privacyDeletion",
    "conversation.propertyChange", "contact.merge", "company.merge", "deal.merge",
    "ticket.merge", "product.merge", "line_item.merge", "contact.restore",
    "company.restore", "deal.restore", "ticket.restore", "product.restore",
    "line_item.restore", "contact.associationChange", "company.associationChange",
    "deal.associationChange", "ticket.associationChange", "line_item.associationChange",
    "object.propertyChange", "object.creation", "object.deletion", "object.merge",
    "object.restore", "object.associationChange",
)

#: The fields of a webhook event as HubSpot documents them (webhooks API guide, "Webhook
#: payloads"; generic webhook subscriptions guide; changelog "New subscription types for
#: Webhooks" for merge and associationChange), with their JSON types.
EVENT_FIELDS: dict[str, str] = {
    # every event
    "eventId": "int", "subscriptionId": "int", "portalId": "int", "appId": "int",
    "occurredAt": "int", "subscriptionType": "str", "attemptNumber": "int",
    "changeSource": "str", "sourceId": "str",
    # the object an event is about (not on associationChange)
    "objectId": "int", "objectTypeId": "str",
    # propertyChange
    "propertyName": "str", "propertyValue": "str",
    # merge
    "primaryObjectId": "int", "mergedObjectIds": "list[int]", "newObjectId": "int",
    "numberOfPropertiesMoved": "int",
    # associationChange
    "associationType": "str", "fromObjectId": "int", "toObjectId": "int",
    "associationRemoved": "bool", "isPrimaryAssociation": "bool",
    "fromObjectTypeId": "str", "toObjectTypeId": "str", "associationTypeId": "int",
    "associationCategory": "str",
    # conversations
    "messageId": "str", "messageType": "str", "changeFlag": "str",
}

_COMMON_REQUIRED = ("eventId", "subscriptionId", "portalId", "appId", "occurredAt",
                    "subscriptionType", "attemptNumber")
_COMMON_OPTIONAL = ("changeSource", "sourceId")
#: Per event kind (the part after the dot): fields required and fields allowed beside
#: the common ones. `object.*` kinds also require objectTypeId (association changes
#: carry fromObjectTypeId/toObjectTypeId instead).
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "creation": (("objectId",), ()),
    "deletion": (("objectId",), ()),
    "privacyDeletion": (("objectId",), ()),
    "restore": (("objectId",), ()),
    "propertyChange": (("objectId", "propertyName", "propertyValue"), ("changeFlag",)),
    "merge": (("primaryObjectId", "mergedObjectIds", "newObjectId"),
              ("objectId", "numberOfPropertiesMoved")),
    "associationChange": (("fromObjectId", "toObjectId", "associationRemoved"),
                          ("associationType", "isPrimaryAssociation", "fromObjectTypeId",
                           "toObjectTypeId", "associationTypeId", "associationCategory")),
    "newMessage": (("objectId", "messageId", "messageType"), ("changeFlag",)),
}


def _event_problems(event: Any, where: str) -> list[str]:
    if not isinstance(event, dict):
        return [f"{where}: {_show(event)} is {_json_type(event)}, not an event object"]
    kind_name = event.get("subscriptionType")
    problems: list[str] = []
    if kind_name not in EVENT_TYPES:
        problems.append(f"{where}.subscriptionType: {_show(kind_name)} is not a documented "
                        "event type (hubspot.webhooks.models.SubscriptionCreateRequest"
                        ".event_type)")
        return problems
    prefix, _, kind = str(kind_name).partition(".")
    required, optional = _KINDS[kind]
    required = (*_COMMON_REQUIRED, *required)
    if prefix == "object":
        if kind == "associationChange":
            required = (*required, "fromObjectTypeId", "toObjectTypeId")
        else:
            required = (*required, "objectTypeId")
    allowed = {*required, *optional, *_COMMON_OPTIONAL}
    for name in required:
        if event.get(name) is None:
            problems.append(f"{where}.{name}: a documented {kind_name} event always "
                            f"carries {name}; it is missing")
    for name, value in event.items():
        if name not in allowed:
            problems.append(f"{where}.{name}: not a documented field of a {kind_name} "
                            f"event (fields: {', '.join(sorted(allowed))})")
            continue
        problem = None if value is None else _event_type_problem(value, EVENT_FIELDS[name])
        if problem:
            problems.append(f"{where}.{name}: {problem} (webhook event {name}: "
                            f"{EVENT_FIELDS[name]})")
    return problems


def _event_type_problem(value: Any, kind: str) -> str | None:
    match = _LIST.fullmatch(kind)
    if match:
        if not isinstance(value, list):
            return f"{_show(value)} is {_json_type(value)}, not an array"
        for item in value:
            problem = _primitive_problem(item, match.group(1))
            if problem:
                return problem
        return None
    return _primitive_problem(value, kind)


def check_webhook_events(body: bytes | str | list[Any]) -> list[str]:
    """A webhook delivery (a JSON array of at most 100 events) against the documented
    event fields: type, required fields per kind, no undocumented fields."""
    if isinstance(body, bytes | str):
        data, error = _parse(body.encode() if isinstance(body, str) else body,
                             "the delivery")
        if error:
            return [error]
    else:
        data = body
    if not isinstance(data, list):
        return [f"a delivery is a JSON array of events, not {_json_type(data)}"]
    problems = []
    if len(data) > 100:
        problems.append(f"a delivery holds at most 100 events; this one has {len(data)}")
    for index, event in enumerate(data):
        problems.extend(_event_problems(event, f"events[{index}]"))
    return problems


def example_events(portal_id: int = 62515, app_id: int = 1160452) -> list[dict[str, Any]]:
    """One documented example per event kind (legacy and generic shapes), as HubSpot
    would send them; for parser tests. Each passes `check_webhook_events`."""
    base = {"subscriptionId": 25, "portalId": portal_id, "appId": app_id,
            "occurredAt": 1764763200000, "attemptNumber": 0, "changeSource": "CRM_UI",
            "sourceId": "userId:1"}
    events: list[dict[str, Any]] = [
        {"eventId": 1001, "subscriptionType": "company.creation", "objectId": 2000000001},
        {"eventId": 1002, "subscriptionType": "company.propertyChange",
         "objectId": 2000000001, "propertyName": "phone", "propertyValue": "08-111 22 33"},
        {"eventId": 1003, "subscriptionType": "company.deletion", "objectId": 2000000002},
        {"eventId": 1004, "subscriptionType": "company.restore", "objectId": 2000000002},
        {"eventId": 1005, "subscriptionType": "company.merge", "objectId": 2000000003,
         "primaryObjectId": 2000000003, "mergedObjectIds": [2000000004],
         "newObjectId": 2000000003, "numberOfPropertiesMoved": 4},
        {"eventId": 1006, "subscriptionType": "company.associationChange",
         "associationType": "COMPANY_TO_DEAL", "fromObjectId": 2000000001,
         "toObjectId": 3000000001, "associationRemoved": False,
         "isPrimaryAssociation": False},
        {"eventId": 1007, "subscriptionType": "contact.privacyDeletion",
         "objectId": 1000000001},
        {"eventId": 1008, "subscriptionType": "object.creation", "objectTypeId": "0-970",
         "objectId": 9700000001},
        {"eventId": 1009, "subscriptionType": "object.propertyChange",
         "objectTypeId": "0-970", "objectId": 9700000001, "propertyName": "hs_name",
         "propertyValue": "Ramavtal"},
        {"eventId": 1010, "subscriptionType": "object.associationChange",
         "fromObjectTypeId": "0-3", "toObjectTypeId": "0-2", "associationTypeId": 341,
         "associationCategory": "HUBSPOT_DEFINED", "fromObjectId": 3000000001,
         "toObjectId": 2000000001, "associationRemoved": True,
         "isPrimaryAssociation": False},
        {"eventId": 1011, "subscriptionType": "deal.propertyChange", "objectId": 3000000001,
         "propertyName": "dealstage", "propertyValue": "closedwon"},
    ]
    return [{**base, **event} for event in events]


# --------------------------------------------------------------------------- workflow actions

#: The execution request HubSpot posts to an action's `actionUrl` (custom workflow
#: actions guide, "Execution"), field -> JSON type; nested objects by dotted name.
#: `fields` is the older name of `inputFields`, still sent beside it by HubSpot.
EXECUTION_FIELDS: dict[str, str] = {
    "callbackId": "str", "origin": "object", "context": "object", "object": "object",
    "inputFields": "dict[str, object]", "fields": "dict[str, object]",
    "origin.portalId": "int", "origin.actionDefinitionId": "int",
    "origin.actionDefinitionVersion": "int", "origin.actionExecutionIndexIdentifier": "object",
    "origin.extensionDefinitionId": "int", "origin.extensionDefinitionVersionId": "int",
    "origin.actionExecutionIndexIdentifier.enrollmentId": "int",
    "origin.actionExecutionIndexIdentifier.actionExecutionIndex": "int",
    "context.source": "str", "context.workflowId": "int",
    "object.objectId": "int", "object.objectType": "str",
    "object.properties": "dict[str, str]",
}
_EXECUTION_REQUIRED = ("callbackId", "origin", "context", "object", "origin.portalId",
                       "origin.actionDefinitionId", "origin.actionDefinitionVersion",
                       "context.source", "object.objectId", "object.objectType")
#: `outputFields.hs_execution_state` values: a synchronous answer may BLOCK (and then
#: name `hs_expiration_duration`), a completion must end the execution.
ANSWER_STATES = ("SUCCESS", "FAIL_CONTINUE", "BLOCK")
COMPLETION_STATES = ("SUCCESS", "FAIL_CONTINUE")


def check_action_execution(body: bytes | str | Mapping[str, Any]) -> list[str]:
    """An execution request (HubSpot -> the action URL) against the documented fields."""
    data = _loaded(body)
    if isinstance(data, str):
        return [data]
    problems: list[str] = []
    if not isinstance(data, dict):
        return [f"an execution request is a JSON object, not {_json_type(data)}"]

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            kind = EXECUTION_FIELDS.get(name)
            if kind is None:
                problems.append(f"execution.{name}: not a documented field of a workflow "
                                "action execution request")
                continue
            if value is None:
                continue
            if kind == "object":
                if not isinstance(value, dict):
                    problems.append(f"execution.{name}: {_show(value)} is "
                                    f"{_json_type(value)}, not an object")
                else:
                    walk(value, f"{name}.")
                continue
            walker = _Walk("hubspot.automation.actions")
            walker.value(value, kind, f"execution.{name}", f"execution {name}")
            problems.extend(walker.problems)

    walk(data, "")
    for name in _EXECUTION_REQUIRED:
        node: Any = data
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            problems.append(f"execution.{name}: HubSpot always sends it; it is missing")
    return problems


def _loaded(body: bytes | str | Any) -> Any:
    """Parsed JSON, or an error sentence (a str) when `body` is bytes that are not JSON."""
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        data, error = _parse(raw, "the body")
        return error if error else data
    return body


def _states(output: Any, where: str, states: tuple[str, ...]) -> list[str]:
    if not isinstance(output, dict):
        return []
    state = output.get("hs_execution_state")
    if state is None:
        return [] if states is ANSWER_STATES else [
            f"{where}.hs_execution_state: a completion must say how the execution ended "
            f"({', '.join(states)})"]
    if state not in states:
        return [f"{where}.hs_execution_state: {_show(state)} is not one of "
                f"{', '.join(states)}"]
    return []


def check_callback_completion(body: bytes | str | Mapping[str, Any], *,
                              batch: bool = False) -> list[str]:
    """The body of `POST /automation/v4/actions/callbacks/{callbackId}/complete`
    (CallbackCompletionRequest) or, `batch=True`, of `.../callbacks/complete`
    (BatchInputCallbackCompletionBatchRequest), strictly, plus the documented
    `hs_execution_state` values of a completion."""
    data = _loaded(body)
    if isinstance(data, str):
        return [data]
    module = "hubspot.automation.actions"
    if batch:
        problems = check_body("BatchInputCallbackCompletionBatchRequest", data, module)
        inputs = data.get("inputs") if isinstance(data, dict) else None
        for index, item in enumerate(inputs if isinstance(inputs, list) else []):
            if isinstance(item, dict):
                problems += _states(item.get("outputFields"),
                                    f"body.inputs[{index}].outputFields", COMPLETION_STATES)
        return problems
    problems = check_body("CallbackCompletionRequest", data, module)
    if isinstance(data, dict):
        problems += _states(data.get("outputFields"), "body.outputFields", COMPLETION_STATES)
    return problems


def check_action_answer(body: bytes | str | Mapping[str, Any]) -> list[str]:
    """Our synchronous 2xx answer to an execution: `{"outputFields": {...}}` with string
    values (the shape of CallbackCompletionRequest) and a documented state; BLOCK may
    add `hs_expiration_duration` (ISO 8601 duration)."""
    data = _loaded(body)
    if isinstance(data, str):
        return [data]
    problems = [p.replace("CallbackCompletionRequest", "action answer (as "
                          "CallbackCompletionRequest)")
                for p in check_body("CallbackCompletionRequest", data,
                                    "hubspot.automation.actions", where="answer")]
    if isinstance(data, dict):
        problems += _states(data.get("outputFields"), "answer.outputFields", ANSWER_STATES)
    return problems
