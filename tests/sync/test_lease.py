"""The single-writer lease of a sync, with the clock and the process probe passed in."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.state import SqliteStateStore
from engine.state.asyncstore import AsyncStateStore
from engine.sync.lease import LEASE_TTL, Host, SyncLease, process_alive

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def host(name: str = "box", pid: int = 100, *, dead: set[int] | None = None,
         probed: list[int] | None = None) -> Host:
    def alive(pid: int) -> bool:
        if probed is not None:
            probed.append(pid)
        return pid not in (dead or set())

    tokens = iter(f"t{n}" for n in range(100))
    return Host(name, pid, alive=alive, token=lambda: next(tokens))


@pytest.fixture
async def astore(tmp_path: Path) -> AsyncIterator[AsyncStateStore]:
    store = SqliteStateStore(tmp_path / "state.db")
    async with AsyncStateStore(store) as facade:
        yield facade
    store.close()


async def test_take_renew_release(astore: AsyncStateStore) -> None:
    clock = Clock()
    lease = SyncLease(astore, "i", "s", clock=clock, host=host())
    token = await lease.take()
    assert token.name == "sync:i/s" and token.holder == "box:100:t0"
    clock.now += timedelta(seconds=LEASE_TTL - 1)
    await lease.renew()  # renewed from now: still held a ttl later
    clock.now += timedelta(seconds=LEASE_TTL - 1)
    other = SyncLease(astore, "i", "s", clock=clock, host=host(pid=200))
    with pytest.raises(StateError, match="another run of i/s is in progress"):
        await other.take()
    await lease.release()
    assert (await other.take()).holder == "box:200:t1"  # a new holder name per take


@pytest.mark.scenario("S4")
async def test_an_expired_lease_is_taken_over_and_its_holder_fenced(
        astore: AsyncStateStore) -> None:
    clock = Clock()
    first = SyncLease(astore, "i", "s", clock=clock, host=host(name="a"))
    await first.take()
    clock.now += timedelta(seconds=LEASE_TTL + 1)  # the injected clock decides expiry
    second = SyncLease(astore, "i", "s", clock=clock, host=host(name="b"))
    assert (await second.take()).epoch > first.token.epoch  # type: ignore[union-attr]
    with pytest.raises(StateError, match="taken over by another runner"):
        await first.renew()


async def test_a_dead_local_holder_is_taken_over_at_once(astore: AsyncStateStore) -> None:
    clock = Clock()
    killed = SyncLease(astore, "i", "s", clock=clock, host=host(pid=100))
    await killed.take()
    run_id = await astore.start_run("i", "s", spec_hash="h", git_commit=None,
                                    trigger="manual", started_at=clock())
    probed: list[int] = []
    lease = SyncLease(astore, "i", "s", clock=clock, host=host(pid=200, dead={100},
                                                                  probed=probed))
    await lease.take()
    assert probed == [100]
    run = await astore.get_run(run_id)
    assert run is not None and run.status == "interrupted"  # its run did not finish


async def test_a_holder_on_another_machine_is_never_judged_dead(
        astore: AsyncStateStore) -> None:
    clock = Clock()
    await SyncLease(astore, "i", "s", clock=clock, host=host(name="elsewhere", pid=100)).take()
    probed: list[int] = []
    lease = SyncLease(astore, "i", "s", clock=clock, host=host(dead={100}, probed=probed))
    with pytest.raises(StateError):
        await lease.take()
    assert probed == []  # a pid of another machine means nothing here


def test_the_local_host_and_its_probe() -> None:
    local = Host.local()
    assert local.pid == os.getpid() and local.name
    assert process_alive(os.getpid())
    assert not local.holds_dead(f"{local.name}:{os.getpid()}:x")
    assert not local.holds_dead("not-a-holder")
    assert not process_alive(2**22 + 1)  # above Linux's pid_max: no such process
