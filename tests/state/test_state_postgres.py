"""PostgreSQL-only behaviour: a dropped connection fails one call, not the store."""

from __future__ import annotations

import psycopg
import pytest
from state_support import PG_DSN, Backend, at

from engine.errors import StateError
from engine.state import BatchCommit, Link
from engine.state.postgres import PostgresStateStore

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(PG_DSN is None, reason="SPECSYNC_TEST_POSTGRES_DSN not set"),
]


@pytest.fixture
def pg_backend(backend: Backend) -> Backend:
    if backend.name != "postgres":
        pytest.skip("PostgreSQL only")
    return backend


@pytest.mark.scenario("S6")
def test_a_terminated_connection_fails_one_call_then_reconnects(pg_backend: Backend) -> None:
    store = pg_backend.store()
    assert isinstance(store, PostgresStateStore)
    store.commit_batch(BatchCommit("i", "s", at(0), links=[Link("a", "1", "h")], cursor="c1"))
    pid = store._conn.info.backend_pid  # type: ignore[union-attr]
    assert PG_DSN is not None
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    with pytest.raises(StateError, match="PostgreSQL state store"):
        store.commit_batch(BatchCommit("i", "s", at(1), links=[Link("b", "2", "h")], cursor="c2"))
    # nothing of the failed batch landed, and the next call works on a new connection
    assert store.get_cursor("i", "s") == "c1"
    assert sorted(store.get_links("i", "s", ["a", "b"])) == ["a"]
