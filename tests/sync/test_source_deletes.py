"""Records deleted in the source (reliability.md S12), end to end: Maconomy sandbox ->
Cinode sandbox through the real runtime and a real state store.

A delta read cannot see a deleted Maconomy customer; a full read that lists the whole
source finds the linked ones it no longer lists, and the sync's `on_source_delete`
says what happens to their Cinode customers (report, deactivate, delete). Mass
deletions pass the deletion guard; a listing that breaks off, comes back empty or was
cut short by a crash finds nothing; a pass resumed after a crash keeps what it saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.diagnostics import render_text
from engine.errors import SpecsyncError
from engine.sandbox.platform import Faults
from engine.spec.load import validate_paths
from engine.spec.model import Spec, build_spec
from engine.sync.job import SyncJob
from engine.sync.pipeline import plan_sync, run_sync
from engine.sync.runtime import Runtime
from engine.sync.source_deletes import SourceDeletes
from tests.contracts.recording import contract_transport, current_ledger
from tests.sync.conftest import sandbox_env

World = Any  # tests/sync/conftest.py builds it
SPEC = Path(__file__).parents[2] / "specs" / "maconomy-cinode" / "spec.yaml"
INTEGRATION = "maconomy-cinode"


def on_source_delete(spec: Spec, mode: str | None, *, page_size: int | None = None,
                     batch_size: int | None = None, **safeguards: Any) -> Spec:
    """The customers sync with `on_source_delete: mode` (None: the default)."""
    raw = dict(spec.raw)
    syncs = dict(raw["syncs"])
    customers = dict(syncs["customers"])
    customers["deactivate"] = {"status": 0}
    if mode is not None:
        customers["on_source_delete"] = mode
    if safeguards:
        customers["safeguards"] = safeguards
    if batch_size is not None:
        customers["batch_size"] = batch_size
    syncs["customers"] = customers
    raw["syncs"] = syncs
    if page_size is not None:
        connections = dict(raw["connections"])
        maconomy = dict(connections["maconomy"])
        maconomy["options"] = {**(maconomy.get("options") or {}), "page_size": page_size}
        connections["maconomy"] = maconomy
        raw["connections"] = connections
    return build_spec(spec.path, raw, f"source-delete-{mode}")


def _numbers(world: World) -> list[str]:
    return [c["customernumber"] for c in world.maconomy.customers.iter()]


async def _key(world: World, number: str) -> str:
    """The customers sync's key of a Maconomy customer (what Cinode's identification holds)."""
    runtime = world.runtime()
    record = next(c for c in world.maconomy.customers.iter() if c["customernumber"] == number)
    key = SyncJob(runtime, "customers").key_of(record)
    await runtime.aclose()
    return key


def _statuses(world: World) -> dict[str, int]:
    return {c["identification"]: c["status"] for c in world.cinode_customers()}


def _cinode_writes() -> int:
    return sum(1 for e in current_ledger().of("cinode") if e.method in ("PUT", "PATCH", "POST",
                                                                          "DELETE")
               and "/customers" in e.path)


async def _first_run(world: World, spec: Spec) -> int:
    runtime = world.runtime(spec)
    first = await run_sync(runtime, "customers")
    await runtime.aclose()
    assert first.outcome == "success", first.error
    created = first.counts["create"] + first.counts["adopt"]
    assert created == len(_statuses(world)) and created > 10
    assert set(_statuses(world).values()) == {1}
    return created


@pytest.mark.scenario("S12")
async def test_a_record_deleted_in_the_source_is_reported_then_deactivated(
        world_factory) -> None:
    world = world_factory(records=30)
    linked = await _first_run(world, on_source_delete(world.spec, None))
    gone = sorted(_numbers(world))[:2]
    keys = sorted([await _key(world, n) for n in gone])
    for number in gone:
        assert world.maconomy.customers.delete(number)

    runtime = world.runtime(on_source_delete(world.spec, None))  # the default: report
    delta = await run_sync(runtime, "customers")  # a delta read cannot see them
    assert delta.outcome == "success" and not delta.full
    assert "deleted_in_source" not in delta.counts

    writes = _cinode_writes()
    full = await run_sync(runtime, "customers", full=True)
    assert full.outcome == "success", full.error
    assert full.counts["deleted_in_source"] == 2
    assert full.counts["deactivate"] == full.counts["delete"] == 0
    [note] = [w for w in full.warnings if "no longer in the source" in w]
    assert note.startswith("2 linked record(s) of customers") and "report" in note
    assert _cinode_writes() == writes  # reported, nothing written
    sweep = world.store.last_sweep(INTEGRATION, "customers")
    assert sweep is not None and sweep.unseen == 2 and sweep.sweep == full.run_id
    assert [link.source_key for link in world.store.unseen_links(
        INTEGRATION, "customers", 10)] == keys
    plan = await plan_sync(runtime, "customers")  # plan says so too, from the store
    assert plan.deleted_in_source == 2 and plan.counts["deactivate"] == 0
    assert any("2 linked record(s) of customers" in w for w in plan.warnings)
    await runtime.aclose()

    # The spec now deactivates them: even a delta run acts on what the last full read found.
    acting = world.runtime(on_source_delete(world.spec, "deactivate"))
    plan = await plan_sync(acting, "customers")
    assert plan.counts["deactivate"] == 2 and sorted(c.key for c in plan.changes
                                                     if c.kind == "deactivate") == keys
    report = await run_sync(acting, "customers")
    assert report.outcome == "success", report.error
    assert report.counts["deleted_in_source"] == 2 and report.counts["deactivate"] == 2
    statuses = _statuses(world)
    assert sorted(k for k, v in statuses.items() if v == 0) == keys
    assert list(statuses.values()).count(1) == linked - 2
    again = await run_sync(acting, "customers", full=True)  # handled: not found again
    assert again.outcome == "success" and "deleted_in_source" not in again.counts
    assert again.counts["deactivate"] == 0
    await acting.aclose()


@pytest.mark.parametrize(("value", "code", "words"), [
    ("deactivate", "spec.deactivate", "on_source_delete is deactivate but no `deactivate:`"),
    ("delete", "spec.unsupported", "delete"),
    ("forget", "schema.enum", "forget"),
])
def test_validate_checks_on_source_delete_at_its_line(tmp_path: Path, monkeypatch,
                                                      value: str, code: str,
                                                      words: str) -> None:
    """Cinode's API deletes no customer, and deactivating needs fields that say how."""
    text = SPEC.read_text()
    anchor = "    target: cinode.customers\n"
    (tmp_path / "spec.yaml").write_text(
        text.replace(anchor, f"{anchor}    on_source_delete: {value}\n", 1))
    monkeypatch.chdir(tmp_path)
    diags, sources, _ = validate_paths(["spec.yaml"])
    [diag] = [d for d in diags if d.code == code]
    assert words in render_text([diag], sources)
    assert diag.pointer.startswith("/syncs/customers/"), diag.pointer
    target_line = text[:text.index(anchor)].count("\n") + 1
    assert diag.location.line in (target_line, target_line + 1)  # target, or the option


