"""Municipalities: the registry and contact information, settlement requests (R1) and quota decisions (R2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.access import AUDITOR, EVERYONE, IMDI, MUNICIPALITY, allowed, municipality_scope
from api.context import Ctx, CurrentActor, Settlement, written
from api.schemas import (
    Count,
    Model,
    MunicipalityNumber,
    PostalAddress,
    ShortText,
    Text,
    Written,
    WrittenWithLetter,
    Year,
)
from api.views import ReadViews
from projections.municipalities import municipalities, municipality
from projections.places import places_by_year, places_for_year
from settlement_domain.errors import NotFound


class NewMunicipality(Model):
    """IMDi registers a municipality."""

    number: MunicipalityNumber
    name: ShortText
    county: ShortText


class Contact(Model):
    """A municipality's contact information."""

    contact_person: ShortText
    email: ShortText
    phone: ShortText
    postal_address: PostalAddress


class SettlementRequest(Model):
    """IMDi's request that the municipality settle persons (of which unaccompanied minors) in a year."""

    year: Year
    persons: Count
    unaccompanied_minors: Count
    reason: Text | None = None


class QuotaDecision(Model):
    """The municipality's own decision on how many it settles in a year."""

    year: Year
    persons: Count
    unaccompanied_minors: Count
    decided_on: date


class MunicipalityView(Model):
    """A registered municipality and its contact information."""

    number: str
    name: str
    county: str
    contact: Contact | None
    contact_updated_at: datetime | None


class PlaceCounts(Model):
    """R10: requested and decided (null until recorded), settled + agreed = used, vacant = decided - used."""

    requested: int | None
    decided: int | None
    settled: int
    agreed: int
    used: int
    vacant: int | None


class Places(Model):
    """A municipality's places in one year, in persons and of those unaccompanied minors (R10)."""

    municipality: str
    year: int
    persons: PlaceCounts
    unaccompanied_minors: PlaceCounts


class MunicipalityController(Controller):
    """The municipality registry, contact information, requests and quota decisions."""

    path = "/municipalities"
    tags = ("municipalities",)

    @post("/", operation_id="registerMunicipality", sync_to_thread=True, opt=allowed(IMDI))
    def register(self, ctx: Ctx, app: Settlement, data: JSONBody[NewMunicipality]) -> Response[Written]:
        """Register a municipality by its 4-digit number (imdi)."""
        return written(app.register_municipality(ctx, data.number, data.name, data.county))

    @put("/{number:str}/contact", operation_id="updateContact", sync_to_thread=True,
         opt=allowed(MUNICIPALITY, IMDI))
    def update_contact(self, ctx: Ctx, app: Settlement, number: FromPath[str], data: JSONBody[Contact]) -> Response[Written]:
        """Update the municipality's contact information (the municipality itself, or imdi)."""
        result = app.update_contact(
            ctx, number, data.contact_person, data.email, data.phone, data.postal_address.model_dump()
        )
        return written(result)

    @post("/{number:str}/requests", operation_id="requestSettlement", sync_to_thread=True, opt=allowed(IMDI))
    def request_settlement(
        self, ctx: Ctx, app: Settlement, number: FromPath[str], data: JSONBody[SettlementRequest]
    ) -> Response[WrittenWithLetter]:
        """Send (or revise, with a reason) the yearly settlement request; issues a request letter (R1)."""
        result = app.request_settlement(
            ctx, number, data.year, data.persons, data.unaccompanied_minors, data.reason
        )
        return written(result, WrittenWithLetter)

    @post("/{number:str}/quota-decisions", operation_id="decideQuota", sync_to_thread=True,
          opt=allowed(MUNICIPALITY, IMDI))
    def decide_quota(
        self, ctx: Ctx, app: Settlement, number: FromPath[str], data: JSONBody[QuotaDecision]
    ) -> Response[Written]:
        """Record the municipality's quota decision for a year; a later one revises it (R2)."""
        result = app.decide_quota(
            ctx, number, data.year, data.persons, data.unaccompanied_minors, data.decided_on
        )
        return written(result)

    @get("/", operation_id="listMunicipalities", sync_to_thread=True, opt=allowed(*EVERYONE))
    def list_municipalities(self, views: ReadViews) -> list[MunicipalityView]:
        """The registry: every municipality with its contact information (everyone)."""
        return [MunicipalityView.from_view(row) for row in views.query(municipalities)]

    @get("/{number:str}", operation_id="getMunicipality", sync_to_thread=True, opt=allowed(*EVERYONE))
    def get_municipality(self, views: ReadViews, number: FromPath[MunicipalityNumber]) -> MunicipalityView:
        """One municipality with its contact information (everyone)."""
        row = views.query(municipality, number)
        if row is None:
            raise NotFound("municipality", number)
        return MunicipalityView.from_view(row)

    @get("/{number:str}/places", operation_id="getPlaces", sync_to_thread=True,
         opt=allowed(MUNICIPALITY, IMDI, AUDITOR))
    def places(
        self, actor: CurrentActor, views: ReadViews, number: FromPath[MunicipalityNumber],
        year: Annotated[int | None, QueryParameter(ge=2000, le=2100, description="One year; all years if left out")] = None,
    ) -> Places | list[Places]:
        """Requested, decided, settled, agreed, used and vacant places per year, newest first (R10)."""
        municipality_scope(actor, number)
        if views.query(municipality, number) is None:
            raise NotFound("municipality", number)
        if year is not None:
            return Places.from_view(views.query(places_for_year, number, year))
        return [Places.from_view(row) for row in views.query(places_by_year, number)]
