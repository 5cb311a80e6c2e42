"""Status-code behaviour of HttpSession against a real Starlette app over ASGITransport."""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import math
import random
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.adapters.http import HttpSession, vendor_reason
from engine.adapters.ratelimit import RateBudget
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RetriableError
from engine.redact import Redactor

SECRET = "cinode-access-secret-0042"


class FakeClock:
    """Monotonic and wall clock in one; `sleep` advances time instead of waiting."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None


class Vendor:
    """A small vendor API: scripted answers per path, a 5xx storm, a Cinode-style limit."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.script: dict[str, deque[Scripted]] = defaultdict(deque)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.storm_rng = random.Random(2024)
        self.storm_errors = 0
        self.window_counts: dict[float, int] = defaultdict(int)
        self.limited_arrivals: list[float] = []
        self.rejected = 0
        self.token = "token-1"
        self.app = Starlette(
            routes=[
                Route("/storm", self.storm, methods=["GET"]),
                Route("/limited", self.limited, methods=["GET"]),
                Route("/me", self.me, methods=["GET"]),
                Route("/{path:path}", self.scripted, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    def _record(self, request: Request) -> None:
        self.seen.append((request.method, request.url.path, dict(request.headers)))

    async def scripted(self, request: Request) -> Response:
        self._record(request)
        queue = self.script[request.url.path]
        if not queue:
            return JSONResponse({"ok": True, "path": request.url.path})
        answer = queue.popleft()
        if answer.raw is not None:
            return Response(answer.raw, answer.status, headers=answer.headers)
        if answer.body is None:
            return Response(b"", answer.status, headers=answer.headers)
        return JSONResponse(answer.body, answer.status, headers=answer.headers)

    async def storm(self, request: Request) -> Response:
        self._record(request)
        if self.storm_rng.random() < 0.10:
            self.storm_errors += 1
            status = self.storm_rng.choice([500, 502, 503, 504])
            return JSONResponse({"message": "temporarily unavailable"}, status)
        return JSONResponse({"ok": True})

    async def limited(self, request: Request) -> Response:
        """Cinode: 40 requests per fixed 2 s window, 429 with x-ratelimit-* and no Retry-After."""
        self._record(request)
        now = self.clock()
        window = math.floor(now / 2.0) * 2.0
        reset = str(math.ceil(window + 2.0 - now))
        if self.window_counts[window] >= 40:
            self.rejected += 1
            return JSONResponse(
                {
                    "description": "Request limit was exceeded, please try again after "
                    "2 seconds from now",
                    "status": 429,
                },
                429,
                headers={
                    "x-ratelimit-limit": "40",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": reset,
                },
            )
        self.window_counts[window] += 1
        self.limited_arrivals.append(now)
        return JSONResponse(
            {"ok": True},
            headers={
                "x-ratelimit-limit": "40",
                "x-ratelimit-remaining": str(40 - self.window_counts[window]),
                "x-ratelimit-reset": reset,
            },
        )

    async def me(self, request: Request) -> Response:
        self._record(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(b"", 401)
        return JSONResponse({"user": "me"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vendor(clock: FakeClock) -> Vendor:
    return Vendor(clock)


@pytest.fixture
async def client(vendor: Vendor) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=vendor.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vendor.test") as c:
        yield c


def make_session(
    client: httpx.AsyncClient, clock: FakeClock, *, budget: RateBudget | None = None, **kw: Any
) -> HttpSession:
    retry = kw.pop("retry", None) or RetryPolicy(
        max_attempts=5, base_delay=0.5, max_delay=8, max_wait=120, rng=random.Random(3)
    )
    return HttpSession(
        client,
        name="vendor",
        budget=budget,
        retry=retry,
        redactor=Redactor([SECRET]),
        sleep=clock.sleep,
        clock=clock,
        wall_clock=clock.wall,
        **kw,
    )


@pytest.mark.scenario("S13")
async def test_429_retry_after_is_honoured_in_both_forms(client, vendor, clock) -> None:
    vendor.script["/things"].extend(
        [
            Scripted(429, {"message": "slow down"}, {"Retry-After": "3"}),
            # An HTTP date is absolute: sent 3 s from now, it asks for 5 s more.
            Scripted(429, None, {"Retry-After": formatdate(clock.wall() + 8, usegmt=True)}),
        ]
    )
    session = make_session(client, clock)
    response = await session.request("GET", "/things")
    assert response.json()["ok"] is True
    assert clock.sleeps == [3.0, pytest.approx(5.0, abs=1.0)]
    assert session.stats.retries == 2
    assert session.stats.requests == 3
    assert session.stats.by_status == {429: 2, 200: 1}


async def test_cinode_429_waits_for_ratelimit_reset(client, vendor, clock) -> None:
    vendor.script["/projects"].append(
        Scripted(
            429,
            {"description": "Request limit was exceeded", "status": 429},
            {"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"},
        )
    )
    session = make_session(client, clock)
    await session.request("GET", "/projects")
    assert clock.sleeps == [2.0]


async def test_429_without_hint_backs_off_with_jitter(client, vendor, clock) -> None:
    vendor.script["/x"].extend([Scripted(429, {}), Scripted(429, {})])
    session = make_session(client, clock)
    await session.request("GET", "/x")
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


async def test_five_xx_storm_completes(client, vendor, clock) -> None:
    session = make_session(client, clock)
    responses = await asyncio.gather(*(session.request("GET", "/storm") for _ in range(300)))
    assert all(r.status_code == 200 for r in responses)
    assert 15 <= vendor.storm_errors <= 50
    assert session.stats.retries == vendor.storm_errors
    assert session.stats.requests == 300 + vendor.storm_errors


VENDOR_ERRORS = [
    pytest.param(
        Scripted(
            400,
            {
                "status": "error",
                "message": "Property values were not valid",
                "category": "VALIDATION_ERROR",
                "errors": [{"message": "domain is not a valid hostname"}],
            },
        ),
        id="hubspot",
    ),
    pytest.param(
        Scripted(400, {"errors": {"Title": ["Required"], "CustomerId": ["Unknown customer"]}}),
        id="cinode-validation",
    ),
    pytest.param(
        Scripted(
            422,
            {
                "errorMessage": "Job 10042 is closed",
                "errorFamily": "validation",
                "focus": {"fieldName": "jobnumber"},
            },
        ),
        id="maconomy",
    ),
    pytest.param(Scripted(400, {"message": "Ogiltigt datum"}), id="kleer-json"),
    pytest.param(
        Scripted(
            400,
            raw="<?xml version='1.0'?><error><message>Anv&#228;ndare 811218-9876 finns "
            "redan</message></error>",
            headers={"content-type": "application/xml"},
        ),
        id="kleer-xml",
    ),
    pytest.param(
        Scripted(403, {"message": f"token {SECRET} lacks scope crm.objects.write"}),
        id="secret-in-reason",
    ),
    pytest.param(Scripted(404, None), id="empty-body"),
    pytest.param(
        Scripted(409, raw="<html><body><h1>Conflict</h1> " + "x" * 400 + "</body></html>"),
        id="html-trimmed",
    ),
]


@pytest.mark.parametrize("answer", VENDOR_ERRORS)
async def test_client_errors_are_fatal_with_vendor_reason(
    client, vendor, clock, answer: Scripted, snapshot
) -> None:
    vendor.script["/company/1/user"].append(answer)
    session = make_session(client, clock)
    with pytest.raises(FatalError) as info:
        await session.request("POST", "/company/1/user", json={"name": "x"})
    err = info.value
    assert err.status == answer.status
    assert len(vendor.seen) == 1  # never retried
    assert SECRET not in str(err) and "9876" not in str(err)
    assert {"message": str(err), "vendor_reason": err.vendor_reason} == snapshot


@pytest.mark.scenario("S16")
async def test_post_create_with_5xx_is_ambiguous_and_not_resent(client, vendor, clock) -> None:
    vendor.script["/users"].append(Scripted(502, {"message": "Bad gateway"}))
    session = make_session(client, clock)
    with pytest.raises(AmbiguousWriteError) as info:
        await session.request("POST", "/users", json={"email": "a@example.test"})
    assert info.value.status == 502
    assert [m for m, _, _ in vendor.seen] == ["POST"]


async def test_post_create_refused_with_429_is_retried(client, vendor, clock) -> None:
    vendor.script["/users"].append(Scripted(429, {}, {"Retry-After": "1"}))
    session = make_session(client, clock)
    response = await session.request("POST", "/users", json={"email": "a@example.test"})
    assert response.status_code == 200
    assert [m for m, _, _ in vendor.seen] == ["POST", "POST"]


async def test_idempotent_post_is_retried_on_5xx(client, vendor, clock) -> None:
    vendor.script["/crm/v3/objects/companies/batch/upsert"].append(Scripted(503, {}))
    session = make_session(client, clock)
    response = await session.request(
        "POST", "/crm/v3/objects/companies/batch/upsert", json={"inputs": []}, idempotent=True
    )
    assert response.status_code == 200
    assert len(vendor.seen) == 2


async def test_exhausted_retries_raise_retriable(client, vendor, clock) -> None:
    vendor.script["/jobs"].extend(Scripted(503, {"errorMessage": "maintenance"}) for _ in range(9))
    session = make_session(client, clock, retry=RetryPolicy(max_attempts=3, rng=random.Random(1)))
    with pytest.raises(RetriableError) as info:
        await session.request("GET", "/jobs")
    assert info.value.status == 503
    assert info.value.vendor_reason == "maintenance"
    assert len(vendor.seen) == 3
    assert len(clock.sleeps) == 2


async def test_retry_after_beyond_cap_stops_without_waiting(client, vendor, clock) -> None:
    vendor.script["/crm/v3/objects/deals"].append(
        Scripted(477, {"message": "Migration in progress"}, {"Retry-After": "86400"})
    )
    session = make_session(client, clock)
    with pytest.raises(RetriableError) as info:
        await session.request("GET", "/crm/v3/objects/deals")
    assert info.value.retry_after == 86400
    assert info.value.status == 477
    assert clock.sleeps == []
    assert len(vendor.seen) == 1


async def test_unauthorized_refreshes_once_then_succeeds(client, vendor, clock) -> None:
    tokens = iter(["token-0", "token-1"])
    current = {"token": next(tokens)}
    refreshes = []

    async def auth(request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {current['token']}"

    async def refresh() -> None:
        refreshes.append(clock())
        current["token"] = next(tokens)

    session = make_session(client, clock, auth=auth, on_unauthorized=refresh)
    response = await session.request("GET", "/me")
    assert response.json() == {"user": "me"}
    assert len(refreshes) == 1
    assert [h["authorization"] for _, _, h in vendor.seen] == ["Bearer token-0", "Bearer token-1"]
    assert session.stats.refreshes == 1 and session.stats.retries == 0


@pytest.mark.scenario("S18")
async def test_burst_of_401s_refreshes_once(client, vendor, clock) -> None:
    vendor.token = "token-1"
    current = {"token": "token-0"}
    refreshes = []

    async def auth(request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {current['token']}"

    async def refresh() -> None:
        refreshes.append(clock())
        await asyncio.sleep(0)  # a real refresh is a request of its own
        current["token"] = "token-1"

    session = make_session(client, clock, auth=auth, on_unauthorized=refresh)
    responses = await asyncio.gather(*(session.request("GET", "/me") for _ in range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert len(refreshes) == 1
    assert session.stats.refreshes == 1
    assert session.stats.by_status[401] > 1  # the burst really happened


@pytest.mark.scenario("S18")
async def test_unauthorized_after_refresh_is_fatal(client, vendor, clock) -> None:
    refreshes = []

    async def refresh() -> None:
        refreshes.append(1)

    session = make_session(client, clock, on_unauthorized=refresh)
    with pytest.raises(FatalError) as info:
        await session.request("GET", "/me")
    assert info.value.status == 401
    assert refreshes == [1]
    assert len(vendor.seen) == 2


async def test_expected_status_is_returned(client, vendor, clock) -> None:
    vendor.script["/customers/search"].append(Scripted(404, {"message": "not found"}))
    session = make_session(client, clock)
    response = await session.request("GET", "/customers/search", expected={404})
    assert response.status_code == 404


async def test_on_response_sees_every_attempt(client, vendor, clock) -> None:
    vendor.script["/containers"].append(Scripted(503, {}, {"Maconomy-Reconnect": "rotated-1"}))
    seen: list[int] = []

    async def on_response(response: httpx.Response) -> None:
        seen.append(response.status_code)

    session = make_session(client, clock, on_response=on_response)
    await session.request("GET", "/containers")
    assert seen == [503, 200]


def _max_in_window(times: list[float], per: float) -> int:
    times = sorted(times)
    return max((bisect.bisect_left(times, t + per) - i for i, t in enumerate(times)), default=0)


async def test_shared_budget_never_provokes_429(client, vendor, clock) -> None:
    budget = RateBudget("cred-x", 40, 2.0, clock=clock, sleep=clock.sleep, wall_clock=clock.wall)
    sessions = [make_session(client, clock, budget=budget) for _ in range(3)]  # three syncs
    await asyncio.gather(*(sessions[i % 3].request("GET", "/limited") for i in range(200)))
    assert vendor.rejected == 0
    assert len(vendor.limited_arrivals) == 200
    assert _max_in_window(vendor.limited_arrivals, 2.0) <= 40
    assert max(vendor.window_counts.values()) == 40
    assert budget.stats.waits > 0
    assert clock() - 1000.0 >= 8.0  # 200 requests at 40 per 2 s take at least 8 s


async def test_budget_learns_the_vendor_limit_from_headers(client, vendor, clock) -> None:
    # Configured too generously (100 / 2 s); Cinode's headers say 40 and count down.
    budget = RateBudget("cred-y", 100, 2.0, clock=clock, sleep=clock.sleep, wall_clock=clock.wall)
    session = make_session(client, clock, budget=budget)
    for _ in range(120):
        await session.request("GET", "/limited")
    assert vendor.rejected == 0
    assert budget.limit == 40


async def test_each_attempt_is_logged_redacted(client, vendor, clock, caplog, snapshot) -> None:
    vendor.script["/company/1/user/811218-9876"].append(Scripted(503, {}, {"Retry-After": "1"}))
    session = make_session(client, clock)
    with caplog.at_level(logging.DEBUG, logger="engine.http"):
        await session.request(
            "GET", "/company/1/user/811218-9876", params={"hapikey": "hk-123", "limit": 10}
        )
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.http"]
    assert lines == snapshot
    text = json.dumps(lines)
    assert "hk-123" not in text and "9876" not in text
    first = next(r for r in caplog.records if r.name == "engine.http")
    assert (first.status, first.attempt, first.system) == (503, 1, "vendor")


def test_vendor_reason_parses_shapes_without_a_session() -> None:
    response = httpx.Response(400, json={"errors": ["a", "b"], "message": "bad"})
    assert vendor_reason(response) == "bad; a; b"
