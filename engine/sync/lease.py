"""The single-writer lease of a sync: taken before a run, renewed at every commit, released.

Two runners of one sync would each read "no link yet" and create the same record twice,
so a run first takes the sync's lease in the state store (`sync_lease_name`). Its epoch
fences every batch commit: a runner whose lease was taken over cannot commit any more.

A runner killed with SIGKILL cannot release its lease, and waiting for the lease to expire
would stall the next run for minutes. So when the holder is a process of this machine that
no longer exists, the lease is taken over at once (and the dead run marked interrupted).
A holder on another machine is never judged dead here: only its lease expiry can say so.

What that needs from the world is passed in: the clock, and a `Host` (this machine's
name, this process's id, and how to ask whether a local process lives). `Host.local()`
holds the real ones, `os.kill(pid, 0)` and `socket.gethostname()`, in one place:

    lease = SyncLease(astore, "kleer-cinode", "customers", clock=utc_now, host=Host.local())
    token = await lease.take()       # StateError while another live runner holds it
    await lease.renew()              # StateError once another runner took it over
    await lease.release()
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.errors import StateError
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import LeaseToken, StateStore, sync_lease_name

__all__ = ["FENCE_INTERVAL", "LEASE_TTL", "Host", "SyncLease", "process_alive"]

LEASE_TTL = 120.0  # seconds a lease lasts unless renewed (a commit renews it)
FENCE_INTERVAL = 1.0  # seconds without renewal after which a write renews first


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (signal 0 probes, sends none)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it belongs to another user
    return True


def _token() -> str:
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Host:
    """Who holds a lease from this process, and whether a local holder still lives.

    A holder is named `host:pid:token`; the token tells two runs of one process apart.
    """

    name: str
    pid: int
    alive: Callable[[int], bool] = field(default=process_alive, compare=False)
    token: Callable[[], str] = field(default=_token, compare=False, repr=False)

    @classmethod
    def local(cls) -> Host:
        """This machine and process, probed with `os.kill(pid, 0)`."""
        return cls(socket.gethostname(), os.getpid())

    def holder(self) -> str:
        """A new holder name for one run."""
        return f"{self.name}:{self.pid}:{self.token()}"

    def holds_dead(self, holder: str) -> bool:
        """True when `holder` is a process of this machine that no longer exists."""
        host, _, rest = holder.partition(":")
        pid_text = rest.partition(":")[0]
        if host != self.name or not pid_text.isdigit():
            return False
        return not self.alive(int(pid_text))


class SyncLease:
    """The lease of one sync for one run (see the module docstring)."""

    def __init__(self, store: AsyncStateStore, integration: str, sync: str, *,
                 clock: Callable[[], datetime], host: Host | None = None,
                 ttl: float = LEASE_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.integration = integration
        self.sync = sync
        self.name = sync_lease_name(integration, sync)
        self.clock = clock
        self.host = host if host is not None else Host.local()
        self.ttl = ttl
        self.monotonic = monotonic
        self.renewed_at = monotonic()
        self.token: LeaseToken | None = None

    def __repr__(self) -> str:
        return f"SyncLease({self.name!r}, token={self.token!r})"

    async def take(self) -> LeaseToken:
        """Hold the lease, taking it over from a dead local holder; StateError if held."""
        holder = self.host.holder()
        now = self.clock()

        def take(store: StateStore) -> int | None:
            epoch = store.acquire_lease(self.name, holder, now, self.ttl)
            if epoch is None:
                current = store.current_lease(self.name, now)
                if current is not None and self.host.holds_dead(current.holder):
                    store.release_lease(self.name, current.holder, current.epoch)
                    store.recover_interrupted(now)  # its run is marked interrupted
                    epoch = store.acquire_lease(self.name, holder, now, self.ttl)
            return epoch

        epoch = await self.store.run(take)  # one trip: the probe is a syscall
        if epoch is None:
            raise StateError(
                f"another run of {self.integration}/{self.sync} is in progress (it holds "
                "the sync's lease); try again when it has finished")
        self.token = LeaseToken(self.name, holder, epoch)
        self.renewed_at = self.monotonic()
        return self.token

    async def renew(self) -> None:
        """Extend the lease by its ttl; StateError if another runner has taken it over."""
        token = self._held()
        if not await self.store.renew_lease(self.name, token.holder, token.epoch,
                                            self.clock(), self.ttl):
            raise StateError("the sync's lease was taken over by another runner")
        self.renewed_at = self.monotonic()

    async def fence(self, interval: float = FENCE_INTERVAL) -> None:
        """Before a write: renew the lease if it was not renewed for `interval` seconds
        (StateError if another runner took it over meanwhile). A runner paused past its
        lease (SIGSTOP, a VM frozen) finds out on waking, before it writes again, and
        not only when its next commit is refused."""
        if self.monotonic() - self.renewed_at > interval:
            await self.renew()

    async def release(self) -> None:
        token = self._held()
        await self.store.release_lease(self.name, token.holder, token.epoch)

    def release_now(self, store: StateStore) -> None:
        """`release` for a caller already on the store's thread (one trip with others)."""
        token = self._held()
        store.release_lease(self.name, token.holder, token.epoch)

    def _held(self) -> LeaseToken:
        if self.token is None:
            raise RuntimeError(f"the lease {self.name} is not held")
        return self.token
