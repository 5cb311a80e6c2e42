"""`specsync serve`: schedules, webhooks and workflow actions until stopped."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from engine.cli.core import command
from engine.cli.options import add_state_option, host, port, state_url

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


def serve(args: ServeArgs) -> int:
    import asyncio

    from engine.runner.serve import serve as serve_specs

    return asyncio.run(serve_specs(args.specs, host=args.host, port=args.port,
                                   state_url=state_url(args.state), json_logs=args.json_logs,
                                   log_level=args.log_level, public_url=args.public_url,
                                   distributed=args.distributed, tenants=args.tenants))


SERVE = command(
    "serve", help="run schedules, webhooks and workflow actions until stopped",
    example="specsync serve specs/* --port 8080 --public-url https://sync.example.com",
    args=ServeArgs, handler=serve, arguments=_arguments,
    description="Serve webhooks at /webhooks/<integration>/<connection>, workflow actions "
    "at /actions/<integration>/<action>, /healthz, /readyz and /metrics, and run each "
    "sync on its schedule. SIGHUP reloads the specs; SIGTERM stops gracefully.",
)
