"""One state row per read model: the generation of tables that serves it, its code version, its position."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

from projections.engine.store import UTCDateTime

STATE_TABLE = "projection_state"


def state_table(metadata: MetaData) -> Table:
    """The state table in ``metadata``."""
    return Table(
        STATE_TABLE,
        metadata,
        Column("name", String(64), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("generation", Integer, nullable=False),
        Column("position", Integer, nullable=False),
        Column("updated_at", UTCDateTime, nullable=True),
    )


STATE = state_table(MetaData())


def serving_generation(conn: Connection, name: str) -> tuple[int, int] | None:
    """The generation of tables that serves the read model ``name`` and the code version that built
    it, or None when it is not installed."""
    row = conn.execute(select(STATE.c.generation, STATE.c.version).where(STATE.c.name == name)).first()
    return None if row is None else (row.generation, row.version)


def lock_states(conn: Connection, names: Iterable[str]) -> dict[str, Any]:
    """The state rows of ``names``, locked for this transaction (PostgreSQL; SQLite's write lock covers it)."""
    query = select(STATE).where(STATE.c.name.in_(list(names))).order_by(STATE.c.name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.name: row for row in conn.execute(query)}
