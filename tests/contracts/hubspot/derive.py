"""Derive HubSpot's route table from the installed official SDK (`hubspot-api-client`).

The SDK is generated from HubSpot's OpenAPI documents: every API class method names its
path template, HTTP verb, body model, query parameters and the response model per status.
This script reads those facts from the SDK's source (an AST walk of every
`hubspot/**/api/*_api.py`, so nothing is imported or called) and writes `routes.json`
beside it:

    {"source": {"package": "hubspot-api-client", "version": "12.0.0", "module": "hubspot"},
     "derived": "2026-12-03",
     "operations": [{"method": "POST", "path": "/crm/v3/objects/companies/batch/read",
                     "module": "hubspot.crm.companies", "api": "BatchApi",
                     "operation": "read", "body": "BatchReadInputSimplePublicObjectId",
                     "responses": {"200": "BatchResponseSimplePublicObject",
                                   "207": "BatchResponseSimplePublicObjectWithErrors"},
                     "query": ["archived"], "auth": ["oauth2"]}, ...]}

Models (`body`, `responses`) are class names in `<module>.models`; the checker imports
them at test time (the SDK is a pinned test dependency) to validate bodies.

Deterministic: operations are sorted, and the derivation date is kept from the existing
file when nothing else changed, so re-running on the same SDK rewrites the same bytes.

    python -m tests.contracts.hubspot.derive           # (re)write routes.json
    python -m tests.contracts.hubspot.derive --check   # exit 1 when routes.json is stale
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import sys
import warnings
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

__all__ = ["ROUTES", "derive", "main", "operations"]

ROUTES = Path(__file__).with_name("routes.json")
PACKAGE = "hubspot-api-client"


def _sdk_root() -> Path:
    spec = find_spec("hubspot")
    if spec is None or spec.origin is None:
        raise SystemExit("the HubSpot SDK (hubspot-api-client) is not installed")
    return Path(spec.origin).parent


def _const(node: ast.AST | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _docstring_types(func: ast.FunctionDef) -> dict[str, str]:
    """`:type name: Model` lines of the method's docstring."""
    types: dict[str, str] = {}
    for line in (ast.get_docstring(func) or "").splitlines():
        line = line.strip()
        if line.startswith(":type ") and ":" in line[6:]:
            name, _, kind = line[6:].partition(":")
            types[name.strip()] = kind.strip()
    return types


def _operation(func: ast.FunctionDef) -> dict[str, Any] | None:
    """The facts of one `<name>_with_http_info` method, or None if it calls no API."""
    path = method = body_param = None
    responses: dict[str, str] = {}
    query: list[str] = []
    form: list[str] = []
    auth: list[str] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "call_api" and len(node.args) >= 2:
                path, method = _const(node.args[0]), _const(node.args[1])
            elif node.func.attr == "append" and isinstance(node.func.value, ast.Name) \
                    and node.args and isinstance(node.args[0], ast.Tuple):
                name = _const(node.args[0].elts[0])
                if isinstance(name, str):
                    if node.func.value.id == "query_params":
                        query.append(name)
                    elif node.func.value.id == "form_params":
                        form.append(name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if target == "response_types_map" and isinstance(node.value, ast.Dict):
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    status, model = _const(key), _const(value)
                    if status is not None and isinstance(model, str):
                        responses[str(status)] = model
            elif target == "auth_settings" and isinstance(node.value, ast.List):
                auth = [str(_const(e)) for e in node.value.elts]
            elif target == "body_params" and isinstance(node.value, ast.Subscript):
                body_param = _const(node.value.slice)
    if not isinstance(path, str) or not isinstance(method, str):
        return None
    body = _docstring_types(func).get(body_param) if body_param else None
    out: dict[str, Any] = {"method": method.upper(), "path": path, "body": body,
                           "responses": dict(sorted(responses.items())),
                           "query": sorted(set(query)), "auth": sorted(set(auth))}
    if form:
        out["form"] = sorted(set(form))
    return out


def operations(root: Path | None = None) -> list[dict[str, Any]]:
    """Every operation of every API class in the SDK under `root`, sorted."""
    root = root or _sdk_root()
    found: list[dict[str, Any]] = []
    for file in sorted(root.rglob("api/*_api.py")):
        parts = file.relative_to(root.parent).with_suffix("").parts  # hubspot/.../api/x_api
        module = ".".join(parts[:-2])
        with warnings.catch_warnings():  # generated code has invalid escapes ("\d")
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for cls in tree.body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for func in cls.body:
                if not isinstance(func, ast.FunctionDef) or \
                        not func.name.endswith("_with_http_info"):
                    continue
                op = _operation(func)
                if op is None:
                    continue
                found.append({"method": op.pop("method"), "path": op.pop("path"),
                              "module": module, "api": cls.name,
                              "operation": func.name.removesuffix("_with_http_info"), **op})
    found.sort(key=lambda o: (o["path"], o["method"], o["module"], o["api"], o["operation"]))
    return found


def derive(previous: dict[str, Any] | None = None,
           today: _dt.date | None = None) -> dict[str, Any]:
    """The routes.json document; keeps `previous`'s date when nothing else changed."""
    source = {"package": PACKAGE, "version": metadata.version(PACKAGE), "module": "hubspot"}
    ops = operations()
    derived = (today or _dt.datetime.now(_dt.UTC).date()).isoformat()
    if previous and previous.get("source") == source and previous.get("operations") == ops:
        derived = str(previous.get("derived") or derived)
    return {"source": source, "derived": derived,
            "note": "Generated by tests/contracts/hubspot/derive.py from the installed SDK's "
                    "API classes; do not edit by hand.",
            "operations": ops}


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when routes.json differs from the installed SDK")
    parser.add_argument("--out", type=Path, default=ROUTES)
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else None
    text = _dump(derive(previous))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m tests.contracts.hubspot.derive",
                  file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    ops = json.loads(text)["operations"]
    print(f"{args.out}: {len(ops)} operations from {PACKAGE} "
          f"{json.loads(text)['source']['version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
