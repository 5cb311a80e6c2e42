"""Where the packaged JSON Schemas live (adapters' catalogs live in their packages).

An installed wheel carries `schemas/` as `engine/_schemas` (hatch force-include); a
source checkout or an editable install reads the repository's `schemas/` directly.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["load_schema", "schemas_dir"]


@cache
def schemas_dir() -> Path:
    packaged = Path(__file__).with_name("_schemas")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("specsync schemas not found: neither engine/_schemas nor ./schemas")


def load_schema(name: str) -> dict[str, Any]:
    """Load `schemas/<name>` (e.g. "spec.schema.json"): a fresh dict, the caller's own.

    Not cached here: a dict shared by every caller (and every thread) could be changed
    by any of them. What is worth keeping is the validator built from it, and that is
    kept where it is built (`engine.spec.schema.spec_validator`).
    """
    schema: dict[str, Any] = json.loads((schemas_dir() / name).read_text(encoding="utf-8"))
    return schema
