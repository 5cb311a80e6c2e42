"""`specsync test`: run the spec tests that live beside each spec, with no network.

A test file (`specs/<integration>/tests/*.yaml`, format in schemas/spec-test.schema.json)
names one sync or action and lists cases: an input record, optional setup values and
links, and what must come out: the filter verdict, the key, the payload, or the
per-record error. The cases go through the same compiled filter, key builder and
`Mapper` as a real run, so a passing test says what production will write.
"""

from __future__ import annotations

import difflib
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import default_registry
from engine.adapters.text import TextRules
from engine.diagnostics import Diagnostic, Location, Severity, render_text
from engine.errors import RecordError, SpecError
from engine.resources import load_schema
from engine.spec.load import display_path, find_spec_files, load_spec
from engine.spec.model import Spec, build_spec
from engine.spec.schema import diagnose_schema_error
from engine.spec.source import LoadedDocument, load_yaml
from engine.values import coerce_record, parse_datetime

if TYPE_CHECKING:
    from engine.coverage import Coverage

__all__ = ["CaseResult", "StaticLinks", "evaluate_case", "run_spec_tests", "run_test_file",
           "same"]


@dataclass(frozen=True)
class StaticLinks:
    """linked() answers from a test's `links:` table instead of the state store;
    linked_source() reads the same table backwards (target id -> source key)."""

    table: Mapping[str, Mapping[str, Any]]

    def linked(self, sync: str, key: Any) -> str | None:
        value = self.table.get(sync, {}).get(str(key))
        return None if value is None else str(value)

    def source_of(self, sync: str, target_id: Any) -> str | None:
        wanted = str(target_id)
        for key, value in (self.table.get(sync) or {}).items():
            if value is not None and str(value) == wanted:
                return str(key)
        return None

    def settled(self, sync: str) -> bool:
        """A test's `links:` table is the other sync's whole outcome: what it lacks, that
        sync did not link."""
        return True


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    passed: bool
    problems: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    """JSON form for messages and diffs: dates as ISO text, tuples as lists, and
    Decimals as JSON numbers (a float when the float says exactly the same value,
    else the exact digits as text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return int(value)
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    return value


def _comparable(value: Any) -> Any:
    """The form two values are compared in. Numbers compare by value whatever their
    type: an int, a float (taken as the decimal it is written as in YAML, its shortest
    repr, so 19.99 is 19.99) and a Decimal are equal when their decimal values are
    (19.99 == Decimal("19.990"), 5 == Decimal("5.00")). Booleans, text and dates are
    never numbers: "19.99" != 19.99 and true != 1."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return ("number", Decimal(repr(value)) if math.isfinite(value) else repr(value))
    if isinstance(value, int | Decimal):
        return ("number", Decimal(value) if Decimal(value).is_finite() else str(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    return value


def same(expected: Any, actual: Any) -> bool:
    """Whether an expectation of a spec test matches what was mapped (see `_comparable`)."""
    return bool(_comparable(expected) == _comparable(actual))


def _diff(expected: Any, actual: Any) -> str:
    left = json.dumps(_plain(expected), indent=2, sort_keys=True, ensure_ascii=False,
                      default=str).splitlines()
    right = json.dumps(_plain(actual), indent=2, sort_keys=True, ensure_ascii=False,
                       default=str).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=2))


def _with_setup(spec: Spec, overrides: Mapping[str, Any]) -> Spec:
    if not overrides:
        return spec
    raw = dict(spec.raw)
    raw["setup"] = {**spec.setup, **overrides}
    return build_spec(spec.path, raw, spec.content_hash)


def _source_info(spec: Spec, connection: str | None, obj: str | None) -> ObjectInfo | None:
    if connection is None or obj is None:
        return None
    conn = spec.connections.get(connection)
    catalog = default_registry().catalog(conn.adapter) if conn else None
    return catalog.objects.get(obj) if catalog else None


def _text_rules(spec: Spec, connection: str | None) -> TextRules | None:
    """The target vendor's rules for control characters, as a run applies them."""
    conn = spec.connections.get(connection) if connection else None
    vendor = default_registry().find(conn.adapter) if conn else None
    return vendor.text if vendor else None


