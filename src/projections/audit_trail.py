"""Who did what to which case, and when (R14)? Every event, indexed and searchable, without personal data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String, Text, func, or_, select, text

from projections.engine.paging import Source, check_limit, decode_cursor, page, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.model import (
    DataCompleteness,
    DistributionList,
    Export,
    Family,
    FamilyKey,
    FolderRead,
    IdempotencyRecord,
    Import,
    Letter,
    ListingRead,
    MinorCapacity,
    Municipality,
    QuotaYear,
    Refugee,
    SupportCase,
)

# On SQLite an INTEGER primary key is the rowid itself, which the full-text index points at.
POSITION = BigInteger().with_variant(Integer(), "sqlite")


def _event_columns() -> list[Column[Any]]:
    return [
        Column("position", POSITION, primary_key=True, autoincrement=False),
        Column("recorded_at", UTCDateTime, nullable=False),
        Column("type", String(60), nullable=False),
        Column("aggregate_id", String(36), nullable=False),
        Column("person_id", String(36), nullable=True),
        Column("municipality", String(4), nullable=True),
        Column("actor_sub", Text, nullable=True),
        Column("actor_role", String(20), nullable=True),
        Column("actor_municipality", String(4), nullable=True),
        Column("correlation_id", Text, nullable=True),
        Column("summary", Text, nullable=False),
    ]


def _event_person_columns() -> list[Column[Any]]:
    # Every person an event concerns (a list or a selection letter names several).
    return [
        Column("person_id", String(36), primary_key=True),
        Column("position", POSITION, primary_key=True, autoincrement=False),
    ]


def _access_columns() -> list[Column[Any]]:
    # A municipality's "own cases" include the whole history of the persons it selected (R6).
    return [
        Column("person_id", String(36), primary_key=True),
        Column("municipality", String(4), primary_key=True),
    ]


def _case_columns() -> list[Column[Any]]:
    # Events that do not name their municipality take it from their case (aggregate).
    return [
        Column("aggregate_id", String(36), primary_key=True),
        Column("municipality", String(4), nullable=False),
    ]


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _minors(count: int | None) -> str:
    if count is None:  # an imported figure without the split (R15)
        return "unaccompanied minors not given"
    return f"{count} unaccompanied minor" + ("" if count == 1 else "s")


def _source(e: Any) -> str:
    """``, imported from file.csv line 12`` for a figure from IMDi's statistics (R15), else nothing."""
    source = e.source
    return "" if source is None else f", imported from {source['file_name']} line {source['line']}"


def _places(count: int) -> str:
    return f"{count} place" + ("" if count == 1 else "s")


