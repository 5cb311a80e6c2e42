"""Toy Desk request signatures, the one place they are made and checked.

Every request Toy Desk sends us (webhook deliveries and automation runs) carries

    Toy-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>

keyed with the secret shared when the webhook or rule was set up. A check works on the
raw body bytes, compares in constant time, refuses a timestamp more than five minutes
from our clock (either side, so a captured request cannot be replayed later), and
answers None when the request is genuine, else a short reason that never contains the
secret. The sandbox signs with `sign`, so both sides agree by construction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

__all__ = ["HEADER", "MAX_SKEW_SECONDS", "check", "sign"]

HEADER = "Toy-Signature"
MAX_SKEW_SECONDS = 300
_PARTS = re.compile(r"t=([0-9]{1,12}),v1=([0-9a-f]{64})")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `Toy-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def check(secret: str, body: bytes, header: str | None, now: datetime) -> str | None:
    """None when `header` signs `body` with `secret` and is fresh, else why not."""
    if not header:
        return f"missing the {HEADER} header"
    match = _PARTS.fullmatch(header.strip().lower())
    if match is None:
        return f"{HEADER} is not t=<unix seconds>,v1=<64 hex digits>"
    timestamp = int(match.group(1))
    if abs(now.timestamp() - timestamp) > MAX_SKEW_SECONDS:
        return "the signature timestamp is more than 5 minutes from our clock"
    expected = sign(secret, body, timestamp)
    return None if hmac.compare_digest(expected, match.group(0)) else \
        "the signature does not match"
