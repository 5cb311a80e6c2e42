"""Cinode's contract, checked strictly: what adapters send and what the sandbox answers.

Reads only contract.json beside this file (derived by derive.py from Cinode's published
OpenAPI 3.0.1 document, plus the token endpoints Cinode documents in its README). Each
violation is one sentence naming the route template and the contract element, e.g.
"POST /v0.1/companies/{companyId}/projects: body.estimatedValue: 3450000.0 is not an int32
JSON integer (ProjectAddEditModel.estimatedValue)".

Requests:

- Route: the method and path are an operation of the contract. Paths are matched against the
  templates (`/v0.1/companies/{companyId}/...`), literal segments before parameters, and
  path parameters must fit their schema (int32 ids). A path Cinode's document has but the
  subset leaves out is told apart from one Cinode does not have at all.
- Auth: `GET /token` carries Basic, `POST /token/refresh` needs nothing, every other call
  carries a Bearer token (securitySchemes, from Cinode's README).
- Query parameters: declared (names match case-insensitively, as ASP.NET binds them) and of
  their type; required ones present.
- Body: only where the operation declares one, in a declared media type, as JSON (no
  duplicate keys, no NaN). It is validated with jsonschema against the operation's model,
  converted from OpenAPI 3.0 with these rules: every object that declares properties is
  closed (an undeclared property is a violation; declared maps stay maps); `nullable: true`
  is the only way null is allowed; integer enums are named with their x-enumNames; a
  readOnly property may not be sent; `int32`/`int64` must be JSON integer tokens in range
  (JSON floats are parsed apart, so `3450000.0` is not an integer, although jsonschema alone
  would accept it); `date-time` is an RFC 3339 date-time with its UTC offset.
- JSON Patch bodies (operations with `x-patchModel`): an array of operations whose `op` is
  one of RFC 6902's, whose `path` names a property of the patched model (case-insensitively,
  as ASP.NET's JsonPatch matches) and whose `value` fits that property, strictly.

Answers:

- 2xx: the status is one the operation declares; a JSON body validates against the declared
  model, strictly too (a field the model does not declare is a violation). Dates in answers
  may omit the offset: .NET prints `DateTime` values that way.
- 4xx/5xx: checked only where the contract declares a shape (400 ValidationModel, 500
  ErrorModel, 429 the README's RateLimitErrorModel); 401, 403, 404 are not.

Calls under `/_sandbox/` are the sandbox's control API (a person using Cinode's UI), not
Cinode's API, and are skipped. Repeated problems inside arrays are reported once, with a
count.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator

__all__ = ["CONTRACT", "ENFORCED", "check_request", "check_response", "route_of"]

#: Cinode's adapter and sandbox keep this contract: a violation fails the test that made it
#: (tests/conftest.py). Tests that break it on purpose carry `off_contract`.
ENFORCED = True

CONTRACT: dict[str, Any] = json.loads(
    (Path(__file__).with_name("contract.json")).read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = CONTRACT["components"]["schemas"]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SKIPPED_PREFIXES = ("/_sandbox/",)
PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")
JSON_PATCH = "application/json-patch+json"


# --------------------------------------------------------------------------- JSON


class JsonFloat(float):
    """A JSON number written with a fraction or an exponent; keeps its text."""

    text: str

    def __new__(cls, text: str) -> JsonFloat:
        value = super().__new__(cls, text)
        value.text = text
        return value


class _BadJson(ValueError):
    pass


def parse_json(raw: bytes | str) -> Any:
    """JSON with float tokens kept apart (`JsonFloat`), duplicate keys and NaN refused."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _BadJson(f"the key {key!r} appears twice in one object")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise _BadJson(f"{name} is not JSON")

    try:
        return json.loads(raw, parse_float=JsonFloat, parse_constant=constant,
                          object_pairs_hook=pairs)
    except _BadJson:
        raise
    except ValueError as exc:
        raise _BadJson(f"not JSON ({exc})") from None


def _show(value: Any) -> str:
    if isinstance(value, JsonFloat):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:60] + ("..." if len(value) > 60 else ""), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, JsonFloat):
        return "number with a fraction"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------- formats

