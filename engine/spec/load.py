"""Find, load and validate specs: the one path `validate`, `test`, `plan`, `run` and `serve` share.

A spec is a file named `spec.yaml` (or `*.spec.yaml`) in an integration directory; its
spec tests live beside it in `tests/*.yaml`. `load_spec` returns the model or raises
`SpecError` carrying every diagnostic; `validate_paths` collects diagnostics for many.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.adapters.registry import AdapterRegistry
from engine.diagnostics import Diagnostic, Location, Severity
from engine.errors import SpecError
from engine.spec.check import check_spec
from engine.spec.model import Spec, build_spec
from engine.spec.schema import schema_diagnostics
from engine.spec.source import LoadedDocument, load_yaml, recover_yaml

__all__ = ["display_path", "find_spec_files", "load_document", "load_spec", "validate_paths"]


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_spec_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            matches = sorted({*path.rglob("spec.yaml"), *path.rglob("*.spec.yaml")})
            if not matches:
                problems.append(Diagnostic("spec.not-found", f"no spec.yaml under {raw}",
                                           Location(str(raw), 1, 1)))
            found.extend(matches)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Diagnostic("spec.not-found", f"{raw}: no such file or directory",
                                       Location(str(raw), 1, 1)))
    return found, problems


def load_document(path: Path) -> tuple[LoadedDocument | None, str, list[Diagnostic]]:
    name = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, "", [Diagnostic("spec.unreadable", f"cannot read the file: {exc.strerror}",
                                     Location(name, 1, 1))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, "", [Diagnostic("yaml.encoding", "the file is not UTF-8 text",
                                     Location(name, 1, 1),
                                     hint=f"byte {exc.start} cannot be decoded; save as UTF-8")]
    doc, diags = load_yaml(name, text)
    return doc, text, diags


def _diagnose(doc: LoadedDocument, vendors: AdapterRegistry | None = None) -> list[Diagnostic]:
    diags = list(schema_diagnostics(doc))
    # Semantic checks run on whatever is well-formed; they skip parts the schema rejected.
    if isinstance(doc.data, dict):
        diags.extend(check_spec(doc, vendors))
    unique = {(d.code, d.location, d.message): d for d in diags}
    return sorted(unique.values(), key=lambda d: d.sort_key)


def _despite_yaml_errors(file: str, text: str, problems: list[Diagnostic],
                         vendors: AdapterRegistry | None) -> list[Diagnostic]:
    """The YAML errors of a file that does not read, and every other problem that the
    document shows with the offending lines left out (none on those lines)."""
    if not text or not problems or problems[0].code not in ("yaml.syntax",
                                                            "yaml.duplicate-key"):
        return problems
    doc, _, left_out = recover_yaml(file, text)  # later YAML errors are mostly echoes
    if doc is None:
        return problems
    lines = text.split("\n")
    gone = {m.group(1) for n in left_out if n <= len(lines)
            and (m := re.match(r"\s*(?:-\s+)?([\w.-]+)\s*:", lines[n - 1]))}

    def caused_by_leaving_out(d: Diagnostic) -> bool:
        if d.location.line in left_out:
            return True
        missing = re.search(r"required key `([^`]+)`", d.message)
        return d.code == "schema.missing-key" and missing is not None and \
            missing.group(1) in gone

    found = [d for d in _diagnose(doc, vendors) if not caused_by_leaving_out(d)]
    return sorted([*problems, *found], key=lambda d: d.sort_key)


def load_spec(path: str | Path, vendors: AdapterRegistry | None = None) -> Spec:
    """The validated model of one spec file, or SpecError with every problem in it.

    `vendors` is the adapter registry whose catalogs the spec is checked against (the
    installed vendors by default).
    """
    path = Path(path)
    if path.is_dir():
        files, problems = find_spec_files([path])
        if problems or len(files) != 1:
            raise SpecError(problems or [Diagnostic(
                "spec.ambiguous", f"{path} holds {len(files)} specs; name one file",
                Location(str(path), 1, 1))])
        path = files[0]
    doc, text, diags = load_document(path)
    if doc is None:
        raise SpecError(_despite_yaml_errors(display_path(path), text, diags, vendors),
                        {display_path(path): text})
    diags = _diagnose(doc, vendors)
    if any(d.severity is Severity.ERROR for d in diags):
        raise SpecError(diags, {doc.file: text})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return build_spec(doc.file, doc.data, digest)


def validate_paths(paths: Iterable[str | Path], vendors: AdapterRegistry | None = None
                   ) -> tuple[list[Diagnostic], dict[str, str], int]:
    """Every diagnostic of every spec found under `paths`, their texts, and the spec count."""
    files, diags = find_spec_files(paths)
    sources: dict[str, str] = {}
    for path in files:
        doc, text, problems = load_document(path)
        sources[display_path(path)] = text
        if doc is not None:
            diags.extend(problems)
            found = _diagnose(doc, vendors)
            diags.extend(found)
            if not any(d.severity is Severity.ERROR for d in (*problems, *found)):
                diags.extend(_lock_diagnostics(doc, vendors))
        else:
            diags.extend(_despite_yaml_errors(display_path(path), text, problems, vendors))
    return sorted(diags, key=lambda d: d.sort_key), sources, len(files)


def _lock_diagnostics(doc: LoadedDocument, vendors: AdapterRegistry | None
                      ) -> list[Diagnostic]:
    """The spec against the lock beside it (spec.lock.json), offline."""
    from engine.spec.lockfile import lock_diagnostics, lock_path
    from engine.spec.references import spec_references

    if not lock_path(doc.file).is_file():
        return []  # no lock: nothing to hold the spec to
    spec = build_spec(doc.file, doc.data, "")
    return lock_diagnostics(doc.file, spec_references(spec, vendors), doc.location)


def iter_specs(paths: Iterable[str | Path]) -> Iterator[Spec]:
    files, problems = find_spec_files(paths)
    if problems:
        raise SpecError(problems)
    for path in files:
        yield load_spec(path)
