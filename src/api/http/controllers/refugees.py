"""Refugees: registration, mapping, settlement decision (R5), settlement date (R7, R8), deviations (R12)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import Field

from api.http.access import allowed, municipality_scope, sends
from api.http.context import Ctx, CurrentActor, Settlement, record_listed, written
from api.http.controllers.audit import AuditEvent
from api.http.errors import problem_locale
from api.http.reads import Reads
from api.http.schemas import (
    By,
    Cursor,
    Flag,
    Id,
    IsoDate,
    Limit,
    Model,
    MunicipalityNumber,
    Page,
    PostalAddress,
    ShortText,
    Text,
    Written,
    Year,
    instant,
    path_id,
)
from api.letters.erasure import erase_letter_files
from api.messages import audit_summaries
from projections.audit_trail import audit_events
from projections.person_folders import person_folder, persons_awaiting_settlement_date
from projections.person_search import search_persons
from settlement_domain import commands as c
from settlement_domain import replay, values
from settlement_domain.application import SettlementApp
from settlement_domain.context import Role
from settlement_domain.errors import NotFound
from settlement_domain.model import Refugee
from settlement_domain.personal_keys import ERASED_NAME
from settlement_domain.values import Category, ResidenceKind


class ReceptionCentre(Model):
    """Lives in an asylum reception centre."""

    kind: Literal["reception_centre"]
    centre_id: ShortText


class PrivateResidence(Model):
    """Lives privately (privatboende)."""

    kind: Literal["private"]


ResidenceBody = Annotated[ReceptionCentre | PrivateResidence, Field(discriminator="kind")]


class NewRefugee(Model):
    """A refugee registered by the reception system (or by IMDi for resettlement refugees)."""

    full_name: ShortText
    birth_date: IsoDate
    family_id: ShortText | None = None
    unaccompanied_minor: Flag
    residence: ResidenceBody
    postal_address: PostalAddress
    category: Category
    duf_number: ShortText | None = None
    """R21: UDI's 12-digit DUF number, when known."""


class MappingRecord(Model):
    """The reception centre's mapping (kartlegging) of the person."""

    education: Text
    work_experience: Text
    languages: Annotated[list[ShortText], Field(max_length=50)]
    health_needs: Text
    notes: Text


class SettlementDecision(Model):
    """IMDi's decision that a selected person is settled in the municipality (R5)."""

    municipality: MunicipalityNumber
    year: Year | None = None
    override_reason: Text | None = None


class SettlementDate(Model):
    """The date the person moved into the municipality."""

    date: IsoDate


class SettlementDateCorrection(Model):
    """IMDi's correction of a settlement date, with its reason (R7f)."""

    date: IsoDate
    reason: Text


class NewDeviation(Model):
    """A discrepancy (avvik) on the person's case (R12)."""

    kind: ShortText
    description: Text
    registered_private_by_known_deviation: Flag = False


class Resolution(Model):
    """How a deviation was resolved."""

    note: Text


class Erasure(Model):
    """IMDi's erasure of a person's personal data (R18): the legal basis and the reason, which name no
    person (they are kept in the log)."""

    legal_basis: ShortText
    reason: Text


class ErasureWritten(Written):
    """The erasure as recorded (R18); ``id`` is the person's."""

    erased: bool


class DecisionWritten(Written):
    """A settlement decision and its two letters (to the municipality, to the person)."""

    letter_ids: list[str]


class DeviationWritten(Written):
    """A deviation opened or resolved; ``id`` is the person's, ``deviation_id`` the deviation's."""

    deviation_id: str


class DeviationView(Model):
    """A deviation on the person's case and whether it is resolved."""

    deviation_id: str
    kind: str
    description: str
    registered_private_by_known_deviation: bool
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None


