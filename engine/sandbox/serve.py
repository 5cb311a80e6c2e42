"""Run the four simulators on loopback for the demo: `specsync sandbox up`.

`run_sandboxes()` starts Kleer, Cinode, Maconomy and HubSpot with uvicorn on
127.0.0.1 (free ports unless given), prints their URLs and credentials as
`export X=...` lines a spec's `${X}` references can use, one curl example per system,
and stops cleanly on Ctrl-C. Every `*_URL` is the server root (`http://127.0.0.1:PORT`);
adapters append the vendor's own path (`/v1/company/{id}`, `/v0.1/companies/{id}`,
`/maconomy-api`, `/crm/v3`). The credentials printed are the sandbox's fixed, public
defaults, never real secrets.

Simulators are found through the `specsync.sandboxes` entry point group; one that
does not import is skipped with a note, so one unfinished simulator never blocks the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TextIO

import uvicorn

from engine.adapters.egress import ALLOW_LOOPBACK
from engine.sandbox.platform import Clock, Faults, Sandbox, SandboxConfig, SystemClock

__all__ = [
    "GROUP",
    "RunningSandboxes",
    "build_sandboxes",
    "curl_examples",
    "environment",
    "run_sandboxes",
    "sandbox_types",
    "serve_in_thread",
    "serve_sandboxes",
]

GROUP = "specsync.sandboxes"


def sandbox_types() -> dict[str, type[Sandbox]]:
    """Every simulator installed (entry point group `specsync.sandboxes`), by vendor name.

    A package adds one by declaring `<vendor> = "pkg.module:ItsSandbox"` in that group.
    """
    return {ep.name: ep.load() for ep in sorted(entry_points(group=GROUP),
                                                 key=lambda ep: ep.name)}


def build_sandboxes(config: SandboxConfig) -> tuple[dict[str, Sandbox], list[str]]:
    """One sandbox per installed vendor, sharing `config`; plus notes on those skipped."""
    sandboxes: dict[str, Sandbox] = {}
    notes: list[str] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        try:
            cls = ep.load()
        except (ImportError, AttributeError) as exc:
            notes.append(f"{ep.name}: skipped ({ep.value} is not available: {exc})")
            continue
        sandboxes[ep.name] = cls(config)
    return sandboxes, notes


def environment(urls: Mapping[str, str], sandboxes: Mapping[str, Sandbox]
                ) -> list[tuple[str, str]]:
    """The `export` variables for the running sandboxes (only vendors that run).

    The sandboxes speak plain http on loopback, which specsync refuses for real systems;
    `SPECSYNC_ALLOW_LOOPBACK=1` is the operator's explicit permission for them.
    """
    pairs = [pair for name, sandbox in sandboxes.items() if name in urls
             for pair in sandbox.environment(urls[name])]
    return [(ALLOW_LOOPBACK, "1"), *pairs] if pairs else pairs


def curl_examples(urls: Mapping[str, str], sandboxes: Mapping[str, Sandbox]) -> list[str]:
    """One working curl command per running system, using the exported variables."""
    return [f"# {name}\n{sandbox.curl_example}" for name, sandbox in sandboxes.items()
            if name in urls and sandbox.curl_example]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: several run in one loop, we own Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@dataclass
class RunningSandboxes:
    """What `serve_sandboxes` hands to its `ready` callback."""

    config: SandboxConfig
    sandboxes: dict[str, Sandbox]
    urls: dict[str, str]
    notes: list[str]
    stop: asyncio.Event


async def serve_sandboxes(
    config: SandboxConfig,
    *,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    ready: Callable[[RunningSandboxes], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve every available sandbox until `stop` is set (or the task is cancelled)."""
    sandboxes, notes = build_sandboxes(config)
    stop = stop or asyncio.Event()
    servers: dict[str, _Server] = {}
    tasks: list[asyncio.Task[None]] = []
    for name, sandbox in sandboxes.items():
        port = (ports or {}).get(name, 0)
        server = _Server(uvicorn.Config(sandbox.app, host=host, port=port, log_level="warning",
                                        lifespan="on", timeout_graceful_shutdown=2))
        servers[name] = server
        tasks.append(asyncio.create_task(server.serve(), name=f"sandbox-{name}"))
    try:
        while not all(s.started for s in servers.values()):
            failed = [t for t in tasks if t.done()]
            if failed:
                failed[0].result()  # a port in use, say: let its error surface
                raise RuntimeError("a sandbox server stopped while starting")
            await asyncio.sleep(0.02)
        urls = {name: f"http://{host}:{_port(server)}" for name, server in servers.items()}
        if ready is not None:
            ready(RunningSandboxes(config, sandboxes, urls, notes, stop))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        for server in servers.values():
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def _print_banner(running: RunningSandboxes, out: TextIO, faults: Faults) -> None:
    config = running.config
    default = Faults().to_dict()
    active = {k: v for k, v in faults.to_dict().items() if v != default[k]}
    print(f"# specsync sandboxes: seed {config.seed}, {config.records} records each, faults: "
          f"{', '.join(f'{k}={v}' for k, v in active.items()) or 'none'}", file=out)
    for note in running.notes:
        print(f"# note: {note}", file=out)
    for key, value in environment(running.urls, running.sandboxes):
        print(f"export {key}={value}", file=out)
    print("# try:", file=out)
    for example in curl_examples(running.urls, running.sandboxes):
        print(example, file=out)
    print("# Ctrl-C stops the sandboxes.", file=out, flush=True)


def run_sandboxes(
    records: int = 50,
    faults: Faults | str | None = None,
    seed: int = 1,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    *,
    clock: Clock | None = None,
    out: TextIO | None = None,
) -> int:
    """Blocking entry point for `specsync sandbox up`; returns the exit code (0 on Ctrl-C)."""
    if isinstance(faults, str):
        faults = Faults.parse(faults)
    faults = faults or Faults()
    config = SandboxConfig(seed=seed, records=records, faults=faults,
                           clock=clock or SystemClock())
    stream = out or sys.stdout

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
        await serve_sandboxes(config, host=host, ports=ports, stop=stop,
                              ready=lambda running: _print_banner(running, stream, faults))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    print("# sandboxes stopped", file=stream, flush=True)
    return 0


@contextlib.contextmanager
def serve_in_thread(app: object, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve one ASGI app with uvicorn in a background thread; yields its base URL.

    For end-to-end tests and benchmarks that need real sockets next to synchronous code.
    """
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",  # type: ignore[arg-type]
                                    lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True, name="sandbox-uvicorn")
    thread.start()
    ready = threading.Event()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        ready.wait(0.01)
    try:
        yield f"http://{host}:{_port(server)}"
    finally:
        server.should_exit = True
        thread.join(10)