_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                        r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?$")
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _date_time(value: str, *, offset_required: bool) -> bool:
    match = _DATE_TIME.match(value)
    if match is None or (offset_required and not match.group("offset")):
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        date(year, month, day)
    except ValueError:
        return False
    offset = match.group("offset") or "Z"
    if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        return False
    return hour <= 23 and minute <= 59 and second <= 60


def _format_checker(*, requests: bool) -> FormatChecker:
    checker = FormatChecker(formats=())

    for name, (low, high) in _INT_RANGE.items():
        def in_range(value: Any, low: int = low, high: int = high) -> bool:
            if isinstance(value, bool) or not isinstance(value, int):
                return True  # the type keyword speaks for non-integers
            return low <= value <= high

        checker.checks(name)(in_range)

    @checker.checks("date-time")
    def date_time(value: Any) -> bool:
        return not isinstance(value, str) or _date_time(value, offset_required=requests)

    @checker.checks("uuid")
    def is_uuid(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True

    return checker


_FORMATS = {True: _format_checker(requests=True), False: _format_checker(requests=False)}
_FORMAT_WORDS = {
    "int32": "an int32 (out of range)", "int64": "an int64 (out of range)",
    "uuid": "a UUID",
    "date-time": "an RFC 3339 date-time with its UTC offset (e.g. 2025-01-31T00:00:00Z)",
}


# --------------------------------------------------------------------------- schemas


def _to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema as a JSON Schema (2020-12) under the strict rules above."""
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:  # OpenAPI 3.0: siblings of $ref are ignored
        return {"$ref": "#/$defs/" + node["$ref"].rsplit("/", 1)[-1]}
    out: dict[str, Any] = {}
    for key in ("type", "enum", "format", "minLength", "maxLength", "minimum", "maximum",
                "pattern", "required", "readOnly", "writeOnly", "x-enumNames"):
        if key in node:
            out[key] = node[key]
    if "allOf" in node:
        out["allOf"] = [_to_json_schema(s) for s in node["allOf"]]
    if "items" in node:
        out["items"] = _to_json_schema(node["items"])
    if "properties" in node:
        out["properties"] = {k: _to_json_schema(v) for k, v in node["properties"].items()}
        extra = node.get("additionalProperties")
        out["additionalProperties"] = (_to_json_schema(extra) if isinstance(extra, Mapping)
                                       else False)
    elif isinstance(node.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _to_json_schema(node["additionalProperties"])
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


_DEFS = {name: {**_to_json_schema(schema), "title": name} for name, schema in SCHEMAS.items()}


def _integer(checker: Any, instance: Any) -> bool:
    # A JSON integer token only: 3450000.0 is a float token, refused for integer/int32.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _read_only(validator: Any, value: Any, instance: Any, schema: Any
               ) -> Iterator[ValidationError]:
    if value is True:
        yield ValidationError("is readOnly: Cinode ignores it in a request")


_TYPES = validators.Draft202012Validator.TYPE_CHECKER.redefine("integer", _integer)
_RequestValidator = validators.extend(validators.Draft202012Validator,
                                      validators={"readOnly": _read_only},
                                      type_checker=_TYPES)
_ResponseValidator = validators.extend(validators.Draft202012Validator, type_checker=_TYPES)


@cache
def _validator(schema_text: str, requests: bool) -> Validator:
    schema = {"$defs": _DEFS, **_to_json_schema(json.loads(schema_text))}
    cls = _RequestValidator if requests else _ResponseValidator
    return cls(schema, format_checker=_FORMATS[requests])


def _deref(schema: Any) -> tuple[Mapping[str, Any], str | None]:
    """A schema with $ref and single allOf wrappers followed; the last model name passed."""
    name = None
    for _ in range(20):
        if not isinstance(schema, Mapping):
            return {}, name
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = SCHEMAS.get(name, {})
        elif len(schema.get("allOf", ())) == 1 and "properties" not in schema:
            schema = schema["allOf"][0]
        else:
            break
    return schema, name


def _element(root: Any, path: tuple[Any, ...]) -> str:
    """The contract element at `path` below `root`: `Model.property` or `Model`."""
    schema, model = _deref(root)
    owner, prop = model, None
    for segment in path:
        if isinstance(segment, int):
            schema, name = _deref(schema.get("items", {}))
        else:
            properties = schema.get("properties", {})
            if segment in properties:
                owner, prop = model, segment
                schema, name = _deref(properties[segment])
            else:
                extra = schema.get("additionalProperties")
                owner, prop = model, (f"{prop}{{}}" if prop else "{}")
                schema, name = _deref(extra if isinstance(extra, Mapping) else {})
        model = name or model
    if prop is None:
        return model or "the declared schema"
    return f"{owner}.{prop}" if owner else prop


def _where(prefix: str, path: Any) -> str:
    out = prefix
    for segment in path:
        out += "[]" if isinstance(segment, int) else f".{segment}"
    return out


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The errors that say what is wrong: anyOf(null, X) is unwrapped to X's errors."""
    if error.validator == "anyOf" and error.context:
        branches = [e for e in error.context
                    if not (e.validator == "type" and e.validator_value == "null")]
        if branches:
            for branch in branches:
                yield from _leaves(branch)
            return
    yield error


_PRIORITY = {"type": 0, "readOnly": 1, "enum": 2, "format": 3, "minLength": 4}


def _enum_text(schema: Mapping[str, Any]) -> str:
    values = [v for v in schema.get("enum", []) if v is not None]
    names = schema.get("x-enumNames") or []
    if len(names) == len(values):
        listed = ", ".join(f"{v} {n}" for v, n in zip(values, names, strict=True))
    else:
        listed = ", ".join(json.dumps(v) for v in values)
    title = schema.get("title")
    return f"{title} ({listed})" if title else listed


def _type_text(error: ValidationError) -> str:
    wanted = error.validator_value
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    nullable = "null" in wanted
    wanted = [w for w in wanted if w != "null"]
    value = error.instance
    fmt = error.schema.get("format") if isinstance(error.schema, Mapping) else None
    if value is None and not nullable:
        return "null is not allowed: the property is not nullable"
    if wanted == ["integer"]:
        what = f"an {fmt} JSON integer" if fmt in _INT_RANGE else "a JSON integer"
        return f"{_show(value)} is not {what}"
    if wanted == ["boolean"]:
        return f"{_show(value)} is not a JSON boolean (true or false)"
    if isinstance(value, list | Mapping):
        return f"a JSON {_kind(value)} where the contract declares {' or '.join(wanted)}"
    return f"{_show(value)} is a JSON {_kind(value)}, not {' or '.join(wanted)}"


def _problems(instance: Any, schema: Any, *, requests: bool, prefix: str = "body",
              root: Any = None) -> list[tuple[str, str, str]]:
    """(where, what, element) for each problem of `instance` against an OpenAPI schema."""
    validator = _validator(json.dumps(schema, sort_keys=True), requests)
    root = schema if root is None else root
    found: dict[tuple[Any, ...], tuple[int, tuple[str, str, str]]] = {}
    for error in validator.iter_errors(instance):
        for leaf in _leaves(error):
            path = tuple(leaf.absolute_path)
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, Mapping):
                declared = (leaf.schema.get("properties") or {}) if isinstance(
                    leaf.schema, Mapping) else {}
                model = _deref_model(root, path) or "the declared object"
                for name in leaf.instance:
                    if name not in declared:
                        key = (*path, name)
                        found.setdefault(key, (9, (
                            _where(prefix, key), "undeclared property",
                            f"{model} declares no {name!r}")))
                continue
            if leaf.validator == "required":
                missing = re.findall(r"'([^']+)' is a required property", leaf.message)
                name = missing[0] if missing else "?"
                key = (*path, name)
                found.setdefault(key, (9, (_where(prefix, key), "the required property is "
                                           "missing", _element(root, key))))
                continue
            if leaf.validator == "type":
                what = _type_text(leaf)
            elif leaf.validator == "enum":
                what = f"{_show(leaf.instance)} is not one of {_enum_text(leaf.schema)}"
            elif leaf.validator == "format":
                fmt = leaf.validator_value
                what = f"{_show(leaf.instance)} is not {_FORMAT_WORDS.get(fmt, fmt)}"
            elif leaf.validator == "minLength":
                what = (f"{_show(leaf.instance)} is shorter than {leaf.validator_value} "
                        "character(s)")
            elif leaf.validator == "readOnly":
                what = f"{_show(leaf.instance)} was sent, but the property {leaf.message}"
            else:
                what = leaf.message
            rank = _PRIORITY.get(str(leaf.validator), 8)
            if path not in found or rank < found[path][0]:
                found[path] = (rank, (_where(prefix, path), what, _element(root, path)))
    return [entry for _, entry in found.values()]


