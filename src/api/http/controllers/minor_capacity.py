"""Capacity for unaccompanied minors over 15, reported by the municipality (R11)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import Field

from api.http.access import allowed, municipality_scope, sends
from api.http.context import Ctx, CurrentActor, Settlement, written
from api.http.reads import Reads
from api.http.schemas import (
    Count,
    Cursor,
    Flag,
    Id,
    Limit,
    Model,
    MunicipalityNumber,
    NumberInPath,
    Page,
    ShortText,
    Text,
    Withdrawal,
    Written,
    path_id,
)
from projections.minor_capacity import minor_capacity_reports
from settlement_domain import commands as c
from settlement_domain.context import Role


class CapacityReport(Model):
    """Vacant places for unaccompanied minors aged 15-17, from an ISO week on (R11)."""

    places: Count
    expected_week: Annotated[ShortText, Field(max_length=20, description="ISO week, like 2025-W14")]
    min_age: Count
    max_age: Count
    round_the_clock_staffing: Flag
    special_conditions: Text


class CapacityView(Model):
    """A capacity report and its state (open, withdrawn, filled)."""

    capacity_id: str
    municipality: str
    places: int
    expected_week: str
    min_age: int
    max_age: int
    round_the_clock_staffing: bool
    special_conditions: str
    status: str
    withdrawal_reason: str | None
    reported_at: datetime
    closed_at: datetime | None


class MinorCapacityController(Controller):
    """Capacity reports for unaccompanied minors."""

    path = "/"
    tags = ("minor capacity",)

    @post(
        "/municipalities/{number:str}/minor-capacity",
        operation_id="reportMinorCapacity",
        sync_to_thread=True,
        opt=sends(c.ReportMinorCapacity),
    )
    def report(
        self, ctx: Ctx, app: Settlement, number: FromPath[NumberInPath], data: JSONBody[CapacityReport]
    ) -> Response[Written]:
        """Report vacant capacity for unaccompanied minors over 15 (the municipality itself, R11)."""
        command = c.ReportMinorCapacity(
            number,
            data.places,
            data.expected_week,
            data.min_age,
            data.max_age,
            data.round_the_clock_staffing,
            data.special_conditions,
        )
        return written(app.handle(ctx, command))

    @post(
        "/minor-capacity/{capacity_id:str}/withdrawal",
        operation_id="withdrawMinorCapacity",
        sync_to_thread=True,
        opt=sends(c.WithdrawMinorCapacity),
    )
    def withdraw(
        self, ctx: Ctx, app: Settlement, capacity_id: FromPath[Id], data: JSONBody[Withdrawal]
    ) -> Response[Written]:
        """Withdraw an open capacity report (R11)."""
        command = c.WithdrawMinorCapacity(path_id(capacity_id, "capacity report"), data.reason)
        return written(app.handle(ctx, command))

    @post(
        "/minor-capacity/{capacity_id:str}/filled",
        operation_id="markMinorCapacityFilled",
        sync_to_thread=True,
        opt=sends(c.MarkMinorCapacityFilled),
    )
    def mark_filled(self, ctx: Ctx, app: Settlement, capacity_id: FromPath[Id]) -> Response[Written]:
        """Mark an open capacity report as filled (R11)."""
        command = c.MarkMinorCapacityFilled(path_id(capacity_id, "capacity report"))
        return written(app.handle(ctx, command))

    @get(
        "/minor-capacity",
        operation_id="listMinorCapacity",
        sync_to_thread=True,
        opt=allowed(Role.MUNICIPALITY, Role.IMDI),
    )
    def list_reports(
        self,
        actor: CurrentActor,
        reads: Reads,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        open_only: Annotated[bool, QueryParameter(name="open", description="Only open reports")] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[CapacityView]:
        """Capacity reports by expected week (own municipality, imdi)."""
        found = reads.query(
            minor_capacity_reports,
            municipality_scope(actor, municipality),
            open_only=open_only,
            cursor=cursor,
            limit=limit,
        )
        return Page[CapacityView].of(found, CapacityView)
