"""Which letters went to a municipality, through which channel, and were they delivered (R9)?

Also the outbox's index: which letters wait for a delivery, which digital ones wait to be opened,
and which are due to go by post. The outbox decides on the letter itself (the aggregate); these rows
only tell it where to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Text, and_, or_, select

from projections.engine.paging import Source, filtered_page, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import FALLBACK_AFTER, Letter

# pending: waiting for a delivery (the first, or by post after 48 hours unopened), also between
# retries; failed: a permanent failure that waits for IMDi; digital: sent by digital post, not
# opened; opened; posted: sent by post.
STATUSES = ("pending", "failed", "digital", "opened", "posted")


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
        Column("reference", String(30), nullable=True),
        Column("letter_date", String(10), nullable=True),
        Column("pending_delivery", String(10), nullable=True),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", UTCDateTime, nullable=True),
        Column("failure_reason", Text, nullable=True),
        Column("dispatched_at", UTCDateTime, nullable=True),
        Column("fallback_due_at", UTCDateTime, nullable=True),
        Column("fallback_at", UTCDateTime, nullable=True),
        Column("needs_attention", Boolean, nullable=False),
    ]


def _history_columns() -> list[Column[Any]]:
    return [
        Column("letter_id", String(36), primary_key=True),
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("at", UTCDateTime, nullable=False),
        Column("event", String(20), nullable=False),
        Column("delivery", String(10), nullable=True),
        Column("channel", String(10), nullable=True),
        Column("shipment_id", Text, nullable=True),
        Column("reason", Text, nullable=True),
        Column("next_attempt_at", UTCDateTime, nullable=True),
    ]


class LettersProjection(Projection):
    """Letters and their delivery: the current state of each, and the history of its deliveries."""

    name = "letters"
    version = 2  # 2: delivery (dispatch, failures, opened, fallback to post) and its history (R9)
    tables = (
        TableSpec(
            "letters",
            _columns,
            ("letter_id",),
            indexes=(
                ("municipality", "issued_at"),
                ("status", "next_attempt_at"),
                ("status", "fallback_due_at"),
            ),
        ),
        TableSpec("history", _history_columns, ("letter_id", "position")),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            Letter.LetterIssued: self.issued,
            Letter.LetterDispatched: self.dispatched,
            Letter.LetterDeliveryFailed: self.failed,
            Letter.LetterDeliveryRetried: self.retried,
            Letter.LetterOpened: self.opened,
            Letter.LetterFellBackToPaper: self.fell_back,
        }

    def _history(self, e: Any, position: int, rows: Rows, event: str, **values: Any) -> None:
        rows.append(
            "history",
            {
                "letter_id": str(e.originator_id),
                "position": position,
                "at": e.timestamp,
                "event": event,
                "delivery": None,
                "channel": None,
                "shipment_id": None,
                "reason": None,
                "next_attempt_at": None,
                **values,
            },
        )

    def _update(self, e: Any, rows: Rows, **values: Any) -> None:
        row = rows.get("letters", (str(e.originator_id),))
        if row is None:
            raise LookupError(f"letter {e.originator_id} was never issued")
        rows.put("letters", {**row, **values})

    def issued(self, e: Letter.LetterIssued, position: int, rows: Rows) -> None:
        letter_date = e.content.get("date") or e.timestamp.date()  # a version-1 letter: the day it was issued
        rows.put(
            "letters",
            {
                "letter_id": str(e.originator_id),
                "kind": e.kind,
                "municipality": e.municipality,
                "channel": e.channel,
                "status": "pending",
                "person_ids": [str(p) for p in e.person_ids],
                "year": e.year,
                "cause_id": str(e.cause_id),
                "cause_version": e.cause_version,
                "issued_at": e.timestamp,
                "opened_at": None,
                "posted_at": None,
                "reference": e.content.get("reference"),
                "letter_date": letter_date.isoformat() if isinstance(letter_date, date) else letter_date,
                "pending_delivery": "paper" if e.channel == "post" else "digital",
                "attempts": 0,
                "next_attempt_at": None,
                "failure_reason": None,
                "dispatched_at": None,
                "fallback_due_at": None,
                "fallback_at": None,
                "needs_attention": False,
            },
        )
        self._history(e, position, rows, "issued", delivery="paper" if e.channel == "post" else "digital")

    def dispatched(self, e: Letter.LetterDispatched, position: int, rows: Rows) -> None:
        values: dict[str, Any] = {
            "pending_delivery": None,
            "attempts": 0,
            "next_attempt_at": None,
            "failure_reason": None,
            "needs_attention": False,
        }
        if e.delivery == "paper":
            values |= {"status": "posted", "posted_at": e.dispatched_at}
        else:
            values |= {
                "status": "digital",
                "dispatched_at": e.dispatched_at,
                "fallback_due_at": e.dispatched_at + FALLBACK_AFTER,
            }
        self._update(e, rows, **values)
        self._history(
            e, position, rows, "dispatched", delivery=e.delivery, channel=e.channel, shipment_id=e.shipment_id
        )

    def failed(self, e: Letter.LetterDeliveryFailed, position: int, rows: Rows) -> None:
        self._update(
            e,
            rows,
            status="failed" if e.permanent else "pending",
            attempts=e.attempt,
            next_attempt_at=e.next_attempt_at,
            failure_reason=e.reason,
            needs_attention=e.permanent,
        )
        self._history(
            e,
            position,
            rows,
            "failed",
            delivery=e.delivery,
            channel=e.channel,
            reason=e.reason,
            next_attempt_at=e.next_attempt_at,
        )

    def retried(self, e: Letter.LetterDeliveryRetried, position: int, rows: Rows) -> None:
        self._update(
            e,
            rows,
            status="pending",
            attempts=0,
            next_attempt_at=None,
            needs_attention=False,
            failure_reason=None,
        )
        self._history(e, position, rows, "retried", delivery=e.delivery)

    def opened(self, e: Letter.LetterOpened, position: int, rows: Rows) -> None:
        row = rows.get("letters", (str(e.originator_id),))
        status = "opened" if row is not None and row["status"] == "digital" else None
        self._update(e, rows, opened_at=e.opened_at, **({"status": status} if status else {}))
        self._history(e, position, rows, "opened", channel=e.source)

    def fell_back(self, e: Letter.LetterFellBackToPaper, position: int, rows: Rows) -> None:
        self._update(
            e,
            rows,
            status="pending",
            pending_delivery="paper",
            fallback_at=e.fallback_at,
            attempts=0,
            next_attempt_at=None,
        )
        self._history(e, position, rows, "fell_back", delivery="paper")


PROJECTION = LettersProjection()


def letters(
    source: Source,
    municipality: str | None = None,
    *,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Letters, newest first, of one municipality (or all), optionally by delivery state and kind,
    each with its delivery history."""
    found = filtered_page(
        source,
        PROJECTION,
        "letters",
        ("issued_at", "letter_id"),
        (datetime, str),
        cursor=cursor,
        limit=limit,
        municipality=municipality,
        status=status,
        kind=kind,
    )
    history = histories(source, [item["letter_id"] for item in found["items"]])
    for item in found["items"]:
        item["history"] = history.get(item["letter_id"], [])
    return found


