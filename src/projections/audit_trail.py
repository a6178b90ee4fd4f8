"""Who did what to which case, and when (R14)? Every event, indexed and searchable, without personal data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String, Text, func, or_, select, text

from projections.engine.paging import (
    ReadModelNotReady,
    Source,
    check_limit,
    decode_cursor,
    page,
    reading,
    serving_tables,
)
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.errors import Text as T
from settlement_domain.errors import english
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

# ``json.dumps(value, ensure_ascii=False)`` without making an encoder per call (one per event).
_SUMMARY_JSON = json.JSONEncoder(ensure_ascii=False)
# The same encoder's C core, made once: ``JSONEncoder.encode`` makes it anew at every call (with the
# same settings: ``", "`` and ``": "``, no sorting, the text as it is), which was a third of the cost
# of encoding a summary. Without the C accelerator (another interpreter), the encoder above.
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_SUMMARY_C_JSON = (
    _C_ENCODER(
        None, _SUMMARY_JSON.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    if _C_ENCODER is not None
    and json.encoder.encode_basestring is getattr(json.encoder, "c_encode_basestring", 0)
    else None
)


def _summary_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, byte for byte, of a summary's encoded words."""
    if _SUMMARY_C_JSON is None:
        return _SUMMARY_JSON.encode(value)
    return "".join(_SUMMARY_C_JSON(value, 0))


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
        # The summary as an English template and its values (JSON), which an edge translates when shown.
        Column("summary_text", Text, nullable=True),
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


def _minors(count: int | None) -> T:
    if count is None:  # an imported figure without the split (R15)
        return T("unaccompanied minors not given")
    if count == 1:
        return T("%(count)s unaccompanied minor", {"count": count})
    return T("%(count)s unaccompanied minors", {"count": count})


def _if(condition: Any, template: str, **params: Any) -> T | str:
    """An optional part of a summary: the words when ``condition`` holds, else nothing."""
    return T(template, params) if condition else ""


def _revision(e: Any) -> T | str:
    return _if(e.revision, " (revision %(revision)s)", revision=e.revision)


def _source(e: Any) -> T | str:
    """``, imported from file.csv line 12`` for a figure from IMDi's statistics (R15), else nothing."""
    source = e.source
    if source is None:
        return ""
    return T(", imported from %(file)s line %(line)s", {"file": source["file_name"], "line": source["line"]})


def _places(count: int) -> T:
    if count == 1:
        return T("%(count)s place", {"count": count})
    return T("%(count)s places", {"count": count})


def _persons(count: int) -> T:
    if count == 1:
        return T("%(count)s person", {"count": count})
    return T("%(count)s persons", {"count": count})


CATEGORY_WORDS = {
    "asylum": T("asylum"),
    "resettlement": T("resettlement"),
    "family_reunification": T("family reunification"),
    "collective_protection": T("collective protection"),
}
LETTER_KINDS = {
    "request": T("Request letter"),
    "selection": T("Selection letter"),
    "decision_municipality": T("Decision municipality letter"),
    "decision_person": T("Decision person letter"),
}
SOURCE_WORDS = {"municipality": T("municipality"), "reception": T("reception"), "history": T("history")}


