"""Derive tests/contracts/cinode/contract.json from Cinode's published OpenAPI document.

    python tests/contracts/cinode/derive.py [--source PATH] [--date YYYY-MM-DD] [--check]

The source is Cinode's OpenAPI 3.0.1 document ("Cinode API", version 0.1, 170 paths) as kept
by the public client repository teamitfi/cinode-open-api-client (cinode-swagger.json); on the
project machines it sits at /work/shared/vendor/cinode-openapi-3.0.1.json (`--source` or
$CINODE_OPENAPI name another copy). The tests read only the derived contract.json, so a
fresh clone runs them without the source.

What the contract keeps:

- The paths in SELECTED (every path the adapter calls or the sandbox serves that Cinode has,
  and the ones the fixes need), each with ALL its methods, so a wrong method is reported as
  "this path has only GET, DELETE" rather than "no such path".
- Per operation: operationId, summary, description (it names the access level), parameters,
  the request body's JSON media types with their schema (and the JSON Patch example, which
  lists the patchable paths), and per response status the `application/json` schema.
- Every component schema those reference, transitively.
- `x-vendorPaths`: every path and method of the whole document, so the checker can tell
  "Cinode has this, but it is outside our subset" from "Cinode has no such endpoint".
- `x-patchModel` on the JSON Patch operations: the model whose properties a patch may name.
  PATCH users names `ICompanyUserEmployeePatchDocument` in its description (that schema is in
  the document). PATCH customers says "Patch of CompanyCustomerPatchModel", a schema the
  document does not contain: it is built here from the operation's own example (its paths)
  with each property's schema taken from `CompanyCustomerAddModel` (the same fifteen names),
  and marked `x-derivedHere`.

Added by hand, because Cinode documents them outside the OpenAPI file (README of
github.com/Cinode-Labs/api, sections "Retrieve access_token", "Refresh token", "Authenticate
against the API" and "Rate limiting"): `GET /token` (Basic accessId:accessSecret),
`POST /token/refresh` ({"refreshToken"}), both answering {access_token, refresh_token}; the
Bearer scheme of every other call; the 429 body. Each carries `x-source` saying so.

The output is deterministic: sorted keys, source order inside lists, and the derivation
date is kept from the existing contract.json when nothing else changed (`--date` sets it).
`--check` exits 1 when contract.json is not what the source derives to.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "contract.json"
SCRIPT = "tests/contracts/cinode/derive.py"
DEFAULT_SOURCE = Path(os.environ.get("CINODE_OPENAPI",
                                     "/work/shared/vendor/cinode-openapi-3.0.1.json"))
SOURCE_ORIGIN = ("Cinode's published OpenAPI 3.0.1 document (info.title 'Cinode API', "
                 "info.version '0.1'), as kept by the public client repository "
                 "teamitfi/cinode-open-api-client, file cinode-swagger.json")
README = "https://github.com/Cinode-Labs/api (README.md)"

C = "/v0.1/companies/{companyId}"

# Every path kept, with why. "adapter": engine/adapters/cinode.py calls it; "sandbox":
# engine/sandbox/cinode.py serves it; "needed": the fixes for the contract audit use it.
SELECTED: dict[str, str] = {
    f"{C}": "needed: the company's addresses[] are its office locations "
            "(users' locationId, subcontractors' companyAddressId)",
    f"{C}/addresses/{{id}}/users": "needed: the users placed at one office location",
    f"{C}/currencies": "adapter: currencyCode -> turnOverCurrencyId; sandbox",
    f"{C}/customers": "adapter: create customers; sandbox: list",
    f"{C}/customers/extended": "sandbox",
    f"{C}/customers/search": "adapter: paged customer reads and look-ups by identification",
    f"{C}/customers/{{id}}": "adapter: read, patch; sandbox: put, delete",
    f"{C}/customers/{{customerId}}/addresses": "adapter: add the invoice address",
    f"{C}/customers/{{customerId}}/addresses/{{id}}": "adapter: update the invoice address",
    f"{C}/customers/{{customerId}}/contacts": "adapter: add the contact person",
    f"{C}/customers/{{customerId}}/contacts/{{id}}": "sandbox",
    f"{C}/customers/{{customerId}}/managers": "adapter: add the responsible user",
    f"{C}/customers/{{customerId}}/managers/{{id}}": "sandbox",
    f"{C}/customers/{{customerId}}/tags": "adapter: replace a customer's tags",
    f"{C}/projects": "adapter: create projects; sandbox: list",
    f"{C}/projects/pipelines": "sandbox; needed: pipeline and stage ids",
    f"{C}/projects/search": "adapter: paged project reads and look-ups by identifier",
    f"{C}/projects/{{id}}": "adapter: read, replace",
    f"{C}/projects/{{projectId}}/tags": "adapter: replace a project's tags",
    f"{C}/subcontractors": "adapter: list, create",
    f"{C}/subcontractors/{{id}}": "adapter: read (and a PUT Cinode does not have)",
    f"{C}/tags": "sandbox",
    f"{C}/tags/{{id}}": "sandbox",
    f"{C}/users": "adapter: create users; sandbox: list",
    f"{C}/users/extended": "sandbox",
    f"{C}/users/search": "adapter: paged user reads; the connection check",
    f"{C}/users/{{id}}": "adapter: read (fallback), patch; sandbox: put, delete",
    f"{C}/users/{{companyUserId}}/permissions": "needed: user roles are access levels",
    f"{C}/users/{{companyUserId}}/tags": "adapter: replace a user's tags",
    f"{C}/users/{{id}}/roles": "needed: shows that 'roles' here are project roles, "
                               "not access levels",
    f"{C}/users-full/{{id}}": "adapter: read a user with salary and tax table",
    f"{C}/webhooks": "sandbox; demo: register the project webhook",
    f"{C}/webhooks/manifest": "sandbox",
    f"{C}/webhooks/{{id}}": "sandbox",
    "/v0.1/languages": "needed: languageId values (not company-scoped)",
}

# JSON Patch operations: the model their paths name (see the module docstring).
PATCH_MODELS = {
    (f"{C}/users/{{id}}", "patch"): "ICompanyUserEmployeePatchDocument",
    (f"{C}/customers/{{id}}", "patch"): "CompanyCustomerPatchModel",
}
CUSTOMER_PATCH_BASE = "CompanyCustomerAddModel"

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
REQUEST_MEDIA = ("application/json", "application/json-patch+json", "text/json",
                 "application/*+json")
RESPONSE_MEDIA = "application/json"

HAND_NOTE = ("Added by hand: Cinode documents this outside its OpenAPI file, in " + README + ".")

HAND_SCHEMAS: dict[str, Any] = {
    "TokenModel": {
        "type": "object",
        "description": "The answer of GET /token and POST /token/refresh. The access token is "
                       "a JWT valid for 120 seconds.",
        "properties": {"access_token": {"type": "string"},
                       "refresh_token": {"type": "string"}},
        "required": ["access_token", "refresh_token"],
        "additionalProperties": False,
        "x-source": HAND_NOTE,
    },
    "TokenRefreshModel": {
        "type": "object",
        "properties": {"refreshToken": {"type": "string", "minLength": 1}},
        "required": ["refreshToken"],
        "additionalProperties": False,
        "x-source": HAND_NOTE,
    },
    "RateLimitErrorModel": {
        "type": "object",
        "description": "The body of a 429 answer (README, 'Error response codes').",
        "properties": {"description": {"type": "string"}, "moreInfo": {"type": "string"},
                       "status": {"type": "integer", "format": "int32"}},
        "additionalProperties": False,
        "x-source": HAND_NOTE,
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(name: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {RESPONSE_MEDIA: {"schema": _ref(name)}}}


HAND_PATHS: dict[str, Any] = {
    "/token": {
        "x-selectedFor": "adapter: authentication",
        "x-source": HAND_NOTE,
        "get": {
            "operationId": "Token",
            "summary": "Exchange the API account's AccessId and AccessSecret for tokens",
            "description": "Authorization: Basic base64(accessId:accessSecret). Limited to 2 "
                           "requests per 2 s per AccessId; not counted against the plan.",
            "security": [{"basic": []}],
            "parameters": [],
            "responses": {"200": _json_response("TokenModel", "Access and refresh token"),
                          "401": {"description": "Wrong AccessId or AccessSecret"}},
            "x-source": HAND_NOTE,
        },
    },
    "/token/refresh": {
        "x-selectedFor": "adapter: renew the access token",
        "x-source": HAND_NOTE,
        "post": {
            "operationId": "TokenRefresh",
            "summary": "Exchange a refresh token for new tokens",
            "security": [],
            "parameters": [],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("TokenRefreshModel")}}},
            "responses": {"200": _json_response("TokenModel", "Access and refresh token"),
                          "401": {"description": "The refresh token is spent or unknown"}},
            "x-source": HAND_NOTE,
        },
    },
}

SECURITY_SCHEMES = {
    "basic": {"type": "http", "scheme": "basic", "x-source": HAND_NOTE,
              "description": "GET /token only: base64(accessId:accessSecret)"},
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "x-source": HAND_NOTE,
               "description": "Every /v0.1 call: the access_token from /token"},
}

RATE_LIMIT_RESPONSE = {
    "description": "Over the plan's rate limit (40 per 2 s per company, 10,000 per UTC day; "
                   "/token: 2 per 2 s per AccessId). Headers x-ratelimit-limit, "
                   "x-ratelimit-remaining, x-ratelimit-reset, x-daily-requests-left.",
    "content": {RESPONSE_MEDIA: {"schema": _ref("RateLimitErrorModel")}},
    "x-source": HAND_NOTE,
}


class DeriveError(Exception):
    pass


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: op[key] for key in ("operationId", "summary", "description",
                                                     "deprecated") if key in op}
    out["parameters"] = [
        {key: p[key] for key in ("name", "in", "required", "schema", "description")
         if key in p} for p in op.get("parameters", [])]
    body = op.get("requestBody")
    if body is not None:
        content = {media: {key: spec[key] for key in ("schema", "example") if key in spec}
                   for media, spec in body.get("content", {}).items() if media in REQUEST_MEDIA}
        if not content:
            raise DeriveError(f"{op.get('operationId')}: no JSON request media type")
        out["requestBody"] = {key: body[key] for key in ("description", "required")
                              if key in body}
        out["requestBody"]["content"] = content
    responses: dict[str, Any] = {}
    for status, answer in op.get("responses", {}).items():
        kept: dict[str, Any] = {"description": answer.get("description", "")}
        media = answer.get("content", {}).get(RESPONSE_MEDIA)
        if media is not None:
            kept["content"] = {RESPONSE_MEDIA: {"schema": media["schema"]}}
        responses[status] = kept
    out["responses"] = responses
    return out


def _customer_patch_model(doc: dict[str, Any]) -> dict[str, Any]:
    """`CompanyCustomerPatchModel`: the example's paths, typed by CompanyCustomerAddModel."""
    op = doc["paths"][f"{C}/customers/{{id}}"]["patch"]
    example = op["requestBody"]["content"]["application/json-patch+json"]["example"]
    base = doc["components"]["schemas"][CUSTOMER_PATCH_BASE]["properties"]
    by_lower = {name.lower(): name for name in base}
    properties: dict[str, Any] = {}
    for item in example:
        segment = item["path"].strip("/")
        name = by_lower.get(segment.lower())
        if name is None:
            raise DeriveError(f"PATCH customers example path {item['path']!r} is not a "
                              f"property of {CUSTOMER_PATCH_BASE}")
        schema = {k: v for k, v in copy.deepcopy(base[name]).items()
                  if k not in ("readOnly", "deprecated")}
        properties[name] = schema
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": "The properties PATCH /customers/{id} may name.",
        "x-derivedHere": (
            "The document's PATCH /customers/{id} says 'Patch of CompanyCustomerPatchModel' "
            "but has no such schema. Built by derive.py from that operation's example (its "
            f"{len(properties)} paths) with each property's schema from "
            f"{CUSTOMER_PATCH_BASE}; readOnly/deprecated dropped because the example "
            "patches /status."),
    }


