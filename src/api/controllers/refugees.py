"""Refugees: registration, mapping, settlement decision (R5), settlement date (R7, R8), deviations (R12)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from pydantic import Field

from api.access import IMDI, MUNICIPALITY, RECEPTION, allowed
from api.context import Ctx, Settlement, written
from api.schemas import Id, Model, MunicipalityNumber, PostalAddress, ShortText, Text, Written, Year
from settlement_domain.refugee import Category


class ReceptionCentre(Model):
    """Lives in an asylum reception centre."""

    kind: Literal["reception_centre"]
    centre_id: ShortText


class PrivateResidence(Model):
    """Lives privately (privatboende)."""

    kind: Literal["private"]


Residence = Annotated[ReceptionCentre | PrivateResidence, Field(discriminator="kind")]


class NewRefugee(Model):
    """A refugee registered by the reception system (or by IMDi for resettlement refugees)."""

    full_name: ShortText
    birth_date: date
    family_id: ShortText | None = None
    unaccompanied_minor: bool
    residence: Residence
    postal_address: PostalAddress
    category: Category


class Mapping(Model):
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

    date: date


class SettlementDateCorrection(Model):
    """IMDi's correction of a settlement date, with its reason (R7f)."""

    date: date
    reason: Text


class NewDeviation(Model):
    """A discrepancy (avvik) on the person's case (R12)."""

    kind: ShortText
    description: Text
    registered_private_by_known_deviation: bool = False


class Resolution(Model):
    """How a deviation was resolved."""

    note: Text


class DecisionWritten(Written):
    """A settlement decision and its two letters (to the municipality, to the person)."""

    letter_ids: list[str]


class DeviationWritten(Written):
    """A deviation opened or resolved; ``id`` is the person's, ``deviation_id`` the deviation's."""

    deviation_id: FromPath[str]


class RefugeeController(Controller):
    """Refugees and their settlement cases."""

    path = "/refugees"
    tags = ("refugees",)

    @post("/", operation_id="registerRefugee", sync_to_thread=True, opt=allowed(IMDI, RECEPTION))
    def register(self, ctx: Ctx, app: Settlement, data: JSONBody[NewRefugee]) -> Response[Written]:
        """Register a refugee (reception system, or imdi for resettlement refugees)."""
        result = app.register_refugee(
            ctx,
            full_name=data.full_name,
            birth_date=data.birth_date,
            family_id=data.family_id,
            unaccompanied_minor=data.unaccompanied_minor,
            residence=data.residence.model_dump(),
            postal_address=data.postal_address.model_dump(),
            category=data.category.value,
        )
        return written(result)

    @post("/{refugee_id:str}/mapping", operation_id="recordMapping", sync_to_thread=True,
          opt=allowed(RECEPTION, IMDI))
    def record_mapping(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[Mapping]
    ) -> Response[Written]:
        """Record the reception centre's mapping of the person (reception, imdi)."""
        result = app.record_mapping(
            ctx, refugee_id, data.education, data.work_experience, data.languages, data.health_needs, data.notes
        )
        return written(result)

    @post("/{refugee_id:str}/settlement-decision", operation_id="decideSettlement", sync_to_thread=True,
          opt=allowed(IMDI))
    def decide_settlement(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDecision]
    ) -> Response[DecisionWritten]:
        """Decide that a selected person is settled in the municipality; issues two letters (R5, R9)."""
        result = app.decide_settlement(ctx, refugee_id, data.municipality, data.year, data.override_reason)
        return written(result, DecisionWritten)

    @post("/{refugee_id:str}/settlement-date", operation_id="registerSettlementDate", sync_to_thread=True,
          opt=allowed(MUNICIPALITY, RECEPTION))
    def register_settlement_date(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDate]
    ) -> Response[Written]:
        """Register the settlement date: the municipality for persons who lived privately (R7), the reception system otherwise (R8)."""
        return written(app.register_settlement_date(ctx, refugee_id, data.date))

    @post("/{refugee_id:str}/settlement-date/correction", operation_id="correctSettlementDate",
          sync_to_thread=True, opt=allowed(IMDI))
    def correct_settlement_date(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[SettlementDateCorrection]
    ) -> Response[Written]:
        """Correct a settlement date, with a reason (imdi, R7f)."""
        return written(app.correct_settlement_date(ctx, refugee_id, data.date, data.reason))

    @post("/{refugee_id:str}/deviations", operation_id="openDeviation", sync_to_thread=True, opt=allowed(IMDI))
    def open_deviation(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], data: JSONBody[NewDeviation]
    ) -> Response[DeviationWritten]:
        """Open a deviation on the person's case; it blocks R7 until resolved (R12)."""
        result = app.open_deviation(
            ctx, refugee_id, data.kind, data.description, data.registered_private_by_known_deviation
        )
        return written(result, DeviationWritten)

    @post("/{refugee_id:str}/deviations/{deviation_id:str}/resolution", operation_id="resolveDeviation",
          sync_to_thread=True, opt=allowed(IMDI))
    def resolve_deviation(
        self, ctx: Ctx, app: Settlement, refugee_id: FromPath[Id], deviation_id: FromPath[Id], data: JSONBody[Resolution]
    ) -> Response[DeviationWritten]:
        """Resolve an open deviation (R12)."""
        return written(app.resolve_deviation(ctx, refugee_id, deviation_id, data.note), DeviationWritten)