# One line per event class. Only ids, numbers, dates, enums and municipality numbers: never a name,
# birth date, address, mapping, health detail or free text (reasons, descriptions, subjects may hold any).
SUMMARIES: dict[type[Any], Callable[[Any], str]] = {
    Municipality.MunicipalityRegistered: lambda e: (
        f"Municipality {e.number} {e.name} registered in {e.county}"
    ),
    Municipality.ContactInformationUpdated: lambda e: "Contact information updated",
    Municipality.MunicipalityRenamed: lambda e: (
        f"Municipality {e.number} renamed from {e.previous_name} to {e.name}"
    ),
    QuotaYear.QuotaYearOpened: lambda e: f"Quota year {e.year} opened for {e.municipality}",
    QuotaYear.SettlementRequested: lambda e: (
        f"Settlement request for {e.year}: {e.persons} persons, {_minors(e.unaccompanied_minors)}"
        + (f" (revision {e.revision})" if e.revision else "")
        + _source(e)
    ),
    QuotaYear.QuotaDecided: lambda e: (
        f"Quota decision for {e.year}: {e.persons} persons, {_minors(e.unaccompanied_minors)}"
        + (f", decided on {e.decided_on.isoformat()}" if e.decided_on else "")
        + (" (recorded by IMDi)" if e.recorded_by_imdi and e.source is None else "")
        + (f" (revision {e.revision})" if e.revision else "")
        + _source(e)
    ),
    QuotaYear.HistoricalSettledCountRecorded: lambda e: (
        f"Settled in {e.year} according to IMDi's statistics: {e.persons} persons"
        + (f" (revision {e.revision})" if e.revision else "")
        + _source(e)
    ),
    QuotaYear.PlacesTakenBySelection: lambda e: (
        f"{_places(len(e.refugee_ids))} of {e.year} taken in {e.municipality} "
        + ("by a selection" if e.meta.get("source") else f"by distribution list {e.list_id}")
        + (f", {_minors(e.unaccompanied_minors)}" if e.unaccompanied_minors else "")
    ),
    QuotaYear.SettlementPlaceTaken: lambda e: (
        f"Place of {e.year} taken in {e.municipality}"
        + (" for an unaccompanied minor" if e.unaccompanied_minor else "")
        + (" by override" if e.override_reason else "")
    ),
    QuotaYear.SettlementPlaceReleased: lambda e: (
        f"Place of {e.year} released in {e.municipality}"
        + (" for an unaccompanied minor" if e.unaccompanied_minor else "")
        + f", moved to {e.to_year}"
    ),
    DataCompleteness.DataCompletenessOpened: lambda e: f"Completeness marks opened for {e.year}",
    DataCompleteness.CompletenessMarked: lambda e: (
        f"Data for {e.year}"
        + (f" of {e.municipality}" if e.municipality else ", the whole year,")
        + (" marked complete" if e.complete else " marked not complete")
    ),
    Import.ImportRecorded: lambda e: (
        f"File {e.file_name} imported ({e.file_format}): {e.recorded} figures recorded, "
        f"{e.unchanged} already stored, {e.skipped} rows skipped"
        + (f", {e.revised} revised" if e.revised else "")
    ),
    Refugee.RefugeeRegistered: lambda e: (
        f"Person registered: {e.category.replace('_', ' ')}, "
        + ("reception centre" if e.residence.get("kind") == "reception_centre" else "private residence")
        + (", unaccompanied minor" if e.unaccompanied_minor else "")
        + (", in a family" if e.family_id else "")
    ),
    Refugee.MappingRecorded: lambda e: "Mapping recorded",
    Refugee.RefugeeProposed: lambda e: f"Proposed to {e.municipality} on distribution list {e.list_id}",
    Refugee.ProposalWithdrawn: lambda e: f"Proposal withdrawn with distribution list {e.list_id}",
    Refugee.RefugeeDeclined: lambda e: f"Declined by {e.municipality} on distribution list {e.list_id}",
    Refugee.RefugeeSelected: lambda e: (
        f"Selected by {e.municipality} for {e.year} on {e.selected_on.isoformat()}"
    ),
    Refugee.SettlementDecided: lambda e: (
        f"Settlement in {e.municipality} decided for {e.year} on {e.decided_on.isoformat()}"
        + (" by override" if e.override_reason else "")
    ),
    Refugee.SettlementDateRegistered: lambda e: (
        f"Settlement date {e.settlement_date.isoformat()} registered in {e.municipality} (from {e.source})"
    ),
    Refugee.SettlementDateCorrected: lambda e: (
        f"Settlement date corrected from {e.previous_date.isoformat()} to {e.settlement_date.isoformat()}"
        if e.previous_date is not None
        # R7d: IMDi sets the first date where the municipality may not.
        else f"Settlement date {e.settlement_date.isoformat()} set by IMDi in {e.municipality}"
    ),
    Refugee.DeviationOpened: lambda e: (
        "Deviation opened"
        + (" (registered as private by a known deviation)" if e.registered_private_by_known_deviation else "")
    ),
    Refugee.DeviationResolved: lambda e: "Deviation resolved",
    DistributionList.DistributionListCreated: lambda e: (
        f"Distribution list for {e.municipality} for {e.year} created with {len(e.refugee_ids)} persons, "
        f"respond by {e.respond_by.isoformat()}"
    ),
    DistributionList.DistributionListApproved: lambda e: (
        f"Distribution list approved by {e.municipality}: {len(e.accepted)} accepted, {len(e.declined)} declined"
    ),
    DistributionList.DistributionListWithdrawn: lambda e: f"Distribution list for {e.municipality} withdrawn",
    MinorCapacity.MinorCapacityReported: lambda e: (
        f"Capacity for {e.places} unaccompanied minors aged {e.min_age}-{e.max_age} reported for "
        f"{e.expected_week}" + (", staffed around the clock" if e.round_the_clock_staffing else "")
    ),
    MinorCapacity.MinorCapacityWithdrawn: lambda e: "Capacity report withdrawn",
    MinorCapacity.MinorCapacityFilled: lambda e: "Capacity report filled",
    SupportCase.SupportCaseFiled: lambda e: f"Support case filed by {e.municipality}",
    SupportCase.SupportCaseAnswered: lambda e: "Support case answered" + (" and closed" if e.closed else ""),
    Letter.LetterIssued: lambda e: (
        f"{e.kind.replace('_', ' ').capitalize()} letter"
        + (f" for {e.year}" if e.year else "")
        + f" issued by {'digital post' if e.channel == 'digital' else 'post'}"
    ),
    Letter.LetterDispatched: lambda e: f"Letter sent through the {e.channel} channel ({e.delivery})",
    Letter.LetterDeliveryFailed: lambda e: (
        f"Letter delivery through the {e.channel} channel failed"
        + (", needs attention" if e.permanent else f" (attempt {e.attempt})")
    ),
    Letter.LetterDeliveryRetried: lambda e: "Letter delivery retried",
    Letter.LetterOpened: lambda e: (
        f"Letter opened ({'reported by the channel' if e.source == 'channel' else 'callback'})"
    ),
    Letter.LetterFellBackToPaper: lambda e: "Letter not opened within 48 hours: sent by post (R9)",
    Export.ExportMade: lambda e: (
        f"Case file exported as {e.format}"
        if e.kind == "case_file"
        else f"{len(e.letter_ids)} letters of {e.municipality} exported"
    ),
    FolderRead.PersonFolderViewed: lambda e: "Person folder viewed",
    # R18: the legal basis and reason are free text and stay out of the trail, like every reason.
    Refugee.PersonalDataErased: lambda e: "Personal data erased (R18)",
    ListingRead.PersonalDataListed: lambda e: (
        f"Personal data listed: {e.what}, {len(e.refugee_ids)} person{'' if len(e.refugee_ids) == 1 else 's'}"
        if e.refugee_ids
        else f"Personal data listed: {e.what} (persons no longer readable, R14)"
    ),
    Family.FamilyFormed: lambda e: "Family formed",
    Family.FamilyMemberAdded: lambda e: "Family member added",
    FamilyKey.FamilyKeyCreated: lambda e: "Family key created",
    IdempotencyRecord.IdempotencyKeyRecorded: lambda e: "Idempotency key recorded",
}