def _deref_model(root: Any, path: tuple[Any, ...]) -> str | None:
    """The model name of the object at `path` (for an undeclared property inside it)."""
    schema, model = _deref(root)
    for segment in path:
        if isinstance(segment, int):
            schema, name = _deref(schema.get("items", {}))
        else:
            schema, name = _deref((schema.get("properties") or {}).get(segment, {}))
        model = name or model
    return model


def _sentences(route: str, problems: list[tuple[str, str, str]]) -> list[str]:
    counts = Counter(problems)
    out = []
    for (where, what, element), count in counts.items():
        times = f" ({count} times)" if count > 1 else ""
        out.append(f"{route}: {where}: {what} ({element}){times}")
    return out


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class _Template:
    path: str
    parts: tuple[str, ...]
    item: Mapping[str, Any]

    @property
    def methods(self) -> list[str]:
        return [m.upper() for m in METHODS if m in self.item]

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        if len(parts) != len(self.parts):
            return None
        params: dict[str, str] = {}
        for mine, theirs in zip(self.parts, parts, strict=True):
            if mine.startswith("{") and mine.endswith("}"):
                if not theirs:
                    return None
                params[mine[1:-1]] = theirs
            elif mine != theirs:
                return None
        return params

    def specificity(self) -> tuple[int, ...]:
        return tuple(1 if p.startswith("{") else 0 for p in self.parts)


