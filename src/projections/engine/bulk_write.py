"""Writing many new rows at once: COPY on PostgreSQL, the driver's executemany on SQLite."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Boolean, Connection, Table

from projections.engine.store import affinity, dumps

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
    values_of = operator.itemgetter(*names)
    # Only dates, instants and JSON need converting; SQLite takes the other values as they are.
    conversions = [
        (i, f)
        for i, c in enumerate(sql_columns)
        if not isinstance(c.type, Boolean)
        and (f := c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)) is not None
    ]
    if conversions:
        prepared = []
        for row in rows:
            values = list(values_of(row))
            for i, f in conversions:
                if values[i] is not None:
                    values[i] = f(values[i])
            prepared.append(values)
    else:
        prepared = [values_of(row) for row in rows]
    sqlite = conn.connection.dbapi_connection
    assert sqlite is not None
    inserting = sqlite.cursor()
    inserting.executemany(
        f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})', prepared
    )
    inserting.close()
