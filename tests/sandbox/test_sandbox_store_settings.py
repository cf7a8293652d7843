"""Settings come from the environment once; the store is a migrated SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from services.sandbox.settings import Settings
from services.sandbox.store import Store


def test_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.db_path) == ("127.0.0.1", 8702, Path("var/sandbox.db"))


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {"RELAIS_HOST": "0.0.0.0", "RELAIS_SANDBOX_PORT": "9000", "RELAIS_DATA_DIR": "/srv/relais"}
    )
    assert (settings.host, settings.port, settings.db_path) == (
        "0.0.0.0",
        9000,
        Path("/srv/relais/sandbox.db"),
    )


@pytest.mark.parametrize("port", ["eighty", "70000", "-1"])
def test_bad_ports_are_named(port: str) -> None:
    with pytest.raises(ValueError, match="RELAIS_SANDBOX_PORT"):
        Settings.from_env({"RELAIS_SANDBOX_PORT": port})


def test_store_is_wal_migrated_once_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "sandbox.db"
    store = Store(path)
    store.add(network="x", account="lyon", remote_id="1", text="kept", body={"text": "kept"})
    store.close()

    reopened = Store(path)
    [post] = reopened.posts()
    reopened.close()

    with sqlite3.connect(path) as connection:
        journal = connection.execute("pragma journal_mode").fetchone()[0]
        applied = connection.execute("select name from _sqlite_migrations").fetchall()
    connection.close()
    assert (post.text, post.body) == ("kept", {"text": "kept"})
    assert journal == "wal"
    assert applied == [("001_posts",), ("002_media",), ("003_incoming",), ("004_incoming_private",)]


def test_remote_ids_are_unique_per_network(tmp_path: Path) -> None:
    store = Store(tmp_path / "sandbox.db")
    store.add(network="x", account="a", remote_id="1", text="t", body={})
    store.add(network="mastodon", account="a", remote_id="1", text="t", body={})
    with pytest.raises(sqlite3.IntegrityError):
        store.add(network="x", account="b", remote_id="1", text="t", body={})
    store.close()