def histories(source: Source, letter_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each letter's delivery history, oldest first."""
    ids = list(letter_ids)
    if not ids:
        return {}
    with reading(source) as conn:
        history = serving_tables(conn, PROJECTION)["history"]
        rows = conn.execute(
            history.select()
            .where(history.c.letter_id.in_(ids))
            .order_by(history.c.letter_id, history.c.position)
        ).mappings()
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            step = {k: v for k, v in row.items() if k not in ("letter_id", "position")}
            found.setdefault(row["letter_id"], []).append(step)
    return found


def letter(source: Source, letter_id: str) -> dict[str, Any] | None:
    """One letter with its delivery history, or None."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["letters"]
        row = conn.execute(table.select().where(table.c.letter_id == letter_id)).mappings().first()
    if row is None:
        return None
    return {**row, "history": histories(source, [letter_id]).get(letter_id, [])}


def letters_of(
    source: Source, municipality: str | None = None, *, since: date | None = None, person: str | None = None
) -> list[dict[str, Any]]:
    """Every letter (of one municipality, issued on or after ``since``, naming ``person``), oldest first."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["letters"]
        query = table.select().order_by(table.c.issued_at, table.c.letter_id)
        if municipality is not None:
            query = query.where(table.c.municipality == municipality)
        if since is not None:
            query = query.where(table.c.letter_date >= since.isoformat())
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if person is not None:
        rows = [r for r in rows if person in r["person_ids"]]
    return rows


def undelivered_naming(source: Source, person: str) -> list[str]:
    """R18e: the letters naming ``person`` that may still go out: a delivery waiting (``pending``) or
    sent by digital post and not opened (``digital``: it may still fall back to paper). The erasure
    loads each one to decide on its own state; the few letters in flight are read, never the whole
    table."""
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["letters"]
        query = select(table.c.letter_id, table.c.person_ids).where(
            table.c.status.in_(("pending", "digital"))
        )
        return [row.letter_id for row in conn.execute(query) if person in (row.person_ids or [])]


# The outbox's index ------------------------------------------------------------------------------


def _ids(source: Source, condition: Any, order: Any, limit: int) -> list[str]:
    with reading(source) as conn:
        table = serving_tables(conn, PROJECTION)["letters"]
        query = select(table.c.letter_id).where(condition(table)).order_by(*order(table)).limit(limit)
        return [row[0] for row in conn.execute(query)]


def due_deliveries(source: Source, now: datetime, limit: int = 100) -> list[str]:
    """Letters waiting for a delivery that may be tried at ``now``, oldest first."""
    return _ids(
        source,
        lambda t: and_(
            t.c.status == "pending", or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now)
        ),
        lambda t: (t.c.issued_at, t.c.letter_id),
        limit,
    )


def awaiting_opening(source: Source, limit: int = 500) -> list[str]:
    """Letters sent by digital post and not opened yet, the earliest due first."""
    return _ids(
        source, lambda t: t.c.status == "digital", lambda t: (t.c.fallback_due_at, t.c.letter_id), limit
    )


def fallback_due(source: Source, now: datetime, limit: int = 500) -> list[str]:
    """R9: letters sent by digital post 48 hours or more before ``now`` and not opened."""
    return _ids(
        source,
        lambda t: and_(t.c.status == "digital", t.c.fallback_due_at <= now),
        lambda t: (t.c.fallback_due_at, t.c.letter_id),
        limit,
    )
