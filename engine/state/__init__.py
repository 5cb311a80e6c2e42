"""The state store: SQLite embedded by default, PostgreSQL when workers share the work.

    with open_store(None) as store:                 # .specsync/state.db
        links = store.get_links("kleer-cinode", "customers", keys)

`open_store` accepts None, `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
a plain file path, or `postgresql://...` (an optional `?schema=name` query parameter
selects the PostgreSQL schema; default "specsync").

Commands that only read (`status`, `history`, `plan`, `explain`) pass `create=False`: a
SQLite file that does not exist is then `StoreNotFoundError`, and nothing is created (no
folder, no empty database) by looking.
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
    CreatedValues,
    FailedRecord,
    InboxEvent,
    Incident,
    LeaseToken,
    Link,
    LinkState,
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
    "CreatedValues",
    "FailedRecord",
    "InboxEvent",
    "Incident",
    "LeaseToken",
    "Link",
    "LinkState",
    "RecordFailure",
    "Run",
    "SqliteStateStore",
    "StateStore",
    "StoreNotFoundError",
    "SyncPause",
    "open_store",
    "sync_lease_name",
]

DEFAULT_PATH = Path(".specsync") / "state.db"


class StoreNotFoundError(StateError):
    """A read-only command named a SQLite state file that does not exist (yet)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no state store at {path}")
        self.path = path


def open_store(url: str | None, *, create: bool = True) -> StateStore:
    """Open (and migrate) the store a URL names; see the module docstring for forms.

    With `create=False` a missing SQLite file raises `StoreNotFoundError` instead of
    being created.
    """
    if url is None or url == "":
        return _sqlite(DEFAULT_PATH, create)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _sqlite(Path(url), create)
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StateError("SQLite state URL must look like sqlite:///path/to/state.db")
        path = rest[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        return SqliteStateStore(path) if path == ":memory:" else _sqlite(Path(path), create)
    if scheme in ("postgresql", "postgres"):
        from engine.state.postgres import PostgresStateStore  # psycopg only when needed

        dsn, schema = _split_schema(url)
        return PostgresStateStore(dsn, schema=schema)
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise StateError(
        f"unsupported state store URL scheme {scheme!r}; use a file path, "
        "sqlite:///path/to/state.db or postgresql://user@host/db"
    )


def _sqlite(path: Path, create: bool) -> SqliteStateStore:
    if not create and not path.exists():
        raise StoreNotFoundError(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the folder of the state store {path}: "
                         f"{exc.strerror or exc}") from None
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
