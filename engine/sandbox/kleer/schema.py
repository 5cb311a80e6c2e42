"""Kleer's XML Schema as the sandbox reads it: JSON bodies checked and put in one form.

`xsd.json` beside this module is derived from Kleer's XSD by
tests/contracts/kleer/derive.py (the same derivation the contract tests check against),
so what the sandbox accepts and answers is the contract, not a copy of it by hand.

Kleer's JSON (see the contract's `json_mapping`): the root element is not written; a
single element is a member named as the element; a repeated element is an array under
the element's plural (`users`, `activities`); a wrapper holding only a repeated element
(`recurring-rows`, `dimension-entries`) is the bare array of its items. `canonical`
accepts the forms the mapping allows (singular names, wrappers as objects) and returns
the one form the sandbox stores and answers.

What a body that breaks the schema gets (each an assumption where no client shows it):

- an element the type does not declare: 400 `Unrecognized field "path"` (Kleer's
  Jackson message);
- a value of the wrong JSON kind, outside its XSD type (an xs:int range, an xs:date, an
  enumeration): 400 `Field "path": ...`. Kleer's own coercions (a string "30" for an
  xs:int) are unknown, so the sandbox accepts none;
- a required element left out: Kleer's generic 500 `Tekniskt fel`, the answer a real
  client observed for `PUT /event` without its required `foreign-id` (toki2
  .docs/kleer.md:76). It is checked after the 400s, as an unmarshaller would;
- `null`: clears a nillable element; elsewhere it is the same as leaving it out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["BodyError", "canonical", "children", "element_type", "is_wrapper", "plural"]

_INT_RANGES = {"xs:int": (-2**31, 2**31 - 1), "xs:long": (-2**63, 2**63 - 1),
               "xs:short": (-2**15, 2**15 - 1), "xs:byte": (-128, 127),
               "xs:integer": (None, None), "xs:nonNegativeInteger": (0, None),
               "xs:positiveInteger": (1, None)}
_NUMBERS = {"xs:decimal", "xs:float", "xs:double"}
_DATE = re.compile(r"-?\d{4,}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?")
_HEX = re.compile(r"([0-9a-fA-F]{2})*")


class BodyError(Exception):
    """A body Kleer would refuse: `status` and the `message` of Kleer's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@cache
def _model() -> dict[str, Any]:
    return json.loads(files(__package__).joinpath("xsd.json").read_text(encoding="utf-8"))


def element_type(element: str) -> str:
    """The type of global element `element` (KeyError when the XSD has none)."""
    return _model()["elements"][element]


def _type(key: str) -> dict[str, Any] | None:
    return _model()["types"].get(key)


def plural(name: str) -> str:
    """The JSON name of a repeated element: `user` -> `users`, `activity` -> `activities`."""
    if name.endswith("s"):
        return name
    if name.endswith("y"):
        return f"{name[:-1]}ies"
    return f"{name}s"


def is_wrapper(type_key: str) -> dict[str, Any] | None:
    """The repeated child when `type_key` only wraps it (written as a bare array)."""
    entry = _type(type_key)
    if not entry or entry["kind"] != "complex" or entry["attributes"]:
        return None
    elements = entry["elements"]
    return elements[0] if len(elements) == 1 and elements[0]["repeated"] else None


def children(type_key: str) -> dict[str, tuple[str, str, tuple[str, str] | None]]:
    """JSON name -> (XML element name, its type, the (name, type) of a wrapper's items)."""
    entry = _type(type_key)
    out: dict[str, tuple[str, str, tuple[str, str] | None]] = {}
    if not entry or entry["kind"] != "complex":
        return out
    for decl in entry["elements"]:
        if decl["repeated"]:
            out[plural(decl["name"])] = (decl["name"], decl["type"], None)
            continue
        child = is_wrapper(decl["type"])
        out[decl["name"]] = (decl["name"], decl["type"],
                             (child["name"], child["type"]) if child else None)
    return out


def canonical(element: str, value: Any, *, partial: bool = False) -> dict[str, Any]:
    """`value` as the JSON of global element `element`, in the sandbox's one form.

    Raises BodyError (400 for a malformed body, 500 `Tekniskt fel` for a missing
    required element). `partial` skips the required check at the top level only (a
    control call changing some fields of a record).
    """
    missing: list[str] = []
    out = _complex(value, element_type(element), "", missing, partial)
    if missing:
        raise BodyError(500, "Tekniskt fel")
    return out