def _templates(paths: Mapping[str, Any]) -> list[_Template]:
    found = [_Template(path, tuple(path.strip("/").split("/")), item)
             for path, item in paths.items()]
    return sorted(found, key=lambda t: (t.specificity(), t.path))


_CONTRACT_TEMPLATES = _templates(CONTRACT["paths"])
_VENDOR_TEMPLATES = _templates({p: {m.lower(): {} for m in ms}
                                for p, ms in CONTRACT["x-vendorPaths"].items()})


def _value_problem(value: str, schema: Any) -> str | None:
    """Why a path or query string does not fit its schema (None when it does)."""
    schema, _ = _deref(schema)
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return f"{value!r} is not an integer"
        low, high = _INT_RANGE.get(fmt or "int64", _INT_RANGE["int64"])
        if not low <= int(value) <= high:
            return f"{value} is out of the {fmt} range"
        if "enum" in schema and int(value) not in schema["enum"]:
            return f"{value} is not one of {_enum_text({**schema, 'title': None})}"
    elif kind == "boolean" and value.lower() not in ("true", "false"):
        return f"{value!r} is not true or false"
    elif kind == "number":
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number"
    elif kind == "string" and fmt == "date-time" and not _date_time(value,
                                                                    offset_required=False):
        return f"{value!r} is not a date-time"
    elif kind == "string" and fmt == "uuid" and not _FORMATS[True].conforms(value, "uuid"):
        return f"{value!r} is not a UUID"
    return None


@dataclass(frozen=True)
class _Resolved:
    template: _Template
    method: str
    op: Mapping[str, Any] | None
    params: dict[str, str]

    @property
    def route(self) -> str:
        return f"{self.method} {self.template.path}"


def _param_problems(op: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    problems = []
    declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "path"}
    for name, value in params.items():
        spec = declared.get(name)
        if spec is None:
            continue
        why = _value_problem(value, spec.get("schema", {}))
        if why:
            problems.append(f"path parameter {name}: {why} (parameter {name}, "
                            f"{spec.get('schema', {}).get('format', 'string')})")
    return problems


def _resolve(method: str, path: str) -> _Resolved | None:
    parts = tuple(path.strip("/").split("/"))
    candidates = [(t, p) for t in _CONTRACT_TEMPLATES if (p := t.match(parts)) is not None]
    key = method.lower()
    with_method = [(t, p) for t, p in candidates if key in t.item]
    for template, params in with_method:
        if not _param_problems(template.item[key], params):
            return _Resolved(template, method.upper(), template.item[key], params)
    if not candidates:
        return None
    # No operation fits: blame the most specific path (a wrong method, or bad parameters).
    template, params = candidates[0]
    return _Resolved(template, method.upper(), template.item.get(key), params)