class PersonFolder(Model):
    """The person folder (personmappe): personal details, mapping, the case's status and deviations (R6)."""

    refugee_id: str
    full_name: str | None
    birth_date: date | None
    postal_address: dict[str, Any] | None
    family_id: str | None
    unaccompanied_minor: bool
    residence: dict[str, Any] | None
    category: str
    mapping: dict[str, Any] | None
    status: str
    municipality: str | None
    proposed_to: str | None
    selected_by: str | None
    selected_on: date | None
    selection_year: int | None
    decided_for: str | None
    decision_year: int | None
    decided_on: date | None
    settlement_date: date | None
    date_source: str | None
    open_deviations: int
    registered_at: datetime
    updated_at: datetime | None
    deviations: list[DeviationView]
    erased: bool = False
    """R18: the person's personal data was erased (``full_name`` reads ``slettet``, the rest is null)."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PersonFolder:
        return cls.model_validate(
            {
                **{k: row[k] for k in cls.model_fields if k != "deviations"},
                "deviations": [DeviationView.from_row(d) for d in row["deviations"]],
            }
        )


class AwaitingPerson(Model):
    """A selected or decided person without a settlement date yet."""

    refugee_id: str
    full_name: str | None
    municipality: str | None
    status: str
    selected_on: date | None
    decision_year: int | None
    residence_kind: str | None
    open_deviations: int
    unaccompanied_minor: bool


class FoundPerson(Model):
    """A person found by the person search (R21)."""

    refugee_id: str
    full_name: str | None
    birth_date: date | None
    status: str
    municipality: str | None
    unaccompanied_minor: bool


class SearchResult(Model):
    """The persons matching every term, by id; ``truncated`` when more matched than ``limit``."""

    items: list[FoundPerson]
    truncated: bool


class CaseState(Model):
    """The case as it stood at ``as_of``, replayed from the event log (R14)."""

    version: int
    lived_privately: bool
    unaccompanied_minor: bool
    family_id: str | None
    proposed_to: str | None
    selected_by: str | None
    selected_on: date | None
    decided_for: str | None
    decision_year: int | None
    settlement_date: date | None
    open_deviations: list[str]
    mapping_recorded: bool


class CaseHistory(Model):
    """The events of a person's case, newest first, and the case's state as of a moment."""

    refugee_id: str
    as_of: datetime | None
    state: CaseState | None
    items: list[AuditEvent]
    next_cursor: str | None


FOLDER_READERS = sends(c.RecordFolderRead)


def case_state(case: Refugee | None, own: str | None, family_erased: bool = False) -> CaseState | None:
    """The case replayed to a moment (R14) in the answer's shape.

    ``own`` is a municipality user's municipality: the state then never names another municipality
    (a proposal to, selection by or decision for another one reads as none), as its events are not shown.
    """
    if case is None:
        return None

    def mine(municipality: str | None) -> str | None:
        return municipality if own is None or municipality == own else None

    return CaseState(
        version=case.version,
        lived_privately=case.lived_privately,
        unaccompanied_minor=case.unaccompanied_minor,
        family_id=ERASED_NAME if family_erased and case.family_id else case.family_id,
        proposed_to=mine(case.proposed_to),
        selected_by=mine(case.selected_by),
        selected_on=case.selected_on if mine(case.selected_by) else None,
        decided_for=mine(case.decided_for),
        decision_year=case.decision_year if mine(case.decided_for) else None,
        settlement_date=case.settlement_date,
        open_deviations=sorted(d for d, is_open in case.deviations.items() if is_open),
        mapping_recorded=case.mapping is not None,
    )


class RefugeeController(Controller):
    """Refugees and their settlement cases."""

    path = "/refugees"
    tags = ("refugees",)

    @post("/", operation_id="registerRefugee", sync_to_thread=True, opt=sends(c.RegisterRefugee))
    def register(self, ctx: Ctx, app: Settlement, data: JSONBody[NewRefugee]) -> Response[Written]:
        """Register a refugee (reception system, or imdi for resettlement refugees)."""
        centre_id = data.residence.centre_id if isinstance(data.residence, ReceptionCentre) else None
        command = c.RegisterRefugee(
            full_name=data.full_name,
            birth_date=data.birth_date,
            family_id=data.family_id,
            unaccompanied_minor=data.unaccompanied_minor,
            residence=values.Residence(ResidenceKind(data.residence.kind), centre_id),
            postal_address=data.postal_address.parsed(),
            category=data.category,
            duf_number=data.duf_number,
        )
        return written(app.handle(ctx, command))

    @post(
        "/{refugee_id:str}/mapping",
        operation_id="recordMapping",
        sync_to_thread=True,
        opt=sends(c.RecordMapping),
    )
    def record_mapping(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[MappingRecord]
    ) -> Response[Written]:
        """Record the reception centre's mapping of the person (reception, imdi)."""
        mapping = values.Mapping(
            data.education, data.work_experience, tuple(data.languages), data.health_needs, data.notes
        )
        return written(app.handle(ctx, c.RecordMapping(path_id(refugee_id, "person"), mapping)))

    @post(
        "/{refugee_id:str}/settlement-decision",
        operation_id="decideSettlement",
        sync_to_thread=True,
        opt=sends(c.DecideSettlement),
    )
    def decide_settlement(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDecision]
    ) -> Response[DecisionWritten]:
        """Decide that a selected person is settled in the municipality; keeps the place the selection
        took, or moves it to the year named (R5); issues two letters (R9)."""
        command = c.DecideSettlement(
            path_id(refugee_id, "person"), data.municipality, data.year, data.override_reason
        )
        return written(app.handle(ctx, command), DecisionWritten)

    @post(
        "/{refugee_id:str}/settlement-date",
        operation_id="registerSettlementDate",
        sync_to_thread=True,
        opt=sends(c.RegisterSettlementDate),
    )
    def register_settlement_date(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDate]
    ) -> Response[Written]:
        """Register the settlement date: the municipality for persons who lived privately (R7), the reception system otherwise (R8)."""
        return written(app.handle(ctx, c.RegisterSettlementDate(path_id(refugee_id, "person"), data.date)))

    @post(
        "/{refugee_id:str}/settlement-date/correction",
        operation_id="correctSettlementDate",
        sync_to_thread=True,
        opt=sends(c.CorrectSettlementDate),
    )
    def correct_settlement_date(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDateCorrection]
    ) -> Response[Written]:
        """Correct a settlement date, with a reason (imdi, R7f)."""
        command = c.CorrectSettlementDate(path_id(refugee_id, "person"), data.date, data.reason)
        return written(app.handle(ctx, command))

    @post(
        "/{refugee_id:str}/deviations",
        operation_id="openDeviation",
        sync_to_thread=True,
        opt=sends(c.OpenDeviation),
    )
    def open_deviation(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[NewDeviation]
    ) -> Response[DeviationWritten]:
        """Open a deviation on the person's case; it blocks R7 until resolved (R12)."""
        command = c.OpenDeviation(
            path_id(refugee_id, "person"),
            data.kind,
            data.description,
            data.registered_private_by_known_deviation,
        )
        return written(app.handle(ctx, command), DeviationWritten)

    @post(
        "/{refugee_id:str}/deviations/{deviation_id:str}/resolution",
        operation_id="resolveDeviation",
        sync_to_thread=True,
        opt=sends(c.ResolveDeviation),
    )
    def resolve_deviation(
        self,
        ctx: Ctx,
        app: Settlement,
        refugee_id: FromPath[Id],
        deviation_id: FromPath[Id],
        data: JSONBody[Resolution],
    ) -> Response[DeviationWritten]:
        """Resolve an open deviation (R12)."""
        command = c.ResolveDeviation(path_id(refugee_id, "person"), deviation_id, data.note)
        return written(app.handle(ctx, command), DeviationWritten)

    @post(
        "/{refugee_id:str}/erasure",
        operation_id="erasePersonalData",
        sync_to_thread=True,
        opt=sends(c.ErasePersonalData),
    )
    def erase(
        self, ctx: Ctx, app: Settlement, state: State, refugee_id: FromPath[Id], data: JSONBody[Erasure]
    ) -> Response[ErasureWritten]:
        """Erase the person's personal data (imdi, R18): the person's key is deleted and
        ``PersonalDataErased`` recorded; every view then shows the person as erased (``slettet``), and
        the files of the letters naming the person leave the outbox folder and the print queue.
        Refused while the case is open in a way the law needs kept (R18a-R18d), or while a letter
        naming the person is not delivered yet (R18e)."""
        person = path_id(refugee_id, "person")
        result = app.handle(ctx, c.ErasePersonalData(person, data.legal_basis, data.reason))
        erase_letter_files(state.reads.engine, state.settings, person, position=result.position)
        return written(result, ErasureWritten)

    @get(
        "/",
        operation_id="listPersonsAwaitingSettlementDate",
        sync_to_thread=True,
        opt=allowed(Role.MUNICIPALITY, Role.IMDI),
    )
    def awaiting(
        self,
        ctx: Ctx,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        without_settlement_date: Annotated[
            bool, QueryParameter(description="Only true is served: persons awaiting a settlement date")
        ] = True,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[AwaitingPerson]:
        """Selected or decided persons still awaiting a settlement date (own municipality, imdi)."""
        if not without_settlement_date:
            raise ValidationException(
                "Only persons awaiting a settlement date are listed here; settled persons are in "
                "/reports/settled-persons.",
                extra=[{"key": "without_settlement_date", "message": "only true is served"}],
            )
        found = reads.query(
            persons_awaiting_settlement_date,
            municipality_scope(actor, municipality),
            cursor=cursor,
            limit=limit,
        )
        record_listed(app, ctx, "GET /refugees", [p["refugee_id"] for p in found["items"]])
        return Page[AwaitingPerson].of(found, AwaitingPerson)

    @get(
        "/search",
        operation_id="searchPersons",
        sync_to_thread=True,
        opt=allowed(Role.IMDI, Role.MUNICIPALITY),
    )
    def search(
        self,
        ctx: Ctx,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        name: Annotated[
            str | None, QueryParameter(max_length=200, description="Name parts, each matched as a prefix")
        ] = None,
        birth_date: Annotated[date | None, QueryParameter(description="YYYY-MM-DD")] = None,
        duf: Annotated[
            str | None, QueryParameter(max_length=20, description="The 12-digit DUF number")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> SearchResult:
        """Person search (R21): by name parts (prefix, ignoring case and accents), birth date and DUF
        number, all given terms matching. imdi finds everyone, a municipality the persons it selected
        or is to settle. Every search that shows persons is recorded (R14)."""
        own = actor.municipality if actor.role is Role.MUNICIPALITY else None
        found = reads.query(
            search_persons, name=name, birth_date=birth_date, duf=duf, municipality=own, limit=limit
        )
        record_listed(app, ctx, "GET /refugees/search", [p["refugee_id"] for p in found["items"]])
        return SearchResult(
            items=[FoundPerson.from_row(p) for p in found["items"]], truncated=found["truncated"]
        )

    @get("/{refugee_id:str}", operation_id="getPersonFolder", sync_to_thread=True, opt=FOLDER_READERS)
    def folder(self, ctx: Ctx, app: Settlement, reads: Reads, refugee_id: FromPath[Id]) -> PersonFolder:
        """The person folder; a municipality sees it once it has selected the person. Every read is recorded (R6)."""
        # The application checks tenancy and R6, and records the read in the audit trail.
        person = path_id(refugee_id, "person")
        app.handle(ctx, c.RecordFolderRead(person))
        found = reads.query(person_folder, str(person))
        if found is None:
            raise NotFound("person", refugee_id)
        return PersonFolder.from_row(found)

    @get("/{refugee_id:str}/history", operation_id="getCaseHistory", sync_to_thread=True, opt=FOLDER_READERS)
    def history(
        self,
        request: Request,
        ctx: Ctx,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        refugee_id: FromPath[Id],
        as_of: Annotated[
            datetime | None, QueryParameter(description="Show the state at this moment (ISO 8601)")
        ] = None,
        by: By = "recorded",
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> CaseHistory:
        """The events of the person's case, newest first, and its state as of a moment, by recorded time
        or by business time (R14; recorded as R6). By business time the list holds every event recorded
        so far and the state counts each fact from its own date."""
        as_of = instant(as_of, "as_of")
        own = actor.municipality if actor.role is Role.MUNICIPALITY else None
        person = path_id(refugee_id, "person")
        # Read before recording: a refused read (a forged cursor) is not a read of the folder.
        events = reads.query(
            audit_events,
            person=str(person),
            own_cases_of=own,
            recorded_to=_after(as_of) if by == "recorded" else None,
            cursor=cursor,
            limit=limit,
        )
        # The application checks tenancy and R6, and records the read in the audit trail.
        app.handle(ctx, c.RecordFolderRead(person))
        return CaseHistory(
            refugee_id=refugee_id,
            as_of=as_of,
            state=_case_state(app, replay.case_as_of(app, person, as_of, by=by), own),
            items=[AuditEvent.from_row(e) for e in audit_summaries(problem_locale(request), events["items"])],
            next_cursor=events["next_cursor"],
        )


def _case_state(app: SettlementApp, case: Refugee | None, own: str | None) -> CaseState | None:
    # R18: the family's text reads "slettet" once a member's erasure deleted the family's key.
    return case_state(case, own, family_erased=case is not None and app.family_label_erased(case))


def _after(as_of: datetime | None) -> datetime | None:
    # The audit query's upper bound is exclusive; the state includes events recorded exactly at as_of.
    return None if as_of is None else as_of + timedelta(microseconds=1)