# One line per event class, as words to translate where shown (``Text``: an English template and its
# values; the view keeps both the English line and the template). Only ids, numbers, dates, enums and
# municipality numbers: never a name, birth date, address, mapping, health detail or free text (reasons,
# descriptions, subjects may hold any).
SUMMARIES: dict[type[Any], Callable[[Any], T]] = {
    Municipality.MunicipalityRegistered: lambda e: T(
        "Municipality %(number)s %(name)s registered in %(county)s",
        {"number": e.number, "name": e.name, "county": e.county},
    ),
    Municipality.ContactInformationUpdated: lambda e: T("Contact information updated"),
    Municipality.MunicipalityRenamed: lambda e: T(
        "Municipality %(number)s renamed from %(previous)s to %(name)s",
        {"number": e.number, "previous": e.previous_name, "name": e.name},
    ),
    QuotaYear.QuotaYearOpened: lambda e: T(
        "Quota year %(year)s opened for %(municipality)s", {"year": str(e.year), "municipality": e.municipality}
    ),
    QuotaYear.SettlementRequested: lambda e: T(
        "Settlement request for %(year)s: %(persons)s persons, %(minors)s%(revision)s%(source)s",
        {
            "year": str(e.year), "persons": e.persons, "minors": _minors(e.unaccompanied_minors),
            "revision": _revision(e), "source": _source(e),
        },
    ),
    QuotaYear.QuotaDecided: lambda e: T(
        "Quota decision for %(year)s: %(persons)s persons, %(minors)s%(decided)s%(by_imdi)s%(revision)s%(source)s",
        {
            "year": str(e.year), "persons": e.persons, "minors": _minors(e.unaccompanied_minors),
            "decided": _if(e.decided_on, ", decided on %(date)s", date=e.decided_on),
            "by_imdi": _if(e.recorded_by_imdi and e.source is None, " (recorded by IMDi)"),
            "revision": _revision(e), "source": _source(e),
        },
    ),
    QuotaYear.HistoricalSettledCountRecorded: lambda e: T(
        "Settled in %(year)s according to IMDi's statistics: %(persons)s persons%(revision)s%(source)s",
        {"year": str(e.year), "persons": e.persons, "revision": _revision(e), "source": _source(e)},
    ),
    QuotaYear.PlacesTakenBySelection: lambda e: T(
        "%(places)s of %(year)s taken in %(municipality)s %(how)s%(minors)s",
        {
            "places": _places(len(e.refugee_ids)), "year": str(e.year), "municipality": e.municipality,
            "how": T("by a selection") if e.meta.get("source")
            else T("by distribution list %(list)s", {"list": str(e.list_id)}),
            "minors": _if(e.unaccompanied_minors, ", %(minors)s", minors=_minors(e.unaccompanied_minors)),
        },
    ),
    QuotaYear.SettlementPlaceTaken: lambda e: T(
        "Place of %(year)s taken in %(municipality)s%(minor)s%(override)s",
        {
            "year": str(e.year), "municipality": e.municipality,
            "minor": _if(e.unaccompanied_minor, " for an unaccompanied minor"),
            "override": _if(e.override_reason, " by override"),
        },
    ),
    QuotaYear.SettlementPlaceReleased: lambda e: T(
        "Place of %(year)s released in %(municipality)s%(minor)s, moved to %(to_year)s",
        {
            "year": str(e.year), "municipality": e.municipality, "to_year": str(e.to_year),
            "minor": _if(e.unaccompanied_minor, " for an unaccompanied minor"),
        },
    ),
    DataCompleteness.DataCompletenessOpened: lambda e: T(
        "Completeness marks opened for %(year)s", {"year": str(e.year)}
    ),
    DataCompleteness.CompletenessMarked: lambda e: T(
        "Data for %(year)s%(whose)s%(mark)s",
        {
            "year": str(e.year),
            "whose": T(" of %(municipality)s", {"municipality": e.municipality}) if e.municipality
            else T(", the whole year,"),
            "mark": T(" marked complete") if e.complete else T(" marked not complete"),
        },
    ),
    Import.ImportRecorded: lambda e: T(
        "File %(file)s imported (%(format)s): %(recorded)s figures recorded, %(unchanged)s already stored, "
        "%(skipped)s rows skipped%(revised)s",
        {
            "file": e.file_name, "format": e.file_format, "recorded": e.recorded, "unchanged": e.unchanged,
            "skipped": e.skipped, "revised": _if(e.revised, ", %(revised)s revised", revised=e.revised),
        },
    ),
    Refugee.RefugeeRegistered: lambda e: T(
        "Person registered: %(category)s, %(residence)s%(minor)s%(family)s",
        {
            "category": CATEGORY_WORDS.get(e.category, e.category.replace("_", " ")),
            "residence": T("reception centre") if e.residence.get("kind") == "reception_centre"
            else T("private residence"),
            "minor": _if(e.unaccompanied_minor, ", unaccompanied minor"),
            # The text is sealed with the person's key (R18): once erased, the family's id still tells.
            "family": _if(e.family_id or e.family_ref, ", in a family"),
        },
    ),
    Refugee.MappingRecorded: lambda e: T("Mapping recorded"),
    Refugee.RefugeeProposed: lambda e: T(
        "Proposed to %(municipality)s on distribution list %(list)s",
        {"municipality": e.municipality, "list": str(e.list_id)},
    ),
    Refugee.ProposalWithdrawn: lambda e: T(
        "Proposal withdrawn with distribution list %(list)s", {"list": str(e.list_id)}
    ),
    Refugee.RefugeeDeclined: lambda e: T(
        "Declined by %(municipality)s on distribution list %(list)s",
        {"municipality": e.municipality, "list": str(e.list_id)},
    ),
    Refugee.RefugeeSelected: lambda e: T(
        "Selected by %(municipality)s for %(year)s on %(date)s",
        {"municipality": e.municipality, "year": str(e.year), "date": e.selected_on},
    ),
    Refugee.SettlementDecided: lambda e: T(
        "Settlement in %(municipality)s decided for %(year)s on %(date)s%(override)s",
        {
            "municipality": e.municipality, "year": str(e.year), "date": e.decided_on,
            "override": _if(e.override_reason, " by override"),
        },
    ),
    Refugee.SettlementDateRegistered: lambda e: T(
        "Settlement date %(date)s registered in %(municipality)s (from %(source)s)",
        {"date": e.settlement_date, "municipality": e.municipality, "source": SOURCE_WORDS.get(e.source, e.source)},
    ),
    Refugee.SettlementDateCorrected: lambda e: (
        T(
            "Settlement date corrected from %(previous)s to %(date)s",
            {"previous": e.previous_date, "date": e.settlement_date},
        )
        if e.previous_date is not None
        # R7d: IMDi sets the first date where the municipality may not.
        else T(
            "Settlement date %(date)s set by IMDi in %(municipality)s",
            {"date": e.settlement_date, "municipality": e.municipality},
        )
    ),
    Refugee.DeviationOpened: lambda e: T(
        "Deviation opened%(known)s",
        {
            "known": _if(
                e.registered_private_by_known_deviation, " (registered as private by a known deviation)"
            )
        },
    ),
    Refugee.DeviationResolved: lambda e: T("Deviation resolved"),
    DistributionList.DistributionListCreated: lambda e: T(
        "Distribution list for %(municipality)s for %(year)s created with %(count)s persons, respond by %(date)s",
        {"municipality": e.municipality, "year": str(e.year), "count": len(e.refugee_ids), "date": e.respond_by},
    ),
    DistributionList.DistributionListApproved: lambda e: T(
        "Distribution list approved by %(municipality)s: %(accepted)s accepted, %(declined)s declined",
        {"municipality": e.municipality, "accepted": len(e.accepted), "declined": len(e.declined)},
    ),
    DistributionList.DistributionListWithdrawn: lambda e: T(
        "Distribution list for %(municipality)s withdrawn", {"municipality": e.municipality}
    ),
    MinorCapacity.MinorCapacityReported: lambda e: T(
        "Capacity for %(places)s unaccompanied minors aged %(min_age)s-%(max_age)s reported for %(week)s%(staffed)s",
        {
            "places": e.places, "min_age": e.min_age, "max_age": e.max_age, "week": e.expected_week,
            "staffed": _if(e.round_the_clock_staffing, ", staffed around the clock"),
        },
    ),
    MinorCapacity.MinorCapacityWithdrawn: lambda e: T("Capacity report withdrawn"),
    MinorCapacity.MinorCapacityFilled: lambda e: T("Capacity report filled"),
    SupportCase.SupportCaseFiled: lambda e: T(
        "Support case filed by %(municipality)s", {"municipality": e.municipality}
    ),
    SupportCase.SupportCaseAnswered: lambda e: (
        T("Support case answered and closed") if e.closed else T("Support case answered")
    ),
    # R18: the legal basis and reason stay out of the trail, like every reason.
    SupportCase.SupportCaseTextsErased: lambda e: T("Support case's texts erased (R18)"),
    Letter.LetterIssued: lambda e: T(
        "%(kind)s%(year)s issued by %(channel)s",
        {
            "kind": LETTER_KINDS.get(e.kind, T(e.kind.replace("_", " ").capitalize() + " letter")),
            "year": _if(e.year, " for %(year)s", year=str(e.year)),
            "channel": T("digital post") if e.channel == "digital" else T("post"),
        },
    ),
    Letter.LetterDispatched: lambda e: T(
        "Letter sent through the %(channel)s channel (%(delivery)s)",
        {"channel": e.channel, "delivery": e.delivery},
    ),
    Letter.LetterDeliveryFailed: lambda e: T(
        "Letter delivery through the %(channel)s channel failed%(how)s",
        {
            "channel": e.channel,
            "how": T(", needs attention") if e.permanent else T(" (attempt %(attempt)s)", {"attempt": e.attempt}),
        },
    ),
    Letter.LetterDeliveryRetried: lambda e: T("Letter delivery retried"),
    Letter.LetterOpened: lambda e: (
        T("Letter opened (reported by the channel)") if e.source == "channel" else T("Letter opened (callback)")
    ),
    Letter.LetterFellBackToPaper: lambda e: T("Letter not opened within 48 hours: sent by post (R9)"),
    Export.ExportMade: lambda e: (
        T("Case file exported as %(format)s", {"format": e.format})
        if e.kind == "case_file"
        else T(
            "%(count)s letters of %(municipality)s exported",
            {"count": len(e.letter_ids), "municipality": e.municipality},
        )
    ),
    FolderRead.PersonFolderViewed: lambda e: T("Person folder viewed"),
    # R18: the legal basis and reason are free text and stay out of the trail, like every reason.
    Refugee.PersonalDataErased: lambda e: T("Personal data erased (R18)"),
    ListingRead.PersonalDataListed: lambda e: (
        T("Personal data listed: %(what)s, %(persons)s", {"what": e.what, "persons": _persons(len(e.refugee_ids))})
        if e.refugee_ids
        else T("Personal data listed: %(what)s (persons no longer readable, R14)", {"what": e.what})
    ),  # names_persons_read_between() looks for the words of the second line: keep them alike
    Family.FamilyFormed: lambda e: T("Family formed"),
    Family.FamilyMemberAdded: lambda e: T("Family member added"),
    Family.FamilyLabelErased: lambda e: T("Family's text erased with a member (R18)"),
    FamilyKey.FamilyKeyCreated: lambda e: T("Family key created"),
    IdempotencyRecord.IdempotencyKeyRecorded: lambda e: T("Idempotency key recorded"),
}  # fmt: skip

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
        Family.FamilyMemberAdded, Family.FamilyLabelErased,
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


