"""Which files of IMDi's history have been imported, when, and what did each record? (R15)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String, Text

from projections.engine.paging import Source, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.model import Import


def _columns() -> list[Column[Any]]:
    return [
        Column("import_id", String(36), primary_key=True),
        Column("file_name", Text, nullable=False),
        Column("checksum", String(64), nullable=False),
        Column("file_format", String(40), nullable=False),
        Column("rows", Integer, nullable=False),
        Column("recorded", Integer, nullable=False),
        Column("unchanged", Integer, nullable=False),
        Column("skipped", Integer, nullable=False),
        Column("revised", Integer, nullable=False),
        Column("recorded_at", UTCDateTime, nullable=False),
        Column("position", BigInteger, nullable=False),
        Column("actor_sub", Text, nullable=True),
    ]


class ImportsProjection(Projection):
    """Every imported file, from its import record (one a file: the same file twice records nothing)."""

    name = "imports"
    version = 1
    tables = (TableSpec("imports", _columns, ("import_id",)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {Import.ImportRecorded: self.recorded}

    def recorded(self, e: Import.ImportRecorded, position: int, rows: Rows) -> None:
        rows.put(
            "imports",
            {
                "import_id": str(e.originator_id),
                "file_name": e.file_name,
                "checksum": e.checksum,
                "file_format": e.file_format,
                "rows": e.rows,
                "recorded": e.recorded,
                "unchanged": e.unchanged,
                "skipped": e.skipped,
                "revised": e.revised,
                "recorded_at": e.timestamp,
                "position": position,
                "actor_sub": e.meta.get("sub"),
            },
        )


PROJECTION = ImportsProjection()


def imports(source: Source) -> list[dict[str, Any]]:
    """Every imported file, the newest first (a handful a year: no paging)."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["imports"]
        query = table.select().order_by(table.c.recorded_at.desc(), table.c.position.desc())
        return [dict(row) for row in conn.execute(query).mappings()]


def imported(source: Source, import_id: str) -> dict[str, Any] | None:
    """The record of one imported file, or None (not imported, or not folded in yet)."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["imports"]
        row = conn.execute(table.select().where(table.c.import_id == import_id)).mappings().first()
        return dict(row) if row is not None else None