@pytest.mark.scenario("S12")
async def test_a_mass_source_deletion_is_held_until_confirmed(world_factory) -> None:
    world = world_factory(records=30)
    spec = on_source_delete(world.spec, "deactivate")
    linked = await _first_run(world, spec)
    gone = sorted(_numbers(world))[:10]  # a third: past the default 20% share
    for number in gone:
        world.maconomy.customers.delete(number)
    runtime = world.runtime(spec)
    writes = _cinode_writes()
    refused = await run_sync(runtime, "customers", full=True)
    assert refused.outcome == "failed" and refused.tripped == "deletions"
    assert refused.counts["deleted_in_source"] == 10
    assert "deactivate 10 record(s)" in (refused.error or "")
    assert f"of its {linked} linked records" in (refused.error or "")
    assert "--confirm-deletions 10" in (refused.error or "")
    assert _cinode_writes() == writes and set(_statuses(world).values()) == {1}

    again = await run_sync(runtime, "customers")  # a delta run holds them again
    assert again.tripped == "deletions" and set(_statuses(world).values()) == {1}
    plan = await plan_sync(runtime, "customers")
    assert plan.deleted_in_source == 10
    assert any("--confirm-deletions 10" in w for w in plan.warnings)
    too_few = await run_sync(runtime, "customers", confirm_deletions=9)
    assert too_few.tripped == "deletions" and set(_statuses(world).values()) == {1}

    confirmed = await run_sync(runtime, "customers", confirm_deletions=10)
    assert confirmed.outcome == "success", confirmed.error
    assert confirmed.counts["deactivate"] == 10
    assert list(_statuses(world).values()).count(0) == 10
    quiet = await run_sync(runtime, "customers", full=True)
    assert quiet.outcome == "success" and quiet.counts["deactivate"] == 0
    await runtime.aclose()


class _Breaks(httpx.AsyncBaseTransport):
    """The Maconomy sandbox, answering `pages` listing pages and then failing: with
    `crash`, the read dies with an exception (a process that crashed mid-read), else
    every request gets a 5xx (a source that broke off)."""

    def __init__(self, world: World, pages: int, *, crash: bool = False) -> None:
        self.world = world
        self.inner = contract_transport(world.maconomy)
        self.pages = pages
        self.crash = crash
        self.read = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/filter"):
            if self.read >= self.pages and self.crash:
                raise RuntimeError("the process died here")
            self.read += 1
            if self.read == self.pages and not self.crash:
                response = await self.inner.handle_async_request(request)
                self.world.maconomy.set_faults(Faults(error_rate=1.0))
                return response
        return await self.inner.handle_async_request(request)


