"""The operator console inside `specsync serve`: which syncs are healthy, what failed and
why, and buttons to run, retry, pause, resume and acknowledge; plus alerts to a Slack- or
Teams-compatible webhook. Server-rendered (Starlette, Jinja), a little JavaScript of its
own for live progress, nothing fetched from elsewhere.

    settings = ConsoleSettings.from_environ(os.environ)   # ${SPECSYNC_CONSOLE_OPERATOR}...
    app = build_app(specs, console=settings)              # routes under /console

Modules: settings (secrets from environment references), auth (roles, sessions, CSRF),
views (what each page shows), render (templates, time zones), routes (pages and
actions), alerts (incidents and their notifications).
"""

from __future__ import annotations

from engine.console.alerts import AlertMonitor, alert_body
from engine.console.routes import Console
from engine.console.settings import ConsoleConfigError, ConsoleSettings

__all__ = ["AlertMonitor", "Console", "ConsoleConfigError", "ConsoleSettings", "alert_body"]