def _complex(value: Any, type_key: str, where: str, missing: list[str],
             partial: bool = False) -> dict[str, Any]:
    entry = _type(type_key)
    if entry is None:
        raise KeyError(f"xsd.json has no type {type_key!r}")
    if not isinstance(value, Mapping):
        raise BodyError(400, f'Field "{where or "body"}": expected a JSON object')
    by_name = {e["name"]: e for e in entry["elements"]}
    aliases = {plural(e["name"]): e for e in entry["elements"] if e["repeated"]}
    attributes = {a["name"]: a for a in entry["attributes"]}
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{where}.{key}" if where else key
        if key in attributes:
            if item is not None:
                out[key] = _leaf(item, attributes[key]["type"], path)
            continue
        decl = by_name.get(key) or aliases.get(key)
        if decl is None:
            raise BodyError(400, f'Unrecognized field "{path}"')
        name = plural(decl["name"]) if decl["repeated"] else decl["name"]
        if name in out:
            raise BodyError(400, f'Field "{path}": given twice')
        if item is None:
            if decl["nillable"]:
                out[name] = None
            continue
        out[name] = _value(item, decl, path, missing)
    if not partial:
        for decl in entry["elements"]:
            name = plural(decl["name"]) if decl["repeated"] else decl["name"]
            if decl["required"] and name not in out:
                missing.append(f"{where}.{name}" if where else name)
        for choice in entry["choices"]:
            present = [n for n in choice["elements"]
                       if n in out or plural(n) in out]
            if len(present) > 1 and not choice["repeated"]:
                raise BodyError(400, f'Field "{where or "body"}": only one of '
                                     f'{", ".join(choice["elements"])} may be given')
            if choice["required"] and not present:
                missing.append(where or "body")
    return out


def _value(item: Any, decl: Mapping[str, Any], path: str, missing: list[str]) -> Any:
    if decl["repeated"]:
        if not isinstance(item, list):
            raise BodyError(400, f'Field "{path}": expected a JSON array')
        return [_one(x, decl["type"], f"{path}[{n}]", missing) for n, x in enumerate(item)]
    child = is_wrapper(decl["type"])
    if child is not None:
        items = item
        if isinstance(item, Mapping):
            if set(item) - {child["name"], plural(child["name"])}:
                unknown = next(iter(set(item) - {child["name"], plural(child["name"])}))
                raise BodyError(400, f'Unrecognized field "{path}.{unknown}"')
            items = item.get(child["name"], item.get(plural(child["name"]), []))
        if not isinstance(items, list):
            raise BodyError(400, f'Field "{path}": expected a JSON array')
        return [_one(x, child["type"], f"{path}[{n}]", missing) for n, x in enumerate(items)]
    return _one(item, decl["type"], path, missing)


def _one(item: Any, type_key: str, path: str, missing: list[str]) -> Any:
    entry = _type(type_key)
    if type_key.startswith("xs:") or (entry and entry["kind"] == "simple"):
        return _leaf(item, type_key, path)
    return _complex(item, type_key, path, missing)


def _leaf(value: Any, type_key: str, path: str) -> Any:
    entry = _type(type_key) or {}
    base = type_key if type_key.startswith("xs:") else entry.get("base", "xs:string")
    if base == "xs:anyType":
        return value
    if base in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BodyError(400, f'Field "{path}": expected an integer')
        low, high = _INT_RANGES[base]
        if (low is not None and value < low) or (high is not None and value > high):
            raise BodyError(400, f'Field "{path}": {value} is out of range for {base}')
        return value
    if base in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise BodyError(400, f'Field "{path}": expected a number')
        return value
    if base == "xs:boolean":
        if not isinstance(value, bool):
            raise BodyError(400, f'Field "{path}": expected true or false')
        return value
    if not isinstance(value, str):
        raise BodyError(400, f'Field "{path}": expected a string')
    if base == "xs:date" and not _is_date(value):
        raise BodyError(400, f'Field "{path}": "{value}" is not a date YYYY-MM-DD')
    if base == "xs:dateTime" and not _is_datetime(value):
        raise BodyError(400, f'Field "{path}": "{value}" is not a date and time')
    if base == "xs:hexBinary" and not _HEX.fullmatch(value):
        raise BodyError(400, f'Field "{path}": not hexadecimal data')
    if entry.get("enum") and value not in entry["enum"]:
        raise BodyError(400, f'Field "{path}": expected one of {", ".join(entry["enum"])}')
    for pattern in entry.get("patterns") or ():
        if re.fullmatch(pattern, value) is None:
            raise BodyError(400, f'Field "{path}": "{value}" does not match {pattern}')
    return value


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
