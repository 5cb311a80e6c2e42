"""Is this request really from the vendor? HubSpot v2/v3 signatures, Cinode credentials.

Every check works on the raw body bytes, compares in constant time, and returns None
when the request is genuine or a short reason (for logs and the 401 body; never the
secret, never the body). HubSpot's v3 timestamp must lie within five minutes of our
clock on either side: the SDK only rejects old ones, which leaves replays with a future
timestamp open (reliability.md S25).

The URI is the full URL as HubSpot called it, query string included. Behind a proxy
that terminates TLS the app sees `http://internal-host/...`, so the runner can be told
its public base URL. HubSpot's v3 docs ask to URL-decode the URI first; both the raw
and the decoded form are accepted, since senders differ in what they sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote

__all__ = [
    "MAX_SKEW_SECONDS",
    "check_cinode_credentials",
    "check_hubspot_v2",
    "check_hubspot_v3",
    "hubspot_v2",
    "hubspot_v3",
]

MAX_SKEW_SECONDS = 300.0


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64 HMAC-SHA256 (key = client secret) of method + URI + body + timestamp."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """hex SHA-256 of client secret + method + URI + body (workflow actions, CRM cards)."""
    return hashlib.sha256(secret.encode() + method.encode() + uri.encode() + body).hexdigest()


def _uris(uri: str) -> list[str]:
    decoded = unquote(uri)
    return [uri] if decoded == uri else [uri, decoded]


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def check_hubspot_v3(secret: str, method: str, uri: str, body: bytes,
                     headers: Mapping[str, str], now: datetime) -> str | None:
    """None if `X-HubSpot-Signature-v3` is valid and fresh, else why not."""
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    try:
        sent = int(timestamp) / 1000.0
    except ValueError:
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    skew = now.timestamp() - sent
    if skew > MAX_SKEW_SECONDS:
        return "the request timestamp is more than 5 minutes old"
    if skew < -MAX_SKEW_SECONDS:
        return "the request timestamp is more than 5 minutes in the future"
    # Every candidate is compared, so timing does not tell which form matched.
    matched = False
    for candidate in _uris(uri):
        matched |= _equal(hubspot_v3(secret, method, candidate, body, timestamp), signature)
    return None if matched else "the v3 signature does not match"


def check_hubspot_v2(secret: str, method: str, uri: str, body: bytes,
                     headers: Mapping[str, str]) -> str | None:
    """None if `X-HubSpot-Signature` (version v2) is valid, else why not."""
    signature = headers.get("x-hubspot-signature")
    if not signature:
        return "missing X-HubSpot-Signature"
    version = headers.get("x-hubspot-signature-version", "v2").lower()
    if version != "v2":
        return f"signature version {version[:8]!r} is not accepted here (v2 or v3 only)"
    matched = False
    for candidate in _uris(uri):
        matched |= _equal(hubspot_v2(secret, method, candidate, body), signature.lower())
    return None if matched else "the v2 signature does not match"


def check_cinode_credentials(headers: Mapping[str, str], secret: str, *,
                             header: str | None, basic_auth: bool) -> str | None:
    """Cinode company webhooks carry the credential configured on the webhook.

    Either a fixed header (`header: X-Webhook-Token`, value = secret), or HTTP Basic
    where Cinode sends base64(headerName:headerValue): the password must be the secret
    and, when a header name is configured, the user name must be that name.
    """
    if basic_auth:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token:
            return "missing Basic credentials"
        try:
            pair = base64.b64decode(token, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "malformed Basic credentials"
        user, sep, password = pair.partition(":")
        ok = _equal(secret, password) & bool(sep)
        if header:  # a header name, so compared without regard to case
            ok &= _equal(header.lower(), user.lower())
        return None if ok else "the Basic credentials do not match"
    if not header:
        return "the connection names no webhook credential header"
    given = headers.get(header.lower())
    if given is None:
        return f"missing the {header} header"
    return None if _equal(secret, given) else f"the {header} header does not match"