# Events of a person's case: the aggregate is the person.
REFUGEE_EVENTS = frozenset(
    {
        Refugee.RefugeeRegistered, Refugee.MappingRecorded, Refugee.RefugeeProposed, Refugee.ProposalWithdrawn,
        Refugee.RefugeeDeclined, Refugee.RefugeeSelected, Refugee.SettlementDecided,
        Refugee.SettlementDateRegistered, Refugee.SettlementDateCorrected, Refugee.DeviationOpened,
        Refugee.DeviationResolved, Refugee.PersonalDataErased,
    }
)  # fmt: skip
# Events naming one person by ``refugee_id``.
ONE_PERSON_EVENTS = frozenset(
    {
        QuotaYear.SettlementPlaceTaken, QuotaYear.SettlementPlaceReleased, FolderRead.PersonFolderViewed,
        Family.FamilyMemberAdded,
    }
)  # fmt: skip
# Events whose aggregate keeps the municipality they name: later events of the case inherit it.
OPENS_CASE = frozenset(
    {
        Municipality.MunicipalityRegistered, MinorCapacity.MinorCapacityReported, SupportCase.SupportCaseFiled,
        Refugee.RefugeeProposed, Refugee.RefugeeSelected, Refugee.SettlementDecided, Letter.LetterIssued,
    }
)  # fmt: skip
# After these a person belongs to no municipality until proposed again.
CLOSES_CASE = frozenset({Refugee.ProposalWithdrawn, Refugee.RefugeeDeclined})
# These open a person's whole history to the municipality (R6).
GRANTS_ACCESS = frozenset({Refugee.RefugeeSelected, Refugee.SettlementDecided})


def persons_of(e: Any) -> list[str]:
    """The persons an event concerns."""
    kind = type(e)
    if kind in REFUGEE_EVENTS:
        return [str(e.originator_id)]
    if kind in ONE_PERSON_EVENTS:
        # A read record past its retention period no longer names its person (R14).
        return [str(e.refugee_id)] if e.refugee_id is not None else []
    if kind is Letter.LetterIssued:
        return [str(p) for p in e.person_ids]
    if kind is ListingRead.PersonalDataListed:
        return [str(p) for p in e.refugee_ids]
    if kind is Export.ExportMade:
        return [str(e.refugee_id)] if e.refugee_id is not None else []
    if kind in (DistributionList.DistributionListCreated, QuotaYear.PlacesTakenBySelection):
        return [str(p) for p in e.refugee_ids]
    if kind is DistributionList.DistributionListApproved:
        return [str(p) for p in e.accepted] + [str(d["refugee_id"]) for d in e.declined]
    return []


