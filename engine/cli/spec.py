"""Commands for spec authors and CI: `validate`, `test`, `docs`. None of them touches a network.

A broken spec is reported the same way by all three (the diagnostics `validate`
prints), and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.core import command

if TYPE_CHECKING:
    from engine.diagnostics import Diagnostic

__all__ = ["DOCS", "DOCS_FORMATS", "TEST", "VALIDATE"]

DOCS_FORMATS = ("md", "html")  # engine.docs.render.FORMATS (a test keeps them equal)


@dataclass(frozen=True)
class ValidateArgs:
    paths: list[str]
    format: str


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["specs"], metavar="PATH",
                   help="spec files or directories to search for spec.yaml (default: specs)")
    p.add_argument("--format", choices=["text", "json", "github"], default="text",
                   help="text for people (default), json for tools, github for Actions "
                   "annotations")


def _print_diagnostics(diags: list[Diagnostic], sources: dict[str, str], fmt: str) -> None:
    from engine.diagnostics import render_github, render_json, render_text

    if fmt == "json":
        print(render_json(diags))
    elif fmt == "github":
        if diags:
            print(render_github(diags))
    elif diags:
        print(render_text(diags, sources), file=sys.stderr)


def validate(args: ValidateArgs) -> int:
    from engine.diagnostics import Severity
    from engine.spec.load import validate_paths

    diags, sources, count = validate_paths(args.paths)
    _print_diagnostics(diags, sources, args.format)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if args.format == "text" and not errors:
        noun = "spec" if count == 1 else "specs"
        print(f"{count} {noun} valid", file=sys.stderr)
    return 1 if errors else 0


VALIDATE = command(
    "validate", help="check specs: structure, filters, templates, references, field names",
    example="specsync validate specs/maconomy-cinode --format github",
    args=ValidateArgs, handler=validate, arguments=_validate_arguments,
    description="Report every problem of every spec at once, as file:line:col with the "
    "line, a caret and a hint. Exits 1 when any spec has an error.",
)


@dataclass(frozen=True)
class SpecTestArgs:
    paths: list[str]
    verbose: bool
    k: str | None
    coverage: bool = False
    fail_under: float | None = None
    format: str = "text"


def _test_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["specs"], metavar="PATH",
                   help="spec files or directories; their tests/*.yaml run (default: specs)")
    p.add_argument("-v", "--verbose", action="store_true", help="list every case")
    p.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    p.add_argument("--coverage", action="store_true",
                   help="report what the tests exercised: filter clauses seen true and false, "
                   "template branches, fields, setup values; and the spec lines they missed")
    p.add_argument("--fail-under", type=float, metavar="N",
                   help="with --coverage: exit 1 when coverage is under N percent")
    p.add_argument("--format", choices=["text", "json", "github"], default="text",
                   help="the coverage report: text (default), json, or github (annotations "
                   "on the lines never exercised); test results then go to stderr")


def run_tests(args: SpecTestArgs) -> int:
    from engine.spectest import run_spec_tests

    if not args.coverage:
        if args.fail_under is not None or args.format != "text":
            print("error: --fail-under and --format go with --coverage", file=sys.stderr)
            return 2
        return run_spec_tests(args.paths, verbose=args.verbose, name_filter=args.k)
    from engine.coverage import Coverage, render
    from engine.coverage.report import total_percent

    coverage = Coverage()
    code = run_spec_tests(args.paths, verbose=args.verbose, name_filter=args.k,
                          out=sys.stdout if args.format == "text" else sys.stderr,
                          coverage=coverage)
    summaries = coverage.summaries()
    print(render(summaries, args.format, fail_under=args.fail_under))
    if args.fail_under is not None and total_percent(summaries) < args.fail_under:
        return 1
    return code


TEST = command(
    "test", help="run the spec tests beside each spec (no network)",
    example="specsync test specs/kleer-cinode -v -k salary",
    args=SpecTestArgs, handler=run_tests, arguments=_test_arguments,
    description="Run specs/<integration>/tests/*.yaml: input records and setup in, the "
    "filter's verdict and the mapped payload out. Exits 1 when a case fails.",
)


@dataclass(frozen=True)
class DocsArgs:
    spec: str
    format: str
    output: str | None


def _docs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--format", choices=DOCS_FORMATS, default="md", help="md (default) or html")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def docs(args: DocsArgs) -> int:
    from engine.docs.render import render_docs
    from engine.errors import SpecsyncError
    from engine.spec.load import load_spec

    text = render_docs(load_spec(args.spec), args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SpecsyncError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


DOCS = command(
    "docs", help="generate an integration's documentation from its spec",
    example="specsync docs specs/maconomy-cinode --format html -o maconomy-cinode.html",
    args=DocsArgs, handler=docs, arguments=_docs_arguments,
    description="Field tables, schedules, triggers, filters and workflow actions of one "
    "integration, generated from its spec, as Markdown or HTML.",
)