def summary_text(e: Any) -> T:
    """The event's line in the audit trail as words to translate (a class without its own summary: its
    name in words). A summary may also be a plain string (then it is shown as it is)."""
    summarize = SUMMARIES.get(type(e))
    found: T | str = summarize(e) if summarize else _words(type(e).__name__).capitalize()
    line = found if isinstance(found, T) else T("%(text)s", {"text": found})
    # A fact of a person-level history import (R15) names its file and line in its metadata.
    source = (getattr(e, "meta", None) or {}).get("source")
    if source:
        imported = T(
            ", imported from %(file)s line %(line)s", {"file": source["file_name"], "line": source["line"]}
        )
        line = T("%(line)s%(imported)s", {"line": line, "imported": imported})
    return line


def summary_of(e: Any) -> str:
    """The event's line in the audit trail, in English (what the full-text search indexes)."""
    return str(summary_text(e))


def render(line: T) -> tuple[str, Any]:
    """``(str(line), encode_text(line))`` in one pass over the words (the audit trail's fold renders
    every event's summary both ways). Strings, exact ints, dates and nested words take the short way;
    any other value (a bool, a list, a datetime, an enum) goes through :func:`english` and
    :func:`encode_text` themselves, so both results are exactly theirs."""
    template, params = line.template, line.params
    if not params:
        return template, {"t": template, "p": {}}
    words: dict[str, str] = {}
    encoded: dict[str, Any] = {}
    for key, value in params.items():
        kind = type(value)
        if kind is str:
            words[key] = encoded[key] = value
        elif kind is T:
            words[key], encoded[key] = render(value)
        elif kind is int:
            words[key], encoded[key] = str(value), value
        elif kind is date:
            words[key] = iso = value.isoformat()
            encoded[key] = {"d": iso}
        else:
            words[key], encoded[key] = english(value), encode_text(value)
    return template % words, {"t": template, "p": encoded}


