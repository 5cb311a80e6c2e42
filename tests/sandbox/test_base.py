"""The shared sandbox platform: clocks, faults, rate limits, collections, webhooks, control API."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.platform import (
    DEFAULT_START,
    Collection,
    Faults,
    FaultsError,
    ManualClock,
    RateLimiter,
    Sandbox,
    SandboxConfig,
    SystemClock,
)


def _item(i: int) -> dict[str, object]:
    return {"id": f"I{i}", "n": i, "changed": "2020-01-01T00:00:00Z", "version": 1}


def _stamp(record: dict, now: datetime, previous: dict | None) -> None:
    record["changed"] = now.isoformat()
    record["version"] = (previous or {}).get("version", 0) + 1


def _index_of(record_id: object) -> int | None:
    text = str(record_id)
    return int(text[1:]) if text.startswith("I") and text[1:].isdigit() else None


@dataclass(frozen=True)
class ToyCredentials:
    token: str = "toy-token"

    def environment(self, url: str) -> list[tuple[str, str]]:
        return [("TOY_URL", url), ("TOY_TOKEN", self.token)]


class ToySandbox(Sandbox):
    """A minimal vendor: a paged collection, a rate-limited route and a webhook trigger."""

    vendor = "toy"
    credentials_type = ToyCredentials

    def __init__(self, config: SandboxConfig | None = None) -> None:
        super().__init__(config)
        self.items = Collection("items", key="id", size=self.config.records, factory=_item,
                                clock=self.clock, index_of=_index_of, stamp=_stamp)
        self.limiter = RateLimiter(3, 10, self.clock)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/items", self._list, methods=["GET"]),
            Route("/items/{id}", self._patch, methods=["PATCH"]),
            Route("/limited", self._limited, methods=["GET"]),
        ]

    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"toyError": message}, status_code=status)

    async def _list(self, request: Request) -> Response:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 10))
        return JSONResponse({"items": self.items.page(offset, limit), "total": len(self.items)})

    async def _patch(self, request: Request) -> Response:
        record = self.items.patch(request.path_params["id"], await request.json())
        if record is None:
            return JSONResponse({"toyError": "not found"}, status_code=404)
        self.webhooks.broadcast(json.dumps({"changed": record["id"]}).encode(),
                                lambda url, body: {"x-toy-signature": f"sig:{len(body)}"})
        return JSONResponse(record)

    async def _limited(self, request: Request) -> Response:
        decision = self.limiter.check("token")
        if not decision.allowed:
            return self.too_many_requests_response(decision)
        return JSONResponse({"remaining": decision.remaining})


def client_for(sandbox: Sandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                             base_url="http://toy.test")


# --------------------------------------------------------------------------- clocks


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock()
    assert clock.now() == DEFAULT_START
    assert clock.advance(90) == DEFAULT_START + timedelta(seconds=90)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2030
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- faults


def test_faults_parse_reads_units_and_aliases() -> None:
    faults = Faults.parse("latency=50ms,error_rate=0.1,burst_429=5,drop_rate=1%,seed=7,"
                          "timeout=2s,reorder,webhook_delay=0.5s")
    assert faults == Faults(latency_ms=50, error_rate=0.1, burst_429=5, drop_rate=0.01, seed=7,
                            timeout_seconds=2, webhook_reorder=True, webhook_delay_ms=500)
    assert Faults.parse("") == Faults()
    assert not Faults().http_active and faults.http_active


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("latncy=5", "unknown fault 'latncy'", id="unknown"),
        pytest.param("error_rate=lots", "expected a rate", id="bad-rate"),
        pytest.param("error_rate=1.5", "expected a rate 0..1", id="rate-range"),
        pytest.param("burst_429=2.5", "whole number", id="bad-int"),
        pytest.param("latency=fast", "duration", id="bad-duration"),
        pytest.param("error_rate", "needs a value", id="no-value"),
    ],
)
def test_faults_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FaultsError, match=message):
        Faults.parse(text)


def test_faults_round_trip_through_dict() -> None:
    faults = Faults(latency_ms=5, error_rate=0.2, webhook_reorder=True, seed=3)
    assert Faults.from_dict(faults.to_dict()) == faults
    with pytest.raises(FaultsError, match="expected true or false"):
        Faults.from_dict({"webhook_reorder": 1})


# --------------------------------------------------------------------------- rate limits


def test_rate_limiter_uses_fixed_windows_per_key() -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    limiter = RateLimiter(2, 10, clock)
    first = limiter.check("a")
    assert (first.allowed, first.remaining, first.reset_seconds) == (True, 1, 10)
    assert limiter.check("a").allowed
    clock.advance(4)
    denied = limiter.check("a")
    assert (denied.allowed, denied.remaining, denied.reset_seconds) == (False, 0, 6)
    assert limiter.check("b").allowed  # keys are independent
    clock.advance(6)
    assert limiter.check("a").allowed  # a new window


# --------------------------------------------------------------------------- collections


def test_collection_overlay_and_paging() -> None:
    clock = ManualClock()
    items = Collection("items", key="id", size=5, factory=_item, clock=clock,
                       index_of=_index_of, stamp=_stamp)
    assert [r["n"] for r in items.iter()] == [0, 1, 2, 3, 4]
    clock.advance(60)
    changed = items.patch("I2", {"n": 20})
    assert changed == {"id": "I2", "n": 20, "changed": clock.now().isoformat(), "version": 2}
    assert items.modified_at("I2") == clock.now() and items.modified_at("I1") is None
    assert items.delete("I0") and not items.delete("I0")
    items.put({"id": "new", "n": 99})
    assert len(items) == 5
    assert [r["n"] for r in items.iter()] == [1, 20, 3, 4, 99]
    assert [r["n"] for r in items.page(1, 3)] == [20, 3, 4]
    assert [r["n"] for r in items.page(4, 10)] == [99]
    assert items.get("I0") is None and items.get("new")["version"] == 1
    items.put({"id": "I0", "n": 0})  # re-created in place
    assert [r["n"] for r in items.page(0, 2)] == [0, 1]


def test_collection_reads_are_copies() -> None:
    items = Collection("items", key="id", size=2, factory=_item, clock=ManualClock(),
                       index_of=_index_of)
    items.patch("I1", {"n": 5})
    items.get("I1")["n"] = 666
    assert items.get("I1")["n"] == 5


def test_collection_without_inverse_learns_ids_by_scanning() -> None:
    items = Collection("items", key="id", size=4, factory=_item, clock=ManualClock())
    assert items.get("I3")["n"] == 3 and items.get("I9") is None


_ops = st.lists(
    st.tuples(st.sampled_from(["put", "patch", "delete"]), st.integers(0, 14)), max_size=25
)


@settings(max_examples=200, deadline=None)
@given(ops=_ops, offset=st.integers(0, 20), limit=st.integers(0, 20))
def test_collection_pages_agree_with_a_list_model(ops: list, offset: int, limit: int) -> None:
    items = Collection("items", key="id", size=10, factory=_item, clock=ManualClock(),
                       index_of=_index_of)
    # id -> (position, n): base records sit at their index, created ones after, in order.
    model = {f"I{i}": ((0, i), i) for i in range(10)}
    created = 0
    for op, n in ops:
        rid = f"I{n}"
        if op == "put":
            items.put({"id": rid, "n": -n})
            if rid in model:
                position = model[rid][0]
            elif n < 10:
                position = (0, n)  # a deleted base record comes back in its place
            else:
                created += 1
                position = (1, created)
            model[rid] = (position, -n)
        elif op == "patch":
            assert (items.patch(rid, {"n": n * 100}) is None) == (rid not in model)
            if rid in model:
                model[rid] = (model[rid][0], n * 100)
        else:
            assert items.delete(rid) == (rid in model)
            model.pop(rid, None)
    expected = [n for _, n in sorted(model.values())]
    assert len(items) == len(expected)
    assert [r["n"] for r in items.iter()] == expected
    assert [r["n"] for r in items.page(offset, limit)] == expected[offset:offset + limit]


# --------------------------------------------------------------------------- faults over HTTP


async def test_requests_are_logged_without_query_strings() -> None:
    sandbox = ToySandbox()
    async with client_for(sandbox) as client:
        assert (await client.get("/items?limit=2&secret=x")).status_code == 200
        log = (await client.get("/_sandbox/requests")).json()["requests"]
    assert log == [{"method": "GET", "path": "/items", "status": 200, "fault": None,
                    "at": log[0]["at"]}]


async def test_burst_429_answers_the_next_requests_then_recovers() -> None:
    sandbox = ToySandbox(SandboxConfig(faults=Faults(burst_429=2)))
    async with client_for(sandbox) as client:
        statuses = [(await client.get("/items")).status_code for _ in range(3)]
        denied = sandbox.requests[0]
        health = await client.get("/_sandbox/health")  # control routes never fault
    assert statuses == [429, 429, 200]
    assert denied.fault == "burst_429"
    assert health.status_code == 200 and health.json()["vendor"] == "toy"


async def test_error_fault_uses_the_vendor_envelope_and_replays_by_seed() -> None:
    async def run(seed: int) -> list[int]:
        sandbox = ToySandbox(SandboxConfig(faults=Faults(error_rate=0.5, seed=seed)))
        async with client_for(sandbox) as client:
            responses = [await client.get("/items") for _ in range(20)]
        errors = [r for r in responses if r.status_code >= 500]
        assert errors and all(r.json() == {"toyError": "Sandbox fault: simulated server error"}
                              for r in errors)
        return [r.status_code for r in responses]

    first = await run(7)
    assert first == await run(7)
    assert first != await run(8)
    assert 200 in first and {500, 502, 503} & set(first)


async def test_drop_in_process_is_a_transport_error_after_the_write() -> None:
    sandbox = ToySandbox(SandboxConfig(faults=Faults(drop_rate=1.0)))
    async with client_for(sandbox) as client:
        with pytest.raises(httpx.TransportError):
            await client.patch("/items/I1", json={"n": 11})
    assert sandbox.items.get("I1")["n"] == 11  # processed before the connection died
    assert sandbox.requests[-1].fault == "drop"


async def test_timeout_fault_delays_the_answer_after_processing() -> None:
    sandbox = ToySandbox(SandboxConfig(faults=Faults(timeout_rate=1.0, timeout_seconds=0.2)))
    loop = asyncio.get_running_loop()
    async with client_for(sandbox) as client:
        started = loop.time()
        response = await client.patch("/items/I1", json={"n": 12})
    assert response.status_code == 200 and loop.time() - started >= 0.2


def test_drop_and_timeout_over_loopback(loopback) -> None:
    sandbox = ToySandbox(SandboxConfig(faults=Faults(drop_rate=1.0)))
    with loopback(sandbox.app) as url:
        with httpx.Client(base_url=url) as client, pytest.raises(httpx.RemoteProtocolError):
            client.patch("/items/I2", json={"n": 22})
        assert sandbox.items.get("I2")["n"] == 22
        sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=3))
        with httpx.Client(base_url=url, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.patch("/items/I3", json={"n": 33})
            assert sandbox.items.get("I3")["n"] == 33
            sandbox.set_faults(Faults())
            assert client.get("/items", params={"limit": 1}).status_code == 200


async def test_latency_fault_slows_vendor_routes() -> None:
    sandbox = ToySandbox(SandboxConfig(faults=Faults(latency_ms=50)))
    loop = asyncio.get_running_loop()
    async with client_for(sandbox) as client:
        started = loop.time()
        await client.get("/items")
        assert loop.time() - started >= 0.05


# --------------------------------------------------------------------------- control API


async def test_control_faults_get_put() -> None:
    sandbox = ToySandbox()
    async with client_for(sandbox) as client:
        assert (await client.get("/_sandbox/faults")).json() == Faults().to_dict()
        put = await client.put("/_sandbox/faults", json={"spec": "burst_429=1,seed=4"})
        assert put.json()["burst_429"] == 1 and sandbox.faults.seed == 4
        assert (await client.get("/items")).status_code == 429
        put = await client.put("/_sandbox/faults", json={"error_rate": 0})
        assert put.status_code == 200 and sandbox.faults == Faults()
        bad = await client.put("/_sandbox/faults", json={"nope": 1})
        assert bad.status_code == 400 and "unknown fault 'nope'" in bad.json()["error"]


async def test_control_clock() -> None:
    clock = ManualClock()
    sandbox = ToySandbox(SandboxConfig(clock=clock))
    async with client_for(sandbox) as client:
        moved = await client.post("/_sandbox/clock", json={"advance": 3600})
        assert moved.json() == {"now": "2025-01-15T10:00:00Z"}
        moved = await client.post("/_sandbox/clock", json={"set": "2026-02-01T00:00:00Z"})
        assert moved.json() == {"now": "2026-02-01T00:00:00Z"}
        assert (await client.post("/_sandbox/clock", json={})).status_code == 400
    async with client_for(ToySandbox()) as client:
        assert (await client.post("/_sandbox/clock", json={"advance": 1})).status_code == 409


async def test_rate_limited_route_answers_429_with_retry_after() -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    sandbox = ToySandbox(SandboxConfig(clock=clock))
    async with client_for(sandbox) as client:
        for _ in range(3):
            assert (await client.get("/limited")).status_code == 200
        clock.advance(7)
        denied = await client.get("/limited")
        assert denied.status_code == 429 and denied.headers["retry-after"] == "3"


# --------------------------------------------------------------------------- webhooks


async def test_webhooks_are_delivered_signed_and_retried(receiver, receiver_client) -> None:
    receiver.statuses = [503, 500]
    sandbox = ToySandbox(SandboxConfig(webhook_client=receiver_client))
    sandbox.webhooks.backoff_seconds = 0.001
    async with client_for(sandbox) as client:
        registered = await client.post("/_sandbox/webhooks/register",
                                       json={"url": "http://receiver.test/hook"})
        assert registered.status_code == 201
        await client.patch("/items/I4", json={"n": 44})
        await sandbox.webhooks.drain()
        log = (await client.get("/_sandbox/webhooks")).json()
    assert [d["status"] for d in log["deliveries"]] == [503, 500, 200]
    assert receiver.bodies() == [{"changed": "I4"}] * 3
    assert receiver.received[-1][1]["x-toy-signature"] == f"sig:{len(receiver.received[-1][2])}"


async def test_webhook_faults_duplicate_and_reorder(receiver, receiver_client) -> None:
    faults = Faults(webhook_duplicate_rate=1.0, webhook_reorder=True, seed=3)
    sandbox = ToySandbox(SandboxConfig(webhook_client=receiver_client, faults=faults))
    sandbox.webhooks.register("http://receiver.test/hook")
    for n in range(6):
        sandbox.webhooks.broadcast(json.dumps({"n": n}).encode())
    await sandbox.webhooks.drain()
    ns = [b["n"] for b in receiver.bodies()]
    assert sorted(ns) == sorted(list(range(6)) * 2)  # every one twice
    assert ns[::2] != list(range(6))  # shuffled (seed 3)
    assert sum(d.duplicate for d in sandbox.webhooks.log) == 6


async def test_webhook_4xx_is_not_retried(receiver, receiver_client) -> None:
    receiver.statuses = [410]
    sandbox = ToySandbox(SandboxConfig(webhook_client=receiver_client))
    sandbox.webhooks.enqueue("http://receiver.test/gone", b"{}")
    await sandbox.webhooks.drain()
    assert [d.status for d in sandbox.webhooks.log] == [410]
    assert sandbox.webhooks.delivered == []


def test_webhooks_delivered_under_uvicorn_with_lifespan(loopback, receiver) -> None:
    with loopback(receiver.app) as receiver_url:
        sandbox = ToySandbox()
        with loopback(sandbox.app) as url, httpx.Client(base_url=url) as client:
            client.post("/_sandbox/webhooks/register", json={"url": f"{receiver_url}/in"})
            client.patch("/items/I0", json={"n": 1})
            assert client.post("/_sandbox/webhooks/drain").json() == {"delivered": 1}
    assert receiver.bodies() == [{"changed": "I0"}]
