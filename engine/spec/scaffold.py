"""`specsync new`: a first spec and its tests, written from the adapters' catalogs.

    files = scaffold("acme-sync", source="maconomy.customers", target="cinode.customers",
                     root=Path("specs"))

The spec is a starting point that already validates and whose test passes: one sync,
keyed on the source's id and matched by the target's external id field when it has one;
every field the target requires at creation mapped from a source field of the same name
or label when there is one (the others are listed in a comment); a test case whose
record and expected payload follow from that mapping. Connection blocks are copied from
another spec under `root` that uses the same adapter (credentials as `${ENV}`
references), so they are right for the adapter; else `auth` is left for the author.

The first line is a yaml-language-server modeline: editors that read it (VS Code's YAML
extension, Neovim's yamlls) complete and check the spec against the JSON Schema.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.adapters.catalog import ObjectInfo
from engine.adapters.registry import AdapterRegistry, default_registry
from engine.errors import SpecsyncError
from engine.resources import schemas_dir

__all__ = ["Scaffold", "ScaffoldError", "scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# a sample value per catalog type, for the test case (plain, obviously made up)
_SAMPLES: Mapping[str, Any] = {"string": "Example", "integer": 42, "number": 4.5,
                               "boolean": True, "date": "2025-01-31",
                               "datetime": "2025-01-31T12:00:00Z"}


class ScaffoldError(SpecsyncError):
    """`specsync new` was asked for something it cannot write."""


@dataclass(frozen=True)
class Scaffold:
    spec: Path
    test: Path
    unmapped: tuple[str, ...]  # required target fields the author still has to map


def _object(registry: AdapterRegistry, ref: str, role: str) -> tuple[str, str, ObjectInfo]:
    adapter, dot, obj = ref.partition(".")
    if not dot or not adapter or not obj:
        raise ScaffoldError(f"{role} must be ADAPTER.OBJECT (an adapter, a dot, one of its "
                            f"objects); got {ref!r}")
    catalog = registry.catalog(adapter) if registry.find(adapter) is not None else None
    if catalog is None:
        raise ScaffoldError(f"no adapter `{adapter}`; installed: {', '.join(registry.names())}")
    info = catalog.objects.get(obj)
    if info is None:
        objects = ", ".join(sorted(catalog.objects))
        raise ScaffoldError(f"{adapter} has no object `{obj}`; objects: {objects}")
    return adapter, obj, info


def _connection_block(adapter: str, root: Path) -> str:
    """The connection of another spec under `root` that uses `adapter`, as written."""
    for path in sorted(root.glob("*/spec.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"^  {re.escape(adapter)}:\s*(\{{.*adapter: {re.escape(adapter)}\b|$)",
                        line):
                block = [line]
                for following in lines[i + 1:]:
                    if not following.startswith("    ") and not following.startswith("  #"):
                        break
                    block.append(following)
                text = "\n".join(block)
                if f"adapter: {adapter}" in text:
                    return text
    upper = adapter.upper()
    return (f"  {adapter}:\n    adapter: {adapter}\n    base_url: \"${{{upper}_URL}}\"\n"
            f"    auth: {{}}  # the credentials {adapter} needs, as ${{ENV}} references")


def _mapping(source: ObjectInfo, target: ObjectInfo) -> tuple[dict[str, str], list[str]]:
    """Required target fields -> source fields of the same name or label."""
    by_name = {p.lower(): p for p in source.readable()}
    by_label = {(f.label or "").lower(): p for p, f in source.fields.items()
                if f.label and p in by_name.values()}
    mapped: dict[str, str] = {}
    unmapped: list[str] = []
    for name in target.required_fields():
        field = target.field(name)
        if field is None or field.read_only or "." in name:
            continue
        found = by_name.get(name.lower()) or by_label.get((field.label or "").lower())
        kind = source.field_type(found) if found else None
        if found and kind in (field.type, "string") and field.type in _SAMPLES:
            mapped[name] = found
        else:
            unmapped.append(name)
    return mapped, unmapped


def _relative(to: Path, start: Path) -> str:
    """`to` from `start`: relative inside the checkout that holds the schemas (the
    modeline then works in every clone), else absolute (an installed package's copy)."""
    to, start = to.resolve(), start.resolve()
    home = to.parent.parent
    if start.is_relative_to(home):
        return Path(os.path.relpath(to, start)).as_posix()
    return to.as_posix()


def scaffold(name: str, *, source: str, target: str, root: Path,
             registry: AdapterRegistry | None = None) -> Scaffold:
    """Write `root/name/spec.yaml` and `root/name/tests/<sync>.yaml`; refuse to overwrite."""
    if not _NAME.match(name):
        raise ScaffoldError(f"an integration name is lower-case letters, digits and -; got "
                            f"{name!r}")
    registry = registry or default_registry()
    source_adapter, source_obj, source_info = _object(registry, source, "--from")
    target_adapter, target_obj, target_info = _object(registry, target, "--to")
    if source_adapter == target_adapter:
        raise ScaffoldError("--from and --to name the same adapter; a spec connects two "
                            "systems")
    folder = root / name
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already; choose another name or remove it")
    key_field = source_info.id_field
    if not key_field:
        raise ScaffoldError(f"{source} has no id field to key records on")
    mapped, unmapped = _mapping(source_info, target_info)
    sync = target_obj
    external = target_info.external_id_fields[0] if target_info.external_id_fields else None
    key = (f"{{components: [{key_field}], target_field: {external}}}" if external
           else f"{{components: [{key_field}], match: internal}}")
    fields = "\n".join(f"      {t}: \"{{{{ {s} }}}}\"" for t, s in mapped.items())
    if not mapped:  # the schema wants one field at least: the key's own value is safe
        fields = f"      # map {target} fields here, e.g.  name: \"{{{{ {key_field} }}}}\""
        if external:
            fields = f"      {external}: \"{{{{ {key_field} }}}}\""
            mapped = {external: key_field}
    todo = "".join(f"      # {t}: \"{{{{ ... }}}}\"   required by {target}; map it\n"
                   for t in unmapped)
    schemas = schemas_dir()
    folder.mkdir(parents=True)
    (folder / "tests").mkdir()
    spec_path = folder / "spec.yaml"
    spec_path.write_text(
        f"# yaml-language-server: $schema={_relative(schemas / 'spec.schema.json', folder)}\n"
        f"# {name}: {source} -> {target}. Written by `specsync new`: map the fields, add a\n"
        f"# filter and a schedule, then `specsync validate` and `specsync test`.\n"
        f"specsync: 1\nintegration: {name}\nversion: 0.1.0\n"
        f"connections:\n{_connection_block(source_adapter, root)}\n"
        f"{_connection_block(target_adapter, root)}\n"
        f"syncs:\n  {sync}:\n    source: {source}\n    target: {target}\n"
        f"    schedule: never        # never | hourly | daily | every 5m | cron 0 6 * * 1-5\n"
        f"    key: {key}\n"
        f"    fields:\n{fields}\n{todo}",
        encoding="utf-8")
    record: dict[str, Any] = {key_field: _sample(source_info, key_field, "1001")}
    for source_field in mapped.values():
        record.setdefault(source_field, _sample(source_info, source_field))
    # what the mapper writes: a text field of the target gets the value as text
    payload = {t: str(record[s]) if target_info.field_type(t) == "string" else record[s]
               for t, s in mapped.items()}
    test_path = folder / "tests" / f"{sync}.yaml"
    test_path.write_text(
        f"# yaml-language-server: $schema="
        f"{_relative(schemas / 'spec-test.schema.json', folder / 'tests')}\n"
        f"sync: {sync}\ncases:\n"
        f"  - name: a {source_obj} record becomes a {target_obj} record\n"
        f"    record: {_flow(record)}\n"
        f"    expect:\n      key: {_scalar(str(record[key_field]))}\n"
        f"      payload: {_flow(payload)}\n",
        encoding="utf-8")
    return Scaffold(spec_path, test_path, tuple(unmapped))


def _sample(info: ObjectInfo, path: str, text: str | None = None) -> Any:
    kind = info.field_type(path) or "string"
    if kind == "string":
        return text or "Example"
    return _SAMPLES.get(kind, "Example")


def _scalar(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _flow(values: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in values.items()) + "}"
