"""Which municipalities report vacant capacity for unaccompanied minors over 15 (R11)?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Text

from projections.base import Projection, Rows, TableSpec
from projections.store import UTCDateTime
from projections.views import Source, check_limit, keyset, page, reading, serving_tables


def _columns() -> list[Column[Any]]:
    return [
        Column("capacity_id", String(36), primary_key=True),
        Column("municipality", String(4), nullable=False),
        Column("places", Integer, nullable=False),
        Column("expected_week", String(8), nullable=False),
        Column("min_age", Integer, nullable=False),
        Column("max_age", Integer, nullable=False),
        Column("round_the_clock_staffing", Boolean, nullable=False),
        Column("special_conditions", Text, nullable=False),
        Column("status", String(10), nullable=False),
        Column("withdrawal_reason", Text, nullable=True),
        Column("reported_at", UTCDateTime, nullable=False),
        Column("closed_at", UTCDateTime, nullable=True),
    ]


class MinorCapacityProjection(Projection):
    """Capacity reports for unaccompanied minors and whether they are open, withdrawn or filled."""

    name = "minor_capacity"
    version = 1
    tables = (TableSpec("reports", _columns, ("capacity_id",), indexes=(("municipality",),)),)
    handles = frozenset({"MinorCapacityReported", "MinorCapacityWithdrawn", "MinorCapacityFilled"})

    def on_MinorCapacityReported(self, e: Any, position: int, rows: Rows) -> None:
        rows.put(
            "reports",
            {
                "capacity_id": str(e.originator_id), "municipality": e.municipality, "places": e.places,
                "expected_week": e.expected_week, "min_age": e.min_age, "max_age": e.max_age,
                "round_the_clock_staffing": bool(e.round_the_clock_staffing),
                "special_conditions": e.special_conditions, "status": "open", "withdrawal_reason": None,
                "reported_at": e.timestamp, "closed_at": None,
            },
        )

    def _close(self, rows: Rows, e: Any, **changes: Any) -> None:
        report = rows.get("reports", (str(e.originator_id),))
        if report is None:
            raise LookupError(f"capacity report {e.originator_id} was never made")
        rows.put("reports", {**report, **changes, "closed_at": e.timestamp})

    def on_MinorCapacityWithdrawn(self, e: Any, position: int, rows: Rows) -> None:
        self._close(rows, e, status="withdrawn", withdrawal_reason=e.reason)

    def on_MinorCapacityFilled(self, e: Any, position: int, rows: Rows) -> None:
        self._close(rows, e, status="filled")


PROJECTION = MinorCapacityProjection()


def minor_capacity_reports(
    source: Source,
    municipality: str | None = None,
    *,
    open_only: bool = False,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Capacity reports ordered by expected week, then id; only open ones when ``open_only``."""
    check_limit(limit)
    with reading(source) as conn:
        reports = serving_tables(conn, PROJECTION)["reports"]
        query = reports.select()
        if municipality is not None:
            query = query.where(reports.c.municipality == municipality)
        if open_only:
            query = query.where(reports.c.status == "open")
        query = keyset(query, reports.c.expected_week, reports.c.capacity_id, cursor, (str, str), limit,
                       newest_first=False)
        rows = conn.execute(query).mappings().all()
    return page([dict(r) for r in rows], limit, lambda item: [item["expected_week"], item["capacity_id"]])
