"""`specsync serve`: schedules, webhooks and workflow actions until stopped."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.cli.core import command
from engine.cli.options import add_state_option, count, host, port, state_url

__all__ = ["SERVE"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ServeArgs:
    specs: list[str]
    host: str
    port: int
    public_url: str | None
    json_logs: bool
    log_level: str
    state: str | None
    distributed: bool
    tenants: str | None
    console_operator: str
    console_viewer: str
    alert_webhook: str
    alert_failing: int


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC",
                   help="spec files or integration directories to serve")
    p.add_argument("--host", type=host, default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=port, default=8080, help="the port to listen on (default 8080)")
    p.add_argument("--public-url", metavar="URL",
                   help="the base URL vendors call, when behind a proxy")
    p.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    p.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                   help="the least severe log level written (default INFO)")
    p.add_argument("--distributed", action="store_true",
                   help="only receive and schedule: `specsync worker` processes run the "
                   "syncs (needs a postgresql:// state store)")
    p.add_argument("--tenants", metavar="FILE",
                   help="a tenants file: many customers from the same specs (implies "
                   "--distributed)")
    add_state_option(p)
    console = p.add_argument_group(
        "console and alerts", "The operator console at /console and alerts to a Slack- or "
        "Teams-compatible webhook. Secrets are environment references, never literal.")
    console.add_argument("--console-operator", metavar="REF",
                         default="${SPECSYNC_CONSOLE_OPERATOR}",
                         help="the operator role's password or token (default "
                         "${SPECSYNC_CONSOLE_OPERATOR}; the console is off while unset)")
    console.add_argument("--console-viewer", metavar="REF",
                         default="${SPECSYNC_CONSOLE_VIEWER}",
                         help="the read-only role's password or token (default "
                         "${SPECSYNC_CONSOLE_VIEWER})")
    console.add_argument("--alert-webhook", metavar="REF", default="${SPECSYNC_ALERT_WEBHOOK}",
                         help="the incoming-webhook URL alerts are posted to (default "
                         "${SPECSYNC_ALERT_WEBHOOK}; no alerts while unset)")
    console.add_argument("--alert-failing", metavar="N", type=count(1), default=10,
                         help="failing records in one sync that raise an alert (default 10)")


def serve(args: ServeArgs) -> int:
    import asyncio
    import sys

    from engine.console.settings import ConsoleConfigError, ConsoleSettings
    from engine.runner.serve import serve as serve_specs

    try:
        console = ConsoleSettings.from_environ(
            operator=args.console_operator, viewer=args.console_viewer,
            alert_webhook=args.alert_webhook, failing_threshold=args.alert_failing)
    except ConsoleConfigError as exc:
        print(f"specsync serve: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve_specs(args.specs, host=args.host, port=args.port,
                                   state_url=state_url(args.state), json_logs=args.json_logs,
                                   log_level=args.log_level, public_url=args.public_url,
                                   distributed=args.distributed, tenants=args.tenants,
                                   console=console))


SERVE = command(
    "serve", help="run schedules, webhooks and workflow actions until stopped",
    example="specsync serve specs/* --port 8080 --public-url https://sync.example.com",
    args=ServeArgs, handler=serve, arguments=_arguments,
    description="Serve webhooks at /webhooks/<integration>/<connection>, workflow actions "
    "at /actions/<integration>/<action>, /healthz, /readyz and /metrics, and run each "
    "sync on its schedule; the operator console at /console when a console secret is set. "
    "SIGHUP reloads the specs; SIGTERM stops gracefully.",
)
