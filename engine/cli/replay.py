"""`specsync replay`: what a spec (or a change to it) would write differently over the
records a recorded run read (engine/sync/replay.py), for people, tools and PR comments.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.core import command
from engine.cli.options import add_state_option, state_url

if TYPE_CHECKING:
    from engine.spec.model import Spec
    from engine.state import StateStore
    from engine.state.recordings import RecordedRun
    from engine.sync.replay import ReplayResult

__all__ = ["REPLAY", "render_github", "render_text"]

_SHOWN = 50  # records listed per sync; the counts cover all


@dataclass(frozen=True)
class ReplayArgs:
    spec: str
    against: int | None
    sync: str | None
    base: str | None
    format: str
    state: str | None


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file or its integration directory")
    p.add_argument("--against", type=int, metavar="RUN",
                   help="the recorded run (its id in `specsync history`); default: the newest "
                   "recorded run of each sync")
    p.add_argument("--sync", metavar="NAME", help="only this sync")
    p.add_argument("--base", metavar="GIT_REF",
                   help="compare the spec as it is at GIT_REF (e.g. origin/main) with the "
                   "spec now, over the same records, instead of what the run wrote")
    p.add_argument("--format", choices=["text", "json", "github"], default="text",
                   help="text (default), json, or github: a summary for a pull-request comment")
    add_state_option(p)


def _show(value: Any) -> str:
    import json

    from engine.redact import Redactor

    text = Redactor().text(json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= 60 else text[:57] + "..."


def _headline(r: ReplayResult) -> str:
    against = f"the spec at {r.base}" if r.base else f"what run {r.run.run_id} wrote"
    changed = len(r.diffs)
    fields = ", ".join(f"{name} ({n})" for name, n in r.field_counts().most_common())
    head = (f"{r.integration}/{r.sync}: this change would update {changed:,} of "
            f"{r.records:,} {r.object}" if r.base else
            f"{r.integration}/{r.sync}: the spec now would write {changed:,} of "
            f"{r.records:,} {r.object} differently")
    return head + (f": {fields}" if fields else "") + f" (against {against})"


def render_text(results: list[ReplayResult]) -> str:
    lines = []
    for r in results:
        lines.append(_headline(r))
        for d in r.diffs[:_SHOWN]:
            if d.fields:
                for f in d.fields:
                    lines.append(f"  ~ {d.key}  {f.field}: {_show(f.old)} -> {_show(f.new)}")
            else:
                lines.append(f"  ! {d.key}  {d.detail}")
        if len(r.diffs) > _SHOWN:
            lines.append(f"  ... and {len(r.diffs) - _SHOWN:,} more")
        if r.not_comparable:
            lines.append(f"  {len(r.not_comparable)} not comparable (they read a personal "
                         "identity number, which recordings keep masked)")
    return "\n".join(lines) if lines else "no recorded runs to replay"


def render_github(results: list[ReplayResult]) -> str:
    """Markdown for a pull-request comment: a line per sync, the records in a details."""
    lines = ["### specsync replay", ""]
    if not results:
        return "\n".join([*lines, "No recorded runs to replay."])
    for r in results:
        lines.append(f"- **{_headline(r)}**")
    for r in results:
        if not r.diffs:
            continue
        lines += ["", f"<details><summary>{r.sync}: {len(r.diffs):,} records</summary>", "",
                  "| record | field | before | after |", "|---|---|---|---|"]
        for d in r.diffs[:_SHOWN]:
            for f in d.fields or ():
                lines.append(f"| `{d.key}` | `{f.field}` | `{_show(f.old)}` | "
                             f"`{_show(f.new)}` |")
            if not d.fields:
                lines.append(f"| `{d.key}` | | {d.detail} | |")
        lines += ["", "</details>"]
    return "\n".join(lines)


def _json(results: list[ReplayResult]) -> str:
    import json

    return json.dumps([{
        "integration": r.integration, "sync": r.sync, "run": r.run.run_id, "base": r.base,
        "records": r.records, "changed": len(r.diffs), "fields": dict(r.field_counts()),
        "not_comparable": len(r.not_comparable),
        "diffs": [{"key": d.key, "change": d.change, "detail": d.detail,
                   "fields": [{"field": f.field, "old": _show(f.old), "new": _show(f.new)}
                              for f in d.fields]} for d in r.diffs],
    } for r in results], indent=2, ensure_ascii=False)


def _base_spec(path: Path, ref: str, folder: Path) -> Spec:
    """The spec file as it is at git `ref`, loaded from a copy in `folder`."""
    import subprocess

    from engine.errors import SpecsyncError
    from engine.spec.load import load_spec

    spec_file = path if path.is_file() else path / "spec.yaml"
    top = subprocess.run(["git", "-C", str(spec_file.parent), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, check=False)
    if top.returncode != 0:
        raise SpecsyncError(f"--base needs a git checkout: {top.stderr.strip()}")
    relative = spec_file.resolve().relative_to(Path(top.stdout.strip()).resolve())
    shown = subprocess.run(["git", "-C", top.stdout.strip(), "show",
                            f"{ref}:{relative.as_posix()}"],
                           capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        raise SpecsyncError(f"no {relative.as_posix()} at {ref}: {shown.stderr.strip()}")
    copy = folder / "spec.yaml"
    copy.write_text(shown.stdout, encoding="utf-8")
    return load_spec(copy)


def _runs(store: StateStore, spec: Spec, args: ReplayArgs) -> list[RecordedRun]:
    from engine.errors import SpecsyncError

    runs = store.recorded_runs(spec.integration, args.sync)
    if args.against is not None:
        chosen = [r for r in runs if r.run_id == args.against]
        if not chosen:
            raise SpecsyncError(f"run {args.against} of {spec.integration} has no recorded "
                                "reads (a sync records its runs with `replay: {keep: N}`)")
        return chosen
    newest: dict[str, RecordedRun] = {}
    for run in runs:  # newest first
        if run.sync in spec.syncs:
            newest.setdefault(run.sync, run)
    return [newest[name] for name in spec.syncs if name in newest]


def replay(args: ReplayArgs) -> int:
    import tempfile

    from engine.spec.load import load_spec
    from engine.state import SqliteStateStore, StoreNotFoundError, open_store
    from engine.sync.replay import replay_run

    spec = load_spec(args.spec)
    try:
        store = open_store(state_url(args.state), create=False)
    except StoreNotFoundError:
        store = SqliteStateStore(":memory:")
    with store, tempfile.TemporaryDirectory() as folder:
        base = _base_spec(Path(args.spec), args.base, Path(folder)) if args.base else None
        results = [replay_run(spec, run.sync, run, store.recorded_reads(run.run_id), store,
                              base=base, base_name=args.base)
                   for run in _runs(store, spec, args)]
    if args.format == "json":
        print(_json(results))
    elif args.format == "github":
        print(render_github(results))
    else:
        print(render_text(results))
    return 0


REPLAY = command(
    "replay", help="what the spec now (or a change to it) would write differently over the "
    "records a recorded run read",
    example="specsync replay specs/maconomy-cinode --base origin/main --format github",
    args=ReplayArgs, handler=replay, arguments=_arguments,
    description="Render the spec over a recorded run's source records (syncs opt in with "
    "`replay: {keep: N, max_age: 30d}`) and show, field by field, what would now be written "
    "differently from what that run wrote; with --base, from what the spec at a git ref "
    "writes. Reads only.",
)