def evaluate_case(spec: Spec, target: str, case: Mapping[str, Any], *,
                  file_setup: Mapping[str, Any], file_links: Mapping[str, Any],
                  now: datetime, is_action: bool, coverage: Coverage | None = None
                  ) -> list[str]:
    """Run one case; the list of mismatches (empty when it passes). `coverage`, when
    given, sees what the case exercised (engine/coverage)."""
    from engine.rules import compile_rule, parse_rule
    from engine.sync.mapping import Mapper
    from engine.templates import RenderContext
    from engine.templates.keys import build_key

    spec = _with_setup(spec, {**file_setup, **(case.get("setup") or {})})
    links = StaticLinks({**file_links, **(case.get("links") or {})})
    ctx = RenderContext(setup=spec.setup, links=links, now=now)
    expect = case["expect"]
    problems: list[str] = []
    if is_action:
        action = spec.actions[target]
        info = _source_info(spec, action.source_connection, action.source_object)
        from engine.runner.actions import action_record

        # Exactly the record the runner renders for an execution (action_record): the
        # case's record is the enrolled object as the source adapter reads it, and its
        # id (the source's id field; without a source, `hs_object_id` or `id`) is the
        # execution's objectId.
        enrolled = coerce_record(case["record"], info.fields if info else {})
        id_field = info.id_field if info else None
        object_id = enrolled.get(id_field) if id_field else \
            enrolled.get("hs_object_id", enrolled.get("id"))
        record = action_record(enrolled, dict(case.get("inputs") or {}),
                               object_id="" if object_id is None else str(object_id),
                               object_type=action.object_type, declared=action.inputs,
                               id_field=id_field)
        mapper = Mapper(action.fields, target=_source_info(spec, action.target_connection,
                                                           action.target_object), source=info,
                        text=_text_rules(spec, action.target_connection))
        rule = None
        key_spec = None
    else:
        sync = spec.syncs[target]
        info = _source_info(spec, sync.source_connection, sync.source_object)
        record = coerce_record(case["record"], info.fields if info else {})
        mapper = Mapper(sync.fields, sync.placement,
                        target=_source_info(spec, sync.target_connection, sync.target_object),
                        source=info, text=_text_rules(spec, sync.target_connection))
        rule = compile_rule(parse_rule(sync.filter), setup=spec.setup, clock=lambda: now) \
            if sync.filter else None
        key_spec = sync.key

    if coverage is not None:
        coverage.observe(spec, target, is_action=is_action, record=record, ctx=ctx,
                         clock=lambda: now, checks_filter="filter" in expect,
                         complete=mapper.complete)
    if "filter" in expect:
        verdict = rule(record) if rule is not None else True
        if verdict != expect["filter"]:
            problems.append(f"filter: expected {'to select' if expect['filter'] else 'to skip'} "
                            f"the record, but it {'selected' if verdict else 'skipped'} it")
        if not verdict:
            return problems
    error: RecordError | None = None
    payload: dict[str, Any] | None = None
    update: dict[str, Any] | None = None
    key: str | None = None
    try:
        if key_spec is not None:
            key = build_key(key_spec.components, key_spec.separator, record)
        payload = mapper.create_payload(record, ctx)
        update = mapper.update_payload(record, ctx)
    except RecordError as exc:
        error = exc
    if "error" in expect:
        if error is None:
            problems.append(f"expected the record to fail with `{expect['error']}`, "
                            "but it mapped without error")
        elif error.code != expect["error"]:
            problems.append(f"expected error `{expect['error']}`, got `{error.code}`: "
                            f"{error.message}")
        elif "error_field" in expect and error.field != expect["error_field"]:
            problems.append(f"expected the error on field `{expect['error_field']}`, "
                            f"got `{error.field}`")
        return problems
    if error is not None:
        problems.append(f"the record failed with `{error.code}`: {error.message}"
                        + (f" (field {error.field})" if error.field else ""))
        return problems
    if "key" in expect and key != expect["key"]:
        problems.append(f"key: expected {expect['key']!r}, got {key!r}")
    if "payload" in expect and not same(expect["payload"], payload):
        problems.append("payload differs:\n" + _diff(expect["payload"], payload))
    if "update" in expect and not same(expect["update"], update):
        problems.append("update payload differs:\n" + _diff(expect["update"], update))
    if "fields" in expect:
        wanted = dict(expect["fields"])
        got = payload or {}
        subset = {k: got.get(k, "<not written>") for k in wanted}
        if not same(wanted, subset):
            problems.append("fields differ:\n" + _diff(wanted, subset))
    for name in expect.get("omitted", []):
        if payload is not None and name in payload:
            problems.append(f"`{name}` must not be written, but the payload has "
                            f"{json.dumps(_plain(payload[name]), ensure_ascii=False, default=str)}")
    return problems


