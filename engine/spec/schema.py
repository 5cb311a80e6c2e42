"""Structural validation of a spec with JSON Schema 2020-12, as located diagnostics.

Every error jsonschema finds is turned into one `Diagnostic` that points at the
offending key or value in the YAML file, with a message in the spec author's terms
and a hint (did-you-mean for misspelled keys, the list of valid values).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from engine.diagnostics import Diagnostic
from engine.resources import load_schema
from engine.spec.source import LoadedDocument, pointer_join

__all__ = [
    "SUPPORTED_FORMATS",
    "diagnose_schema_error",
    "schema_diagnostics",
    "spec_validator",
]

SUPPORTED_FORMATS = (1,)


# Built once and shared by every thread: a jsonschema validator is a frozen attrs
# object over its own copy of the schema (nothing else holds it), and validating only
# reads it; functools' cache stays consistent under concurrent first calls.
@cache
def spec_validator() -> Draft202012Validator:
    schema = load_schema("spec.schema.json")
    registry: Registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator(schema, registry=registry)


def _pointer(path: Any) -> str:
    out = ""
    for part in path:
        out = pointer_join(out, part)
    return out


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    if len(parts) >= 2 and parts[0] in ("syncs", "actions", "connections"):
        kind = {"syncs": "sync", "actions": "action", "connections": "connection"}[parts[0]]
        rest = ".".join(parts[2:])
        return f"{kind} `{parts[1]}`" + (f" at `{rest}`" if rest else "")
    return f"`{'.'.join(parts)}`" if parts else "the spec"


def _suggest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    listing = ", ".join(f"`{o}`" for o in sorted(options))
    if close:
        return f"did you mean `{close[0]}`? Valid keys: {listing}"
    return f"valid keys: {listing}" if options else None


def _pattern_message(err: ValidationError) -> tuple[str, str, str | None]:
    pattern = str(err.validator_value)
    value = err.instance
    where = _where(err.absolute_path)
    if pattern.startswith("^\\$\\{"):
        return ("spec.literal-secret",
                f"{where} must be an environment reference like ${{NAME}}, not a literal value",
                "secrets never live in specs: set the value in the environment and write "
                "${MY_SECRET} here")
    if "(s|m|h|d)$" in pattern and "every" not in pattern:
        return ("schema.duration", f"`{value}` is not a duration ({where})",
                "write a number and a unit: 30s, 10m, 2h, 1d")
    if pattern.startswith("^[a-z][a-z0-9_]*\\.[a-z]"):
        return ("schema.object-ref", f"`{value}` is not `<connection>.<object>` ({where})",
                "write a connection of this spec, a dot and an object of its adapter, "
                "e.g. crm.companies")
    if pattern.startswith("^[0-9]+\\.[0-9]+"):
        return ("spec.version", f"version `{value}` is not a semantic version",
                "write MAJOR.MINOR.PATCH, e.g. 1.0.0")
    if pattern.startswith("^[a-z][a-z0-9"):
        return ("schema.name", f"`{value}` is not a valid name ({where})",
                "names are lower case letters, digits and _ (connections, syncs, setup) "
                "or - (integration), starting with a letter")
    return ("schema.pattern", f"`{value}` has the wrong form ({where})", f"expected {pattern}")


def diagnose_schema_error(err: ValidationError, doc: LoadedDocument) -> Diagnostic:
    path = list(err.absolute_path)
    pointer = _pointer(path)
    validator = err.validator
    schema: Mapping[str, Any] = err.schema if isinstance(err.schema, Mapping) else {}
    hint: str | None
    if validator == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extras = [k for k in err.instance if k not in allowed] if isinstance(err.instance, dict) \
            else []
        key = extras[0] if extras else ""
        at = pointer_join(pointer, key)
        return Diagnostic(
            "schema.unknown-key",
            f"unknown key `{key}` in {_where(path) if path else 'the spec'}",
            doc.location(at, key=True, width=len(key)),
            hint=_suggest(key, allowed),
            pointer=at,
        )
    if validator == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else str(err.message)
        if not path and missing == "specsync":
            return Diagnostic("spec.format-version", "the spec does not say its format version",
                              doc.location(pointer), hint="start the file with `specsync: 1`",
                              pointer=pointer)
        return Diagnostic(
            "schema.missing-key",
            f"{_where(path)} is missing the required key `{missing}`",
            doc.location(pointer, key=bool(path)),
            hint=f"add `{missing}:`",
            pointer=pointer,
        )
    if validator == "const" and path == ["specsync"]:
        return Diagnostic(
            "spec.format-version",
            f"unknown spec format version `{err.instance}`; this specsync reads format "
            + ", ".join(str(v) for v in SUPPORTED_FORMATS),
            doc.location(pointer),
            hint="write `specsync: 1`, or upgrade specsync if the spec was written for a newer one",
            pointer=pointer,
        )
    if validator == "enum":
        options = [str(o) for o in cast("list[Any]", err.validator_value)]
        close = difflib.get_close_matches(str(err.instance), options, n=1, cutoff=0.6)
        listing = ", ".join(f"`{o}`" for o in options)
        hint = (f"did you mean `{close[0]}`? " if close else "") + f"one of {listing}"
        return Diagnostic("schema.enum", f"`{err.instance}` is not allowed for {_where(path)}",
                          doc.location(pointer), hint=hint, pointer=pointer)
    if validator == "type":
        expected = err.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        hint = None
        if expected == "string" and isinstance(err.instance, int | float):
            hint = f'quote it: "{err.instance}"'
        return Diagnostic("schema.type",
                          f"{_where(path)} must be {expected_text}, not {_json_type(err.instance)}",
                          doc.location(pointer), hint=hint, pointer=pointer)
    if validator == "pattern":
        code, message, hint = _pattern_message(err)
        if "propertyNames" in err.schema_path and isinstance(err.instance, str):
            at = pointer_join(pointer, err.instance)  # the key itself is misnamed
            return Diagnostic(code, message, doc.location(at, key=True, width=len(err.instance)),
                              hint=hint, pointer=at)
        return Diagnostic(code, message, doc.location(pointer), hint=hint, pointer=pointer)
    if validator in ("anyOf", "oneOf"):
        schema_ref = str(schema.get("description", ""))
        if "never | hourly" in schema_ref:
            return Diagnostic("spec.schedule", f"`{err.instance}` is not a schedule",
                              doc.location(pointer),
                              hint="never, hourly, daily, every 5m, cron 0 6 * * 1-5, "
                              "or {{ setup.name }}", pointer=pointer)
        best = _best_context(err)
        if best is not None:
            return diagnose_schema_error(best, doc)
        return Diagnostic("schema.value", f"{_where(path)} has an unexpected shape",
                          doc.location(pointer), pointer=pointer)
    if validator in ("minProperties", "minItems", "minLength"):
        return Diagnostic("schema.empty", f"{_where(path)} must not be empty",
                          doc.location(pointer), pointer=pointer)
    return Diagnostic("schema.value", f"{_where(path)}: {err.message}", doc.location(pointer),
                      pointer=pointer)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def _best_context(err: ValidationError) -> ValidationError | None:
    """Among a oneOf's branches, the error of the branch that matches the value's type."""
    candidates = [e for e in err.context or () if e.validator != "type"]
    if not candidates:
        return None
    candidates.sort(key=lambda e: (-len(e.absolute_path), e.validator == "required"))
    return candidates[0]


def schema_diagnostics(doc: LoadedDocument) -> Iterator[Diagnostic]:
    if not isinstance(doc.data, dict):
        yield Diagnostic("schema.type", "a spec must be a YAML mapping (key: value lines)",
                         doc.location(""), hint="start with `specsync: 1`")
        return
    seen: set[tuple[str, str]] = set()
    for err in spec_validator().iter_errors(doc.data):
        diag = diagnose_schema_error(err, doc)
        marker = (diag.code, diag.pointer)
        if marker not in seen:
            seen.add(marker)
            yield diag
