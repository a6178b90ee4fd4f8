"""Store configuration: one database URL chooses SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.persistence import Transcoding

DEFAULT_DATABASE_URL = "sqlite:///var/settlement.db"
# Set to "n" in a store's environment, the application sends no NOTIFY after its saves (tests).
NOTIFY_SETTING = "SETTLEMENT_NOTIFY"


class StoreConfigurationError(ValueError):
    """The database URL cannot be turned into a store configuration."""


class DateAsISO(Transcoding):
    """Business dates (``settlement_date``, ``decided_on``) as ISO strings in the stored events."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def private_file(path: Path) -> None:
    """Creates ``path`` empty for its owner alone (0600), in a directory it creates for its owner
    alone (0700), unless they exist: the SQLite file and its ``var/`` hold personal data. SQLite
    creates its WAL and shared-memory files with the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def notify_channel(schema: str | None) -> str:
    """The PostgreSQL channel on which every committed append to the log of ``schema`` is announced
    (``NOTIFY``), for the projection runners that follow it (one channel per schema: the schemas of
    one database never wake each other's runners). PostgreSQL keeps the first 63 bytes of a name."""
    return f"settlement_{schema or 'public'}"


def notify_statement(channel: str) -> str:
    """``NOTIFY "<channel>"``, the channel quoted as an identifier."""
    return 'NOTIFY "' + channel.replace('"', '""') + '"'


def store_environment(
    database_url: str,
    *,
    cipher_key: str | None = None,
    master_key: str | None = None,
    master_key_file: str | None = None,
) -> dict[str, str]:
    """The eventsourcing environment for ``database_url``.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``sqlite:///:memory:``;
    ``postgresql://user:password@host:port/dbname?schema=name``. The library's
    ``POSTGRES_ENABLE_DB_FUNCTIONS`` is always switched off: that insert path skips the table lock
    and a reader tailing the log can miss events.
    """
    parts = urlsplit(database_url)
    env: dict[str, str]
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise StoreConfigurationError("A SQLite URL names a file: sqlite:///var/settlement.db")
        if path != ":memory:":
            private_file(Path(path))
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    elif parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        query = parse_qs(parts.query)
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname or not parts.hostname:
            raise StoreConfigurationError(
                "A PostgreSQL URL names host and database: postgresql://user@host:5432/db"
            )
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
    else:
        raise StoreConfigurationError(
            f"Unknown database URL scheme {parts.scheme!r}: use sqlite:/// or postgresql://"
        )
    # R18: the master key of the data keys (settlement_domain/personal_keys.py); unset, the process's
    # SETTLEMENT_MASTER_KEY, else the key file (var/master-key, created once).
    if master_key:
        env["SETTLEMENT_MASTER_KEY"] = master_key
    if master_key_file:
        env["SETTLEMENT_MASTER_KEY_FILE"] = master_key_file
    if cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = cipher_key
    return env
