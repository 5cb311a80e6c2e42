"""`specsync demo`: the three seed integrations between local sandboxes, end to end.

The newcomer's first command. `run_demo()` (engine.demo.run) starts the four sandboxes
and the runner on loopback, runs every scheduled sync once, then makes real changes in
the sandboxes whose webhooks and workflow actions reach the real runner, and prints
what happened. Modules: `servers` (uvicorn in the running loop), `world` (sandboxes,
runner, shared state), `order` (which syncs, in which order), `subscribe` (pointing the
sandboxes at the runner), `live` (the live events), `report` (the output).
The `specsync demo` command itself is in `engine.cli.demo`.
"""

from __future__ import annotations

from engine.demo.run import run_demo
from engine.demo.world import DemoError

__all__ = ["DemoError", "run_demo"]
