"""Distribution lists (fordelingslister): IMDi proposes persons (R3), the municipality approves (R4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import Field

from api.http.access import allowed, check_owner, municipality_scope, sends
from api.http.context import Ctx, CurrentActor, Settlement, record_listed, written
from api.http.reads import Reads
from api.http.schemas import (
    Cursor,
    Id,
    IsoDate,
    Limit,
    Model,
    MunicipalityNumber,
    Page,
    Text,
    Withdrawal,
    Written,
    Year,
    body_ids,
    path_id,
)
from projections.distribution_lists import distribution_list, distribution_lists
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound
from settlement_domain.values import Decline

MAX_PERSONS = 500


class NewDistributionList(Model):
    """Persons proposed to one municipality, with the date it must respond by (R3)."""

    municipality: MunicipalityNumber
    refugee_ids: Annotated[list[Id], Field(max_length=MAX_PERSONS)]
    respond_by: IsoDate
    year: Year | None = Field(
        default=None, description="Settlement year; default the year of respond_by (R3)"
    )


class Declined(Model):
    """A person declined, with the reason."""

    refugee_id: Id
    reason: Text


class Approval(Model):
    """Every person on the list, accepted or declined (R4)."""

    accepted: Annotated[list[Id], Field(max_length=MAX_PERSONS)]
    declined: Annotated[list[Declined], Field(max_length=MAX_PERSONS)]


class ApprovalWritten(Written):
    """The approved list; ``selected`` are the accepted persons, ``letter_id`` their selection letter."""

    selected: list[str]
    letter_id: str | None = None


class ListedPerson(Model):
    """A person on a list: summary fields; name, decline reason and ``family_id`` once selected (or
    for imdi); ``family_ref``, an opaque id the same for every member of a family, always."""

    refugee_id: str
    age: int | None
    category: str | None
    unaccompanied_minor: bool | None
    family_id: str | None
    family_size: int | None
    family_ref: str | None = None
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
    year: int
    persons: int
    accepted: int | None
    declined: int | None
    created_at: datetime
    closed_at: datetime | None
    refugees: list[ListedPerson]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DistributionListView:
        return cls.model_validate(
            {
                **{k: row[k] for k in cls.model_fields if k != "refugees"},
                "refugees": [ListedPerson.from_row(p) for p in row["refugees"]],
            }
        )


ListStatus = Literal["open", "approved", "withdrawn"]
READERS = allowed(Role.MUNICIPALITY, Role.IMDI)


class DistributionListController(Controller):
    """Distribution lists."""

    path = "/distribution-lists"
    tags = ("distribution lists",)

    @post(
        "/", operation_id="createDistributionList", sync_to_thread=True, opt=sends(c.CreateDistributionList)
    )
    def create(self, ctx: Ctx, app: Settlement, data: JSONBody[NewDistributionList]) -> Response[Written]:
        """Propose registered, available persons to one municipality for a settlement year; families whole (R3)."""
        command = c.CreateDistributionList(
            data.municipality, body_ids(data.refugee_ids, "R3", "refugee_ids"), data.respond_by, data.year
        )
        return written(app.handle(ctx, command))

    @post(
        "/{list_id:str}/withdrawal",
        operation_id="withdrawDistributionList",
        sync_to_thread=True,
        opt=sends(c.WithdrawDistributionList),
    )
    def withdraw(
        self, ctx: Ctx, app: Settlement, list_id: FromPath[Id], data: JSONBody[Withdrawal]
    ) -> Response[Written]:
        """Withdraw an open list; its persons become free again (R3)."""
        command = c.WithdrawDistributionList(path_id(list_id, "distribution list"), data.reason)
        return written(app.handle(ctx, command))

    @post(
        "/{list_id:str}/approval",
        operation_id="approveDistributionList",
        sync_to_thread=True,
        opt=sends(c.ApproveDistributionList),
    )
    def approve(
        self, ctx: Ctx, app: Settlement, list_id: FromPath[Id], data: JSONBody[Approval]
    ) -> Response[ApprovalWritten]:
        """Accept or decline every person on the list; accepting selects the person and takes a place
        of the list's year, which must be vacant (R4)."""
        command = c.ApproveDistributionList(
            path_id(list_id, "distribution list"),
            body_ids(data.accepted, "R4", "accepted"),
            tuple(
                Decline(refugee_id, d.reason)
                for refugee_id, d in zip(
                    body_ids([d.refugee_id for d in data.declined], "R4", "declined"),
                    data.declined,
                    strict=True,
                )
            ),
        )
        return written(app.handle(ctx, command), ApprovalWritten)

    @get("/", operation_id="listDistributionLists", sync_to_thread=True, opt=READERS)
    def list_lists(
        self,
        ctx: Ctx,
        actor: CurrentActor,
        reads: Reads,
        app: Settlement,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        status: FromQuery[ListStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[DistributionListView]:
        """Distribution lists, newest first; a municipality sees its own, with names only once selected."""
        found = reads.query(
            distribution_lists,
            today=app.clock(),
            summary_only=actor.role is Role.MUNICIPALITY,
            municipality=municipality_scope(actor, municipality),
            status=status,
            cursor=cursor,
            limit=limit,
        )
        record_listed(app, ctx, "GET /distribution-lists", _named(found["items"]))
        return Page[DistributionListView].of(found, DistributionListView)

    @get("/{list_id:str}", operation_id="getDistributionList", sync_to_thread=True, opt=READERS)
    def get_list(
        self, ctx: Ctx, actor: CurrentActor, reads: Reads, app: Settlement, list_id: FromPath[Id]
    ) -> DistributionListView:
        """One distribution list with its persons (its own municipality, imdi)."""
        found = reads.query(
            distribution_list, list_id, today=app.clock(), summary_only=actor.role is Role.MUNICIPALITY
        )
        if found is None:
            raise NotFound("distribution list", list_id)
        check_owner(actor, found["municipality"], "distribution list", list_id)
        record_listed(app, ctx, "GET /distribution-lists/{id}", _named([found]))
        return DistributionListView.from_row(found)


def _named(lists: list[Any]) -> list[str]:
    """The persons whose names the lists show (R14): all to imdi, the selected ones to a municipality."""
    return [p["refugee_id"] for dlist in lists for p in dlist["refugees"] if p.get("full_name") is not None]