def _test_validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema("spec-test.schema.json"))


def _file_problems(doc: LoadedDocument, spec: Spec) -> list[Diagnostic]:
    if not isinstance(doc.data, dict):
        return [Diagnostic("spectest.format", "a spec test file must be a mapping",
                           doc.location(""))]
    problems = [diagnose_schema_error(err, doc) for err in _test_validator().iter_errors(doc.data)]
    if problems:
        return problems
    data = doc.data
    if "sync" in data and data["sync"] not in spec.syncs:
        problems.append(Diagnostic("spectest.unknown-sync", f"the spec has no sync "
                                   f"`{data['sync']}`", doc.location("/sync"),
                                   hint="syncs: " + ", ".join(spec.syncs)))
    if "action" in data and data["action"] not in spec.actions:
        problems.append(Diagnostic("spectest.unknown-action", f"the spec has no action "
                                   f"`{data['action']}`", doc.location("/action"),
                                   hint="actions: " + ", ".join(spec.actions) or "(none)"))
    return problems


def run_test_file(spec: Spec, path: Path, coverage: Coverage | None = None
                  ) -> tuple[list[CaseResult], list[Diagnostic], str]:
    name = display_path(path)
    text = path.read_text(encoding="utf-8")
    doc, diags = load_yaml(name, text)
    if doc is None:
        return [], diags, text
    problems = _file_problems(doc, spec)
    if problems:
        return [], problems, text
    data = doc.data
    is_action = "action" in data
    target = data["action"] if is_action else data["sync"]
    now = parse_datetime(data["now"]) if "now" in data else datetime(2025, 1, 15, 12, tzinfo=UTC)
    results = []
    for i, case in enumerate(data["cases"]):
        line = doc.location(f"/cases/{i}").line
        try:
            found = evaluate_case(spec, target, case, file_setup=data.get("setup") or {},
                                  file_links=data.get("links") or {}, now=now,
                                  is_action=is_action, coverage=coverage)
        except SpecError as exc:
            found = [f"the setup values make the spec invalid: {d.message}"
                     for d in exc.diagnostics]
        results.append(CaseResult(name, case["name"], line, not found, found))
    return results, [], text


def run_spec_tests(paths: Iterable[str | Path], *, verbose: bool = False,
                   name_filter: str | None = None, out: Any = None,
                   coverage: Coverage | None = None) -> int:
    """Run the tests of the specs under `paths`; 0 when all pass. `coverage` collects
    what they exercised."""
    out = out or sys.stdout
    files, problems = find_spec_files(paths)
    sources: dict[str, str] = {}
    all_results: list[CaseResult] = []
    diagnostics: list[Diagnostic] = list(problems)
    cases = 0  # before `name_filter`: a filter that selects none of them is a mistake
    for spec_path in files:
        try:
            spec = load_spec(spec_path)
        except SpecError as exc:
            diagnostics.extend(exc.diagnostics)
            sources.update(exc.sources)
            continue
        if coverage is not None:
            coverage.register(spec)
        test_files = sorted((spec_path.parent / "tests").glob("*.yaml"))
        if not test_files:
            diagnostics.append(Diagnostic(
                "spectest.none", f"spec {spec.integration} has no tests",
                Location(display_path(spec_path), 1, 1), hint="add tests/<sync>.yaml beside it",
                severity=Severity.WARNING))
        for test_path in test_files:
            results, diags, text = run_test_file(spec, test_path, coverage)
            sources[display_path(test_path)] = text
            diagnostics.extend(diags)
            cases += len(results)
            all_results.extend(r for r in results
                               if not name_filter or name_filter in r.name)
    failed = [r for r in all_results if not r.passed]
    for result in all_results:
        if verbose or not result.passed:
            mark = "PASS" if result.passed else "FAIL"
            print(f"{mark} {result.file}:{result.line}: {result.name}", file=out)
            for problem in result.problems:
                print("     " + problem.replace("\n", "\n     "), file=out)
    if diagnostics:
        print(render_text(diagnostics, sources), file=out)
    passed = len(all_results) - len(failed)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if name_filter and not all_results:
        print(f"no test case name contains {name_filter!r} ({cases} cases in "
              f"{len(files)} {'spec' if len(files) == 1 else 'specs'}); nothing was tested",
              file=out)
        return 1
    print(f"{passed} passed, {len(failed)} failed", file=out)
    return 1 if failed or errors else 0