def _breaking(world: World, spec: Spec, pages: int, *, crash: bool = False) -> Runtime:
    return Runtime(spec=spec, store=world.store, environ=sandbox_env(world.config),
                   transports={"maconomy": _Breaks(world, pages, crash=crash),
                               "cinode": contract_transport(world.cinode)})


@pytest.mark.scenario("S12")
async def test_a_listing_cut_short_or_empty_finds_nothing_deleted(world_factory) -> None:
    world = world_factory(records=12)
    spec = on_source_delete(world.spec, "deactivate", page_size=5, batch_size=5,
                            deletions={"max": 1000, "max_share": 1})
    linked = await _first_run(world, spec)
    first = world.store.last_sweep(INTEGRATION, "customers")  # the first run read it all
    assert first is not None and first.unseen == 0
    # The source breaks off after its first page: the rest must not look deleted.
    breaking = _breaking(world, spec, pages=1)
    try:
        stopped = await run_sync(breaking, "customers", full=True)
        assert stopped.outcome == "failed"
    except SpecsyncError:
        pass
    await breaking.aclose()
    assert set(_statuses(world).values()) == {1}
    assert world.store.last_sweep(INTEGRATION, "customers") == first  # none completed
    [run] = world.store.list_runs(INTEGRATION, "customers", limit=1)
    assert run.status == "failed" and "deleted_in_source" not in run.counts

    world.maconomy.set_faults(Faults())
    world.store.reset_breakers(INTEGRATION, "maconomy")
    # Every record gone at once is a listing that came back empty: nothing is judged.
    for number in _numbers(world):
        world.maconomy.customers.delete(number)
    runtime = world.runtime(spec)
    empty = await run_sync(runtime, "customers", full=True)
    assert empty.outcome == "success" and empty.counts["read"] == 0
    assert "deleted_in_source" not in empty.counts and empty.counts["deactivate"] == 0
    assert any("came back empty" in w for w in empty.warnings)
    assert set(_statuses(world).values()) == {1}
    assert world.store.last_sweep(INTEGRATION, "customers") == first
    assert len(_statuses(world)) == linked
    await runtime.aclose()


@pytest.mark.scenario("S12")
async def test_a_listing_shorter_than_the_source_states_completes_no_pass(
        world_factory) -> None:
    world = world_factory(records=12)
    spec = on_source_delete(world.spec, "deactivate")
    await _first_run(world, spec)
    first = world.store.last_sweep(INTEGRATION, "customers")
    runtime = world.runtime(spec)
    job = SyncJob(runtime, "customers")
    found = SourceDeletes(job, full=True)
    await found.begin(run_id=999, at=runtime.clock())
    why = await found.complete(read=5, linked=12, stated_total=12, at=runtime.clock())
    assert why is not None and "cut short (5 of the 12" in why
    assert world.store.last_sweep(INTEGRATION, "customers") == first  # nothing judged
    await runtime.aclose()


@pytest.mark.scenario("S12")
async def test_a_pass_resumed_after_a_crash_keeps_what_it_saw(world_factory) -> None:
    world = world_factory(records=12)
    spec = on_source_delete(world.spec, "deactivate", page_size=5, batch_size=5,
                            deletions={"max": 1000, "max_share": 1})
    await _first_run(world, spec)
    first = world.store.last_sweep(INTEGRATION, "customers")
    numbers = _numbers(world)  # in listing order
    # The first page changes, so its batch commits (with the keys it listed) before
    # the crash on the second page.
    for number in numbers[:5]:
        world.maconomy.customers.patch(number, {"name1": f"Renamed {number}"})
    crashing = _breaking(world, spec, pages=1, crash=True)
    with pytest.raises(RuntimeError, match="died"):
        await run_sync(crashing, "customers", full=True)
    await crashing.aclose()
    [crashed] = world.store.list_runs(INTEGRATION, "customers", limit=1)
    assert crashed.status == "failed" and crashed.counts.get("update") == 5
    assert world.store.last_sweep(INTEGRATION, "customers") == first  # detected nothing
    assert set(_statuses(world).values()) == {1}

    # Meanwhile one record seen before the crash and one not yet read are deleted.
    early, late = numbers[0], numbers[-1]
    early_key, late_key = await _key(world, early), await _key(world, late)
    world.maconomy.customers.delete(early)
    world.maconomy.customers.delete(late)
    runtime = world.runtime(spec)
    resumed = await run_sync(runtime, "customers", full=True)
    assert resumed.outcome == "success", resumed.error
    sweep = world.store.last_sweep(INTEGRATION, "customers")
    assert sweep is not None and sweep.sweep == crashed.id  # the crashed run's pass, resumed
    # The pass saw the early record before the crash: only the one it never saw is flagged.
    assert resumed.counts["deleted_in_source"] == 1 and resumed.counts["deactivate"] == 1
    assert _statuses(world)[late_key] == 0 and _statuses(world)[early_key] == 1
    # The next pass, begun after the deletion, finds the early one.
    following = await run_sync(runtime, "customers", full=True)
    assert following.counts["deleted_in_source"] == 1, following.counts
    assert _statuses(world)[early_key] == 0
    await runtime.aclose()


