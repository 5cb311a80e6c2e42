"""A real `serve` (the runner app under uvicorn on loopback, lifespan and work loop on) with
the sandboxes, and Debian's Chromium driven by Playwright, for the browser tests.

Chromium is looked for at $SPECSYNC_CHROMIUM, then as `chromium`, `chromium-browser`,
`google-chrome` on the PATH (Debian installs /usr/bin/chromium; .ci/run installs it with
apt-get when it can). Without it, or without Playwright, the browser tests skip and say
why. Playwright never downloads a browser here: it launches the system one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette

from engine.runner.app import Runner
from engine.sandbox.serve import serve_in_thread
from engine.state import SqliteStateStore
from tests.console.conftest import Sandboxes

T = TypeVar("T")
ROOT = Path(__file__).parents[2]
# The README links the screenshots in docs/console. Every run takes them; they land there
# when SPECSYNC_SCREENSHOTS=docs (`SPECSYNC_SCREENSHOTS=docs pytest tests/console`), so a
# plain test run does not leave changed PNGs in the working tree.
SCREENSHOTS = (ROOT / "docs" / "console" if os.environ.get("SPECSYNC_SCREENSHOTS") == "docs"
               else Path(tempfile.gettempdir()) / "specsync-console-screenshots")


def find_chromium() -> str | None:
    given = os.environ.get("SPECSYNC_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium to launch, or skip the test saying what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found: install Debian's `chromium` (apt-get install -y "
                    "chromium; .ci/run does) or set SPECSYNC_CHROMIUM to a Chromium binary")
    return chromium


@dataclass
class Served:
    """The console served for real: its base URL and a way to act beside it."""

    url: str
    app: Starlette
    store: SqliteStateStore
    sandboxes: Sandboxes

    @property
    def runner(self) -> Runner:
        return self.app.state.runner_control

    def on_work_loop(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine where the runs run (the sandboxes' callers live there)."""
        work = self.runner.work
        assert work is not None and work.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, work.loop).result(timeout)

    def control(self, sandbox: Any, method: str, path: str, body: Any = None) -> Any:
        return self.on_work_loop(self.sandboxes.control(sandbox, method, path, body))


@contextlib.contextmanager
def serve(app: Starlette, store: SqliteStateStore, sandboxes: Sandboxes) -> Iterator[Served]:
    with serve_in_thread(app) as url:
        yield Served(url, app, store, sandboxes)
