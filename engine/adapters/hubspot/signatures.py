"""HubSpot request signatures, the one place they are computed and checked.

- v1 (webhooks API): hex SHA-256 of client secret + raw body;
- v2 (workflow actions, CRM cards): hex SHA-256 of secret + method + URI + body;
- v3 (`X-HubSpot-Signature-v3`): base64 HMAC-SHA256 (key = secret) of method + URI +
  body + `X-HubSpot-Request-Timestamp` (epoch milliseconds).

Checks work on the raw body bytes, compare in constant time, and return None when the
request is genuine or a short reason (for logs and the 401 body; never the secret, never
the body). The three algorithms are the SDK's
`hubspot.utils.signature.Signature.get_signature` (tests/sandbox/
test_hubspot_sdk_contract.py checks HubSpot's documented test vector against both). The
v3 timestamp must lie within five minutes of our clock on either side: the SDK only
rejects old ones, which leaves replays with a future timestamp open (reliability.md
S25); a timestamp that is not a plain epoch-milliseconds number (400 digits, say) is
refused before any arithmetic.

The URI is the full URL as HubSpot called it, query string included. HubSpot's v3 guide
asks to URL-decode a fixed set of characters first; senders differ in what they sign, so
the raw, the guide's and the fully decoded form are all accepted. The sandbox signs
with these same functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote

__all__ = [
    "MAX_SKEW_SECONDS",
    "check_v2",
    "check_v3",
    "sign_v1",
    "sign_v2",
    "sign_v3",
]

MAX_SKEW_SECONDS = 300.0

# HubSpot decodes these in the URI before signing v3 (its "validating requests" guide).
_V3_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
              "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_V3_ENCODED = re.compile("|".join(_V3_DECODE), re.IGNORECASE)
_EPOCH_MS = re.compile(r"[0-9]{1,16}")


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def sign_v1(secret: str, body: bytes | str) -> str:
    """v1 (webhooks API): hex SHA-256 of client secret + raw body."""
    return hashlib.sha256(_raw(secret) + _raw(body)).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes | str) -> str:
    """v2 (workflow actions, CRM cards): hex SHA-256 of secret + method + URI + body."""
    return hashlib.sha256(_raw(secret) + method.upper().encode() + uri.encode()
                          + _raw(body)).hexdigest()


def sign_v3(secret: str, method: str, uri: str, body: bytes | str,
            timestamp_ms: int | str) -> str:
    """v3: base64 HMAC-SHA256 (key = secret) of method + URI + body + timestamp."""
    message = method.upper().encode() + uri.encode() + _raw(body) + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(_raw(secret), message, hashlib.sha256).digest()).decode()


def _uris(uri: str) -> list[str]:
    forms = [uri, _V3_ENCODED.sub(lambda m: _V3_DECODE[m.group(0).upper()], uri), unquote(uri)]
    return list(dict.fromkeys(forms))


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def check_v3(secret: str, method: str, uri: str, body: bytes,
             headers: Mapping[str, str], now: datetime) -> str | None:
    """None if `X-HubSpot-Signature-v3` is valid and fresh, else why not."""
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    if not _EPOCH_MS.fullmatch(timestamp.strip()):
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    skew = now.timestamp() - int(timestamp) / 1000.0
    if skew > MAX_SKEW_SECONDS:
        return "the request timestamp is more than 5 minutes old"
    if skew < -MAX_SKEW_SECONDS:
        return "the request timestamp is more than 5 minutes in the future"
    # Every candidate is compared, so timing does not tell which form matched.
    matched = False
    for candidate in _uris(uri):
        matched |= _equal(sign_v3(secret, method, candidate, body, timestamp.strip()),
                          signature)
    return None if matched else "the v3 signature does not match"


def check_v2(secret: str, method: str, uri: str, body: bytes,
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
        matched |= _equal(sign_v2(secret, method, candidate, body), signature.lower())
    return None if matched else "the v2 signature does not match"
