"""Commands that help write specs: `new` (a spec and its tests to start from) and
`functions` (the template functions, with an example each)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.cli.core import command

__all__ = ["FUNCTIONS", "NEW"]


@dataclass(frozen=True)
class NewArgs:
    name: str
    source: str
    target: str
    dir: str


def _new_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the integration's name, e.g. acme-cinode")
    p.add_argument("--from", dest="source", required=True, metavar="ADAPTER.OBJECT",
                   help="where records come from, e.g. maconomy.customers")
    p.add_argument("--to", dest="target", required=True, metavar="ADAPTER.OBJECT",
                   help="where they go, e.g. cinode.customers")
    p.add_argument("--dir", default="specs", metavar="DIR",
                   help="the folder of specs to add it to (default: specs)")


def new(args: NewArgs) -> int:
    from engine.spec.scaffold import scaffold

    made = scaffold(args.name, source=args.source, target=args.target, root=Path(args.dir))
    print(f"wrote {made.spec} and {made.test}")
    if made.unmapped:
        print(f"still to map (required by {args.target} to create a record): "
              f"{', '.join(made.unmapped)}; `specsync validate {made.spec.parent}` points "
              "at them")
    print(f"next: edit the fields, then `specsync validate {made.spec.parent}` and "
          f"`specsync test {made.spec.parent}`")
    return 0


NEW = command(
    "new", help="write a new spec and its tests from the adapters' catalogs",
    example="specsync new acme-sync --from maconomy.customers --to cinode.customers",
    args=NewArgs, handler=new, arguments=_new_arguments,
    description="Scaffold specs/NAME/spec.yaml (one sync, keyed and matched, the target's "
    "required fields mapped where the source has a field of that name) and "
    "specs/NAME/tests/<sync>.yaml, with the editor modeline of the spec's JSON Schema.",
)


@dataclass(frozen=True)
class FunctionsArgs:
    name: str | None
    json: bool


def _functions_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="only this function")
    p.add_argument("--json", action="store_true", help="as JSON, for editors and tools")


def functions(args: FunctionsArgs) -> int:
    from engine.errors import SpecsyncError
    from engine.templates.environment import BUILTIN_FILTERS
    from engine.templates.functions import FILTERS
    from engine.templates.reference import function_reference

    if args.name is not None and args.name not in FILTERS:
        import difflib

        close = difflib.get_close_matches(args.name, list(FILTERS), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise SpecsyncError(f"no template function `{args.name}`{hint} "
                            "(`specsync functions` lists them all)")
    entries = list(function_reference(args.name))
    if args.json:
        import json

        print(json.dumps([{"name": e.name, "usage": e.usage, "summary": e.summary,
                           "example": e.example, "record": e.record, "result": e.result}
                          for e in entries], indent=2, ensure_ascii=False))
        return 0
    out = sys.stdout
    for e in entries:
        record = ", ".join(f"{k} = {v!r}" for k, v in e.record.items())
        print(f"{e.name}\n  {e.usage}\n  {e.summary}\n  e.g. {e.example}  with {record}\n"
              f"       gives {e.result}\n", file=out)
    if args.name is None:
        print("Jinja's own filters, also allowed: " + ", ".join(BUILTIN_FILTERS), file=out)
    return 0


FUNCTIONS = command(
    "functions", help="list the template functions, with their signature and an example",
    example="specsync functions lookup",
    args=FunctionsArgs, handler=functions, arguments=_functions_arguments,
    description="Every function a field template may call (`value | name(...)`), what it "
    "does and an example with the result the template engine gives for it.",
)
