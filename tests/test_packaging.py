"""The schemas travel inside the wheel, so an installed specsync validates without a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_carries_schemas_and_catalogs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path)],
        check=True, timeout=300,
    )
    wheel = next(tmp_path.glob("specsync-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in ROOT.joinpath("schemas").rglob("*.json"):
        rel = schema.relative_to(ROOT / "schemas").as_posix()
        assert f"engine/_schemas/{rel}" in names
    assert "engine/rules/grammar.lark" in names
    # the console's templates and static files (no build step: served as they are)
    assert {"engine/console/templates/base.html", "engine/console/static/console.js",
            "engine/console/static/console.css"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "specsync = engine.cli:main" in text and "[specsync.adapters]" in text