def summary_of(e: Any) -> str:
    """The event's line in the audit trail (a class without its own summary: its name in words)."""
    summarize = SUMMARIES.get(type(e))
    line = summarize(e) if summarize else _words(type(e).__name__).capitalize()
    # A fact of a person-level history import (R15) names its file and line in its metadata.
    source = (getattr(e, "meta", None) or {}).get("source")
    return line + (f", imported from {source['file_name']} line {source['line']}" if source else "")


class AuditTrailProjection(Projection):
    """The audit index (R14): one row per event, every event, with a summary free of personal data."""

    name = "audit_trail"
    # 2: summaries of the places a selection takes or a decision releases, list years; 3: imports, R19;
    # 4: a letter's delivery events belong to its municipality's case (R9)
    version = 4
    tables = (
        TableSpec(
            "events", _event_columns, ("position",),
            indexes=(("type", "position"), ("municipality", "position"), ("actor_sub", "position"),
                     ("aggregate_id", "position"), ("correlation_id",), ("recorded_at",)),
        ),
        TableSpec("event_persons", _event_person_columns, ("person_id", "position")),
        TableSpec("person_access", _access_columns, ("person_id", "municipality"), indexes=(("municipality",),)),
        TableSpec("cases", _case_columns, ("aggregate_id",)),
    )  # fmt: skip

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return dict.fromkeys(SUMMARIES, self.record)

    def handler_for(self, event_class: type[Any]) -> Handler:
        return self.record  # every event, with a summary of its own or not: the audit trail never skips

    def record(self, event: Any, position: int, rows: Rows) -> None:
        kind = type(event)
        aggregate_id = str(event.originator_id)
        municipality = getattr(event, "municipality", None)
        if kind in OPENS_CASE:
            municipality = event.number if kind is Municipality.MunicipalityRegistered else event.municipality
            rows.put("cases", {"aggregate_id": aggregate_id, "municipality": municipality})
        else:
            if municipality is None:
                case = rows.get("cases", (aggregate_id,))
                municipality = case["municipality"] if case else None
            if kind in CLOSES_CASE:
                rows.delete("cases", (aggregate_id,))
        persons = persons_of(event)
        if kind in GRANTS_ACCESS:
            rows.put("person_access", {"person_id": aggregate_id, "municipality": event.municipality})
        for person in persons:
            rows.append("event_persons", {"person_id": person, "position": position})
        meta = event.meta
        rows.append(
            "events",
            {
                "position": position, "recorded_at": event.timestamp, "type": kind.__name__,
                "aggregate_id": aggregate_id, "person_id": persons[0] if len(persons) == 1 else None,
                "municipality": municipality, "actor_sub": meta.get("sub"), "actor_role": meta.get("role"),
                "actor_municipality": meta.get("municipality"), "correlation_id": meta.get("correlation_id"),
                "summary": summary_of(event),
            },
        )  # fmt: skip

    def extra_ddl(self, generation: int, dialect: str) -> list[str]:
        events = self.table_name("events", generation)
        if dialect == "sqlite":
            return [
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {events}_fts USING fts5("
                f"summary, content='{events}', content_rowid='position', tokenize='unicode61')",
                f"INSERT INTO {events}_fts({events}_fts) VALUES ('rebuild')",
                f"CREATE TRIGGER IF NOT EXISTS {events}_fts_insert AFTER INSERT ON {events} BEGIN "
                f"INSERT INTO {events}_fts(rowid, summary) VALUES (new.position, new.summary); END",
            ]
        return [
            f"CREATE INDEX IF NOT EXISTS ix_{events}_summary_fts ON {events} "
            f"USING gin (to_tsvector('simple', summary))"
        ]

    def drop_ddl(self, generation: int, dialect: str) -> list[str]:
        events = self.table_name("events", generation)
        if dialect == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {events}_fts_insert", f"DROP TABLE IF EXISTS {events}_fts"]
        return []


PROJECTION = AuditTrailProjection()


def _fts_query(q: str) -> str:
    """The user's words as an FTS5 query: every word must occur (quoted, so no operator syntax leaks)."""
    words = re.findall(r"\w+", q)
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def audit_events(
    source: Source,
    *,
    person: str | None = None,
    municipality: str | None = None,
    own_cases_of: str | None = None,
    actor: str | None = None,
    actor_role: str | None = None,
    type: str | Iterable[str] | None = None,
    aggregate_id: str | None = None,
    correlation_id: str | None = None,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """The audit trail, newest first, ``{"items", "next_cursor"}`` in API.md's audit event shape.

    ``own_cases_of`` is tenancy for a municipality user: events whose case is that municipality's,
    and the events of persons it has selected or been decided (except those naming another
    municipality). ``recorded_to`` is exclusive.
    """
    check_limit(limit)
    if q is not None and not re.search(r"\w", q):
        q = None  # no word to look for ("!!!", '"*'): no text filter, rather than an empty FTS query
    with reading(source) as conn:
        tables = serving_tables(conn, PROJECTION)
        events, event_persons, access = tables["events"], tables["event_persons"], tables["person_access"]
        conditions: list[Any] = []
        if person is not None:
            conditions.append(
                events.c.position.in_(
                    select(event_persons.c.position).where(event_persons.c.person_id == str(person))
                )
            )
        if municipality is not None:
            conditions.append(events.c.municipality == municipality)
        query = select(events)
        if own_cases_of is not None:
            # Joined to the union of two index-driven sets (the municipality's events, the events of
            # persons it selected), so the planner starts from a few thousand positions instead of
            # walking the whole trail backwards testing each row.
            own = (
                select(events.c.position.label("position"))
                .where(events.c.municipality == own_cases_of)
                .union(
                    select(event_persons.c.position)
                    .join(access, access.c.person_id == event_persons.c.person_id)
                    .where(access.c.municipality == own_cases_of)
                )
                .subquery("own")
            )
            query = query.join(own, own.c.position == events.c.position)
            conditions.append(or_(events.c.municipality == own_cases_of, events.c.municipality.is_(None)))
        if actor is not None:
            conditions.append(events.c.actor_sub == actor)
        if actor_role is not None:
            conditions.append(events.c.actor_role == actor_role)
        types = _as_list(type)
        if types:
            conditions.append(events.c.type.in_(types))
        if aggregate_id is not None:
            conditions.append(events.c.aggregate_id == str(aggregate_id))
        if correlation_id is not None:
            conditions.append(events.c.correlation_id == correlation_id)
        if recorded_from is not None:
            conditions.append(events.c.recorded_at >= recorded_from)
        if recorded_to is not None:
            conditions.append(events.c.recorded_at < recorded_to)
        before = decode_cursor(cursor, int)[0] if cursor else None
        order: Any = events.c.position.desc()
        if q and q.strip() and conn.dialect.name == "sqlite":
            fts = f"{events.name}_fts"
            # Driven from the full-text index, newest rowid first, with the cursor pushed into it:
            # FTS5 then stops after one page instead of collecting and sorting every match.
            query = query.join(text(fts), text(f"{events.name}.position = {fts}.rowid"))
            conditions.append(text(f"{fts} MATCH :fts_query").bindparams(fts_query=_fts_query(q)))
            if before is not None:
                conditions.append(text(f"{fts}.rowid < :before").bindparams(before=before))
            order = text(f"{fts}.rowid DESC")
        else:
            if q and q.strip():
                conditions.append(
                    func.to_tsvector(text("'simple'"), events.c.summary).op("@@")(
                        func.plainto_tsquery(text("'simple'"), q)
                    )
                )
            if before is not None:
                conditions.append(events.c.position < before)
        rows = conn.execute(query.where(*conditions).order_by(order).limit(limit + 1)).mappings().all()
    return page([audit_item(r) for r in rows], limit, lambda item: [item["position"]])


def audit_item(row: Any) -> dict[str, Any]:
    """One audit row in API.md's shape."""
    return {
        "position": row["position"],
        "recorded_at": row["recorded_at"].isoformat(),
        "type": row["type"],
        "aggregate_id": row["aggregate_id"],
        "person_id": row["person_id"],
        "municipality": row["municipality"],
        "actor": {
            "sub": row["actor_sub"],
            "role": row["actor_role"],
            "municipality": row["actor_municipality"],
        },
        "correlation_id": row["correlation_id"],
        "summary": row["summary"],
    }
