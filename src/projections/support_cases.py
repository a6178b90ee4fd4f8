"""Which support cases has a municipality filed, and how has IMDi answered them (R16)?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String, Text

from projections.engine.paging import Source, filtered_page, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import SupportCase


def _columns() -> list[Column[Any]]:
    return [
        Column("case_id", String(36), primary_key=True),
        Column("municipality", String(4), nullable=False),
        Column("subject", Text, nullable=False),
        Column("text", Text, nullable=False),
        Column("status", String(10), nullable=False),
        Column("answers", JSONValue, nullable=False),
        Column("answer_count", Integer, nullable=False),
        Column("filed_by", Text, nullable=False),
        Column("filed_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


class SupportCasesProjection(Projection):
    """Support cases with their answers: open, answered or closed."""

    name = "support_cases"
    version = 1
    tables = (TableSpec("cases", _columns, ("case_id",), indexes=(("municipality",),)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {SupportCase.SupportCaseFiled: self.filed, SupportCase.SupportCaseAnswered: self.answered}

    def filed(self, e: SupportCase.SupportCaseFiled, position: int, rows: Rows) -> None:
        rows.put(
            "cases",
            {
                "case_id": str(e.originator_id),
                "municipality": e.municipality,
                "subject": e.subject,
                "text": e.text,
                "status": "open",
                "answers": [],
                "answer_count": 0,
                "filed_by": e.meta.get("sub"),
                "filed_at": e.timestamp,
                "updated_at": e.timestamp,
            },
        )

    def answered(self, e: SupportCase.SupportCaseAnswered, position: int, rows: Rows) -> None:
        case = rows.get("cases", (str(e.originator_id),))
        if case is None:
            raise LookupError(f"support case {e.originator_id} was never filed")
        answer = {
            "text": e.text,
            "answered_by": e.meta.get("sub"),
            "answered_at": e.timestamp.isoformat(),
            "closed": bool(e.closed),
        }
        rows.put(
            "cases",
            {
                **case,
                "answers": [*case["answers"], answer],
                "answer_count": case["answer_count"] + 1,
                "status": "closed" if e.closed else "answered",
                "updated_at": e.timestamp,
            },
        )


PROJECTION = SupportCasesProjection()


def support_cases(
    source: Source,
    municipality: str | None = None,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Support cases, newest first, of one municipality (or all)."""
    return filtered_page(
        source,
        PROJECTION,
        "cases",
        ("filed_at", "case_id"),
        (datetime, str),
        cursor=cursor,
        limit=limit,
        municipality=municipality,
        status=status,
    )


def support_case(source: Source, case_id: str) -> dict[str, Any] | None:
    """One support case with its answers, or None."""
    with reading(source) as conn:
        cases = serving_tables(conn, PROJECTION)["cases"]
        row = conn.execute(cases.select().where(cases.c.case_id == str(case_id))).mappings().first()
    return dict(row) if row else None
