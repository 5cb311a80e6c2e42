"""Checks recorded Kleer exchanges against contract.json (Kleer's XSD plus routes.py).

The interface is tests/contracts/recording.py's `Checker`: `route_of`, `check_request`,
`check_response`, each violation one plain sentence naming the contract element.

Why a JSON walker over the derived XSD model rather than converting the JSON body to XML
and validating that with xmlschema: the XML form loses exactly what goes wrong in JSON.
`"budget-amount": 3450000.0`, `"active": "true"` and `"payment-days": "30"` all become
valid XML text; JSON members have no order while xs:sequence has one, so every body would
first have to be re-sorted; and Kleer's JSON drops the root element and writes repeated
elements as arrays under plural names (see `JSON_MAPPING` in routes.py), which an XML
validator cannot express. So derive.py flattens each XSD type with xmlschema (extensions,
anonymous types, nested sequence/choice groups, nillable, facets) into contract.json, and
this module walks the JSON against it: undeclared members, required elements (minOccurs >=
1 in a required sequence), choices, JSON value classes (xs:int/long/integer as integers
without fraction, xs:decimal as numbers, xs:boolean as true/false, the rest as strings),
and each value's lexical validity for its XSD built-in (xmlschema's own built-in types:
ranges, xs:date) plus the type's enumeration and patterns.

Requests: the route must be in the table (an assumed route is allowed and counted by
`summary`); a verb the table does not list for a known path is a violation, said as a
contradiction when the path has a confirmed route; query parameters must be the route's,
with their listed values; the JSON body must be valid for the route's request element,
strictly. Answers: a 2xx JSON answer must be valid for the route's answer element
(undeclared members included: the sandbox must not answer fields Kleer does not have).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["ENFORCED", "body_problems", "check_request", "check_response", "contract",
           "route", "route_of", "summary"]

#: The adapter's and the sandbox's traffic keeps the contract: a violation fails its test.
ENFORCED = True

CONTRACT_FILE = Path(__file__).with_name("contract.json")
PREFIX = re.compile(r"^/v1/company/(?P<company>[^/]+)(?P<rest>/.*)?$")
_INTEGERS = {"xs:int", "xs:long", "xs:integer", "xs:short", "xs:byte", "xs:nonNegativeInteger",
             "xs:positiveInteger", "xs:nonPositiveInteger", "xs:negativeInteger",
             "xs:unsignedLong", "xs:unsignedInt", "xs:unsignedShort", "xs:unsignedByte"}
_NUMBERS = {"xs:decimal", "xs:float", "xs:double"}
# The sandbox's control API (a person using Kleer's UI), not Kleer's: never checked.
SKIPPED_PREFIXES = ("/_sandbox/",)
_PARAM = {"id": r"\d+", "from": r"\d{4}-\d{2}-\d{2}", "to": r"\d{4}-\d{2}-\d{2}",
          "foreignId": r".+"}


@cache
def contract() -> dict[str, Any]:
    return json.loads(CONTRACT_FILE.read_text())


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    request: str | None
    response: str | None
    provenance: str
    evidence: str
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, rest: str) -> bool:
        return _pattern(self.path).fullmatch(rest) is not None


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    out = "".join(f"(?:{_PARAM.get(p[1:-1], '[^/]+')})" if p.startswith("{")
                  else re.escape(p) for p in parts)
    return re.compile(out)


@cache
def _routes() -> tuple[Route, ...]:
    return tuple(Route(r["method"], r["path"], r.get("request"), r.get("response"),
                       r["provenance"], r["evidence"], r.get("query") or {})
                 for r in contract()["routes"])


def _relative(path: str) -> str | None:
    match = PREFIX.match(path)
    if match is None:
        return None
    return match.group("rest") or "/"


def _candidates(rest: str) -> list[Route]:
    """Routes whose template matches `rest`, literal templates before parameterised ones."""
    found = [r for r in _routes() if r.matches(rest)]
    literal = [r for r in found if "{" not in r.path]
    if literal:
        return literal
    return found


def route(method: str, path: str) -> Route | None:
    """The contract route of a request (path as sent, with /v1/company/{companyId})."""
    rest = _relative(path)
    if rest is None:
        return None
    for candidate in _candidates(rest.rstrip("/") or "/"):
        if candidate.method == method.upper():
            return candidate
    return None


def route_of(method: str, path: str) -> str | None:
    found = route(method, path)
    return found.key if found else None


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class Problem:
    kind: str  # undeclared | required | type | enum | null | shape | choice
    where: str
    message: str

    def sentence(self, prefix: str) -> str:
        return f"{prefix} {self.where}: {self.message}"


@cache
def _builtins() -> Any:
    import xmlschema  # only for the lexical checks of built-in values

    empty = xmlschema.XMLSchema10('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    return empty.maps.types


def _builtin(name: str) -> Any:
    return _builtins()["{http://www.w3.org/2001/XMLSchema}" + name[3:]]


def _plurals(name: str) -> set[str]:
    out = {f"{name}s"}
    if name.endswith("y"):
        out.add(f"{name[:-1]}ies")
    return out


def _display(type_key: str) -> str:
    return type_key.removeprefix("element:")


def _wrapped(type_key: str) -> dict[str, Any] | None:
    """The repeated child when `type_key` is a wrapper holding only that child."""
    entry = contract()["types"].get(type_key)
    if not entry or entry.get("kind") != "complex" or entry["attributes"]:
        return None
    elements = entry["elements"]
    if len(elements) == 1 and elements[0]["repeated"]:
        return elements[0]
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def _leaf(value: Any, type_key: str, where: str, owner: str) -> Iterator[Problem]:
    entry = contract()["types"].get(type_key, {})
    base = type_key if type_key.startswith("xs:") else entry.get("base", "xs:string")
    shown = json.dumps(value, ensure_ascii=False)
    label = base if base == type_key else f"{type_key}, {base}"
    if base in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            yield Problem("type", where, f"{shown} is not a JSON integer ({label}, {owner})")
            return
    elif base in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            yield Problem("type", where, f"{shown} is not a JSON number ({label}, {owner})")
            return
    elif base == "xs:boolean":
        if not isinstance(value, bool):
            yield Problem("type", where, f"{shown} is not JSON true/false ({label}, {owner})")
            return
    elif base == "xs:anyType":
        return
    elif not isinstance(value, str):
        yield Problem("type", where, f"{shown} is not a JSON string ({label}, {owner})")
        return
    text = _text(value)
    if not _builtin(base).is_valid(text):
        yield Problem("type", where, f"{shown} is not a valid {base} ({label}, {owner})")
        return
    if entry.get("enum") and text not in entry["enum"]:
        yield Problem("enum", where, f"{shown} is not one of {', '.join(entry['enum'])} "
                                     f"({type_key}, {owner})")
    for pattern in entry.get("patterns") or ():
        if re.fullmatch(pattern, text) is None:
            yield Problem("enum", where, f"{shown} does not match pattern {pattern!r} "
                                         f"({type_key}, {owner})")


def _walk(value: Any, type_key: str, where: str, owner: str | None = None
          ) -> Iterator[Problem]:
    entry = contract()["types"].get(type_key)
    if type_key.startswith("xs:") or (entry and entry["kind"] == "simple"):
        yield from _leaf(value, type_key, where, owner or _display(type_key))
        return
    if entry is None:
        raise KeyError(f"contract.json has no type {type_key!r}")
    name = _display(type_key)
    if not isinstance(value, dict):
        yield Problem("shape", where, f"{json.dumps(value)[:60]} is not a JSON object ({name})")
        return
    by_name = {e["name"]: e for e in entry["elements"]}
    alias = {p: e for e in entry["elements"] if e["repeated"] for p in _plurals(e["name"])
             if p not in by_name}
    attributes = {a["name"]: a for a in entry["attributes"]}
    seen: dict[str, str] = {}
    for key, item in value.items():
        path = f"{where}.{key}"
        if key in attributes:
            if item is not None:
                yield from _leaf(item, attributes[key]["type"], path, f"{name}@{key}")
            continue
        decl = by_name.get(key) or alias.get(key)
        if decl is None:
            yield Problem("undeclared", path, f"element {key!r} is not declared in {name}")
            continue
        if decl["name"] in seen:
            yield Problem("shape", path, f"{name}.{decl['name']} is given twice (as "
                                         f"{seen[decl['name']]!r} and {key!r})")
            continue
        seen[decl["name"]] = key
        owner = f"{name}.{decl['name']}"
        if item is None:
            if not decl["nillable"]:
                yield Problem("null", path, f"null, but {owner} is not nillable "
                                            "(leave the member out instead)")
            continue
        if decl["repeated"]:
            if not isinstance(item, list):
                yield Problem("shape", path, f"must be a JSON array ({owner} repeats)")
                continue
            for n, one in enumerate(item):
                yield from _walk(one, decl["type"], f"{path}[{n}]", owner)
            continue
        child = _wrapped(decl["type"])
        if isinstance(item, list) and child is not None:
            for n, one in enumerate(item):
                yield from _walk(one, child["type"], f"{path}[{n}]",
                                 f"{owner}.{child['name']}")
            continue
        yield from _walk(item, decl["type"], path, owner)
    for decl in entry["elements"]:
        if decl["required"] and decl["name"] not in seen:
            yield Problem("required", f"{where}.{decl['name']}",
                          f"required element {name}.{decl['name']} is missing")
    for choice in entry["choices"]:
        present = [n for n in choice["elements"] if n in seen]
        if len(present) > 1 and not choice["repeated"]:
            yield Problem("choice", where, f"only one of {', '.join(choice['elements'])} "
                                           f"may be given in {name} (got {', '.join(present)})")
        if choice["required"] and not present:
            yield Problem("choice", where, f"one of {', '.join(choice['elements'])} is "
                                           f"required in {name}")


def body_problems(element: str, value: Any, where: str = "body") -> list[Problem]:
    """Every problem of `value` as the JSON of XSD global element `element`."""
    type_key = contract()["elements"].get(element)
    if type_key is None:
        raise KeyError(f"contract.json has no element {element!r}")
    return list(_walk(value, type_key, where))


# --------------------------------------------------------------------------- requests


def _skipped(path: str) -> bool:
    return path.startswith(SKIPPED_PREFIXES) or path == "/_sandbox"


def _request_problems(exchange: Any) -> tuple[Route | None, list[Problem]]:
    if _skipped(exchange.path):
        return None, []
    method = exchange.method.upper()
    rest = _relative(exchange.path)
    if rest is None:
        return None, [Problem("route", exchange.path,
                              "is not under /v1/company/{companyId}: no Kleer v1 route")]
    rest = rest.rstrip("/") or "/"
    found = route(method, exchange.path)
    if found is None:
        others = _candidates(rest)
        if not others:
            return None, [Problem("route", f"{method} {rest}",
                                  "no such route in the Kleer contract")]
        confirmed = [o for o in others if o.provenance != "assumed"]
        listed = ", ".join(sorted(o.method for o in others))
        if confirmed:
            first = confirmed[0]
            return None, [Problem("route", f"{method} {others[0].path}",
                                  f"contradicts the contract: {others[0].path} takes only "
                                  f"{listed} ({first.method} {first.provenance} by "
                                  f"{first.evidence})")]
        return None, [Problem("route", f"{method} {others[0].path}",
                              f"not in the contract: {others[0].path} takes only {listed} "
                              "(assumed)")]
    problems: list[Problem] = []
    for name, value in exchange.query:
        spec = found.query.get(name)
        if spec is None:
            known = ", ".join(sorted(found.query)) or "none"
            problems.append(Problem("query", f"?{name}",
                                    f"query parameter {name!r} is not in the contract "
                                    f"(known: {known})"))
            continue
        if spec.get("values") and value not in spec["values"]:
            problems.append(Problem("query", f"?{name}",
                                    f"{value!r} is not one of {', '.join(spec['values'])} "
                                    f"({spec['provenance']}: {spec['evidence']})"))
        fmt = spec.get("format")
        if fmt == "int" and not value.isdigit():
            problems.append(Problem("query", f"?{name}",
                                    f"{value!r} is not a non-negative integer"))
        if fmt == "date" and not _builtin("xs:date").is_valid(value):
            problems.append(Problem("query", f"?{name}",
                                    f"{value!r} is not an xs:date"))
    body = exchange.body
    if found.request is None:
        if body and body.strip():
            problems.append(Problem("shape", found.key, "sends a body, but the route takes "
                                                        "none"))
        return found, problems
    if not body or not body.strip():
        problems.append(Problem("required", found.key,
                                f"sends no body; the contract expects {found.request}"))
        return found, problems
    try:
        value = json.loads(body)
    except ValueError:
        problems.append(Problem("shape", found.key, "the body is not JSON"))
        return found, problems
    problems += body_problems(found.request, value)
    return found, problems


def check_request(exchange: Any) -> list[str]:
    found, problems = _request_problems(exchange)
    prefix = found.key if found else ""
    return [p.sentence(prefix).strip() for p in problems]


# --------------------------------------------------------------------------- answers


def _response_problems(exchange: Any) -> tuple[Route | None, list[Problem]]:
    found = route(exchange.method, exchange.path)
    if found is None or found.response is None or not 200 <= exchange.status < 300:
        return found, []
    if not exchange.response_body or not exchange.response_body.strip():
        return found, [Problem("required", found.key,
                               f"the answer has no body; the contract expects "
                               f"{found.response}")]
    try:
        value = json.loads(exchange.response_body)
    except ValueError:
        kind = exchange.response_headers.get("content-type", "?")
        return found, [Problem("shape", found.key, f"the answer is not JSON ({kind})")]
    return found, body_problems(found.response, value, "answer")


def check_response(exchange: Any) -> list[str]:
    found, problems = _response_problems(exchange)
    prefix = found.key if found else ""
    return [p.sentence(prefix).strip() for p in problems]


# --------------------------------------------------------------------------- figures


def summary(exchanges: Iterable[Any]) -> dict[str, Any]:
    """Figures over recorded exchanges: routes by provenance, request bodies valid."""
    routes: dict[str, str] = {}
    off: Counter[str] = Counter()
    bodies = valid = valid_but_required = 0
    for exchange in exchanges:
        if _skipped(exchange.path):
            continue
        found, problems = _request_problems(exchange)
        if found is None:
            for p in problems:
                off[p.where] += 1
            continue
        routes[found.key] = found.provenance
        if found.request is not None:
            bodies += 1
            kinds = {p.kind for p in problems if p.kind != "query"}
            valid += not kinds
            valid_but_required += kinds <= {"required"}
    by = Counter(routes.values())
    return {"routes": dict(sorted(routes.items())), "confirmed": by["confirmed"],
            "documented": by["documented"], "assumed": by["assumed"],
            "off_contract": dict(off), "bodies": bodies, "bodies_valid": valid,
            "bodies_valid_ignoring_required": valid_but_required}