def _skipped(path: str) -> bool:
    return path.startswith(SKIPPED_PREFIXES)


def route_of(method: str, path: str) -> str | None:
    """`METHOD /template` of the contract operation this request is, or None."""
    if _skipped(path):
        return None
    resolved = _resolve(method, path)
    if resolved is None or resolved.op is None:
        return None
    return resolved.route


# --------------------------------------------------------------------------- requests


def _unknown(method: str, path: str) -> str:
    parts = tuple(path.strip("/").split("/"))
    for template in _VENDOR_TEMPLATES:
        if template.match(parts) is not None:
            methods = template.methods
            if method.lower() in template.item:
                return (f"{method.upper()} {template.path} is in Cinode's document but outside "
                        f"the derived contract; add the path to derive.py's SELECTED")
            return (f"{method.upper()} {template.path} does not exist: Cinode's document has "
                    f"only {', '.join(methods)} for this path")
    return (f"{method.upper()} {path}: no such endpoint in Cinode's API (no path of the "
            f"OpenAPI document, {CONTRACT['x-derivation']['sourcePaths']} paths, matches)")


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _media_allowed(media: str, declared: list[str]) -> bool:
    for allowed in declared:
        if media == allowed:
            return True
        if allowed == "application/*+json" and re.fullmatch(r"application/[\w.+-]+\+json",
                                                             media):
            return True
    return False


