"""The README's two commands, run as a newcomer runs them: in a clean clone, each making its
own virtual environment, with the system's python3 (Debian's refuses `pip install` outside
a venv: `externally-managed-environment`). Slow (a venv and an install, about a minute and
a half): marked `slow`; CI runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
INNER = "SPECSYNC_README_INNER"  # set for the README's own test run: no recursion


def readme_commands() -> dict[str, str]:
    """The commands under **Run the demo** and **Run the test suite**."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = {}
    for title in ("Run the demo", "Run the test suite"):
        match = re.search(rf"\*\*{title}\*\*.*?```sh\n(.+?)\n```", text, re.S)
        assert match, f"README.md has no '{title}' command"
        found[title] = match.group(1).strip()
    return found


def test_each_readme_command_makes_and_uses_its_own_venv() -> None:
    for command in readme_commands().values():
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e ")
        assert "\n" not in command and " pip install" not in command.replace(
            ".venv/bin/pip install", "")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "Run the test suite" in ci and 'bash -c "$command"' in ci
    assert 'if [ "$status" -eq 5 ]' in ci and 'exit "$status"' in ci


def _python3() -> str:
    """The system's python3 when it is new enough (the case the README is for)."""
    system = Path("/usr/bin/python3")
    if system.exists():
        version = subprocess.run([str(system), "-c", "import sys; print(sys.version_info >= "
                                  "(3, 11))"], capture_output=True, text=True, check=False)
        if version.stdout.strip() == "True":
            return str(system)
    return sys.executable


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get(INNER)), reason="inside the README's own test run")
def test_the_readme_commands_work_in_a_clean_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a checkout to clone")
    clone = tmp_path / "specsync"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(_python3())
    environ = {k: v for k, v in os.environ.items()
               if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
               and not k.startswith(("SPECSYNC_", "PYTEST_"))}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    demo, tests = readme_commands().values()

    ran = subprocess.run(["bash", "-c", demo], cwd=clone, env=environ, capture_output=True,
                         text=True, timeout=900, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "Next: run `specsync sandbox up`" in ran.stdout

    # The test command as written; the run it starts is narrowed to a few files through
    # pytest's own environment variable (the whole suite is what CI runs).
    environ[INNER] = "1"
    environ["PYTEST_ADDOPTS"] = ("-q -p no:cacheprovider tests/test_readme_commands.py "
                                 "tests/cli/test_cli_core.py")
    ran = subprocess.run(["bash", "-c", tests], cwd=clone, env=environ, capture_output=True,
                         text=True, timeout=900, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert re.search(r"\d+ passed", ran.stdout) and " failed" not in ran.stdout
    assert (clone / ".venv" / "bin" / "specsync").exists()
