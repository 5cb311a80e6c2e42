"""open_store: which URL opens which store, and what it refuses."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from state_support import PG_DSN, unique

from engine.errors import StateError
from engine.state import SqliteStateStore, open_store


def test_default_is_sqlite_under_dot_specsync(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(None) as store:
        assert isinstance(store, SqliteStateStore)
        store.set_meta("i", "k", "v")
    db = tmp_path / ".specsync" / "state.db"
    assert db.is_file()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600  # it holds data about people


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        pytest.param("sqlite:///nested/dir/state.db", "nested/dir/state.db", id="sqlite-relative"),
        pytest.param("custom/state.db", "custom/state.db", id="plain-path"),
    ],
)
def test_sqlite_urls_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str,
                               relative: str) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(url) as store:
        assert isinstance(store, SqliteStateStore)
    assert (tmp_path / relative).is_file()


def test_absolute_sqlite_url(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "state.db"
    with open_store(f"sqlite:///{target}") as store:  # sqlite:////tmp/... : absolute
        store.set_meta("i", "k", "v")
    with open_store(str(target)) as again:
        assert again.get_meta("i", "k") == "v"


def test_in_memory_sqlite() -> None:
    with open_store("sqlite:///:memory:") as store:
        store.set_meta("i", "k", "v")
        assert store.get_meta("i", "k") == "v"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://admin:hunter2@db.example/state", id="unknown-scheme"),
        pytest.param("sqlite://relative.db", id="sqlite-without-third-slash"),
    ],
)
def test_refuses_other_urls_without_echoing_secrets(url: str) -> None:
    with pytest.raises(StateError) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)
    assert "sqlite:///" in str(caught.value)


@pytest.mark.postgres
@pytest.mark.skipif(PG_DSN is None, reason="SPECSYNC_TEST_POSTGRES_DSN not set")
def test_postgresql_url_with_schema_parameter() -> None:
    import psycopg

    from engine.state.postgres import PostgresStateStore

    assert PG_DSN is not None
    schema = unique("t").replace("-", "_")
    separator = "&" if "?" in PG_DSN else "?"
    try:
        with open_store(f"{PG_DSN}{separator}schema={schema}") as store:
            assert isinstance(store, PostgresStateStore)
            assert store.schema == schema
            assert PG_DSN not in repr(store)
            store.set_meta("i", "k", "v")
        with psycopg.connect(PG_DSN) as conn:
            row = conn.execute(f'SELECT value FROM "{schema}".meta').fetchone()
            assert row == ("v",)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_postgres_schema_names_are_plain_identifiers() -> None:
    pytest.importorskip("psycopg")
    from engine.state.postgres import PostgresStateStore

    with pytest.raises(StateError, match="plain identifier"):
        PostgresStateStore("postgresql://nobody@127.0.0.1:1/none", schema='x"; DROP TABLE y; --')


def test_public_names_exist() -> None:
    import engine.state as package
    from engine.state import base, sqlite

    for module in (package, base, sqlite):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], f"{module.__name__}.__all__ names missing attributes"
