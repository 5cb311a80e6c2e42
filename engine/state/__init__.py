"""The state store: SQLite embedded by default, PostgreSQL when workers share the work.

    with open_store(None) as store:                 # .specsync/state.db
        links = store.get_links("kleer-cinode", "customers", keys)

`open_store` accepts None, `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
a plain file path, or `postgresql://...` (an optional `?schema=name` query parameter
selects the PostgreSQL schema; default "specsync").
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.errors import StateError
from engine.state.asyncstore import AsyncStateStore
from engine.state.base import (
    ActionRecord,
    AuditEntry,
    BatchCommit,
    FailedRecord,
    InboxEvent,
    Incident,
    LeaseToken,
    Link,
    RecordFailure,
    Run,
    StateStore,
    SyncPause,
    sync_lease_name,
)
from engine.state.sqlite import SqliteStateStore

__all__ = [
    "DEFAULT_PATH",
    "ActionRecord",
    "AsyncStateStore",
    "AuditEntry",
    "BatchCommit",
    "FailedRecord",
    "InboxEvent",
    "Incident",
    "LeaseToken",
    "Link",
    "RecordFailure",
    "Run",
    "SqliteStateStore",
    "StateStore",
    "SyncPause",
    "open_store",
    "sync_lease_name",
]

DEFAULT_PATH = Path(".specsync") / "state.db"


def open_store(url: str | None) -> StateStore:
    """Open (and migrate) the store a URL names; see the module docstring for forms."""
    if url is None or url == "":
        return _sqlite(DEFAULT_PATH)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _sqlite(Path(url))
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StateError("SQLite state URL must look like sqlite:///path/to/state.db")
        path = rest[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        return SqliteStateStore(path) if path == ":memory:" else _sqlite(Path(path))
    if scheme in ("postgresql", "postgres"):
        from engine.state.postgres import PostgresStateStore  # psycopg only when needed

        dsn, schema = _split_schema(url)
        return PostgresStateStore(dsn, schema=schema)
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise StateError(
        f"unsupported state store URL scheme {scheme!r}; use a file path, "
        "sqlite:///path/to/state.db or postgresql://user@host/db"
    )


def _sqlite(path: Path) -> SqliteStateStore:
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStateStore(path)


def _split_schema(url: str) -> tuple[str, str]:
    """Take our own `schema` parameter out of the URL; libpq would reject it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = "specsync"
    kept = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema
