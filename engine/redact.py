"""Mask secrets and Swedish personal identity numbers before text leaves the process.

Everything that may end up in a log line, an error message or a dead-letter entry goes
through one `Redactor`: HTTP URLs and headers, vendor error bodies, exception text. It
masks

- known secret values (configured at start, and tokens learned at runtime via `add()`),
  wherever they appear, as ``***``; a secret that is a plain word (letters, digits and
  ``_`` only, such as a user name ``sandbox``) only where it stands as a whole word, and
  never inside our own fixed message text (registered with `fixed()`), so
  "(e.g. from `specsync sandbox up`)" stays readable whatever the secrets are;
- credential headers (Authorization, X-Token, Cookie, Maconomy-Reconnect, signature
  headers such as X-HubSpot-Signature-v3) by name, as ``***``;
- token-looking query parameters and JSON keys (hapikey, access_token, token,
  refresh_token, password, client_secret, ...), as ``***``;
- JWTs (``eyJ...``) and ``Bearer``/``Basic``/``X-Reconnect`` credentials in free text;
- Swedish personnummer and samordningsnummer, as ``[personnummer]``;
- e-mail addresses, as ``[e-mail]``, and phone numbers, as ``[phone]``: international
  numbers (``+46 70 555 55 55``, ``+4681234567``) and Swedish national ones that start
  with 0 and have 8 to 11 digits (``070-555 55 55``, ``08-123 456 78``, ``0701234567``).
  A bare digit run that does not start with 0 or + is left alone: record ids, amounts
  and order numbers stay readable.

Personnummer trade-off: a 10- or 12-digit run (``YYMMDD-NNNC``, ``YYYYMMDDNNNC``, ``-``
or ``+`` separator) is masked only when its date part is plausible (month 01-12, day
01-31, or 61-91 for coordination numbers) *and* its Luhn check digit is right. That
keeps ordinary order numbers, amounts and timestamps readable (about 99% of random
10-digit numbers fail those checks; organisation numbers fail the month check), at the
price that roughly 1 in 140 random 10-digit numbers, some phone numbers among them, is
masked too. Over-masking a log line is cheap; leaking an identity number is not. Digits
that are part of a longer digit run are never masked, and a number whose check digit is
wrong is kept (it is not a valid identity number, and the sync reports it as such).

Usage::

    redactor = Redactor([api_token])
    log.info("GET %s", redactor.url(request.url))
    logging.getLogger().handlers[0].addFilter(RedactingFilter(redactor))
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "EMAIL_MASK",
    "MASK",
    "PERSONNUMMER_MASK",
    "PHONE_MASK",
    "RedactingFilter",
    "Redactor",
    "fixed",
    "is_personnummer",
    "is_sensitive_header",
    "is_sensitive_key",
    "mask_personnummer",
]

MASK = "***"
PERSONNUMMER_MASK = "[personnummer]"
EMAIL_MASK = "[e-mail]"
PHONE_MASK = "[phone]"

# Secrets shorter than this are ignored: masking every "a" or "42" in every log line
# would make logs useless and a 3-character credential is not a credential.
_MIN_SECRET_LENGTH = 4

_SENSITIVE_HEADER_WORDS = (
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "signature",
    "api-key",
    "apikey",
    "reconnect",
)

# Query parameters and JSON keys whose value is a credential. Compared case-insensitively
# with "-" and "_" removed, so refreshToken, refresh_token and refresh-token are one key.
_SENSITIVE_KEYS = frozenset(
    {
        "hapikey",
        "accesstoken",
        "token",
        "refreshtoken",
        "idtoken",
        "apikey",
        "apitoken",
        "xtoken",
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "accesssecret",
        "authorization",
        "cookie",
        "setcookie",
        "maconomyreconnect",
        "reconnecttoken",
    }
)

# `name: value` / `name=value` / `"name": "value"` for credential keys in free text.
_KEY_NAMES = (
    r"hapikey|access[_-]?token|refresh[_-]?token|id[_-]?token|api[_-]?key|api[_-]?token"
    r"|x-token|client[_-]?secret|access[_-]?secret|password|passwd|secret|token"
    r"|maconomy-reconnect|x-hubspot-signature(?:-v\d)?|x-cinode-signature"
)
_KEY_VALUE = re.compile(
    rf"(?P<key>(?<![\w-])(?:{_KEY_NAMES})(?![\w-])['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>[^\s'\"&,;}\]]+)",
    re.IGNORECASE,
)
# Header-ish lines whose whole value is a credential, possibly with a scheme and spaces.
_AUTH_LINE = re.compile(
    r"(?P<key>(?<![\w-])(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>(?:[A-Za-z][\w-]*\s+)?[^\s'\",;}\]]+)",
    re.IGNORECASE,
)
_COOKIE_LINE = re.compile(
    r"(?P<key>(?<![\w-])(?:set-)?cookie['\"]?\s*[:=]\s*['\"]?)(?P<value>[^'\"\r\n}\]]+)",
    re.IGNORECASE,
)
_SCHEME_CREDENTIAL = re.compile(
    r"(?P<key>\b(?:Bearer|Basic|X-Reconnect|Token)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_PERSONNUMMER = re.compile(
    r"(?<!\d)(?P<century>18|19|20)?(?P<date>\d{6})(?P<sep>[-+]?)(?P<tail>\d{4})(?!\d)"
)
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                    r"\.[A-Za-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ -]?(?:\(0\)[ -]?)?\d(?:[ -]?\d){5,12}"  # +46 70 555 55 55
    r"|0[1-9]\d{0,2}(?:[ -]?\d){5,9})(?![\w])"  # 070-555 55 55, 08-123 456 78
)


# Our own message texts (`fixed()`): no secret is masked inside them. Constants
# registered when their module is imported; the pattern is rebuilt when one is added.
_FIXED: set[str] = set()
_fixed_pattern: tuple[int, re.Pattern[str] | None] = (0, None)


def fixed(text: str) -> str:
    """Mark `text` as our own words and return it: `Redactor.text` masks no secret inside
    it (a user name that happens to be `sandbox` leaves "specsync sandbox up" alone).

    For constant parts of messages only, never for text that carries a value.
    """
    _FIXED.add(text)
    return text


def _fixed_spans(text: str) -> list[tuple[int, int]]:
    global _fixed_pattern
    if not _FIXED:
        return []
    count, pattern = _fixed_pattern
    if pattern is None or count != len(_FIXED):
        ordered = sorted(_FIXED, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in ordered))
        _fixed_pattern = (len(_FIXED), pattern)
    return [m.span() for m in pattern.finditer(text)]


def _secret_pattern(secret: str) -> str:
    """A plain-word secret matches only as a whole word; any other, wherever it is."""
    escaped = re.escape(secret)
    return rf"(?<!\w){escaped}(?!\w)" if re.fullmatch(r"\w+", secret) else escaped


def _normalise_key(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def is_sensitive_key(name: str) -> bool:
    """True for JSON keys and query parameters whose value is a credential."""
    return _normalise_key(name) in _SENSITIVE_KEYS


def is_sensitive_header(name: str) -> bool:
    """True for headers that carry credentials or signatures (masked by name)."""
    lowered = name.lower()
    return any(word in lowered for word in _SENSITIVE_HEADER_WORDS)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def is_personnummer(text: str) -> bool:
    """True if `text` is exactly a plausible personnummer or samordningsnummer."""
    match = _PERSONNUMMER.fullmatch(text.strip())
    return match is not None and _valid_match(match)


def _valid_match(match: re.Match[str]) -> bool:
    date = match["date"]
    month, day = int(date[2:4]), int(date[4:6])
    if not 1 <= month <= 12:
        return False
    if not (1 <= day <= 31 or 61 <= day <= 91):
        return False
    return _luhn_ok(date + match["tail"])


def _mask_personnummer(match: re.Match[str]) -> str:
    return PERSONNUMMER_MASK if _valid_match(match) else match[0]


def mask_personnummer(text: str) -> str:
    """`text` with every valid personnummer or samordningsnummer in it masked (only those:
    for values kept for later, such as replay's recorded reads)."""
    return _PERSONNUMMER.sub(_mask_personnummer, text)


def _mask_value(match: re.Match[str]) -> str:
    return match["key"] + MASK


class Redactor:
    """Masks secrets and identity numbers in text, URLs, headers and JSON values.

    Instance-owned: each process (or test) builds its own with the secrets it knows,
    and adds tokens it obtains later (Cinode access tokens, Maconomy reconnect tokens)
    with `add()` so they are masked wherever they show up.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._secret_re: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Learn more secret values; empty and very short values are ignored."""
        given = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        # A secret in a query string or form body shows up percent-encoded.
        fresh = (given | {quote(s, safe="") for s in given}) - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        # Longest first so a secret that contains another is masked whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._secret_re = re.compile("|".join(_secret_pattern(s) for s in ordered))

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def text(self, text: str) -> str:
        """Mask everything sensitive in free text (log messages, error bodies)."""
        if not text:
            return text
        if self._secret_re is not None:
            text = self._mask_secrets(self._secret_re, text)
        text = _JWT.sub(MASK, text)
        text = _AUTH_LINE.sub(_mask_value, text)
        text = _COOKIE_LINE.sub(_mask_value, text)
        text = _SCHEME_CREDENTIAL.sub(_mask_value, text)
        text = _KEY_VALUE.sub(_mask_value, text)
        text = _PERSONNUMMER.sub(_mask_personnummer, text)
        if "@" in text:
            text = _EMAIL.sub(EMAIL_MASK, text)
        return _PHONE.sub(PHONE_MASK, text)

    @staticmethod
    def _mask_secrets(secrets: re.Pattern[str], text: str) -> str:
        ours = _fixed_spans(text)

        def mask(match: re.Match[str]) -> str:
            start, end = match.span()
            return match[0] if any(a <= start and end <= b for a, b in ours) else MASK

        return secrets.sub(mask, text) if ours else secrets.sub(MASK, text)

    def url(self, url: httpx.URL | str) -> str:
        """A URL safe to log: credential query values and userinfo masked, text rules applied."""
        parsed = httpx.URL(str(url))
        if parsed.userinfo:
            parsed = parsed.copy_with(username=MASK, password=None)
        if parsed.query:
            params = [
                (k, MASK if is_sensitive_key(k) else v) for k, v in parsed.params.multi_items()
            ]
            parsed = parsed.copy_with(params=params)
        # copy_with percent-encodes "***"; show it plainly.
        return self.text(str(parsed).replace("%2A%2A%2A", MASK))

    def headers(self, headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
        """A plain dict of headers with credential headers masked by name."""
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
        return {k: MASK if is_sensitive_header(k) else self.text(v) for k, v in items}

    def value(self, value: Any) -> Any:
        """Redact a JSON-like value: credential keys masked, every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: MASK if isinstance(k, str) and is_sensitive_key(k) else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def __call__(self, value: Any) -> Any:
        """Redact whatever it is given: URL, headers, JSON value or text."""
        if isinstance(value, httpx.URL):
            return self.url(value)
        if isinstance(value, httpx.Headers):
            return self.headers(value)
        return self.value(value)


# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactingFilter(logging.Filter):
    """Applies a `Redactor` to every record: message, extra fields, traceback text.

    Attach it to handlers, not loggers: a logger's filters do not see records that
    propagate up from child loggers, a handler's filters see them all.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_specsync_redacted", False):
            return True  # already done by another handler's filter
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break the caller
            message = f"{record.msg} (unformattable args)"
        record.msg = self.redactor.text(message)
        record.args = None
        for key, val in list(vars(record).items()):
            if key not in _RECORD_ATTRS:
                record.__dict__[key] = MASK if is_sensitive_key(key) else self._extra(val)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        record._specsync_redacted = True
        return True

    def _extra(self, value: Any) -> Any:
        # Keep numbers and flags as they are for JSON logs; anything else becomes text,
        # because a formatter would str() it later, past the redactor.
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str | Mapping | list | tuple):
            return self.redactor.value(value)
        return self.redactor.text(str(value))
