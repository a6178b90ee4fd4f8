"""Capacity for unaccompanied minors over 15, reported by the municipality (R11)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from pydantic import Field

from api.access import MUNICIPALITY, allowed
from api.context import Ctx, Settlement, written
from api.controllers.distribution_lists import Withdrawal
from api.schemas import Count, Id, Model, Text, Written


class CapacityReport(Model):
    """Vacant places for unaccompanied minors aged 15-17, from an ISO week on (R11)."""

    places: Count
    expected_week: Annotated[str, Field(max_length=20, description="ISO week, like 2025-W14")]
    min_age: Count
    max_age: Count
    round_the_clock_staffing: bool
    special_conditions: Text


class MinorCapacityController(Controller):
    """Capacity reports for unaccompanied minors."""

    path = "/"
    tags = ("minor capacity",)

    @post("/municipalities/{number:str}/minor-capacity", operation_id="reportMinorCapacity",
          sync_to_thread=True, opt=allowed(MUNICIPALITY))
    def report(self, ctx: Ctx, app: Settlement, number: FromPath[str], data: JSONBody[CapacityReport]) -> Response[Written]:
        """Report vacant capacity for unaccompanied minors over 15 (the municipality itself, R11)."""
        result = app.report_minor_capacity(
            ctx, number, data.places, data.expected_week, data.min_age, data.max_age,
            data.round_the_clock_staffing, data.special_conditions,
        )
        return written(result)

    @post("/minor-capacity/{capacity_id:str}/withdrawal", operation_id="withdrawMinorCapacity",
          sync_to_thread=True, opt=allowed(MUNICIPALITY))
    def withdraw(self, ctx: Ctx, app: Settlement, capacity_id: FromPath[Id], data: JSONBody[Withdrawal]) -> Response[Written]:
        """Withdraw an open capacity report (R11)."""
        return written(app.withdraw_minor_capacity(ctx, capacity_id, data.reason))

    @post("/minor-capacity/{capacity_id:str}/filled", operation_id="markMinorCapacityFilled",
          sync_to_thread=True, opt=allowed(MUNICIPALITY))
    def mark_filled(self, ctx: Ctx, app: Settlement, capacity_id: FromPath[Id]) -> Response[Written]:
        """Mark an open capacity report as filled (R11)."""
        return written(app.mark_minor_capacity_filled(ctx, capacity_id))