def _check_patch_example(doc: dict[str, Any], path: str, method: str, model: dict[str, Any]
                         ) -> None:
    op = doc["paths"][path][method]
    example = op["requestBody"]["content"]["application/json-patch+json"].get("example", [])
    names = {name.lower() for name in model["properties"]}
    for item in example:
        if item["path"].strip("/").lower() not in names:
            raise DeriveError(f"{method.upper()} {path}: example path {item['path']!r} is not "
                              "in its patch model")


def derive(source: Path, date: str) -> dict[str, Any]:
    raw = source.read_bytes()
    doc = json.loads(raw)
    schemas = doc["components"]["schemas"]
    paths: dict[str, Any] = {}
    for path in sorted(SELECTED):
        item = doc["paths"].get(path)
        if item is None:
            raise DeriveError(f"{path} is not in {source.name}")
        kept = {"x-selectedFor": SELECTED[path]}
        for method in METHODS:
            if method in item:
                kept[method] = _operation(item[method])
        paths[path] = kept
    for path, item in HAND_PATHS.items():
        if path in doc["paths"]:
            raise DeriveError(f"{path} is in the document now: take it from there")
        paths[path] = copy.deepcopy(item)

    component_schemas: dict[str, Any] = {}
    for name, schema in HAND_SCHEMAS.items():
        if name in schemas:
            raise DeriveError(f"hand-added schema {name} collides with the document's")
        component_schemas[name] = copy.deepcopy(schema)
    derived = _customer_patch_model(doc)
    if "CompanyCustomerPatchModel" in schemas:
        raise DeriveError("CompanyCustomerPatchModel is in the document now: use it")
    component_schemas["CompanyCustomerPatchModel"] = derived
    for (path, method), model in PATCH_MODELS.items():
        op = paths[path][method]
        op["x-patchModel"] = model
        _check_patch_example(doc, path, method, component_schemas.get(model) or schemas[model])

    pending = sorted(_refs(paths) | _refs(component_schemas) | set(PATCH_MODELS.values()))
    while pending:
        name = pending.pop()
        if name in component_schemas:
            continue
        if name not in schemas:
            raise DeriveError(f"schema {name} is referenced but not defined")
        component_schemas[name] = copy.deepcopy(schemas[name])
        pending.extend(sorted(_refs(schemas[name]) - set(component_schemas)))

    vendor_paths = {path: [m.upper() for m in METHODS if m in item]
                    for path, item in doc["paths"].items()}
    return {
        "openapi": doc["openapi"],
        "info": {"title": doc["info"]["title"], "version": doc["info"]["version"],
                 "description": "The subset of Cinode's API this project uses, derived by "
                                f"{SCRIPT}; see x-derivation."},
        "servers": doc.get("servers", []),
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": component_schemas, "securitySchemes": SECURITY_SCHEMES},
        "x-rateLimitResponse": RATE_LIMIT_RESPONSE,
        "x-vendorPaths": vendor_paths,
        "x-derivation": {
            "source": source.name,
            "sourceSha256": hashlib.sha256(raw).hexdigest(),
            "sourceOrigin": SOURCE_ORIGIN,
            "sourcePaths": len(doc["paths"]),
            "sourceSchemas": len(schemas),
            "derivedOn": date,
            "script": SCRIPT,
            "keptPaths": len(paths),
            "keptSchemas": len(component_schemas),
            "handAdded": [
                "GET /token and POST /token/refresh, schemas TokenModel and "
                "TokenRefreshModel, securitySchemes basic and bearer, x-rateLimitResponse "
                "with RateLimitErrorModel: " + HAND_NOTE,
                "CompanyCustomerPatchModel: built from the PATCH /customers/{id} example; "
                "see its x-derivedHere.",
            ],
            "media": "Request bodies keep the JSON media types; answers keep "
                     "application/json (the document also lists text/plain, text/json and "
                     "XML with the same schema).",
        },
    }


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _existing_date(candidate: dict[str, Any]) -> str | None:
    """The date in contract.json when it equals `candidate` in everything else."""
    try:
        existing = json.loads(OUTPUT.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    date = existing.get("x-derivation", {}).get("derivedOn")
    if not isinstance(date, str):
        return None
    trial = copy.deepcopy(candidate)
    trial["x-derivation"]["derivedOn"] = date
    return date if trial == existing else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--date", help="derivation date to record (default: kept when "
                                       "nothing else changed, else today in UTC)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when contract.json differs")
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date().isoformat()
    try:
        contract = derive(args.source, args.date or today)
    except (OSError, DeriveError) as exc:
        print(f"derive.py: {exc}", file=sys.stderr)
        return 2
    if args.date is None:
        kept = _existing_date(contract)
        if kept is not None:
            contract["x-derivation"]["derivedOn"] = kept
    text = render(contract)
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if args.check:
        if current != text:
            print(f"{OUTPUT.name} is not what {args.source.name} derives to; "
                  f"run python {SCRIPT}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        OUTPUT.write_text(text, encoding="utf-8")
    info = contract["x-derivation"]
    print(f"{OUTPUT.relative_to(HERE.parents[2])}: {info['keptPaths']} paths, "
          f"{info['keptSchemas']} schemas from {info['source']} ({info['sourceSha256'][:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
