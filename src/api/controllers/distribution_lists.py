"""Distribution lists (fordelingslister): IMDi proposes persons (R3), the municipality approves (R4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import Field, model_validator

from api.access import IMDI, MUNICIPALITY, allowed, check_owner, municipality_scope
from api.context import Ctx, CurrentActor, Settlement, written
from api.schemas import Cursor, Id, Limit, Model, MunicipalityNumber, Page, Text, Written
from api.views import ReadViews
from projections.open_lists import distribution_list, distribution_lists
from settlement_domain.errors import NotFound

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


class ListedPerson(Model):
    """A person on a list: summary fields; name and decline reason once selected (or for imdi)."""

    refugee_id: str
    age: int | None
    category: str | None
    unaccompanied_minor: bool | None
    family_id: str | None
    family_size: int | None
    residence_kind: str | None
    outcome: str | None
    full_name: str | None = None
    decline_reason: str | None = None


class DistributionListView(Model):
    """A distribution list and its persons."""

    list_id: str
    municipality: str
    status: str
    respond_by: date
    persons: int
    accepted: int | None
    declined: int | None
    created_at: datetime
    closed_at: datetime | None
    refugees: list[ListedPerson]

    @classmethod
    def from_view(cls, row: Mapping[str, Any]) -> DistributionListView:
        return cls.model_validate({**{k: row[k] for k in cls.model_fields if k != "refugees"},
                                   "refugees": [ListedPerson.from_view(p) for p in row["refugees"]]})


ListStatus = Literal["open", "approved", "withdrawn"]
READERS = allowed(MUNICIPALITY, IMDI)


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

    @get("/", operation_id="listDistributionLists", sync_to_thread=True, opt=READERS)
    def list_lists(
        self, actor: CurrentActor, views: ReadViews, app: Settlement,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        status: FromQuery[ListStatus | None] = None, cursor: Cursor = None, limit: Limit = 100,
    ) -> Page[DistributionListView]:
        """Distribution lists, newest first; a municipality sees its own, with names only once selected."""
        found = views.query(
            distribution_lists, today=app.clock(), summary_only=actor.role is MUNICIPALITY,
            municipality=municipality_scope(actor, municipality), status=status, cursor=cursor, limit=limit,
        )
        return Page[DistributionListView].of(found, DistributionListView)

    @get("/{list_id:str}", operation_id="getDistributionList", sync_to_thread=True, opt=READERS)
    def get_list(
        self, actor: CurrentActor, views: ReadViews, app: Settlement, list_id: FromPath[Id]
    ) -> DistributionListView:
        """One distribution list with its persons (its own municipality, imdi)."""
        found = views.query(distribution_list, list_id, today=app.clock(),
                            summary_only=actor.role is MUNICIPALITY)
        if found is None:
            raise NotFound("distribution list", list_id)
        check_owner(actor, found["municipality"], "distribution list", list_id)
        return DistributionListView.from_view(found)
