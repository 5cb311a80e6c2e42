"""Every state store runs the same suite: SQLite always, PostgreSQL when a DSN is given.

`backend` opens stores on one fresh database (a temp SQLite file, or a throwaway
PostgreSQL schema dropped afterwards), so a test can open a second store on the same
data: a second process, as far as the database can tell.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from state_support import PG_DSN, Backend

from engine.state.base import StateStore
from engine.state.sqlite import SqliteStateStore


def _sqlite_backend(tmp_path: Path) -> Iterator[Backend]:
    path = tmp_path / "state.db"

    def execute(statement: str) -> None:
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute(statement)
        db.close()

    backend = Backend("sqlite", lambda: SqliteStateStore(path), execute)
    yield backend
    for store in backend.opened:
        store.close()


def _postgres_backend() -> Iterator[Backend]:
    import psycopg

    from engine.state.postgres import PostgresStateStore

    assert PG_DSN is not None
    schema = f"test_{uuid.uuid4().hex[:12]}"

    def execute(statement: str) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(statement.encode())

    backend = Backend("postgres", lambda: PostgresStateStore(PG_DSN, schema=schema), execute)
    try:
        yield backend
    finally:
        for store in backend.opened:
            store.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(PG_DSN is None, reason="SPECSYNC_TEST_POSTGRES_DSN not set"),
            ],
        ),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    gen: Iterator[Backend] = (
        _sqlite_backend(tmp_path) if request.param == "sqlite" else _postgres_backend()
    )
    yield next(gen)
    next(gen, None)


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.store()

