"""What the Maconomy simulator answers, shaped as real answers are (facts F-RESP-*).

Every body here validates against tests/contracts/maconomy/checker.py `check_response`
(tests/sandbox/test_maconomy_contract.py asks every route): nothing a real client is not
shown. The sources are in facts.json; in short:

- a container resource (v1) is `{containerName, links}`, links keyed by rel, each
  `{rel, href}` (F-RESP-CONTAINER, F-V1-LINKS);
- a specification is `{containerName, panes: {filter: {paneName, fields}},
  relatedContainers}` with `fields` an object keyed by field name, each field carrying
  name, type, mandatory, key, unfilterable and (strings) maxLength (F-RESP-SPEC,
  F-RESP-FIELD); types are Maconomy's lower-case names (F-RESP-TYPES);
- a filter answer is `{meta: {containerName}, panes: {filter: {meta: {paneName,
  rowCount, rowOffset}, records: [{meta: {rowNumber}, data}]}}}` with rowCount the rows
  returned and rowOffset the offset asked for (F-RESP-FILTER, F-V1-PAGING);
- errors are `{errorMessage, errorFamily, errorSeverity, focus, data}` (F-RESP-ERROR;
  the errorFamily values are [assumed]).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = [
    "CONTAINERS_TYPE",
    "JSON_TYPE",
    "container_resource",
    "containers_type",
    "error",
    "filter_answer",
    "specification",
]

CONTAINERS_TYPE = "application/vnd.deltek.maconomy.containers+json"
JSON_TYPE = "application/json; charset=utf-8"  # what v1 clients ask for (F-CT-V1)


def containers_type(version: str) -> str:
    return f"{CONTAINERS_TYPE}; charset=utf-8; version={version}"


# Field types by name in the simulator's two containers; everything else is a string.
# transactiontimestamp is declared type string, subType autotimestamp in a real container
# definition (MaconomyRestClient src/test/resources/notes.mdsl.xml:41).
FIELD_TYPES = {
    "blocked": "boolean", "closed": "boolean", "active": "boolean",
    "versionnumber": "integer", "theyear": "integer", "budgetamount": "amount",
    "createddate": "date", "changeddate": "date",
}
STRING_LENGTH = 255  # maxLength of a string field (ContainerOverviewTest.java:104)


def error(status: int, message: str, family: str, *, media_type: str = JSON_TYPE,
          focus: Mapping[str, Any] | None = None, data: Any = None) -> Response:
    """Maconomy's error envelope (F-RESP-ERROR)."""
    body = {"errorMessage": message, "errorFamily": family, "errorSeverity": "error",
            "focus": dict(focus) if focus else None, "data": data}
    return Response(orjson.dumps(body), status_code=status, media_type=media_type)


def container_resource(name: str, base: str) -> dict[str, Any]:
    """The v1 container resource: its name and the links a client follows (F-V1-LINKS).

    `base` is `{scheme://host}/containers/v1/{shortname}/{container}`.
    """
    links = {rel: {"rel": rel, "href": f"{base}{suffix}"} for rel, suffix in (
        ("specification", "/specification"), ("data:filter", "/filter"),
        ("data:any-key", "/data;any"))}
    return {"containerName": name, "links": links}


def specification(name: str, fields: Iterable[str], *, key: str, required: Iterable[str],
                  unfilterable: Iterable[str]) -> dict[str, Any]:
    """A container specification: the filter pane's fields keyed by name (F-RESP-SPEC)."""
    mandatory = set(required)
    hidden = set(unfilterable)
    described: dict[str, dict[str, Any]] = {}
    for field_name in fields:
        kind = FIELD_TYPES.get(field_name, "string")
        entry: dict[str, Any] = {"name": field_name, "type": kind,
                                 "mandatory": field_name in mandatory,
                                 "key": field_name == key,
                                 "unfilterable": field_name in hidden}
        if kind == "string":
            entry["maxLength"] = STRING_LENGTH
        described[field_name] = entry
    return {"containerName": name,
            "panes": {"filter": {"paneName": "filter", "fields": described}},
            "relatedContainers": {}}


def filter_answer(name: str, rows: list[dict[str, Any]], offset: int) -> bytes:
    """A filter pane answer for `rows` (record data dicts) read from `offset`."""
    records = [{"meta": {"rowNumber": offset + n}, "data": data}
               for n, data in enumerate(rows)]
    return orjson.dumps({"meta": {"containerName": name}, "panes": {"filter": {
        "meta": {"paneName": "filter", "rowCount": len(records), "rowOffset": offset},
        "records": records}}})
