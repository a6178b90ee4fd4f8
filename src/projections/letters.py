"""Which letters went to a municipality, through which channel, and were they delivered (R9)?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, String

from projections.engine.paging import Source, filtered_page
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import Letter


def _columns() -> list[Column[Any]]:
    return [
        Column("letter_id", String(36), primary_key=True),
        Column("kind", String(30), nullable=False),
        Column("municipality", String(4), nullable=False),
        Column("channel", String(10), nullable=False),
        Column("status", String(10), nullable=False),
        Column("person_ids", JSONValue, nullable=False),
        Column("year", Integer, nullable=True),
        Column("cause_id", String(36), nullable=False),
        Column("cause_version", Integer, nullable=False),
        Column("issued_at", UTCDateTime, nullable=False),
        Column("opened_at", UTCDateTime, nullable=True),
        Column("posted_at", UTCDateTime, nullable=True),
    ]


class LettersProjection(Projection):
    """Letters and their delivery state: ``digital`` (sent, not yet opened), ``opened`` or ``posted``."""

    name = "letters"
    version = 1
    tables = (TableSpec("letters", _columns, ("letter_id",), indexes=(("municipality", "issued_at"),)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {Letter.LetterIssued: self.issued}

    def issued(self, e: Letter.LetterIssued, position: int, rows: Rows) -> None:
        by_post = e.channel == "post"
        rows.put(
            "letters",
            {
                "letter_id": str(e.originator_id),
                "kind": e.kind,
                "municipality": e.municipality,
                "channel": e.channel,
                "status": "posted" if by_post else "digital",
                "person_ids": [str(p) for p in e.person_ids],
                "year": e.year,
                "cause_id": str(e.cause_id),
                "cause_version": e.cause_version,
                "issued_at": e.timestamp,
                "opened_at": None,
                "posted_at": e.timestamp if by_post else None,
            },
        )


PROJECTION = LettersProjection()


def letters(
    source: Source,
    municipality: str | None = None,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Letters, newest first, of one municipality (or all), optionally by delivery state."""
    return filtered_page(
        source,
        PROJECTION,
        "letters",
        ("issued_at", "letter_id"),
        (datetime, str),
        cursor=cursor,
        limit=limit,
        municipality=municipality,
        status=status,
    )