def encode_text(value: Any) -> Any:
    """A summary's words as JSON (the view keeps them, the edge translates them when shown)."""
    if isinstance(value, T):
        return {"t": value.template, "p": {key: encode_text(v) for key, v in value.params.items()}}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode_text(v) for v in value]
    return value if isinstance(value, int | str) else str(value)


def decode_text(value: Any) -> Any:
    """:func:`encode_text` undone: the Text (and dates) the edge renders."""
    if isinstance(value, dict) and "t" in value:
        return T(value["t"], {key: decode_text(v) for key, v in value.get("p", {}).items()})
    if isinstance(value, dict) and "d" in value:
        return date.fromisoformat(value["d"])
    if isinstance(value, list):
        return [decode_text(v) for v in value]
    return value


class AuditTrailProjection(Projection):
    """The audit index (R14): one row per event, every event, with a summary free of personal data."""

    name = "audit_trail"
    # 2: summaries of the places a selection takes or a decision releases, list years; 3: imports, R19;
    # 4: a letter's delivery events belong to its municipality's case (R9); 5: the summary's template and
    # values beside it (summary_text), translated where shown
    version = 5
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
        # A person's own case names the person: its id's text is already at hand (one str() less).
        persons = [aggregate_id] if kind in REFUGEE_EVENTS else persons_of(event)
        if kind in GRANTS_ACCESS:
            rows.put("person_access", {"person_id": aggregate_id, "municipality": event.municipality})
        for person in persons:
            rows.append("event_persons", {"person_id": person, "position": position})
        meta = event.meta
        summary, encoded = render(summary_text(event))
        rows.append(
            "events",
            {
                "position": position, "recorded_at": event.timestamp, "type": kind.__name__,
                "aggregate_id": aggregate_id, "person_id": persons[0] if len(persons) == 1 else None,
                "municipality": municipality, "actor_sub": meta.get("sub"), "actor_role": meta.get("role"),
                "actor_municipality": meta.get("municipality"), "correlation_id": meta.get("correlation_id"),
                "summary": summary, "summary_text": _summary_json(encoded),
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


# R14: the end of a read record's summary once its month's key is deleted (SUMMARIES above).
EXPIRED_LISTING = "(persons no longer readable, R14)"
READ_TYPES = (FolderRead.PersonFolderViewed.__name__, ListingRead.PersonalDataListed.__name__)


def names_persons_read_between(source: Source, start: datetime, end: datetime) -> bool:
    """R14: whether the audit trail still says whose data a read record recorded in ``[start, end)``
    read: a folder view naming its person, or a listing whose summary still counts its persons. Once
    the key of a month is deleted, a rebuild of the audit trail forgets them; True for such a month
    means that rebuild has not happened yet (it was interrupted). One range of the ``recorded_at``
    index; an uninstalled or outdated audit trail answers False (its rebuild folds with the keys as
    they are)."""
    try:
        with reading(source) as conn:
            events = serving_tables(conn, PROJECTION)["events"]
            query = (
                select(events.c.position)
                .where(
                    events.c.recorded_at >= start,
                    events.c.recorded_at < end,
                    events.c.type.in_(READ_TYPES),
                    or_(
                        events.c.person_id.is_not(None),
                        (events.c.type == ListingRead.PersonalDataListed.__name__)
                        & ~events.c.summary.contains(EXPIRED_LISTING, autoescape=True),
                    ),
                )
                .limit(1)
            )
            return conn.execute(query).first() is not None
    except ReadModelNotReady:
        return False


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
        # Not part of the API's shape: the edge renders it in the reader's language as ``summary``.
        "summary_text": row.get("summary_text"),
    }
