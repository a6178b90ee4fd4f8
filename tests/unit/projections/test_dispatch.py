"""Typed dispatch: read models map real domain event classes to their handlers; the audit trail
summarises every event class the domain has, without personal data."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent

import settlement_domain.model as model
from projections import audit_trail
from projections.catalog import PROJECTIONS
from settlement_domain import commands as c
from settlement_domain.values import (
    Category,
    ContactInformation,
    Decline,
    ImportSource,
    Mapping,
    Residence,
    ResidenceKind,
)
from tests.given import (
    BERGEN,
    IMDI,
    OSLO,
    TODAY,
    address,
    distribution_list,
    events_since,
    municipalities,
    person,
    quota,
)
from tests.unit.projections.conftest import fold


def domain_event_classes() -> set[type[Any]]:
    """Every concrete event class of every aggregate in ``settlement_domain.model``."""
    found = set()
    for _, aggregate in inspect.getmembers(model, inspect.isclass):
        if not issubclass(aggregate, Aggregate):
            continue
        for name, value in vars(aggregate).items():
            if inspect.isclass(value) and issubclass(value, DomainEvent) and name not in ("Event", "Created"):
                found.add(value)
    return found


def test_every_handled_class_is_a_real_domain_event():
    events = domain_event_classes()
    assert len(events) > 30
    for projection in PROJECTIONS.values():
        assert projection.handlers, projection.name
        for event_class in projection.handlers:
            assert event_class in events, (projection.name, event_class)
        assert projection.handles == frozenset(projection.handlers)


def test_handlers_take_the_event_class_they_are_mapped_to():
    for projection in PROJECTIONS.values():
        if projection is audit_trail.PROJECTION:
            continue  # one handler for every event
        for event_class, handler in projection.handlers.items():
            annotation = inspect.signature(handler).parameters["e"].annotation
            assert annotation.split(".")[-1] == event_class.__name__, (projection.name, handler.__name__)


def test_every_domain_event_has_its_own_audit_summary():
    assert set(audit_trail.SUMMARIES) == domain_event_classes()


def test_a_history_with_every_event_class_is_summarised_without_personal_data(app):
    municipalities(app)
    app.handle(
        OSLO,
        c.UpdateContact(
            "0301", ContactInformation("Kari Nordmann", "kari@oslo.kommune.no", "+4722000000", address())
        ),
    )
    quota(app, "0301", persons=4, minors=1)
    quota(app, "0301", persons=2, minors=0, year=2026)
    mother = person(app, name="Mother Secret", family_id="fam-1", private=True)
    child = person(app, name="Child Secret", family_id="fam-1", birth_date=date(2015, 2, 2), private=True)
    minor = person(app, name="Minor Secret", minor=True)
    declined = person(app, name="Declined Secret")
    withdrawn = distribution_list(app, "0301", [declined])
    app.handle(IMDI, c.WithdrawDistributionList(withdrawn, "changed plans"))
    list_id = distribution_list(app, "0301", [mother, child, minor, declined])
    app.handle(
        OSLO, c.ApproveDistributionList(list_id, (mother, child, minor), (Decline(declined, "no housing"),))
    )
    app.handle(IMDI, c.RecordMapping(minor, Mapping("school", "none", ("dari",), "asthma", "")))
    app.handle(IMDI, c.DecideSettlement(minor, "0301", 2026, override_reason="urgent"))
    to_oslo, to_mother = app.handle(IMDI, c.DecideSettlement(mother, "0301")).extra["letter_ids"]
    app.handle(OSLO, c.RegisterSettlementDate(mother, TODAY))
    app.handle(IMDI, c.CorrectSettlementDate(mother, TODAY - timedelta(days=1), "typo"))
    deviation = app.handle(IMDI, c.OpenDeviation(child, "address", "Secret street unknown")).extra[
        "deviation_id"
    ]
    app.handle(IMDI, c.ResolveDeviation(child, deviation, "found at Secret street"))
    app.handle(OSLO, c.RecordFolderRead(mother))
    app.handle(OSLO, c.RecordPersonalDataListed("GET /refugees", (mother, child)))
    capacity = app.handle(OSLO, c.ReportMinorCapacity("0301", 2, "2025-W40", 15, 17, True, "")).id
    app.handle(OSLO, c.WithdrawMinorCapacity(capacity, "filled otherwise"))
    filled = app.handle(BERGEN, c.ReportMinorCapacity("4601", 1, "2025-W30", 16, 17, False, "near school")).id
    app.handle(BERGEN, c.MarkMinorCapacityFilled(filled))
    case = app.handle(OSLO, c.FileSupportCase("Secret subject", "Secret question")).id
    app.handle(IMDI, c.AnswerSupportCase(case, "Secret answer", True))
    app.handle(IMDI, c.EraseSupportCaseTexts(case, "GDPR art. 17", "the municipality asked"))
    app.handle(replace(IMDI, idempotency_key="once"), c.RequestSettlement("4601", 2025, 3, 0))
    source = ImportSource("history.csv", "0" * 64, 7)
    app.handle(IMDI, c.RecordHistoricalFigure("4601", 2013, "settled", 12, source))
    app.handle(IMDI, c.RecordImport("history.csv", "0" * 64, "imdi-long", 8, 1, 0, 7, 0))
    app.handle(IMDI, c.MarkCompleteness(2013, "4601"))
    app.handle(IMDI, c.RenameMunicipality("4601", "Bergen kommune"))
    person_source = ImportSource("persons.jsonl", "1" * 64, 1)
    app.handle(
        IMDI,
        c.RecordHistoricalRegistration(
            "P-1", date(2019, 1, 2), "History Secret", date(1990, 1, 1), None, False,
            Residence(ResidenceKind.PRIVATE), address(), Category.ASYLUM, person_source,
        ),
    )  # fmt: skip
    app.handle(IMDI, c.RecordHistoricalSelection("P-1", "4601", date(2019, 2, 1), 2019, person_source))
    sent = datetime(2025, 6, 16, 9, tzinfo=UTC)
    app.handle(IMDI, c.RecordLetterDispatch(UUID(to_oslo), "digital", "file", "file-1", sent))
    app.handle(IMDI, c.FallBackToPaper(UUID(to_oslo), sent + timedelta(hours=48)))
    app.handle(IMDI, c.RecordLetterOpened(UUID(to_oslo), sent + timedelta(hours=49), "callback"))
    app.handle(IMDI, c.RecordLetterDeliveryFailure(UUID(to_mother), "paper", "paper", "No printer", True))
    app.handle(IMDI, c.RetryLetterDelivery(UUID(to_mother)))
    app.handle(OSLO, c.RecordCaseFileExport(mother, "pdf"))
    app.handle(IMDI, c.ErasePersonalData(mother, "GDPR art. 17", "the person asked"))

    events = events_since(app, 0)
    assert {type(e) for e in events} == domain_event_classes()
    rows = fold(audit_trail.PROJECTION, app)
    recorded = rows.all_rows("events")
    assert len(recorded) == len(events)
    for row, event in zip(recorded, events, strict=True):
        assert row["summary"] == audit_trail.summary_of(event)
        assert row["summary"].startswith(str(audit_trail.SUMMARIES[type(event)](event)))
    text = json.dumps([row["summary"] for row in recorded])
    for personal in (
        "Secret",
        "Kari",
        "kari@",
        "Storgata",
        "1990-05-17",
        "asthma",
        "dari",
        "fam-1",
        "no housing",
        "urgent",
        "typo",
        "changed plans",
    ):
        assert personal not in text
    listed = [r for r in recorded if r["type"] == "PersonalDataListed"]
    assert [r["summary"] for r in listed] == ["Personal data listed: GET /refugees, 2 persons"]
    assert sorted(
        p["person_id"] for p in rows.all_rows("event_persons") if p["position"] == listed[0]["position"]
    ) == sorted([str(mother), str(child)])
    taken = [r["summary"] for r in recorded if r["type"] == "PlacesTakenBySelection"]
    assert taken == [
        f"3 places of 2025 taken in 0301 by distribution list {list_id}, 1 unaccompanied minor",
        "1 place of 2019 taken in 4601 by a selection, imported from persons.jsonl line 1",
    ]
    moved = [
        r["summary"] for r in recorded if r["type"] in ("SettlementPlaceTaken", "SettlementPlaceReleased")
    ]
    assert moved == [
        "Place of 2026 taken in 0301 for an unaccompanied minor by override",
        "Place of 2025 released in 0301 for an unaccompanied minor, moved to 2026",
    ]
    by_person = {(r["person_id"], r["position"]) for r in rows.all_rows("event_persons")}
    released = next(r for r in recorded if r["type"] == "SettlementPlaceReleased")
    assert (str(minor), released["position"]) in by_person and released["municipality"] == "0301"


def test_an_event_class_without_a_summary_is_recorded_by_its_name_in_words():
    class SomethingNew:
        originator_id = "00000000-0000-0000-0000-000000000001"
        timestamp = TODAY
        meta: dict[str, str] = {}  # noqa: RUF012

    assert audit_trail.summary_of(SomethingNew()) == "Something new"
    assert audit_trail.PROJECTION.handler_for(SomethingNew) == audit_trail.PROJECTION.record
