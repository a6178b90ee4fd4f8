"""Municipalities: the registry and contact information, settlement requests (R1) and quota decisions (R2)."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, post, put
from litestar.params import FromPath, JSONBody

from api.access import IMDI, MUNICIPALITY, allowed
from api.context import Ctx, Settlement, written
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