async def test_ignore_marks_nothing_and_a_record_listed_again_is_not_deleted(
        world_factory) -> None:
    world = world_factory(records=12)
    spec = on_source_delete(world.spec, "ignore")
    await _first_run(world, spec)
    [number] = sorted(_numbers(world))[:1]
    record = next(c for c in world.maconomy.customers.iter() if c["customernumber"] == number)
    world.maconomy.customers.delete(number)
    runtime = world.runtime(spec)
    ignored = await run_sync(runtime, "customers", full=True)
    assert ignored.outcome == "success" and "deleted_in_source" not in ignored.counts
    assert world.store.last_sweep(INTEGRATION, "customers") is None
    await runtime.aclose()

    reporting = world.runtime(on_source_delete(world.spec, None))
    found = await run_sync(reporting, "customers", full=True)
    assert found.counts["deleted_in_source"] == 1
    world.maconomy.customers.put(record)  # it comes back
    back = await run_sync(reporting, "customers", full=True)
    assert "deleted_in_source" not in back.counts, back.counts
    await reporting.aclose()


def test_docs_say_what_a_deletion_in_the_source_does(tmp_path: Path, monkeypatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    anchor = "    target: cinode.customers\n"
    text = SPEC.read_text().replace(
        anchor, f"{anchor}    on_source_delete: deactivate\n    deactivate: {{status: 0}}\n", 1)
    (tmp_path / "spec.yaml").write_text(text)
    lock = SPEC.with_name("spec.lock.json")
    if lock.exists():
        (tmp_path / "spec.lock.json").write_text(lock.read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["docs", "spec.yaml"]) == 0
    out = capsys.readouterr().out
    assert ("**Deleted in the source:** Deactivated in Cinode (status = 0) once a full read "
            "no longer lists it") in out


class _StopsAfterFirstPage(httpx.AsyncBaseTransport):
    """The Maconomy sandbox; SIGTERM's stop request arrives once the first page is read."""

    def __init__(self, world: World) -> None:
        self.inner = contract_transport(world.maconomy)
        self.runtime: Runtime | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/filter") and self.runtime is not None:
            self.runtime.stop.request("SIGTERM")
        return response


@pytest.mark.scenario("S12")
async def test_a_run_stopped_mid_read_finds_nothing_and_keeps_what_it_listed(
        world_factory) -> None:
    world = world_factory(records=12)
    spec = on_source_delete(world.spec, "deactivate", page_size=5, batch_size=5,
                            deletions={"max": 1000, "max_share": 1})
    await _first_run(world, spec)
    first = world.store.last_sweep(INTEGRATION, "customers")
    numbers = _numbers(world)
    world.maconomy.customers.delete(numbers[-1])  # gone; the stopped run never gets there
    transport = _StopsAfterFirstPage(world)
    stopping = Runtime(spec=spec, store=world.store, environ=sandbox_env(world.config),
                       transports={"maconomy": transport,
                                   "cinode": contract_transport(world.cinode)})
    transport.runtime = stopping
    stopped = await run_sync(stopping, "customers", full=True)
    await stopping.aclose()
    assert stopped.outcome == "interrupted" and 0 < stopped.counts["read"] < 11
    assert "deleted_in_source" not in stopped.counts
    assert world.store.last_sweep(INTEGRATION, "customers") == first
    assert set(_statuses(world).values()) == {1}
    # What it listed before the stop (unchanged records: no batch of theirs wrote) is
    # committed with its pass as it stops: the next full read carries the pass on, so a
    # record it listed and that is deleted now waits for the next pass; the one it never
    # listed is found.
    early_key = await _key(world, numbers[0])
    world.maconomy.customers.delete(numbers[0])
    runtime = world.runtime(spec)
    resumed = await run_sync(runtime, "customers", full=True)
    assert resumed.counts["deleted_in_source"] == 1 and resumed.counts["deactivate"] == 1
    assert _statuses(world)[early_key] == 1
    sweep = world.store.last_sweep(INTEGRATION, "customers")
    assert sweep is not None and sweep.sweep == stopped.run_id
    await runtime.aclose()
