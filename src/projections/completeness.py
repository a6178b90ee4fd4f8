"""Is the data of a year, or of one municipality's year, complete? (R19)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String

from projections.engine.paging import Source, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.model import DataCompleteness

WHOLE_YEAR = ""  # the municipality column of a mark for the whole year
NOTICE = "Datagrunnlaget er ikke komplett"  # as the seed page shows it, on everything incomplete


def _columns() -> list[Column[Any]]:
    return [
        Column("year", Integer, primary_key=True),
        Column("municipality", String(4), primary_key=True),
        Column("complete", Boolean, nullable=False),
        Column("marked_at", UTCDateTime, nullable=False),
    ]


class CompletenessProjection(Projection):
    """IMDi's marks that a year's data, or one municipality's, is complete (R19)."""

    name = "completeness"
    version = 1
    tables = (TableSpec("marks", _columns, ("year", "municipality")),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {DataCompleteness.CompletenessMarked: self.marked}

    def marked(self, e: DataCompleteness.CompletenessMarked, position: int, rows: Rows) -> None:
        rows.put(
            "marks",
            {
                "year": e.year,
                "municipality": e.municipality or WHOLE_YEAR,
                "complete": bool(e.complete),
                "marked_at": e.timestamp,
            },
        )


PROJECTION = CompletenessProjection()


class Completeness:
    """The marks of some years, asked per municipality-year: its own mark, else its year's, else not complete."""

    def __init__(self, marks: Iterable[Mapping[Any, Any]]) -> None:
        self._marks = {(m["year"], m["municipality"]): bool(m["complete"]) for m in marks}

    def __call__(self, municipality: str | None, year: int) -> bool:
        """Whether ``municipality``'s ``year`` is complete (``None``: the whole year, as a national total)."""
        if municipality is not None and (year, municipality) in self._marks:
            return self._marks[(year, municipality)]
        return self._marks.get((year, WHOLE_YEAR), False)


def completeness(source: Source, years: Iterable[int] | None = None) -> Completeness:
    """The completeness marks of ``years`` (every year when None)."""
    with reading(source) as conn:
        marks = serving_tables(conn, PROJECTION)["marks"]
        query = marks.select()
        if years is not None:
            query = query.where(marks.c.year.in_(sorted(set(years))))
        return Completeness(conn.execute(query).mappings().all())


def marks(source: Source) -> list[dict[str, Any]]:
    """Every mark, newest year first (the whole year's before its municipalities')."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["marks"]
        rows = conn.execute(table.select().order_by(table.c.year.desc(), table.c.municipality)).mappings()
        return [{**row, "municipality": row["municipality"] or None} for row in rows]
