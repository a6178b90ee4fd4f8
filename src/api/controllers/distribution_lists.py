"""Distribution lists (fordelingslister): IMDi proposes persons (R3), the municipality approves (R4)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from pydantic import Field, model_validator

from api.access import IMDI, MUNICIPALITY, allowed
from api.context import Ctx, Settlement, written
from api.schemas import Id, Model, MunicipalityNumber, Text, Written

MAX_PERSONS = 500


class NewDistributionList(Model):
    """Persons proposed to one municipality, with the date it must respond by (R3)."""

    municipality: MunicipalityNumber
    refugee_ids: Annotated[list[Id], Field(max_length=MAX_PERSONS)]
    respond_by: date


class Withdrawal(Model):
    """Why the list (or report) is withdrawn."""

    reason: Text


class Declined(Model):
    """A person declined, with the reason."""

    refugee_id: FromPath[Id]
    reason: Text


class Approval(Model):
    """Every person on the list, accepted or declined (R4)."""

    accepted: Annotated[list[Id], Field(max_length=MAX_PERSONS)]
    declined: Annotated[list[Declined], Field(max_length=MAX_PERSONS)]

    @model_validator(mode="after")
    def _each_declined_once(self) -> Approval:
        # The application takes declines keyed by person; a repeat would silently vanish there.
        ids = [d.refugee_id for d in self.declined]
        if len(ids) != len(set(ids)):
            raise ValueError("declined names a person more than once")
        return self


class ApprovalWritten(Written):
    """The approved list; ``selected`` are the accepted persons, ``letter_id`` their selection letter."""

    selected: list[str]
    letter_id: str | None = None


class DistributionListController(Controller):
    """Distribution lists."""

    path = "/distribution-lists"
    tags = ("distribution lists",)

    @post("/", operation_id="createDistributionList", sync_to_thread=True, opt=allowed(IMDI))
    def create(self, ctx: Ctx, app: Settlement, data: JSONBody[NewDistributionList]) -> Response[Written]:
        """Propose registered, available persons to one municipality; families whole (R3)."""
        return written(app.create_distribution_list(ctx, data.municipality, data.refugee_ids, data.respond_by))

    @post("/{list_id:str}/withdrawal", operation_id="withdrawDistributionList", sync_to_thread=True,
          opt=allowed(IMDI))
    def withdraw(self, ctx: Ctx, app: Settlement, list_id: FromPath[Id], data: JSONBody[Withdrawal]) -> Response[Written]:
        """Withdraw an open list; its persons become free again (R3)."""
        return written(app.withdraw_distribution_list(ctx, list_id, data.reason))

    @post("/{list_id:str}/approval", operation_id="approveDistributionList", sync_to_thread=True,
          opt=allowed(MUNICIPALITY))
    def approve(
        self, ctx: Ctx, app: Settlement, list_id: FromPath[Id], data: JSONBody[Approval]
    ) -> Response[ApprovalWritten]:
        """Accept or decline every person on the list; accepting selects the person (R4)."""
        declined = {d.refugee_id: d.reason for d in data.declined}
        return written(app.approve_distribution_list(ctx, list_id, data.accepted, declined), ApprovalWritten)
