"""Which municipalities report vacant capacity for unaccompanied minors over 15 (R11)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Text

from projections.engine.paging import Source, filtered_page, source_keys
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.model import MinorCapacity
from settlement_domain.personal_keys import aggregate_key_id, opened, prefetch_view_keys, seal_view


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
    version = 2  # 2: the withdrawal's reason sealed with the report's key (R18)
    tables = (TableSpec("reports", _columns, ("capacity_id",), indexes=(("municipality",),)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            MinorCapacity.MinorCapacityReported: self.reported,
            MinorCapacity.MinorCapacityWithdrawn: self.withdrawn,
            MinorCapacity.MinorCapacityFilled: self.filled,
        }

    def reported(self, e: MinorCapacity.MinorCapacityReported, position: int, rows: Rows) -> None:
        rows.put(
            "reports",
            {
                "capacity_id": str(e.originator_id),
                "municipality": e.municipality,
                "places": e.places,
                "expected_week": e.expected_week,
                "min_age": e.min_age,
                "max_age": e.max_age,
                "round_the_clock_staffing": bool(e.round_the_clock_staffing),
                "special_conditions": e.special_conditions,
                "status": "open",
                "withdrawal_reason": None,
                "reported_at": e.timestamp,
                "closed_at": None,
            },
        )

    def _close(self, rows: Rows, e: Any, **changes: Any) -> None:
        self.update(rows, "reports", (str(e.originator_id),), **changes, closed_at=e.timestamp)

    def withdrawn(self, e: MinorCapacity.MinorCapacityWithdrawn, position: int, rows: Rows) -> None:
        # R18: the reason may name a person: sealed with the report's own key.
        reason = seal_view(rows.keys, aggregate_key_id("capacity", e.originator_id), e.reason)
        self._close(rows, e, status="withdrawn", withdrawal_reason=reason)

    def filled(self, e: MinorCapacity.MinorCapacityFilled, position: int, rows: Rows) -> None:
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
    found = filtered_page(
        source,
        PROJECTION,
        "reports",
        ("expected_week", "capacity_id"),
        (str, str),
        cursor=cursor,
        limit=limit,
        newest_first=False,
        municipality=municipality,
        status="open" if open_only else None,
    )
    keys = source_keys(source)
    withdrawn = [item for item in found["items"] if item["withdrawal_reason"] is not None]
    prefetch_view_keys(keys, [aggregate_key_id("capacity", item["capacity_id"]) for item in withdrawn])
    for item in withdrawn:
        key = aggregate_key_id("capacity", item["capacity_id"])
        item["withdrawal_reason"] = opened(keys, key, item["withdrawal_reason"]) or ""
    return found
