"""Which support cases has a municipality filed, and how has IMDi answered them (R16)?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String, Text

from projections.engine.paging import Source, filtered_page, reading, serving_tables, source_keys
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import SupportCase
from settlement_domain.personal_keys import (
    ERASED_VIEW,
    ViewKeys,
    aggregate_key_id,
    opened,
    opened_name,
    prefetch_view_keys,
    seal_view,
)


def _case_key(case_id: Any) -> str:
    """The case's own key (R18): its texts may name a person."""
    return aggregate_key_id("case", case_id)


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
    version = 2  # 2: subject and texts sealed with the case's key (R18)
    tables = (TableSpec("cases", _columns, ("case_id",), indexes=(("municipality",),)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            SupportCase.SupportCaseFiled: self.filed,
            SupportCase.SupportCaseAnswered: self.answered,
            SupportCase.SupportCaseTextsErased: self.texts_erased,
        }

    def filed(self, e: SupportCase.SupportCaseFiled, position: int, rows: Rows) -> None:
        rows.put(
            "cases",
            {
                "case_id": str(e.originator_id),
                "municipality": e.municipality,
                "subject": seal_view(rows.keys, _case_key(e.originator_id), e.subject),
                "text": seal_view(rows.keys, _case_key(e.originator_id), e.text),
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
            "text": seal_view(rows.keys, _case_key(e.originator_id), e.text),
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

    def texts_erased(self, e: SupportCase.SupportCaseTextsErased, position: int, rows: Rows) -> None:
        """R18: what a rebuild writes now that the case's key is gone."""
        case = rows.get("cases", (str(e.originator_id),))
        if case is None:
            raise LookupError(f"support case {e.originator_id} was never filed")
        rows.put(
            "cases",
            {
                **case,
                "subject": ERASED_VIEW,
                "text": ERASED_VIEW,
                "answers": [{**a, "text": ERASED_VIEW} for a in case["answers"]],
            },
        )


PROJECTION = SupportCasesProjection()


def _opened(keys: ViewKeys, row: dict[str, Any]) -> dict[str, Any]:
    """A case with its texts opened: ``slettet`` (subject) and empty texts once erased (R18)."""
    key = _case_key(row["case_id"])
    return {
        **row,
        "subject": opened_name(keys, key, row["subject"]),
        "text": opened(keys, key, row["text"]) or "",
        "answers": [{**a, "text": opened(keys, key, a["text"]) or ""} for a in row["answers"] or []],
    }


def support_cases(
    source: Source,
    municipality: str | None = None,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Support cases, newest first, of one municipality (or all)."""
    found = filtered_page(
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
    keys = source_keys(source)
    prefetch_view_keys(keys, [_case_key(item["case_id"]) for item in found["items"]])
    return {**found, "items": [_opened(keys, item) for item in found["items"]]}


def support_case(source: Source, case_id: str) -> dict[str, Any] | None:
    """One support case with its answers, or None."""
    with reading(source) as conn:
        cases = serving_tables(conn, PROJECTION)["cases"]
        row = conn.execute(cases.select().where(cases.c.case_id == str(case_id))).mappings().first()
    return _opened(source_keys(source), dict(row)) if row else None
