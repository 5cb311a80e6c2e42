"""`specsync serve`: load and validate every spec, then run the runner app under uvicorn.

- Refuses to start when any spec has an error, printing the same diagnostics as
  `specsync validate` (exit status 1).
- SIGHUP reloads the specs; invalid new specs are reported and the running ones kept.
  Work in flight finishes on the specs it started with.
- SIGTERM / SIGINT stop accepting requests; runs and the inbox batch in flight get
  `grace_seconds` to finish (events of a batch cut short are claimed again after their
  lease; a run cut short leaves committed batches committed, the cursor never ahead).
- `distributed` (or a tenants file): this process only receives and schedules; sync
  runs and inbox batches are procrastinate jobs for `specsync worker` (engine/scale).
- Logs are structured (logfmt, or JSON with `json_logs`); every resolved secret is
  added to the redactor, and personal identity numbers are masked in every line.
- Webhooks are answered on uvicorn's loop; schedules, the inbox worker and workflow
  actions run on a loop of their own on another thread (workloop.py), and the GIL's
  switch interval is shortened so that thread cannot hold the receiver up for long.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from engine.console.settings import ConsoleSettings
from engine.diagnostics import Severity, render_text
from engine.errors import SpecError
from engine.heap import settle
from engine.logs import configure_logging
from engine.runner.app import Runner, build_app
from engine.runner.workloop import prefer_responsiveness
from engine.spec.load import validate_paths
from engine.state import open_store

__all__ = ["serve", "server_config"]

log = logging.getLogger("engine.runner")


def _print_problems(diags: list[Any], sources: dict[str, str]) -> None:
    print(render_text(diags, sources), file=sys.stderr)


def _register_secrets(runner: Runner, redactor: Any) -> None:
    """Resolve every connection now: secrets reach the redactor before any request does,
    and a missing environment variable is reported at start, not at the first run."""
    deployment = runner.ctx.deployment
    for runtime in deployment.runtimes.values():
        for name, connection in runtime.spec.connections.items():
            try:
                runtime.config(name)
            except Exception as exc:  # reported, not fatal: /readyz is 503 until fixed
                log.error("connection %s/%s: %s", runtime.spec.integration, name, exc)
            try:
                redactor.add(deployment.webhook_secret(connection))
            except Exception as exc:  # reported, not fatal: webhooks answer 503 until fixed
                log.error("connection %s/%s: %s", runtime.spec.integration, name, exc)


def _announce_console(console: ConsoleSettings | None, host: str, public_url: str | None,
                      redactor: Any) -> None:
    if console is None:
        return
    redactor.add(console.operator_secret, console.viewer_secret, console.alert_webhook)
    if not console.console_on:
        log.info("the console is off: set SPECSYNC_CONSOLE_OPERATOR (and "
                 "SPECSYNC_CONSOLE_VIEWER for read-only access) to turn it on")
    else:
        roles = [r for r, s in (("operator", console.operator_secret),
                                ("viewer", console.viewer_secret)) if s]
        log.info("the console is at /console", extra={"roles": roles})
        loopback = host in ("127.0.0.1", "::1", "localhost")
        if not loopback and not (public_url or "").startswith("https://"):
            log.warning("the console is served over plain http: its session cookie cannot "
                        "be Secure; put it behind https and pass --public-url https://...")
    if console.alerts_on:
        log.info("alerts are on", extra={"failing_threshold": console.failing_threshold})


def server_config(app: Any, *, host: str, port: int, grace_seconds: float,
                  log_level: str | None = None) -> uvicorn.Config:
    """How `serve` runs the app under uvicorn (the webhook benchmark uses it too)."""
    return uvicorn.Config(app, host=host, port=port, lifespan="on", log_config=None,
                          log_level=log_level, access_log=False,
                          timeout_graceful_shutdown=int(grace_seconds))


async def serve(
    spec_paths: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    state_url: str | None = None,
    json_logs: bool = False,
    log_level: str = "INFO",
    public_url: str | None = None,
    grace_seconds: float = 30.0,
    on_ready: Callable[[int], None] | None = None,
    distributed: bool = False,
    tenants: str | None = None,
    console: ConsoleSettings | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit status."""
    redactor = configure_logging(log_level, json=json_logs)
    diags, sources, count = validate_paths(spec_paths)
    if any(d.severity is Severity.ERROR for d in diags):
        _print_problems(diags, sources)
        return 1
    if count == 0:
        print("no specs to serve", file=sys.stderr)
        return 1
    if distributed or tenants:  # receive and schedule; workers run (engine/scale)
        from engine.scale.serve import distributed_app

        try:
            app = distributed_app(spec_paths, state_url=state_url, tenants=tenants,
                                  redactor=redactor, public_url=public_url,
                                  grace_seconds=grace_seconds)
        except SpecError as exc:
            _print_problems(exc.diagnostics, exc.sources)
            return 1
    else:
        store = open_store(state_url)
        try:
            app = build_app(spec_paths, store=store, redactor=redactor,
                            public_url=public_url, grace_seconds=grace_seconds,
                            console=console)
        except SpecError as exc:
            store.close()
            _print_problems(exc.diagnostics, exc.sources)
            return 1
    runner: Runner = app.state.runner_control
    _register_secrets(runner, redactor)
    _announce_console(console, host, public_url, redactor)
    prefer_responsiveness()  # the receiver shares the GIL with the work loop's thread

    server = uvicorn.Server(server_config(app, host=host, port=port,
                                          grace_seconds=grace_seconds))
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            runner.reload()
            _register_secrets(runner, redactor)
        except SpecError as exc:
            log.error("reload refused: the specs have %d problem(s); still running the "
                      "previous ones", len(exc.diagnostics))
            _print_problems(exc.diagnostics, exc.sources)
        except Exception:
            log.exception("reload failed; still running the previous specs")

    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, reload)

    def stop(signum: int, frame: Any) -> None:
        server.should_exit = True

    # uvicorn handles SIGTERM/SIGINT while serving, restores the handlers found here and
    # then raises the signal again: these make that a clean exit after the graceful stop.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        log.info("specsync serve is listening", extra={
            "host": host, "port": bound, "integrations": sorted(runner.ctx.deployment.specs)})
        if on_ready is not None:
            on_ready(bound)

    watcher = loop.create_task(announce())
    settle()  # the specs, the app and the imports stay: collections skip them (heap.py)
    try:
        await server.serve()
    finally:
        watcher.cancel()
        if hasattr(signal, "SIGHUP"):
            loop.remove_signal_handler(signal.SIGHUP)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("specsync serve stopped")
    return 0
