"""The read store: SQLAlchemy engines on the event store's own database, and its column types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.types import JSON, DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant on both backends (SQLite stores no offset, so it is added back on reading)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)  # UUIDs and enums inside event payloads


def affinity(column: Any) -> str:
    """The name of a column's generic SQL type (``JSON``, ``Integer``, ``DateTime``...)."""
    generic = column.type._type_affinity
    return generic.__name__ if generic is not None else type(column.type).__name__


def dumps(value: Any) -> str:
    """Canonical JSON: the same value always gives the same text (checksums depend on it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


# Our JSON serializer is canonical, so rows written by the live and the bulk path compare equal;
# None is SQL NULL on every path (not the JSON text "null").
JSONValue = JSON(none_as_null=True)


def schema_of(database_url: str) -> str | None:
    """The PostgreSQL schema named by ``?schema=`` (None for SQLite or the default schema)."""
    parts = urlsplit(database_url)
    return parse_qs(parts.query).get("schema", [None])[0]


def sqlalchemy_url(database_url: str) -> str:
    """The settlement database URL in SQLAlchemy's spelling (psycopg 3 driver, no ``schema`` query)."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        return database_url
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        query = "&".join(
            f"{k}={v}" for k, values in parse_qs(parts.query).items() if k != "schema" for v in values
        )
        return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, query, ""))
    raise ValueError(f"Unknown database URL scheme {parts.scheme!r}: use sqlite:/// or postgresql://")


def open_read_store(database_url: str, *, pool_size: int = 5) -> Engine:
    """An engine on the event store's database whose tables hold the read models.

    On PostgreSQL the URL's ``?schema=`` becomes the search path, so the read models sit beside the
    event table of that schema and parallel test runs never see each other's tables.
    """
    url = sqlalchemy_url(database_url)
    if url.startswith("sqlite"):
        # hide_parameters: a database error's message never carries the bound values (names, birth dates).
        engine = create_engine(url, json_serializer=dumps, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the driver, so that a writer can BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Sorts and temporary b-trees (a rebuild's index builds and set differences, a query's
            # ORDER BY without an index) in memory rather than in temporary files: a third less CPU
            # for the rebuild's comparison.
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and then writes
            # fails outright (SQLITE_BUSY_SNAPSHOT) when another writer committed in between.
            mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    schema = schema_of(database_url)
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if schema:
        connect_args["options"] = f"-c search_path={schema}"
    return create_engine(
        url,
        json_serializer=dumps,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=10,
        pool_recycle=1800,  # rather than a ping on every checkout: a round trip per read saved
        hide_parameters=True,  # no bound values (personal data) in error messages and logs
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write (on SQLite it holds the write lock from its first statement)."""
    with engine.connect() as conn, conn.execution_options(write=True).begin():
        yield conn


@contextmanager
def read_transaction(engine: Engine, *, snapshot: bool = False) -> Iterator[Connection]:
    """A read-only transaction; ``snapshot`` makes every statement in it see the same moment.

    Query functions read the serving generation and then its tables, which stays right across a swap
    (the old tables outlive it by a grace period), so they need no snapshot and skip its round trip.
    Without a snapshot, PostgreSQL reads in autocommit: in READ COMMITTED each statement has a snapshot
    of its own anyway, and BEGIN and COMMIT would cost two round trips more per read.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql" and not snapshot:
            # Reset to the engine's default when the connection goes back to the pool.
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
            return
        with conn.begin():
            if snapshot and conn.dialect.name == "postgresql":
                # READ COMMITTED would give each statement its own snapshot; this holds for this
                # transaction only, so the pooled connection needs no reset afterwards.
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn
