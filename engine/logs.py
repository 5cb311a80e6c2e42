"""Structured logs with redaction always on.

One handler on the root logger writes either ``key=value`` lines (logfmt, easy to grep
and read in a terminal) or one JSON object per line (for log shippers). Every line has
the timestamp (UTC, ISO 8601), level, logger and message, then the context fields bound
with `log_context()` (integration, sync, run_id, record, ...) and any `extra=` fields.
The `RedactingFilter` sits on the handler, so no record reaches the stream unredacted,
whichever logger it came from.

Usage::

    redactor = configure_logging("DEBUG", json=True, secrets=[hubspot_token])
    with log_context(integration="kleer-hubspot", sync="companies", run_id=run.id):
        log.info("run started")
"""

from __future__ import annotations

import contextvars
import json as jsonlib
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from engine.redact import _RECORD_ATTRS, RedactingFilter, Redactor

__all__ = ["JsonFormatter", "LogfmtFormatter", "configure_logging", "log_context"]

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "specsync_log_context", default=MappingProxyType({})
)

# Context fields first, in this order, so lines line up when read by eye.
_CONTEXT_ORDER = ("integration", "sync", "run_id", "record")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields to every record logged inside the block (task- and thread-local)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    """Copies the bound context onto the record, before redaction sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# Extras other libraries add that only repeat the message: uvicorn's `color_message` is
# the message again with ANSI colour escapes, noise in a log file or a JSON line.
_REPEATS = frozenset({"color_message"})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    extras = {
        k: v for k, v in vars(record).items()
        if k not in _RECORD_ATTRS and k not in _REPEATS and not k.startswith("_")
    }
    ordered = {k: extras.pop(k) for k in _CONTEXT_ORDER if k in extras}
    ordered.update(sorted(extras.items()))
    return ordered


def _timestamp(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, tz=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    text = record.exc_text or ""
    if record.exc_info and not text:
        text = formatter.formatException(record.exc_info)
    if record.stack_info:
        text = (text + "\n" if text else "") + formatter.formatStack(record.stack_info)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        exc = _exception_text(self, record)
        if exc:
            entry["exception"] = exc
        return jsonlib.dumps(entry, ensure_ascii=False, default=str)


def _logfmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else (
        jsonlib.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, dict | list | tuple)
        else str(value)
    )
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    return jsonlib.dumps(text, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=engine.http msg="..." integration=...`` lines."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_timestamp(record)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_logfmt_value(record.getMessage())}",
        ]
        parts.extend(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        line = " ".join(parts)
        exc = _exception_text(self, record)
        if exc:
            line += f" exception={_logfmt_value(exc)}"
        return line


_HANDLER_MARK = "_specsync_handler"


class _LibraryTracebackFilter(logging.Filter):
    """One line, never a traceback, for what the job queue's library logs: a database
    restart makes procrastinate log every failed heartbeat and job with its stack; the
    exception's type and message say what an operator needs (our own code decides
    what to retry, and logs that in its own words)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("procrastinate"):
            return True
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.error = f"{type(exc).__name__}: {str(exc).strip()}"
            record.exc_info = None
            record.exc_text = None
        text = getattr(record, "exception", None)
        if isinstance(text, str) and "Traceback" in text:
            lines = [line for line in text.strip().splitlines() if line.strip()]
            record.exception = lines[-1].strip() if lines else ""
        return True


def configure_logging(
    level: str = "INFO",
    json: bool = False,
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> Redactor:
    """Install the one specsync log handler on the root logger and return its `Redactor`.

    Calling it again replaces the handler it installed before (other handlers are left
    alone). Add tokens obtained later with `redactor.add(token)` so they are masked too.
    """
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else LogfmtFormatter())
    handler.addFilter(_ContextFilter())
    handler.addFilter(_LibraryTracebackFilter())
    handler.addFilter(RedactingFilter(redactor))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx/httpcore log full URLs (query strings included) at DEBUG/INFO; our session
    # logs a redacted line per attempt instead.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
