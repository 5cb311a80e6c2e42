"""Where outbound requests may go: every real network request an adapter makes passes here.

A connection's credentials must reach its vendor and nothing else (reliability.md,
security checklist). So, for every request that leaves the process:

- the host must be the connection's own (`base_url`'s host): a link in an answer never
  takes a credential elsewhere, and redirects are not followed (`client_for`);
- the scheme must be https, except for loopback when the operator allows it
  (`SPECSYNC_ALLOW_LOOPBACK=1`, which `specsync sandbox up` and the demo set for the
  local simulators);
- the host is resolved here and every address is checked: loopback (unless allowed),
  private, link-local (cloud metadata at 169.254.169.254 included), unspecified,
  multicast and reserved ranges are refused, in every spelling (decimal `2130706433`,
  octal, hexadecimal, IPv4-mapped IPv6 `::ffff:127.0.0.1`), because the resolver
  normalises them all;
- the connection then goes to the address that was checked (the URL is pinned to it,
  with the original Host header and TLS server name), so a DNS answer that changes
  between the check and the connect cannot move the request.

`url_problem` is the same policy without resolving, for `specsync validate` on a literal
`base_url`. Transports injected by tests (in-process ASGI apps) never reach the network
and are not wrapped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from engine.errors import FatalError

__all__ = ["ALLOW_LOOPBACK", "EgressError", "EgressPolicy", "GuardedTransport", "url_problem"]

ALLOW_LOOPBACK = "SPECSYNC_ALLOW_LOOPBACK"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressError(FatalError):
    """A request to an address the policy refuses; nothing was sent."""


@dataclass(frozen=True)
class EgressPolicy:
    """What the operator allows beyond public https hosts."""

    allow_loopback: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EgressPolicy:
        value = environ.get(ALLOW_LOOPBACK, "").strip().lower()
        return cls(allow_loopback=value in ("1", "true", "yes", "on"))


def literal_address(host: str) -> IPAddress | None:
    """The address a literal host names, in any spelling the resolver accepts, or None."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:  # decimal, octal and hexadecimal IPv4 forms: 2130706433, 0177.1, 0x7f.0.0.1
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def address_problem(address: IPAddress, policy: EgressPolicy) -> str | None:
    """Why a connection to `address` is refused, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if policy.allow_loopback else (
            f"{address} is a loopback address (set {ALLOW_LOOPBACK}=1 for local sandboxes)")
    if address.is_link_local:
        return f"{address} is link-local (cloud metadata services live there)"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return f"{address} is not a routable host address"
    if address.is_private:
        return f"{address} is a private network address"
    return None


def url_problem(url: str, policy: EgressPolicy | None = None) -> str | None:
    """Why `url` may not be a connection's base URL, or None (no DNS lookup is made)."""
    policy = policy or EgressPolicy()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"`{url}` is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http"):
        return f"the scheme must be https, not `{parts.scheme or '(none)'}`"
    if not host:
        return "the URL names no host"
    if parts.username or parts.password:
        return "credentials belong in `auth:` as ${ENV} references, not in the URL"
    address = literal_address(host)
    loopback = host == "localhost" or (address is not None and address.is_loopback) or (
        isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
        and address.ipv4_mapped.is_loopback)
    if address is not None:
        problem = address_problem(address, policy)
        if problem:
            return problem
    elif host == "localhost" and not policy.allow_loopback:
        return f"localhost is loopback (set {ALLOW_LOOPBACK}=1 for local sandboxes)"
    if parts.scheme == "http" and not (loopback and policy.allow_loopback):
        return "plain http sends credentials in the clear: use https"
    return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request against the policy, then connects to the checked address."""

    def __init__(self, inner: httpx.AsyncBaseTransport, base_url: str,
                 policy: EgressPolicy) -> None:
        self.inner = inner
        self.host = (urlsplit(base_url).hostname or "").lower()
        self.policy = policy

    async def _resolve(self, host: str, port: int) -> IPAddress:
        literal = literal_address(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in addresses:  # every answer must pass, not only the first
            problem = address_problem(address, self.policy)
            if problem:
                raise EgressError(f"refused to connect to {host}: {problem}")
        return addresses[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host.lower()
        if host != self.host:
            raise EgressError(f"refused to send a request to {host}: this connection may "
                              f"only reach {self.host}")
        if url.scheme not in ("https", "http"):
            raise EgressError(f"refused the scheme {url.scheme}: only https is allowed")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self._resolve(host, port)
        if url.scheme == "http" and not (address.is_loopback and self.policy.allow_loopback):
            raise EgressError(f"refused plain http to {host}: credentials would travel in "
                              "the clear; use https")
        pinned = httpx.Request(
            request.method, url.copy_with(host=str(address)), headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host})
        response = await self.inner.handle_async_request(pinned)
        response.request = request
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
