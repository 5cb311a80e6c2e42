"""Derive tests/contracts/kleer/contract.json from Kleer's XML Schema and routes.py.

    python tests/contracts/kleer/derive.py [--xsd PATH] [--date YYYY-MM-DD] [--check]

The XSD is Kleer's API v1 schema (upstream https://api.kleer.se/v1/xsd; the copy in
shared/vendor is byte-identical to DeviesDevelopment/Kleer Kleer/doc.xsd). It is copied
beside this script as kleer-v1.xsd, so a fresh clone needs nothing outside the repository;
without --xsd the shared copy is read when present, else that local copy.

contract.json holds, deterministically (sorted keys, no timestamps but the derivation date,
which is kept while the XSD's sha256 is unchanged unless --date says otherwise):

- `source`: where the XSD came from, its sha256, the derivation date;
- `routes`: routes.py, each element checked against the XSD;
- `json_mapping`: the rules that map Kleer's JSON onto the XSD's elements;
- `elements`: each global element a route names -> its type;
- `types`: every complex and simple type reachable from those elements, flattened for JSON:
  per child element its type, whether it is required (minOccurs >= 1 in a sequence that is
  itself required), repeated (maxOccurs > 1 anywhere on its way), nillable; choice groups;
  attributes; simple types as base built-in plus enumeration and patterns.

It also writes engine/sandbox/kleer/xsd.json: the `elements` and `types` alone, which the
Kleer sandbox validates request bodies with and shapes its answers by (the sandbox is
shipped in the package, so it cannot read tests/).

--check exits 1 when contract.json, xsd.json or the XSD copy differ from what would be
derived.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

import xmlschema

HERE = Path(__file__).resolve().parent
LOCAL_XSD = HERE / "kleer-v1.xsd"
CONTRACT = HERE / "contract.json"
SANDBOX_MODEL = HERE.parents[2] / "engine" / "sandbox" / "kleer" / "xsd.json"
# shared/vendor/kleer-v1.xsd beside the repository (or beside a folder holding it)
SHARED_XSD = next((p / "shared" / "vendor" / "kleer-v1.xsd" for p in HERE.parents[2:]
                   if (p / "shared" / "vendor" / "kleer-v1.xsd").exists()),
                  HERE.parents[3] / "shared" / "vendor" / "kleer-v1.xsd")
UPSTREAM = "https://api.kleer.se/v1/xsd"
MIRROR = "DeviesDevelopment/Kleer Kleer/doc.xsd (daily copy of the upstream schema)"
XS = "{http://www.w3.org/2001/XMLSchema}"
# Elements every answer may carry besides the routes' own (Kleer's error body).
EXTRA_ELEMENTS = ("error",)

sys.path.insert(0, str(HERE))
from routes import JSON_MAPPING, ROUTES  # noqa: E402


def _xs(name: str | None) -> str | None:
    return f"xs:{name[len(XS):]}" if name and name.startswith(XS) else name


class _Deriver:
    def __init__(self, schema: xmlschema.XMLSchema) -> None:
        self.schema = schema
        self.types: dict[str, dict[str, Any]] = {}
        self._anon = 0

    # -- simple types

    def simple(self, st: Any, hint: str) -> str:
        """The name under which the simple type `st` is kept (built-ins as `xs:name`)."""
        if st.is_complex():
            raise ValueError(f"{hint}: expected a simple type")
        name = _xs(st.name)
        if name and name.startswith("xs:"):
            return name
        key = name or f"{hint}#simple"
        if key in self.types:
            return key
        primitive = _xs(st.primitive_type.name) if st.primitive_type is not None else None
        base = st.base_type
        while base is not None and not (base.name or "").startswith(XS):
            base = base.base_type
        entry: dict[str, Any] = {"kind": "simple",
                                 "base": _xs(base.name) if base is not None else primitive}
        if getattr(st, "enumeration", None):
            entry["enum"] = [str(v) for v in st.enumeration]
        patterns = getattr(st, "patterns", None)
        if patterns:
            entry["patterns"] = [p.pattern for p in patterns]
        self.types[key] = entry
        return key

    # -- complex types

    def complex(self, ct: Any, hint: str) -> str:
        if ct.is_simple():
            return self.simple(ct, hint)
        if ct.name == f"{XS}anyType" or (ct.name is None and ct.content is None):
            return "xs:anyType"
        name = ct.name
        # An anonymous type that only restates a named base (`<xs:extension base="x"/>`
        # under a global element of the same name) is that base.
        if name is None and ct.base_type is not None and ct.base_type.name and \
                not ct.base_type.name.startswith(XS) and \
                self._same_content(ct, ct.base_type):
            return self.complex(ct.base_type, hint)
        key = name or f"{hint}"
        if key in self.types:
            return key
        entry: dict[str, Any] = {"kind": "complex", "elements": [], "choices": [],
                                 "attributes": []}
        if name is None:
            entry["anonymous"] = True
        self.types[key] = entry  # placed first: recursive types refer back to it
        if ct.abstract:
            entry["abstract"] = True
        if ct.has_simple_content():
            raise ValueError(f"{key}: simple content is not expected in this schema")
        if ct.content is not None:
            self._group(ct.content, key, entry, required=True, repeated=False,
                        in_choice=False)
        for attr_name, attr in sorted(ct.attributes.items()):
            if attr_name is None:
                continue
            entry["attributes"].append({
                "name": attr_name, "type": self.simple(attr.type, f"{key}@{attr_name}"),
                "required": attr.use == "required"})
        return key

    @staticmethod
    def _same_content(ct: Any, base: Any) -> bool:
        mine = [getattr(p, "name", None) for p in ct.content.iter_elements()] \
            if ct.content is not None else []
        theirs = [getattr(p, "name", None) for p in base.content.iter_elements()] \
            if base.content is not None else []
        return mine == theirs and set(ct.attributes) == set(base.attributes)

    def _group(self, group: Any, owner: str, entry: dict[str, Any], *, required: bool,
               repeated: bool, in_choice: bool) -> list[str]:
        """Flatten `group` into `entry`; returns the element names it holds."""
        group_required = required and group.min_occurs >= 1
        group_repeated = repeated or group.max_occurs is None or group.max_occurs > 1
        names: list[str] = []
        choice = group.model == "choice"
        for particle in group:
            if isinstance(particle, xmlschema.validators.XsdGroup):
                names += self._group(particle, owner, entry,
                                     required=group_required and not choice,
                                     repeated=group_repeated, in_choice=in_choice or choice)
                continue
            if isinstance(particle, xmlschema.validators.XsdAnyElement):
                raise ValueError(f"{owner}: xs:any is not expected in this schema")
            el = particle
            doc = None
            if el.annotation is not None and el.annotation.documentation:
                doc = " ".join(" ".join((d.text or "").split())
                               for d in el.annotation.documentation).strip() or None
            child: dict[str, Any] = {
                "name": el.name,
                "type": self.complex(el.type, f"{owner}/{el.name}"),
                "required": bool(group_required and not choice and not in_choice
                                 and el.min_occurs >= 1),
                "repeated": bool(group_repeated or el.max_occurs is None or el.max_occurs > 1),
                "nillable": bool(el.nillable),
            }
            if doc:
                child["doc"] = doc
            if any(e["name"] == el.name for e in entry["elements"]):
                raise ValueError(f"{owner}: element {el.name} declared twice")
            entry["elements"].append(child)
            names.append(el.name)
        if choice:
            entry["choices"].append({"elements": names,
                                     "required": group_required,
                                     "repeated": group_repeated})
        return names

    def element(self, name: str) -> str:
        el = self.schema.elements.get(name)
        if el is None:
            raise ValueError(f"the XSD has no global element {name!r}")
        return self.complex(el.type, f"element:{name}")


def derive(xsd: Path, when: str) -> dict[str, Any]:
    data = xsd.read_bytes()
    schema = xmlschema.XMLSchema(str(xsd))
    deriver = _Deriver(schema)
    elements: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for route in ROUTES:
        key = (route["method"], route["path"])
        if key in seen:
            raise ValueError(f"route {key} listed twice")
        seen.add(key)
        for part in ("request", "response"):
            name = route.get(part)
            if name:
                elements[name] = deriver.element(name)
    for name in EXTRA_ELEMENTS:
        elements[name] = deriver.element(name)
    return {
        "contract": "Kleer API v1 (JSON), derived from Kleer's XML Schema and routes.py",
        "source": {
            "file": "tests/contracts/kleer/kleer-v1.xsd",
            "upstream": UPSTREAM,
            "mirror": MIRROR,
            "sha256": hashlib.sha256(data).hexdigest(),
            "derived": when,
            "generator": "tests/contracts/kleer/derive.py",
        },
        "json_mapping": JSON_MAPPING,
        "routes": ROUTES,
        "elements": dict(sorted(elements.items())),
        "types": dict(sorted(deriver.types.items())),
    }


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_model(contract: dict[str, Any]) -> str:
    """The sandbox's copy: elements and types, one type per line (diffs stay readable)."""
    lines = ['{"source": ' + json.dumps(contract["source"], sort_keys=True) + ",",
             '"elements": ' + json.dumps(contract["elements"], sort_keys=True) + ",",
             '"types": {']
    types = contract["types"]
    for n, name in enumerate(sorted(types)):
        comma = "," if n < len(types) - 1 else ""
        lines.append(json.dumps(name) + ": " + json.dumps(types[name], sort_keys=True,
                                                           ensure_ascii=False) + comma)
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--xsd", type=Path, default=None)
    parser.add_argument("--date", default=None, help="derivation date (YYYY-MM-DD)")
    parser.add_argument("--check", action="store_true",
                        help="fail when contract.json or the XSD copy is out of date")
    args = parser.parse_args(argv)
    source = args.xsd or (SHARED_XSD if SHARED_XSD.exists() else LOCAL_XSD)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    old = json.loads(CONTRACT.read_text()) if CONTRACT.exists() else None
    when = args.date
    if when is None:
        when = old["source"]["derived"] if old and old["source"]["sha256"] == sha \
            else date.today().isoformat()
    contract = derive(source, when)
    text = render(contract)
    if args.check:
        problems = []
        if not LOCAL_XSD.exists() or LOCAL_XSD.read_bytes() != source.read_bytes():
            problems.append(f"{LOCAL_XSD.name} differs from {source}")
        if not CONTRACT.exists() or CONTRACT.read_text() != text:
            problems.append(f"{CONTRACT.name} is not what derive.py makes from {source}")
        if not SANDBOX_MODEL.exists() or SANDBOX_MODEL.read_text() != render_model(contract):
            problems.append(f"{SANDBOX_MODEL.name} is not what derive.py makes from {source}")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if source.resolve() != LOCAL_XSD.resolve():
        shutil.copyfile(source, LOCAL_XSD)
    CONTRACT.write_text(text)
    SANDBOX_MODEL.write_text(render_model(contract))
    print(f"wrote {CONTRACT.name}: {len(contract['routes'])} routes, "
          f"{len(contract['elements'])} elements, {len(contract['types'])} types; "
          f"XSD sha256 {sha[:12]}, derived {when}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
