"""`specsync serve`: schedules, webhooks and workflow actions that lose nothing.

    app = build_app(["specs/"], state_url="sqlite:///state.db")   # Starlette app
    asyncio.run(serve(["specs/"], host="0.0.0.0", port=8080))      # the CLI command
"""

from __future__ import annotations

from engine.runner.app import Runner, build_app
from engine.runner.schedule import Schedule, ScheduledSync, Scheduler, parse_schedule
from engine.runner.serve import serve

__all__ = ["Runner", "Schedule", "ScheduledSync", "Scheduler", "build_app", "parse_schedule",
           "serve"]