def _auth_problems(route: str, op: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
    security = op.get("security", CONTRACT.get("security", []))
    schemes = {name for requirement in security for name in requirement}
    if not schemes:
        return []
    scheme = headers.get("authorization", "").partition(" ")[0].lower()
    if scheme in schemes:
        return []
    wanted = " or ".join(sorted(s.capitalize() for s in schemes))
    got = f"{scheme.capitalize()} credentials" if scheme else "no Authorization header"
    return [f"{route}: Authorization: {got}, the operation wants {wanted} "
            f"(securitySchemes.{'/'.join(sorted(schemes))}, from Cinode's README)"]


def _query_problems(route: str, op: Mapping[str, Any],
                    query: tuple[tuple[str, str], ...]) -> list[str]:
    declared = {p["name"].lower(): p for p in op.get("parameters", [])
                if p.get("in") == "query"}
    problems = []
    seen = set()
    for name, value in query:
        spec = declared.get(name.lower())
        if spec is None:
            names = ", ".join(sorted(p["name"] for p in declared.values())) or "none"
            problems.append(f"{route}: query parameter {name!r} is not declared "
                            f"(declared: {names})")
            continue
        seen.add(name.lower())
        why = _value_problem(value, spec.get("schema", {}))
        if why:
            problems.append(f"{route}: query parameter {name}: {why} (parameter "
                            f"{spec['name']})")
    for name, spec in declared.items():
        if spec.get("required") and name not in seen:
            problems.append(f"{route}: the required query parameter {spec['name']!r} is "
                            "missing")
    return problems


def _patch_problems(route: str, document: Any, model_name: str) -> list[str]:
    model = SCHEMAS[model_name]
    properties = {name.lower(): name for name in model.get("properties", {})}
    if not isinstance(document, list):
        return [f"{route}: body: a JSON Patch document is an array of operations, got "
                f"{_kind(document)} (JsonPatchDocument)"]
    problems: list[tuple[str, str, str]] = []
    for index, item in enumerate(document):
        where = f"body[{index}]"
        if not isinstance(item, Mapping):
            problems.append((where, f"a patch operation is an object, got {_kind(item)}",
                             "Operation"))
            continue
        for name in item:
            if name not in ("op", "path", "value", "from"):
                problems.append((f"{where}.{name}", "undeclared property",
                                 "Operation declares op, path, value (and RFC 6902 from)"))
        op = item.get("op")
        if op not in PATCH_OPS:
            problems.append((f"{where}.op", f"{_show(op)} is not one of "
                             f"{', '.join(PATCH_OPS)}", "Operation.op"))
        targets = [("path", item.get("path"))]
        if op in ("move", "copy"):
            targets.append(("from", item.get("from")))
        resolved: str | None = None
        for field, pointer in targets:
            if not isinstance(pointer, str) or not pointer.startswith("/"):
                problems.append((f"{where}.{field}", f"{_show(pointer)} is not a JSON "
                                 "pointer to a property", f"Operation.{field}"))
                continue
            segments = pointer[1:].split("/")
            name = properties.get(segments[0].lower())
            if name is None or len(segments) > 1:
                problems.append((f"{where}.{field}", f"{pointer!r} names no property of "
                                 f"{model_name}", f"{model_name} has "
                                 f"{', '.join(model.get('properties', {}))}"))
                continue
            if field == "path":
                resolved = name
        if op in ("add", "replace", "test"):
            if "value" not in item:
                problems.append((f"{where}.value", f"the {op} operation has no value",
                                 "Operation.value"))
            elif resolved is not None:
                prop_schema = model["properties"][resolved]
                for sub_where, what, _ in _problems(
                        item["value"], prop_schema, requests=True, prefix=f"{where}.value"):
                    problems.append((sub_where, what, f"{model_name}.{resolved}, patched "
                                     f"at /{resolved}"))
        if op == "remove" and resolved is not None and \
                resolved in model.get("required", []):
            problems.append((f"{where}.path", "removes a required property",
                             f"{model_name}.{resolved}"))
    return _sentences(route, problems)


def check_request(exchange: Any) -> list[str]:
    """Each way this request leaves Cinode's contract (empty when it keeps it)."""
    if _skipped(exchange.path):
        return []
    resolved = _resolve(exchange.method, exchange.path)
    if resolved is None or resolved.op is None:
        return [_unknown(exchange.method, exchange.path)]
    route, op = resolved.route, resolved.op
    problems = [f"{route}: {p}" for p in _param_problems(op, resolved.params)]
    problems += _auth_problems(route, op, exchange.headers)
    problems += _query_problems(route, op, exchange.query)
    body = op.get("requestBody")
    raw = exchange.body or b""
    if not raw.strip():
        if body is not None and body.get("required"):
            problems.append(f"{route}: body: the operation requires a request body")
        return problems
    if body is None:
        problems.append(f"{route}: body: the operation declares no request body, but "
                        f"{len(raw)} bytes were sent")
        return problems
    content = body.get("content", {})
    media = _media_type(exchange.headers)
    if not _media_allowed(media, list(content)):
        problems.append(f"{route}: Content-Type {media or '(none)'!r} is not one the "
                        f"operation declares ({', '.join(content)})")
    try:
        document = parse_json(raw)
    except _BadJson as exc:
        return [*problems, f"{route}: body: {exc}"]
    patch_model = op.get("x-patchModel")
    if patch_model:
        return problems + _patch_problems(route, document, patch_model)
    spec = content.get(media) or content.get("application/json") or next(iter(content.values()))
    schema = spec.get("schema", {})
    return problems + _sentences(route, _problems(document, schema, requests=True))


# --------------------------------------------------------------------------- answers


def check_response(exchange: Any) -> list[str]:
    """Each way this answer leaves Cinode's contract (empty when it keeps it)."""
    if _skipped(exchange.path):
        return []
    resolved = _resolve(exchange.method, exchange.path)
    if resolved is None or resolved.op is None:
        return []  # the request side already says the route does not exist
    route, op = resolved.route, resolved.op
    status = exchange.status
    responses = op.get("responses", {})
    declared = responses.get(str(status))
    if status == 429 and declared is None:
        declared = CONTRACT["x-rateLimitResponse"]
    success = 200 <= status < 300
    if declared is None:
        if success:
            listed = ", ".join(s for s in responses if s.startswith("2")) or "none"
            return [f"{route}: answered {status}, a success status the operation does not "
                    f"declare (it declares {listed})"]
        return []
    raw = exchange.response_body or b""
    schema = declared.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        if success and raw.strip():
            return [f"{route}: answered {status} with a body; the contract declares none "
                    f"for {status}"]
        return []
    model = _deref(schema)[1] or "the declared schema"
    if not raw.strip():
        return [f"{route}: answered {status} without the declared body ({model})"]
    problems = []
    media = _media_type(exchange.response_headers)
    if media != "application/json" and not media.endswith("+json"):
        problems.append(f"{route}: answer Content-Type {media or '(none)'!r} is not "
                        "application/json")
    try:
        document = parse_json(raw)
    except _BadJson as exc:
        return [*problems, f"{route}: answer body: {exc} ({model})"]
    return problems + _sentences(route, _problems(document, schema, requests=False))
