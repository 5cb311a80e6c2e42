"""The Maconomy contract, as far as real clients confirm it, checked on recorded traffic.

Maconomy publishes no contract. `facts.json` (beside this file) transcribes what public
clients show, each fact with its source, and sorts them: "confirmed" (code in a named
repository) is the contract; "corroborated" (only in code whose repository is unknown),
"inferred" and "unconfirmed" (nowhere) are not. Every sentence this module returns names
the fact it rests on (F-…), so a violation can be traced to file and line.

What a request must do (check_request):

- go to a route a real client uses, with that route's method (route_of names them);
- name the answer format: Accept is the vendor type with a confirmed version (never
  missing, never only */*); a body carries the vendor content type (application/json
  only on the /containers/v1 API);
- authenticate as the confirmed flows do: Basic only on the login or first request with
  Maconomy-Authentication X-Reconnect (or X-Force-Maconomy-Credentials, X-Cookie);
  afterwards X-Reconnect with a token an earlier answer handed out in Maconomy-Reconnect,
  switching when an answer rotates it; X-Cookie with its cookie;
- send only the body keys real clients send (a search/table body is {restriction, fields}
  or {data, fields}; v1 filter parameters are restriction/limit/offset/fields/orderby);
- write restrictions in the confirmed syntax: single-quoted values, '=', 'or',
  parentheses, the whole restriction 'true'; no empty restriction.

What an answer must look like (check_response): filter/search answers are
panes.filter.{meta {paneName, rowCount, rowOffset}, records[{data}]} with rowCount the
rows returned and rowOffset the offset asked for, nothing else besides the confirmed
meta/links; a specification's pane fields is an object keyed by field name with confirmed
attributes and type names; timestamps are 'yyyy-MM-dd HH:mm:ss.SSS'; errors use the
confirmed envelope.

Unconfirmed facts: a request relying on one (POST …/filter with limit/offset, orderby in
a body, timestamp(...), date(...), 'and'/'>=' …, quote doubling, the specification at
{api}/containers/{s}/{c}, logout through /auth) is reported unless the test declared the
matching connection option with `tests.contracts.maconomy.optin.allow_unconfirmed` (the
option names are the keys of facts.json "options"; the adapter takes the same names,
so a test enables an option on the adapter and declares it here). Nothing travels on the
wire to say so. Callers may also pass `enabled=` directly.

Token checks look at the exchanges recorded before this one in the running test's ledger;
when an exchange is checked outside a ledger, pass `history=`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.contracts.maconomy.optin import enabled_options
from tests.contracts.recording import Exchange, current_ledger

__all__ = ["ENFORCED", "FACTS", "check_request", "check_response", "restriction_problems",
           "route_of"]

# The adapter and the sandbox keep this contract: a violation fails the test that sent it
# (tests/conftest.py).
ENFORCED = True

FACTS: dict[str, Any] = json.loads(
    (Path(__file__).with_name("facts.json")).read_text(encoding="utf-8"))
_FACT_IDS = {f["id"] for f in FACTS["facts"]}
_OPTION_OF = {f["id"]: f.get("option") for f in FACTS["facts"]}

CONTAINERS_TYPE = "application/vnd.deltek.maconomy.containers+json"
CONTAINERS_V2_TYPE = "application/vnd.deltek.maconomy.containers-v2+json"
AUTH_TYPE = "application/vnd.deltek.maconomy.authentication+json"
ENVIRONMENT_TYPE = "application/vnd.deltek.maconomy.environment+json"
CONFIRMED_VERSIONS = {CONTAINERS_TYPE: {"5.0", "6.1"}, AUTH_TYPE: {"2.0"},
                      ENVIRONMENT_TYPE: {"2.0"}}
AUTH_MODES = {"x-reconnect", "x-log-out", "x-cookie", "x-force-maconomy-credentials"}
# A request may still carry a token an answer rotated away while it was in flight; one
# still used this many exchanges after the rotation was not switched (F-AUTH-ROTATION).
ROTATION_SLACK = 4

SEARCH_KEYS = ({"restriction", "fields"}, {"data", "fields"})
V1_FILTER_PARAMS = {"restriction", "limit", "offset", "fields", "orderby"}
FILTER_BODY_KEYS = {"restriction", "fields", "limit", "offset"}
FILTER_META_KEYS = {"paneName", "rowCount", "rowOffset"}
FIELD_ATTRIBUTES = {"name", "title", "type", "create", "autoSubmit", "hidden", "mandatory",
                    "maxLength", "multiLine", "secret", "suggestions", "update",
                    "unfilterable", "references", "key", "subtypeContainer", "enumType"}
FIELD_TYPES = {"integer", "real", "amount", "boolean", "string", "date", "time", "enum",
               "timeduration", "autotimestamp"}
PANE_KEYS = {"paneName", "title", "entity", "actions", "fields", "foreignKeys"}
ERROR_KEYS = {"errorMessage", "errorFamily", "errorSeverity", "focus", "data"}
_ISO_T = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _fact(fact_id: str) -> str:
    assert fact_id in _FACT_IDS, fact_id
    return f"fact {fact_id}"


def _needs(fact_id: str) -> str:
    """'…; allowed only with the connection option X (fact F-…)'."""
    option = _OPTION_OF[fact_id]
    status = next(f["status"] for f in FACTS["facts"] if f["id"] == fact_id)
    seen = ("appears only in code of unknown provenance" if status == "corroborated"
            else "appears in no real client")
    return f"{seen} ({_fact(fact_id)}); allowed only with the connection option {option}"


# =========================================================================== routes


@dataclass(frozen=True)
class Route:
    name: str  # the template route_of reports
    methods: frozenset[str]
    family: str  # auth | v1 | containers | environment
    kind: str
    fact: str
    option: str | None = None  # set when the route itself is unconfirmed
    unattributed: bool = False  # shown only in code of unknown provenance, no option


_SEG = r"[^/;]+"
_ROUTES: list[tuple[re.Pattern[str], Route]] = [
    (re.compile(rf"^(?P<api>.*)/auth/(?P<shortname>{_SEG})/login/?$"),
     Route("{api}/auth/{shortname}/login", frozenset({"GET"}), "auth", "auth-login",
           "F-AUTH-LOGIN", unattributed=True)),
    (re.compile(rf"^(?P<api>.*)/auth/(?P<shortname>{_SEG})/?$"),
     Route("GET {api}/auth/{shortname}", frozenset({"GET"}), "auth", "auth", "F-AUTH-LOGIN")),
    (re.compile(rf"^(?P<api>.*)/containers/v1/(?P<shortname>{_SEG})/?$"),
     Route("GET {base}/containers/v1/{shortname}", frozenset({"GET"}), "v1", "v1-root",
           "F-PATH-V1")),
    (re.compile(rf"^(?P<api>.*)/containers/v1/(?P<shortname>{_SEG})/(?P<container>{_SEG})/?$"),
     Route("GET {base}/containers/v1/{shortname}/{container}", frozenset({"GET"}), "v1",
           "v1-container", "F-PATH-V1")),
    (re.compile(rf"^(?P<api>.*)/containers/v1/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/data;(?P<key>[a-z0-9_]+)=(?P<value>[^/]*)$"),
     Route("GET {base}/containers/v1/{shortname}/{container}/data;{key}={value}",
           frozenset({"GET"}), "v1", "v1-key", "F-KEY-READ")),
    (re.compile(rf"^(?P<api>.*)/containers/v1/(?P<shortname>{_SEG})/(?P<rest>.+)$"),
     Route("GET {link href} under {base}/containers/v1/{shortname}", frozenset({"GET"}),
           "v1", "v1-link", "F-V1-LINKS")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/search/table;foreignkey=(?P<foreignkey>{_SEG})$"),
     Route("POST {api}/containers/{shortname}/{container}/search/table;foreignkey={fk}",
           frozenset({"POST"}), "containers", "search", "F-SEARCH-TABLE")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                r"/instances$"),
     Route("POST {api}/containers/{shortname}/{container}/instances", frozenset({"POST"}),
           "containers", "instances", "F-INSTANCES")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/instances/(?P<id>{_SEG})/data;any$"),
     Route("POST {api}/containers/{shortname}/{container}/instances/{id}/data;any",
           frozenset({"POST"}), "containers", "instance-empty", "F-INSTANCES")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/instances/(?P<id>{_SEG})/data/panes/card/\d+/action;name=[a-z0-9_]+$"),
     Route("POST {api}/containers/{s}/{c}/instances/{id}/data/panes/card/{row}/action;name={a}",
           frozenset({"POST"}), "containers", "instance-empty", "F-INSTANCES")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/instances/(?P<id>{_SEG})/data/panes/(?:card|table)/\d+$"),
     Route("{api}/containers/{s}/{c}/instances/{id}/data/panes/{pane}/{row}",
           frozenset({"POST", "DELETE"}), "containers", "instance-data", "F-INSTANCES")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                rf"/instances/(?P<id>{_SEG})/data/panes/table/(?:inits)?$"),
     Route("POST {api}/containers/{s}/{c}/instances/{id}/data/panes/table/?row=end",
           frozenset({"POST"}), "containers", "instance-data", "F-INSTANCES")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})"
                r"/filter$"),
     Route("{api}/containers/{shortname}/{container}/filter", frozenset({"GET", "POST"}),
           "containers", "filter", "F-FILTER-V2", option="filter_endpoint")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/(?P<container>{_SEG})/?$"),
     Route("GET {api}/containers/{shortname}/{container}", frozenset({"GET"}), "containers",
           "specification", "F-SPEC-PATH", option="specification_path")),
    (re.compile(rf"^(?P<api>.*)/containers/(?P<shortname>{_SEG})/?$"),
     Route("GET {api}/containers/{shortname}/", frozenset({"GET"}), "containers", "root",
           "F-CONTAINERS-ROOT")),
    (re.compile(rf"^(?P<api>.*)/environment/(?P<shortname>{_SEG})/?$"),
     Route("GET {api}/environment/{shortname}", frozenset({"GET"}), "environment",
           "environment", "F-ENVIRONMENT")),
]


def _match(path: str) -> tuple[Route, dict[str, str]] | None:
    for pattern, route in _ROUTES:
        found = pattern.match(path)
        if found:
            return route, found.groupdict()
    return None


def _sandbox_control(path: str) -> bool:
    return path.startswith("/_sandbox/") or path == "/_sandbox"


def route_of(method: str, path: str) -> str | None:
    """The confirmed route `method path` takes, or None (unconfirmed, unknown, control)."""
    found = _match(path)
    if found is None or _sandbox_control(path):
        return None
    route, _ = found
    if route.option or route.unattributed or method.upper() not in route.methods:
        return None
    return route.name


# =========================================================================== helpers


def _history(exchange: Exchange, history: Sequence[Exchange] | None) -> list[Exchange] | None:
    if history is not None:
        return [e for e in history if e.vendor == exchange.vendor]
    ledger = current_ledger()
    for index, recorded in enumerate(ledger.exchanges):
        if recorded is exchange:
            return [e for e in ledger.exchanges[:index] if e.vendor == exchange.vendor]
    return None


def _enabled(enabled: Iterable[str] | None) -> frozenset[str]:
    return frozenset(enabled) if enabled is not None else enabled_options()


def _media(value: str) -> list[tuple[str, dict[str, str]]]:
    """'a/b; version=5.0, c/d' -> [('a/b', {'version': '5.0'}), ('c/d', {})]."""
    out = []
    for part in value.split(","):
        pieces = [p.strip() for p in part.split(";") if p.strip()]
        if not pieces:
            continue
        params = {}
        for piece in pieces[1:]:
            name, _, val = piece.partition("=")
            params[name.strip().lower()] = val.strip().strip('"')
        out.append((pieces[0].lower(), params))
    return out


def _json(raw: bytes) -> tuple[Any, str | None]:
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, str(exc)


def _type_name(value: Any) -> str:
    return type(value).__name__


# =========================================================================== requests


def check_request(exchange: Exchange, *, enabled: Iterable[str] | None = None,
                  history: Sequence[Exchange] | None = None) -> list[str]:
    """One sentence per way the request leaves the confirmed contract."""
    if _sandbox_control(exchange.path):
        return []  # the simulators' control API, not Maconomy traffic
    options = _enabled(enabled)
    found = _match(exchange.path)
    if found is None:
        return [f"no real client sends {exchange.method} to a path shaped like "
                f"{exchange.path!r} (facts F-PATH-V2, F-PATH-V1: known routes are listed "
                f"in tests/contracts/maconomy/facts.json)"]
    route, _ = found
    problems: list[str] = []
    method = exchange.method.upper()
    if method not in route.methods:
        problems.append(f"{method} is not how real clients use {route.name} "
                        f"({_fact(route.fact)}: {', '.join(sorted(route.methods))})")
    if route.unattributed:
        problems.append(f"{route.name} appears only in code of unknown provenance; the "
                        f"confirmed login is GET {{api}}/auth/{{shortname}} "
                        f"({_fact('F-AUTH-LOGIN')})")
    elif route.option and route.option not in options:
        problems.append(f"{route.name} {_needs(route.fact)}")
    past = _history(exchange, history)
    if route.kind == "v1-link" and past is not None and not _linked(exchange, past):
        problems.append(f"GET {exchange.path} was not taken from a link in an earlier "
                        f"answer; v1 clients follow the container's links "
                        f"({_fact('F-V1-LINKS')})")
    problems += _check_accept(exchange, route, options)
    problems += _check_content_type(exchange, route, options)
    problems += _check_auth(exchange, route, options, past)
    problems += _check_body(exchange, route, options)
    return problems


def _linked(exchange: Exchange, past: Sequence[Exchange]) -> bool:
    target = exchange.path.rstrip("/")
    for earlier in past:
        body, _ = _json(earlier.response_body)
        for href in _hrefs(body):
            if unquote(urlsplit(href).path).rstrip("/") == target:
                return True
    return False


def _hrefs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        links = node.get("links")
        if isinstance(links, dict):
            for link in links.values():
                if isinstance(link, dict) and isinstance(link.get("href"), str):
                    yield link["href"]
        for value in node.values():
            yield from _hrefs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _hrefs(value)


def _check_accept(exchange: Exchange, route: Route, options: frozenset[str]) -> list[str]:
    accept = exchange.headers.get("accept", "").strip()
    if route.family == "auth":
        wanted, fact, example = (AUTH_TYPE, "F-ACCEPT-AUTH",
                                 f"{AUTH_TYPE}; charset=utf-8; version=2.0")
    elif route.family == "environment":
        wanted, fact, example = (ENVIRONMENT_TYPE, "F-ENVIRONMENT",
                                 f"{ENVIRONMENT_TYPE}; charset=utf-8; version=2.0")
    elif route.family == "v1":
        wanted, fact, example = "application/json", "F-CT-V1", "application/json"
    else:
        wanted, fact, example = CONTAINERS_TYPE, "F-ACCEPT-V2", f"{CONTAINERS_TYPE}; version=5.0"
    media = _media(accept)
    if not media or all(m == "*/*" for m, _ in media):
        shown = f"{accept!r}" if accept else "missing"
        return [f"Accept is {shown}: real clients name the answer format with a version, "
                f"e.g. {example!r} ({_fact(fact)})"]
    for media_type, params in media:
        if route.family == "v1" and media_type in ("application/json", CONTAINERS_TYPE):
            return []
        if media_type == CONTAINERS_V2_TYPE and route.family == "containers":
            return []
        if media_type == wanted:
            version = params.get("version")
            if version is None:
                return [f"Accept {accept!r} names no version ({_fact(fact)}: "
                        f"e.g. {example!r})"]
            if version in CONFIRMED_VERSIONS.get(wanted, set()) or \
                    "accept_version" in options:
                return []
            return [f"Accept asks for version {version} of {wanted}, a version that "
                    f"{_needs('F-ACCEPT-VERSION-OTHER')} (confirmed: "
                    f"{', '.join(sorted(CONFIRMED_VERSIONS[wanted]))})"]
    return [f"Accept {accept!r} is not {wanted} ({_fact(fact)}: e.g. {example!r})"]


def _check_content_type(exchange: Exchange, route: Route,
                        options: frozenset[str]) -> list[str]:
    if not exchange.body:
        return []
    value = exchange.headers.get("content-type", "")
    media = _media(value)
    media_type, params = media[0] if media else ("", {})
    if route.family == "v1":
        if media_type in ("application/json", CONTAINERS_TYPE):
            return []
        return [f"the body is sent as {value!r}; v1 clients send application/json "
                f"({_fact('F-CT-V1')})"]
    if route.family == "auth":
        return [f"the login request carries a body; real logins send none "
                f"({_fact('F-AUTH-LOGIN')})"]
    if media_type == CONTAINERS_V2_TYPE:
        return []
    if media_type == CONTAINERS_TYPE:
        version = params.get("version")
        if version is None or version in CONFIRMED_VERSIONS[CONTAINERS_TYPE] \
                or "accept_version" in options:
            return []
        return [f"Content-Type asks for version {version}, a version that "
                f"{_needs('F-ACCEPT-VERSION-OTHER')}"]
    shown = repr(value) if value else "missing"
    return [f"Content-Type is {shown}: a body to the current API is sent as "
            f"{CONTAINERS_TYPE!r} ({_fact('F-CT-V2')})"]


def _tokens(past: Sequence[Exchange]) -> tuple[set[str], dict[str, int]]:
    """(every token handed out in Maconomy-Reconnect, token -> position of the answer that
    rotated it away).

    A token is rotated away by an answer to a request made with it that hands out
    another one (F-AUTH-ROTATION); a token handed out for credentials starts a new
    session and retires no other (two connections may hold a session each).
    """
    issued: set[str] = set()
    rotated: dict[str, int] = {}
    for index, earlier in enumerate(past):
        token = earlier.response_headers.get("maconomy-reconnect", "").strip()
        if not token:
            continue
        issued.add(token)
        scheme, _, used = earlier.headers.get("authorization", "").partition(" ")
        used = used.strip()
        if scheme.lower() == "x-reconnect" and used and used != token:
            rotated.setdefault(used, index)
    return issued, rotated


def _check_auth(exchange: Exchange, route: Route, options: frozenset[str],
                past: Sequence[Exchange] | None) -> list[str]:
    problems: list[str] = []
    modes = [m.strip().lower() for m in
             exchange.headers.get("maconomy-authentication", "").split(",") if m.strip()]
    for mode in modes:
        if mode not in AUTH_MODES:
            problems.append(f"Maconomy-Authentication {mode!r} is sent by no real client "
                            f"(facts F-AUTH-LOGIN, F-AUTH-RECONNECT, F-AUTH-LOGOUT, "
                            f"F-AUTH-XCOOKIE, F-AUTH-FORCE)")
    if "x-log-out" in modes and route.family == "auth" \
            and "logout_via_auth" not in options:
        problems.append(f"logging out through {route.name} {_needs('F-AUTH-LOGOUT-VIA-AUTH')}; "
                        f"real clients send X-Log-Out on their last container request "
                        f"({_fact('F-AUTH-LOGOUT')})")
    header = exchange.headers.get("authorization", "").strip()
    scheme, _, credential = header.partition(" ")
    scheme_l, credential = scheme.lower(), credential.strip()
    if not header:
        if route.kind != "v1-root":  # the v1 handshake answers without credentials
            problems.append(f"no Authorization header; every Maconomy call after the "
                            f"handshake is authenticated ({_fact('F-AUTH-RECONNECT')})")
        return problems
    if scheme_l == "basic":
        try:
            user, sep, _ = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep = "", ""
        if not (user and sep):
            problems.append(f"the Basic credential is not base64 of user:password "
                            f"({_fact('F-AUTH-LOGIN')})")
        allowed = {"x-reconnect", "x-cookie"} if route.family == "auth" else \
            {"x-reconnect", "x-force-maconomy-credentials"}
        if not allowed & set(modes):
            problems.append(f"Basic credentials are sent without Maconomy-Authentication "
                            f"{' or '.join(sorted(m.upper() for m in allowed))}; real "
                            f"clients pair them ({_fact('F-AUTH-LOGIN')}, "
                            f"{_fact('F-AUTH-BASIC-FIRST')})")
        return problems
    if scheme_l == "x-cookie":
        cookie = exchange.headers.get("cookie", "")
        if not credential or f"{credential}=" not in cookie:
            problems.append(f"Authorization X-Cookie names {credential!r} but no such cookie "
                            f"is sent ({_fact('F-AUTH-XCOOKIE')})")
        return problems
    if scheme_l != "x-reconnect":
        problems.append(f"Authorization scheme {scheme!r} is used by no real client "
                        f"(Basic, X-Reconnect, X-Cookie: facts F-AUTH-LOGIN, "
                        f"F-AUTH-RECONNECT, F-AUTH-XCOOKIE)")
        return problems
    if not credential:
        problems.append(f"Authorization X-Reconnect carries no token "
                        f"({_fact('F-AUTH-RECONNECT')})")
        return problems
    if past is None:
        return problems
    issued, rotated = _tokens(past)
    if credential not in issued:
        problems.append(f"the X-Reconnect token was not handed out in a Maconomy-Reconnect "
                        f"answer header earlier in this session ({_fact('F-AUTH-RECONNECT')})")
        return problems
    if credential in rotated and len(past) - rotated[credential] > ROTATION_SLACK:
        problems.append(f"the X-Reconnect token is still used "
                        f"{len(past) - rotated[credential]} requests after an answer rotated "
                        f"it; the newest Maconomy-Reconnect replaces it "
                        f"({_fact('F-AUTH-ROTATION')})")
    return problems


def _check_body(exchange: Exchange, route: Route, options: frozenset[str]) -> list[str]:
    query = list(exchange.query)
    if route.kind == "v1-link" and (query or exchange.path.rstrip("/").endswith("/filter")):
        return _check_v1_filter(query, options)
    if route.kind == "filter" and exchange.method.upper() == "GET":
        return _check_v1_filter(query, options, fact="F-FILTER-V2")
    body, error = _json(exchange.body)
    if route.kind in ("auth", "auth-login", "v1-root", "v1-container", "v1-key", "root",
                      "environment", "specification"):
        problems = []
        if exchange.body:
            problems.append(f"{route.name} is sent with a body; real clients send none "
                            f"({_fact(route.fact)})")
        if query and route.kind not in ("environment", "v1-link"):
            problems.append(f"query parameters {sorted(k for k, _ in query)} on {route.name} "
                            f"are sent by no real client ({_fact(route.fact)})")
        return problems
    if route.kind == "instance-empty":
        if exchange.body:
            return [f"{route.name} is sent with a body; real clients send none "
                    f"({_fact('F-INSTANCES')})"]
        return []
    if error is not None:
        return [f"the body is not JSON ({error}) ({_fact(route.fact)})"]
    if route.kind == "search":
        return _check_search(body, query, options)
    if route.kind == "filter":
        return _check_filter_body(body, options)
    if route.kind == "instances":
        return _check_instances(body)
    if route.kind == "instance-data":
        if exchange.method.upper() == "DELETE":
            return [] if not exchange.body else [
                f"DELETE of a table row carries a body; real clients send none "
                f"({_fact('F-INSTANCES')})"]
        if not isinstance(body, dict) or set(body) - {"data"} or \
                not isinstance(body.get("data", {}), dict):
            return [f"a pane update body is {{data: {{field: value}}}} and nothing else "
                    f"({_fact('F-INSTANCES')})"]
    return []


def _check_search(body: Any, query: list[tuple[str, str]],
                  options: frozenset[str]) -> list[str]:
    problems = []
    if query:
        problems.append(f"query parameters {sorted(k for k, _ in query)} on search/table are "
                        f"sent by no named client ({_fact('F-SEARCH-TABLE')})")
    if not isinstance(body, dict):
        return [*problems, f"a search/table body is a JSON object, not "
                           f"{_type_name(body)} ({_fact('F-SEARCH-TABLE')})"]
    keys = set(body)
    if not any(keys <= allowed for allowed in SEARCH_KEYS):
        extra = sorted(keys - {"restriction", "fields", "data"})
        if extra:
            problems.append(f"a search/table body has only restriction and fields (or data "
                            f"and fields); {', '.join(extra)} is sent by no real client "
                            f"({_fact('F-SEARCH-TABLE')})")
        else:
            problems.append(f"a search/table body has restriction or data, not both "
                            f"({_fact('F-SEARCH-TABLE')})")
    problems += _check_fields(body.get("fields"), "F-SEARCH-TABLE", allow_text=False)
    if "data" in body and not isinstance(body["data"], dict):
        problems.append(f"search/table data is an object of field values "
                        f"({_fact('F-SEARCH-TABLE')})")
    if "restriction" in body:
        problems += _check_restriction_value(body["restriction"], options)
    return problems


def _check_fields(fields: Any, fact: str, *, allow_text: bool) -> list[str]:
    if fields is None:
        return []
    if allow_text and isinstance(fields, str):
        names = [f.strip() for f in fields.split(",")]
    elif isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        names = fields
    else:
        return [f"fields is a list of field names ({_fact(fact)})"]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        return [f"field names are lower case ({_fact('F-R-LOWER')}): {', '.join(bad[:5])}"]
    return []


def _check_restriction_value(value: Any, options: frozenset[str]) -> list[str]:
    if not isinstance(value, str):
        return [f"restriction is a string, not {_type_name(value)} ({_fact('F-R-QUOTE')})"]
    if not value.strip():
        return [f"an empty restriction is sent; real clients leave it out "
                f"({_fact('F-R-EMPTY')})"]
    return restriction_problems(value, options)


def _check_filter_body(body: Any, options: frozenset[str]) -> list[str]:
    if not isinstance(body, dict):
        return [f"a filter body is a JSON object ({_fact('F-FILTER-V2')})"]
    problems = []
    allowed = set(FILTER_BODY_KEYS)
    if "filter_orderby" in options:
        allowed.add("orderby")
    for key in sorted(set(body) - allowed):
        if key == "orderby":
            problems.append(f"orderby in a filter body {_needs('F-FILTER-ORDERBY-BODY')}")
        else:
            problems.append(f"filter body key {key!r} is sent by no client "
                            f"({_fact('F-FILTER-V2')})")
    for key in ("limit", "offset"):
        if key in body and (isinstance(body[key], bool) or not isinstance(body[key], int)
                            or body[key] < 0):
            problems.append(f"{key} is a whole number >= 0 ({_fact('F-FILTER-V2')})")
    problems += _check_fields(body.get("fields"), "F-FILTER-V2", allow_text=True)
    if "restriction" in body:
        problems += _check_restriction_value(body["restriction"], options)
    return problems


def _check_v1_filter(query: list[tuple[str, str]], options: frozenset[str],
                     fact: str = "F-V1-FILTER-QUERY") -> list[str]:
    problems = []
    for key in sorted({k for k, _ in query} - V1_FILTER_PARAMS):
        problems.append(f"filter parameter {key!r} is sent by no real client ({_fact(fact)})")
    for key, value in query:
        if key in ("limit", "offset") and not value.isdigit():
            problems.append(f"{key}={value!r} is not a whole number ({_fact(fact)})")
        elif key == "fields":
            problems += _check_fields(value, fact, allow_text=True)
        elif key == "orderby":
            items = [i.strip() for i in value.split(",")]
            bad = [i for i in items if not re.match(r"^[+-]?[a-z][a-z0-9_]*$", i)]
            if bad:
                problems.append(f"orderby items are '+field' or '-field' in lower case, not "
                                f"{', '.join(repr(b) for b in bad)} "
                                f"({_fact('F-V1-FILTER-QUERY')})")
        elif key == "restriction":
            problems += _check_restriction_value(value, options)
    return problems


def _check_instances(body: Any) -> list[str]:
    if body is None:
        return []
    ok = isinstance(body, dict) and set(body) <= {"panes"} and all(
        isinstance(pane, dict) and set(pane) <= {"fields"}
        and isinstance(pane.get("fields", []), list)
        for pane in (body.get("panes") or {}).values())
    return [] if ok else [f"an instances body is {{panes: {{<pane>: {{fields: [...]}}}}}} "
                          f"or {{}} ({_fact('F-INSTANCES')})"]


# =========================================================================== restrictions

_TOKEN = re.compile(r"""\s*(?:
    (?P<squote>'(?:[^']|'')*')
  | (?P<dquote>"(?:[^"]|"")*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<punct>[(),])
  | (?P<bad>\S)
)""", re.VERBOSE)

# construct -> (what it is, fact that settles it)
_CONSTRUCTS = {
    "and": ("'and'", "F-R-EXTENDED"),
    "not": ("'not'", "F-R-EXTENDED"),
    "compare": ("a comparison other than '='", "F-R-EXTENDED"),
    "like": ("'like'", "F-R-EXTENDED"),
    "number": ("a number as a value", "F-R-EXTENDED"),
    "boolean": ("true/false as a value", "F-R-EXTENDED"),
    "dquote": ("a double-quoted string", "F-R-EXTENDED"),
    "bare-field": ("a bare field as a condition", "F-R-EXTENDED"),
    "doubled": ("a quote doubled inside a value", "F-R-DOUBLING"),
    "date": ("the date(...) literal", "F-R-DATE"),
    "timestamp": ("the timestamp(...) literal", "F-R-TIMESTAMP"),
    "transactiontimestamp": ("a condition on transactiontimestamp", "F-R-TRANSACTIONTIMESTAMP"),
}


class _Malformed(ValueError):
    pass


class _Restriction:
    """A small parser of the restriction language that notes each construct it meets."""

    def __init__(self, text: str) -> None:
        self.tokens = self._tokenize(text)
        self.i = 0
        self.used: set[str] = set()
        self.problems: list[str] = []

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            found = _TOKEN.match(text, pos)
            if found is None or found.end() == pos:
                break
            kind = found.lastgroup or "bad"
            raw = found.group(kind)
            if kind == "bad":
                if raw in "'\"":
                    raise _Malformed("an unterminated quote (a quote inside a value must be "
                                     "written so the value stays one string)")
                raise _Malformed(f"an unexpected character {raw!r}")
            tokens.append((kind, raw))
            pos = found.end()
        tokens.append(("end", ""))
        return tokens

    @property
    def tok(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        kind, raw = self.tok
        if kind == "name" and raw.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> None:
        kind, raw = self.tok
        if kind == "name" and raw.lower() == "true" and self.tokens[1][0] == "end":
            return  # the whole restriction 'true' (F-R-TRUE)
        self.expr()
        if self.tok[0] != "end":
            raise _Malformed(f"unexpected {self.tok[1]!r} where 'or' or the end was expected")

    def expr(self) -> None:
        self.term()
        while self.keyword("or"):
            self.term()

    def term(self) -> None:
        self.factor()
        while self.keyword("and"):
            self.used.add("and")
            self.factor()

    def factor(self) -> None:
        if self.keyword("not"):
            self.used.add("not")
            self.factor()
            return
        if self.tok == ("punct", "("):
            self.i += 1
            self.expr()
            if self.tok != ("punct", ")"):
                raise _Malformed("a '(' without its ')'")
            self.i += 1
            return
        self.comparison()

    def comparison(self) -> None:
        left = self.operand()
        kind, raw = self.tok
        if kind == "op":
            self.i += 1
            if raw != "=":
                self.used.add("compare")
            right = self.operand()
            if left[0] == "field" and right[0] == "field":
                self.problems.append(
                    f"the value {right[1]!r} compared with {left[1]!r} is not quoted; real "
                    f"clients quote every value ({_fact('F-R-QUOTE')})")
            return
        if self.keyword("not"):
            self.used.add("not")
        if self.keyword("like"):
            self.used.add("like")
            self.operand()
            return
        if left[0] == "field":
            self.used.add("bare-field")
            return
        raise _Malformed("a value where a condition was expected")

    def operand(self) -> tuple[str, str]:
        kind, raw = self.tok
        if kind == "squote":
            self.i += 1
            if "''" in raw[1:-1]:
                self.used.add("doubled")
            return "value", raw
        if kind == "dquote":
            self.i += 1
            self.used.add("dquote")
            return "value", raw
        if kind == "number":
            self.i += 1
            self.used.add("number")
            return "value", raw
        if kind == "name":
            lowered = raw.lower()
            if lowered in ("true", "false"):
                self.i += 1
                self.used.add("boolean")
                return "value", raw
            if self.tokens[self.i + 1] == ("punct", "("):
                return self.call(lowered)
            if lowered in ("and", "or", "not", "like"):
                raise _Malformed(f"{raw!r} where a field or a value was expected")
            self.i += 1
            if raw != lowered:
                self.problems.append(f"field {raw!r} is not written in lower case "
                                     f"({_fact('F-R-LOWER')})")
            if lowered == "transactiontimestamp":
                self.used.add("transactiontimestamp")
            return "field", lowered
        raise _Malformed("the restriction ends where a field or a value was expected"
                         if kind == "end" else f"unexpected {raw!r}")

    def call(self, name: str) -> tuple[str, str]:
        self.i += 2
        while self.tok != ("punct", ")"):
            if self.tok[0] != "number":
                raise _Malformed(f"{name}(...) takes whole numbers")
            self.i += 1
            if self.tok == ("punct", ","):
                self.i += 1
            elif self.tok != ("punct", ")"):
                raise _Malformed(f"{name}(...) is not closed")
        self.i += 1
        if name in ("date", "timestamp"):
            self.used.add(name)
        else:
            self.problems.append(f"the function {name}(...) appears in no client "
                                 f"({_fact('F-R-QUOTE')})")
        return "value", name


def restriction_problems(text: str, enabled: Iterable[str] = ()) -> list[str]:
    """One sentence per construct of `text` outside the confirmed restriction syntax."""
    options = frozenset(enabled)
    try:
        parsed = _Restriction(text)
        parsed.parse()
    except _Malformed as exc:
        return [f"restriction {text!r} is malformed: {exc} (facts F-R-QUOTE, F-R-OR-PAREN)"]
    problems = list(parsed.problems)
    for construct in sorted(parsed.used):
        what, fact = _CONSTRUCTS[construct]
        if _OPTION_OF[fact] not in options:
            problems.append(f"restriction {text!r} uses {what}, which {_needs(fact)}")
    return problems


# =========================================================================== answers


def check_response(exchange: Exchange, *, enabled: Iterable[str] | None = None) -> list[str]:
    """One sentence per way the answer differs from what real clients are shown."""
    if _sandbox_control(exchange.path):
        return []
    found = _match(exchange.path)
    if found is None:
        return []
    route, _ = found
    body, error = _json(exchange.response_body)
    problems: list[str] = []
    if error is not None and exchange.response_body.strip():
        return [f"the answer is not JSON ({error})"]
    if exchange.status >= 400:
        return _check_error(body)
    if route.kind == "auth" and exchange.method.upper() == "GET":
        asked = "x-reconnect" in exchange.headers.get("maconomy-authentication", "").lower()
        basic = exchange.headers.get("authorization", "").lower().startswith("basic")
        if asked and basic and not exchange.response_headers.get("maconomy-reconnect"):
            problems.append(f"a login answer without a Maconomy-Reconnect token "
                            f"({_fact('F-AUTH-LOGIN')})")
        return problems
    if not isinstance(body, dict):
        return problems
    if route.kind in ("search", "filter") or (
            route.kind == "v1-link" and isinstance(body.get("panes"), dict)
            and "filter" in body["panes"] and "records" in body["panes"]["filter"]):
        problems += _check_filter_answer(exchange, route, body)
    elif "panes" in body and any(isinstance(p, dict) and "fields" in p
                                 for p in (body.get("panes") or {}).values()):
        problems += _check_specification(body)
    elif route.kind == "v1-container":
        extra = sorted(set(body) - {"containerName", "links"})
        if extra:
            problems.append(f"the container resource carries {', '.join(extra)}, which no "
                            f"real client shows ({_fact('F-RESP-CONTAINER')})")
    return problems


def _requested(exchange: Exchange) -> tuple[int, list[str] | None]:
    """(offset asked for, fields asked for) of a filter or search request."""
    offset, fields = 0, None
    query = dict(exchange.query)
    if exchange.method.upper() == "GET":
        if query.get("offset", "").isdigit():
            offset = int(query["offset"])
        if query.get("fields"):
            fields = [f.strip() for f in query["fields"].split(",")]
        return offset, fields
    body, _ = _json(exchange.body)
    if isinstance(body, dict):
        if isinstance(body.get("offset"), int):
            offset = body["offset"]
        raw = body.get("fields")
        if isinstance(raw, list):
            fields = [str(f) for f in raw]
        elif isinstance(raw, str):
            fields = [f.strip() for f in raw.split(",")]
    return offset, fields


def _check_filter_answer(exchange: Exchange, route: Route, body: dict[str, Any]) -> list[str]:
    fact = "F-RESP-FILTER"
    problems = []
    extra = sorted(set(body) - {"meta", "links", "panes"})
    if extra:
        problems.append(f"the answer carries {', '.join(extra)} beside meta, links and panes, "
                        f"which no real client shows ({_fact(fact)})")
    panes = body.get("panes")
    if not isinstance(panes, dict) or not isinstance(panes.get("filter"), dict):
        return [*problems, f"the answer has no panes.filter ({_fact(fact)})"]
    if set(panes) != {"filter"}:
        problems.append(f"a filter answer has only the filter pane, not "
                        f"{', '.join(sorted(set(panes) - {'filter'}))} ({_fact(fact)})")
    pane = panes["filter"]
    extra = sorted(set(pane) - {"meta", "records", "links"})
    if extra:
        problems.append(f"panes.filter carries {', '.join(extra)}, which no real client shows "
                        f"({_fact(fact)})")
    meta = pane.get("meta")
    records = pane.get("records")
    if not isinstance(meta, dict):
        problems.append(f"panes.filter has no meta ({_fact(fact)})")
        meta = {}
    if not isinstance(records, list):
        return [*problems, f"panes.filter.records is not a list ({_fact(fact)})"]
    missing = sorted(FILTER_META_KEYS - set(meta))
    if missing:
        problems.append(f"panes.filter.meta lacks {', '.join(missing)} ({_fact(fact)})")
    # rowTotalCount comes with the (corroborated) filter resource, nowhere else.
    extra = sorted(set(meta) - FILTER_META_KEYS - (
        {"rowTotalCount"} if route.kind == "filter" else set()))
    if extra:
        problems.append(f"panes.filter.meta carries {', '.join(extra)}, which no real client "
                        f"shows ({_fact(fact)})")
    if "paneName" in meta and meta["paneName"] != "filter":
        problems.append(f"panes.filter.meta.paneName is {meta['paneName']!r}, not 'filter' "
                        f"({_fact(fact)})")
    if "rowCount" in meta and meta["rowCount"] != len(records):
        problems.append(f"panes.filter.meta.rowCount is {meta['rowCount']} for "
                        f"{len(records)} records; it counts the rows returned "
                        f"({_fact('F-V1-PAGING')})")
    offset, fields = _requested(exchange)
    if "rowOffset" in meta and meta["rowOffset"] != offset:
        problems.append(f"panes.filter.meta.rowOffset is {meta['rowOffset']} for offset "
                        f"{offset} asked ({_fact('F-V1-PAGING')})")
    shapes, extras, stamps = 0, set(), set()
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            shapes += 1
            continue
        if set(record) - {"meta", "data", "links"}:
            shapes += 1
        if fields is not None:
            extras |= set(record["data"]) - set(fields)
        stamps |= {k for k, v in record["data"].items()
                   if isinstance(v, str) and _ISO_T.match(v)}
    if shapes:
        problems.append(f"{shapes} record(s) are not {{meta, data, links}} with an object "
                        f"data ({_fact(fact)})")
    if extras:
        problems.append(f"records carry fields not asked for: "
                        f"{', '.join(sorted(extras)[:5])} ({_fact('F-SEARCH-TABLE')})")
    if stamps:
        problems.append(f"{', '.join(sorted(stamps))} written with a 'T' (ISO); real answers "
                        f"write 'yyyy-MM-dd HH:mm:ss.SSS' ({_fact('F-RESP-VALUES')})")
    return problems


def _check_specification(body: dict[str, Any]) -> list[str]:
    problems = []
    extra = sorted(set(body) - {"containerName", "panes", "relatedContainers", "links", "meta"})
    if extra:
        problems.append(f"the specification carries {', '.join(extra)}, which no real client "
                        f"shows ({_fact('F-RESP-SPEC')})")
    for pane_name, pane in (body.get("panes") or {}).items():
        if pane_name not in ("filter", "card", "table"):
            problems.append(f"specification pane {pane_name!r} is not filter, card or table "
                            f"({_fact('F-RESP-SPEC')})")
        if not isinstance(pane, dict):
            continue
        extra = sorted(set(pane) - PANE_KEYS)
        if extra:
            problems.append(f"specification pane {pane_name} carries {', '.join(extra)}, which "
                            f"no real client shows ({_fact('F-RESP-SPEC')})")
        fields = pane.get("fields")
        if isinstance(fields, list):
            problems.append(f"specification pane {pane_name}: fields is a list; real "
                            f"specifications key fields by name in an object "
                            f"({_fact('F-RESP-SPEC')})")
            continue
        if not isinstance(fields, dict):
            continue
        attrs, types, names = set(), set(), []
        for key, field in fields.items():
            if not isinstance(field, dict):
                names.append(key)
                continue
            if "name" in field and str(field["name"]).lower() != key.lower():
                names.append(key)
            attrs |= set(field) - FIELD_ATTRIBUTES
            kind = str(field.get("type", "")).replace(" ", "").lower()
            if kind and kind not in FIELD_TYPES:
                types.add(kind)
        if names:
            problems.append(f"specification pane {pane_name}: entries {', '.join(names[:5])} "
                            f"are not field objects named by their key ({_fact('F-RESP-SPEC')})")
        if attrs:
            problems.append(f"specification fields carry {', '.join(sorted(attrs))}, which no "
                            f"real client shows ({_fact('F-RESP-FIELD')})")
        if types:
            problems.append(f"specification field type(s) {', '.join(sorted(types))} appear in "
                            f"no real source ({_fact('F-RESP-TYPES')})")
    return problems


def _check_error(body: Any) -> list[str]:
    if body is None:
        return []
    if not isinstance(body, dict) or "errorMessage" not in body:
        return [f"an error answer is {{errorMessage, errorFamily, errorSeverity, focus, data}} "
                f"({_fact('F-RESP-ERROR')})"]
    problems = []
    extra = sorted(set(body) - ERROR_KEYS)
    if extra:
        problems.append(f"the error answer carries {', '.join(extra)}, which no real client "
                        f"shows ({_fact('F-RESP-ERROR')})")
    focus = body.get("focus")
    if isinstance(focus, Mapping) and set(focus) - {"rowNumber", "fieldName", "paneName"}:
        problems.append(f"the error focus carries "
                        f"{', '.join(sorted(set(focus) - {'rowNumber', 'fieldName', 'paneName'}))}"
                        f" ({_fact('F-RESP-ERROR')})")
    return problems
