"""A projection's generations of tables: created, finished (indexes, statistics), dropped; and installing."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, MetaData, select, text
from sqlalchemy.schema import CreateTable

from projections.engine.projection import Projection
from projections.engine.state import STATE, state_table
from projections.engine.store import write_transaction


def lock_key(conn: Connection, name: str) -> int:
    """An advisory-lock key for ``name`` in this schema (so that test schemas never share a lock)."""
    schema = conn.execute(text("select current_schema()")).scalar_one()
    return zlib.crc32(f"settlement:{schema}:{name}".encode()) - 2**31


def create_generation(
    conn: Connection, projection: Projection, generation: int, *, indexes: bool = True
) -> None:
    """Creates one generation's tables (with their indexes and full-text search unless told not to)."""
    for table in projection.sql_tables(generation, conn.dialect).values():
        conn.execute(CreateTable(table))
    if indexes:
        finish_generation(conn, projection, generation)


def finish_generation(conn: Connection, projection: Projection, generation: int) -> None:
    """Indexes and full-text search: after a bulk load they build in one pass, faster than row by row."""
    for table in projection.sql_tables(generation, conn.dialect).values():
        for index in table.indexes:
            index.create(conn)
    for statement in projection.extra_ddl(generation, conn.dialect.name):
        conn.exec_driver_sql(statement)
    if conn.dialect.name == "postgresql":
        # Fresh statistics: without them the planner guesses at a table a bulk load just filled.
        for table in projection.sql_tables(generation, conn.dialect).values():
            conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def drop_generation(conn: Connection, projection: Projection, generation: int) -> None:
    for statement in projection.drop_ddl(generation, conn.dialect.name):
        conn.exec_driver_sql(statement)
    for table in projection.sql_tables(generation, conn.dialect).values():
        table.drop(conn, checkfirst=True)


def install(engine: Engine, projections: Iterable[Projection]) -> None:
    """Creates the state table and, for each projection never installed, its empty first generation."""
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once (API and worker) must not both create the tables.
            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": lock_key(conn, "install")})
        state_table(MetaData()).create(conn, checkfirst=True)
        installed = set(conn.execute(select(STATE.c.name)).scalars())
        for projection in projections:
            if projection.name in installed:
                continue
            drop_generation(conn, projection, 1)  # leftovers of an interrupted first install
            create_generation(conn, projection, 1)
            conn.execute(
                STATE.insert().values(
                    name=projection.name,
                    version=projection.version,
                    generation=1,
                    position=0,
                    updated_at=datetime.now(UTC),
                )
            )


def retire(engine: Engine, name: str, tables: Iterable[str]) -> None:
    """Removes a read model no longer kept: its state row and its tables of the generation that served.

    Its position would otherwise stay behind for ever, and every wait for the read models with it.
    """
    with write_transaction(engine) as conn:
        state_table(MetaData()).create(conn, checkfirst=True)
        generation = conn.execute(select(STATE.c.generation).where(STATE.c.name == name)).scalar_one_or_none()
        if generation is None:
            return
        for table in tables:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}_{table}_g{generation}"')
        conn.execute(STATE.delete().where(STATE.c.name == name))
