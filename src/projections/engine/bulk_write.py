"""Writing many new rows at once: COPY on PostgreSQL, the driver's executemany on SQLite."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Boolean, Connection, Date, Table
from sqlalchemy.dialects import sqlite as sqlite_dialect

from projections.engine.store import UTCDateTime, affinity, dumps

_DATETIME = datetime
_DATE = date


def sqlite_instant(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite for a ``UTCDateTime`` (the instant in UTC without offset,
    ``YYYY-MM-DD HH:MM:SS.ffffff``), without its two processing steps per value."""
    if type(value) is not _DATETIME:
        return _SLOW_INSTANT(value)
    if value.tzinfo is UTC and value.year >= 1000:  # the decoded events' instants: drop "+00:00"
        return value.isoformat(" ", "microseconds")[:-6]
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.year < 1000:  # isoformat and SQLAlchemy's format agree from year 1000
        return _SLOW_INSTANT(value)
    return value.isoformat(" ", "microseconds")


def sqlite_date(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite for a ``Date`` (``YYYY-MM-DD``)."""
    if type(value) is not _DATE or value.year < 1000:
        return _SLOW_DATE(value)
    return value.isoformat()


def _sqlalchemy_processor(column_type: Any) -> Any:
    dialect = sqlite_dialect.dialect()
    return column_type.dialect_impl(dialect).bind_processor(dialect)


_SLOW_INSTANT = _sqlalchemy_processor(UTCDateTime())
_SLOW_DATE = _sqlalchemy_processor(Date())
_SQLITE_FAST: dict[type, Any] = {UTCDateTime: sqlite_instant, Date: sqlite_date}

if TYPE_CHECKING:
    import psycopg


def bulk_write(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Inserts ``rows`` (all new) into ``table`` inside ``conn``'s transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = [c.name for c in table.columns]
        json_columns = {c.name for c in table.columns if affinity(c) == "JSON"}
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(
                    [dumps(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns]
                )
        return
    # The driver's executemany on tuples the column types prepared: SQLAlchemy's per-row
    # bookkeeping would cost more than SQLite's insert itself.
    sql_columns = list(table.columns)
    names = [c.name for c in sql_columns]
    values_of = _getter(names)
    conversions = _sqlite_conversions(conn, sql_columns)
    prepared = _prepared([values_of(row) for row in rows], conversions)
    sqlite = conn.connection.dbapi_connection
    assert sqlite is not None
    inserting = sqlite.cursor()
    inserting.executemany(
        f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})', prepared
    )
    inserting.close()


def bulk_delete(
    conn: Connection, table: Table, key_columns: Sequence[str], keys: list[tuple[Any, ...]]
) -> None:
    """Deletes the rows of ``table`` with these keys inside ``conn``'s transaction (one statement,
    the driver's executemany)."""
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        assert raw is not None
        where = " AND ".join(f'"{c}" = %s' for c in key_columns)
        with raw.cursor() as cursor:
            cursor.executemany(f'DELETE FROM "{table.name}" WHERE {where}', keys)
        return
    conversions = _sqlite_conversions(conn, [table.c[c] for c in key_columns])
    sqlite = conn.connection.dbapi_connection
    assert sqlite is not None
    deleting = sqlite.cursor()
    where = " AND ".join(f'"{c}" = ?' for c in key_columns)
    deleting.executemany(f'DELETE FROM "{table.name}" WHERE {where}', _prepared(keys, conversions))
    deleting.close()


def _getter(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return operator.itemgetter(*names)


def _sqlite_conversions(conn: Connection, columns: Sequence[Any]) -> list[tuple[int, Any]]:
    """Only dates, instants and JSON need converting; SQLite takes the other values as they are."""
    return [
        (i, _SQLITE_FAST.get(type(c.type), f))
        for i, c in enumerate(columns)
        if not isinstance(c.type, Boolean)
        and (f := c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)) is not None
    ]


def _prepared(values: list[tuple[Any, ...]], conversions: list[tuple[int, Any]]) -> list[Any]:
    if not conversions:
        return values
    prepared = []
    for row in values:
        converted = list(row)
        for i, f in conversions:
            if converted[i] is not None:
                converted[i] = f(converted[i])
        prepared.append(converted)
    return prepared
