"""The goals of a spec for coverage, and what spec-test cases exercised of them.

A goal is one thing a test can exercise, with the outcomes it wants: a filter clause
(true, false), a template branch (both ways), a field (rendered) and a setup value
(read by a filter or template a case ran). Coverage is outcomes seen over outcomes
wanted; a goal with an outcome never seen is reported at its spec line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.coverage.filters import clause_outcomes, clauses, setup_names
from engine.coverage.templates import OUTCOMES, Instrumented, instrument
from engine.rules import parse_rule
from engine.rules.nodes import Rule
from engine.spec.load import display_path
from engine.spec.model import FieldMap, Spec
from engine.spec.source import LoadedDocument, load_yaml, pointer_join
from engine.templates import RenderContext

__all__ = ["KINDS", "Coverage", "Goal", "SpecSummary"]

KINDS = ("clause", "branch", "field", "setup")
_LABELS = {"clause": "filter clauses", "branch": "template branches", "field": "fields",
           "setup": "setup values"}


@dataclass
class Goal:
    kind: str  # one of KINDS
    what: str  # for people: "filter clause `active is true` of sync projects"
    file: str
    line: int
    column: int
    outcomes: tuple[str, ...]
    seen: set[str] = field(default_factory=set)

    @property
    def missing(self) -> list[str]:
        return [o for o in self.outcomes if o not in self.seen]

    def message(self) -> str:
        if self.kind in ("field", "setup"):
            return f"{self.what} never exercised"
        return f"{self.what} never seen {' or '.join(self.missing)}"


@dataclass(frozen=True)
class SpecSummary:
    integration: str
    file: str
    counts: Mapping[str, tuple[int, int]]  # kind -> (outcomes seen, outcomes wanted)
    uncovered: tuple[Goal, ...]

    @property
    def percent(self) -> float:
        seen = sum(s for s, _ in self.counts.values())
        wanted = sum(w for _, w in self.counts.values())
        return 100.0 if wanted == 0 else 100.0 * seen / wanted

    def to_dict(self) -> dict[str, Any]:
        return {"integration": self.integration, "file": self.file,
                "percent": round(self.percent, 1),
                "counts": {k: {"covered": s, "total": w} for k, (s, w) in self.counts.items()},
                "uncovered": [{"file": g.file, "line": g.line, "column": g.column,
                               "kind": g.kind, "message": g.message(), "missing": g.missing}
                              for g in self.uncovered]}

    def line(self) -> str:
        parts = ", ".join(f"{_LABELS[k]} {s}/{w}" for k, (s, w) in self.counts.items())
        return f"{self.integration}: {self.percent:.1f}% ({parts})"


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[:line - 1]) + column - 1


class _SpecGoals:
    """The goals of one spec, with what its compiled parts need to observe them."""

    def __init__(self, spec: Spec, doc: LoadedDocument) -> None:
        self.spec, self.doc = spec, doc
        self.goals: dict[tuple[Any, ...], Goal] = {}
        self.rules: dict[str, Rule] = {}
        self.templates: dict[tuple[str, str], Instrumented] = {}
        self.reads: dict[tuple[str, str], set[str]] = {}  # setup names a field reads
        for name in spec.setup:
            self._goal(("setup", name), "setup", f"setup value `{name}`",
                       pointer_join("/setup", name), ("read",), key_location=True)
        for name, sync in spec.syncs.items():
            if sync.filter:
                self._filter(name, sync.filter, f"{sync.pointer}/filter")
            self._fields(f"sync {name}", name, sync.fields)
        for name, action in spec.actions.items():
            self._fields(f"action {name}", f"action:{name}", action.fields)
        used = set().union(*self.reads.values(), *(setup_names(r) for r in self.rules.values()))
        for name in spec.setup:  # only setup values a filter or template reads count
            if name not in used:
                del self.goals[("setup", name)]

    def _goal(self, key: tuple[Any, ...], kind: str, what: str, pointer: str,
              outcomes: tuple[str, ...], *, offset: int | None = None, length: int = 1,
              key_location: bool = False) -> None:
        if offset is not None:
            where = self.doc.inner_location(pointer, offset, length)
        else:
            where = self.doc.location(pointer, key=key_location)
        self.goals[key] = Goal(kind, what, where.file, where.line, where.column, outcomes)

    def _filter(self, owner: str, text: str, pointer: str) -> None:
        rule = parse_rule(text)
        self.rules[owner] = rule
        for clause in clauses(rule):
            what = "the filter" if clause.index == 0 else "filter clause"
            self._goal(("clause", owner, clause.index), "clause",
                       f"{what} `{clause.text}` of sync {owner}", pointer, ("true", "false"),
                       offset=_offset(text, clause.line, clause.column), length=clause.length)

    def _fields(self, label: str, owner: str, fields: tuple[FieldMap, ...]) -> None:
        from engine.templates import TransformError, compile_transform

        for f in fields:
            if not f.enabled:  # switched off in setup, or held back (a two-way pair)
                continue
            self._goal(("field", owner, f.target), "field", f"field `{f.target}` of {label}",
                       f.pointer.rsplit("/", 1)[0] if f.pointer.endswith(("/value", "/template"))
                       else f.pointer, ("rendered",), key_location=True)
            try:
                self.reads[(owner, f.target)] = set(compile_transform(f.transform).setup_names)
            except TransformError:
                self.reads[(owner, f.target)] = set()
            instrumented = instrument(f.transform)
            self.templates[(owner, f.target)] = instrumented
            text = f.transform if isinstance(f.transform, str) else ""
            for b in instrumented.branches:
                self._goal(("branch", owner, f.target, b.index), "branch",
                           f"{b.kind} branch of field `{f.target}` ({label})", f.pointer,
                           OUTCOMES[b.kind], offset=_offset(text, b.line, 1))

    def seen(self, key: tuple[Any, ...], outcome: str) -> None:
        goal = self.goals.get(key)
        if goal is not None:
            goal.seen.add(outcome)

    def summary(self) -> SpecSummary:
        counts = {}
        for kind in KINDS:
            goals = [g for g in self.goals.values() if g.kind == kind]
            counts[kind] = (sum(len(g.outcomes) - len(g.missing) for g in goals),
                            sum(len(g.outcomes) for g in goals))
        uncovered = tuple(sorted((g for g in self.goals.values() if g.missing),
                                 key=lambda g: (g.line, g.column, g.kind)))
        return SpecSummary(self.spec.integration, self.doc.file, counts, uncovered)


class Coverage:
    """Collects the coverage of the specs whose tests run (`run_spec_tests(coverage=)`)."""

    def __init__(self) -> None:
        self._specs: dict[str, _SpecGoals] = {}

    def register(self, spec: Spec) -> None:
        """Take the goals of a spec about to be tested (its setup as the spec sets it)."""
        path = Path(spec.path)
        name = display_path(path)
        doc, _ = load_yaml(name, path.read_text(encoding="utf-8"))
        if doc is not None and spec.path not in self._specs:
            self._specs[spec.path] = _SpecGoals(spec, doc)

    def observe(self, spec: Spec, target: str, *, is_action: bool,
                record: Mapping[str, Any], ctx: RenderContext, clock: Any,
                checks_filter: bool, complete: Any) -> None:
        """One case: `spec` with the case's setup, the record as the sync reads it."""
        goals = self._specs.get(spec.path)
        if goals is None:
            return
        owner = f"action:{target}" if is_action else target
        verdict = True
        rule = None if is_action else goals.rules.get(owner)
        if rule is not None and spec.syncs[target].filter:
            now: datetime = clock()
            outcomes = clause_outcomes(rule, record, setup=spec.setup, clock=lambda: now)
            for i, value in enumerate(outcomes):
                goals.seen(("clause", owner, i), "true" if value else "false")
            for name in setup_names(rule):
                goals.seen(("setup", name), "read")
            verdict = outcomes[0]
        if checks_filter and not verdict:
            return  # the case stops at the filter
        fields = spec.actions[target].fields if is_action else spec.syncs[target].fields
        full = complete(record)
        for f in fields:
            if not f.enabled:
                continue
            goals.seen(("field", owner, f.target), "rendered")
            for name in goals.reads.get((owner, f.target), ()):
                goals.seen(("setup", name), "read")
            instrumented = goals.templates.get((owner, f.target))
            if instrumented is None:
                continue
            kinds = {b.index: b.kind for b in instrumented.branches}
            for index, values in instrumented.run(full, ctx).items():
                yes, no = OUTCOMES[kinds[index]]
                for value in values:
                    goals.seen(("branch", owner, f.target, index), yes if value else no)

    def summaries(self) -> list[SpecSummary]:
        return [g.summary() for g in self._specs.values()]
