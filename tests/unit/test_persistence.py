"""The database URL decides the store; the unsafe insert path of the library is never enabled."""

from __future__ import annotations

import pytest

from settlement_domain.persistence import StoreConfigurationError, store_environment


def test_sqlite_is_the_embedded_default_and_its_folder_is_created(tmp_path):
    env = store_environment(f"sqlite:///{tmp_path}/var/x.db")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == f"{tmp_path}/var/x.db"
    assert (tmp_path / "var").is_dir()


def test_postgres_urls_map_to_the_library_settings():
    env = store_environment("postgresql://app:s%40cret@db.example:6543/settlement?schema=prod")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example",
        "6543",
        "settlement",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_SCHEMA"]) == (
        "app",
        "s@cret",
        "prod",
    )
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"


def test_a_cipher_key_turns_on_the_fast_cipher():
    env = store_environment("sqlite:///:memory:", cipher_key="a" * 44)
    assert env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "postgresql:///nodb", "postgresql://host/"])
def test_unusable_urls_are_refused_with_a_message(url):
    with pytest.raises(StoreConfigurationError):
        store_environment(url)
