"""Municipalities: the registry and contact information, settlement requests (R1) and quota decisions (R2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import Field

from api.http.access import EVERYONE, allowed, municipality_scope, sends
from api.http.context import Ctx, Settlement, written
from api.http.reads import MinPosition, ReadModels, Reads, read_models_at
from api.http.schemas import (
    AsOf,
    By,
    Clock,
    Count,
    IsoDate,
    Model,
    MunicipalityNumber,
    NumberInPath,
    PostalAddress,
    ShortText,
    Text,
    Written,
    WrittenWithLetter,
    Year,
    instant,
)
from projections.completeness import NOTICE, completeness
from projections.municipalities import municipalities, municipality
from projections.places import ALL_YEARS, ONE_YEAR, PLACES_OF_ONE, places_of_one, year_complete
from settlement_domain import commands as c
from settlement_domain import replay
from settlement_domain.application import SettlementApp
from settlement_domain.context import Actor, Role
from settlement_domain.errors import NotFound
from settlement_domain.values import ContactInformation


class NewMunicipality(Model):
    """IMDi registers a municipality."""

    number: MunicipalityNumber
    name: ShortText
    county: ShortText
    organisation_number: ShortText | None = None
    """R9: the 9-digit organisation number, the municipality's digital address for letters."""


class NewName(Model):
    """IMDi names a municipality."""

    name: ShortText


class Renamed(Written):
    """The write's answer, and whether the name changed (false: it was the municipality's name already)."""

    renamed: bool


class Contact(Model):
    """A municipality's contact information."""

    contact_person: ShortText
    email: ShortText
    phone: ShortText
    postal_address: PostalAddress
    organisation_number: ShortText | None = None
    """R9: the 9-digit organisation number, the digital address for letters (SvarUT)."""


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
    decided_on: IsoDate


class MunicipalityView(Model):
    """A registered municipality and its contact information."""

    number: str
    name: str
    county: str
    contact: Contact | None
    contact_updated_at: datetime | None
    organisation_number: str | None = None


class PlaceCounts(Model):
    """R10: requested and decided (null until recorded), settled + agreed = used, vacant = decided - used
    (negative only when places were taken over the quota by IMDi's override, counted in ``over_quota``,
    or by persons of a history import, R15, whose selections exceeded the decided quota)."""

    requested: int | None
    decided: int | None
    settled: int
    agreed: int
    used: int
    vacant: int | None
    over_quota: int

    @classmethod
    def of(cls, row: dict[str, Any], kind: str) -> PlaceCounts:
        """The counts of ``kind`` (``persons`` or ``minors``) from a row of the places read model."""
        decided, settled, agreed = row[f"decided_{kind}"], row[f"settled_{kind}"], row[f"agreed_{kind}"]
        used = settled + agreed
        return cls(
            requested=row[f"requested_{kind}"],
            decided=decided,
            settled=settled,
            agreed=agreed,
            used=used,
            vacant=None if decided is None else decided - used,
            over_quota=row[f"over_quota_{kind}"],
        )

    @staticmethod
    def answer(row: Mapping[str, Any], kind: str) -> dict[str, Any]:
        """What :meth:`of` answers, as the JSON object itself (the hot read skips the model)."""
        decided, settled, agreed = row[f"decided_{kind}"], row[f"settled_{kind}"], row[f"agreed_{kind}"]
        used = settled + agreed
        return {
            "requested": row[f"requested_{kind}"],
            "decided": decided,
            "settled": settled,
            "agreed": agreed,
            "used": used,
            "vacant": None if decided is None else decided - used,
            "over_quota": row[f"over_quota_{kind}"],
        }


class HistoricalFigures(Model):
    """R15: which of the year's figures came from IMDi's statistics (an import), and the number of persons
    settled that year as the statistics count them (beside the persons this service counts)."""

    request: bool
    decision: bool
    settled: int | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> HistoricalFigures | None:
        if not (
            row["historical_request"] or row["historical_decision"] or row["historical_settled"] is not None
        ):
            return None
        return cls(
            request=bool(row["historical_request"]), decision=bool(row["historical_decision"]),
            settled=row["historical_settled"],
        )  # fmt: skip

    @staticmethod
    def answer(row: Mapping[str, Any]) -> dict[str, Any] | None:
        """What :meth:`of` answers, as the JSON value itself."""
        if not (
            row["historical_request"] or row["historical_decision"] or row["historical_settled"] is not None
        ):
            return None
        return {
            "request": bool(row["historical_request"]), "decision": bool(row["historical_decision"]),
            "settled": row["historical_settled"],
        }  # fmt: skip


class Places(Model):
    """A municipality's places in one year, in persons and of those unaccompanied minors (R10)."""

    municipality: str
    year: int
    persons: PlaceCounts
    unaccompanied_minors: PlaceCounts
    historical: HistoricalFigures | None = Field(
        default=None, description="Figures from IMDi's statistics (R15); null when the year has none"
    )
    complete: bool = Field(default=False, description="IMDi has marked the year's data complete (R19)")
    notice: str | None = Field(default=NOTICE, description=f'"{NOTICE}" until the data is complete (R19)')

    def marked(self, complete: bool) -> Places:
        """The same figures with the year's completeness (R19) and, while incomplete, its notice."""
        return self.model_copy(update={"complete": complete, "notice": None if complete else NOTICE})

    @classmethod
    def of(cls, row: dict[str, Any]) -> Places:
        return cls(
            municipality=row["municipality"],
            year=row["year"],
            persons=PlaceCounts.of(row, "persons"),
            unaccompanied_minors=PlaceCounts.of(row, "minors"),
            historical=HistoricalFigures.of(row),
        )

    @staticmethod
    def answer(row: Mapping[str, Any], complete: bool) -> dict[str, Any]:
        """``Places.of(row).marked(complete)`` as the JSON object itself, built without the model: the
        hottest read of the API answers it (a test holds the two equal)."""
        return {
            "municipality": row["municipality"],
            "year": row["year"],
            "persons": PlaceCounts.answer(row, "persons"),
            "unaccompanied_minors": PlaceCounts.answer(row, "minors"),
            "historical": HistoricalFigures.answer(row),
            "complete": complete,
            "notice": None if complete else NOTICE,
        }

    @classmethod
    def nothing_recorded(cls, municipality: str, year: int) -> Places:
        """A year without any record: nothing requested or decided (null), nobody counted."""
        counts = PlaceCounts(
            requested=None, decided=None, settled=0, agreed=0, used=0, vacant=None, over_quota=0
        )
        return cls(municipality=municipality, year=year, persons=counts, unaccompanied_minors=counts)


class MunicipalityController(Controller):
    """The municipality registry, contact information, requests and quota decisions."""

    path = "/municipalities"
    tags = ("municipalities",)

    @post("/", operation_id="registerMunicipality", sync_to_thread=True, opt=sends(c.RegisterMunicipality))
    def register(self, ctx: Ctx, app: Settlement, data: JSONBody[NewMunicipality]) -> Response[Written]:
        """Register a municipality by its 4-digit number (imdi)."""
        return written(
            app.handle(
                ctx, c.RegisterMunicipality(data.number, data.name, data.county, data.organisation_number)
            )
        )

    @put(
        "/{number:str}/name",
        operation_id="renameMunicipality",
        status_code=201,  # as every write answers (written()); litestar's default for PUT is 200
        sync_to_thread=True,
        opt=sends(c.RenameMunicipality),
    )
    def rename(
        self, ctx: Ctx, app: Settlement, number: FromPath[NumberInPath], data: JSONBody[NewName]
    ) -> Response[Renamed]:
        """Name a municipality (imdi): one an import registered as "kommune NNNN", or renamed by a reform."""
        return written(app.handle(ctx, c.RenameMunicipality(number, data.name)), Renamed)

    @put(
        "/{number:str}/contact",
        operation_id="updateContact",
        status_code=201,  # as every write answers (written()); litestar's default for PUT is 200
        sync_to_thread=True,
        opt=sends(c.UpdateContact),
    )
    def update_contact(
        self, ctx: Ctx, app: Settlement, number: FromPath[NumberInPath], data: JSONBody[Contact]
    ) -> Response[Written]:
        """Update the municipality's contact information (the municipality itself, or imdi)."""
        contact = ContactInformation(
            data.contact_person,
            data.email,
            data.phone,
            data.postal_address.parsed(rule="registry"),
            data.organisation_number,
        )
        return written(app.handle(ctx, c.UpdateContact(number, contact)))

    @post(
        "/{number:str}/requests",
        operation_id="requestSettlement",
        sync_to_thread=True,
        opt=sends(c.RequestSettlement),
    )
    def request_settlement(
        self, ctx: Ctx, app: Settlement, number: FromPath[NumberInPath], data: JSONBody[SettlementRequest]
    ) -> Response[WrittenWithLetter]:
        """Send (or revise, with a reason) the yearly settlement request; issues a request letter (R1)."""
        command = c.RequestSettlement(number, data.year, data.persons, data.unaccompanied_minors, data.reason)
        return written(app.handle(ctx, command), WrittenWithLetter)

    @post(
        "/{number:str}/quota-decisions",
        operation_id="decideQuota",
        sync_to_thread=True,
        opt=sends(c.DecideQuota),
    )
    def decide_quota(
        self, ctx: Ctx, app: Settlement, number: FromPath[NumberInPath], data: JSONBody[QuotaDecision]
    ) -> Response[Written]:
        """Record the municipality's quota decision for a year; a later one revises it (R2)."""
        command = c.DecideQuota(number, data.year, data.persons, data.unaccompanied_minors, data.decided_on)
        return written(app.handle(ctx, command))

    @get("/", operation_id="listMunicipalities", sync_to_thread=True, opt=allowed(*EVERYONE))
    def list_municipalities(self, reads: Reads) -> list[MunicipalityView]:
        """The registry: every municipality with its contact information (everyone)."""
        return [MunicipalityView.from_row(row) for row in reads.query(municipalities)]

    @get("/{number:str}", operation_id="getMunicipality", sync_to_thread=True, opt=allowed(*EVERYONE))
    def get_municipality(self, reads: Reads, number: FromPath[NumberInPath]) -> MunicipalityView:
        """One municipality with its contact information (everyone)."""
        row = reads.query(municipality, number)
        if row is None:
            raise NotFound("municipality", number)
        return MunicipalityView.from_row(row)

    @get(
        "/{number:str}/places",
        operation_id="getPlaces",
        opt=allowed(Role.MUNICIPALITY, Role.IMDI, Role.AUDITOR),
    )
    async def get_places(
        self,
        request: Request[Actor, Any, Any],
        number: FromPath[NumberInPath],
        year: Annotated[
            int | None, QueryParameter(ge=2000, le=2100, description="One year; all years if left out")
        ] = None,
        as_of: AsOf = None,
        by: By = "recorded",
        min_position: MinPosition = None,
    ) -> Response[Places | list[Places]]:
        """Requested, decided, settled, agreed, used and vacant places per year, newest first (R10), with
        IMDi's historical figures (R15) and whether the year's data is complete (R19)."""
        # The hottest read of the API: no dependencies (litestar resolves several in a task group
        # each), one statement in the event loop, the answer built as JSON values without the models.
        municipality_scope(request.user, number)
        reads = await read_models_at(request, min_position)
        if as_of is not None:
            moment = instant(as_of, "as_of")
            app = request.app.state.settlement
            replayed = await anyio.to_thread.run_sync(places_as_of, reads, app, number, moment, by, year)
            return Response(replayed)
        if year is None:
            rows = await reads.one_statement(PLACES_OF_ONE, ALL_YEARS, {"municipality": number})
        else:
            rows = await reads.one_statement(PLACES_OF_ONE, ONE_YEAR, {"municipality": number, "year": year})
        found = places_of_one(rows)
        if found is None:
            raise NotFound("municipality", number)
        answer: Any
        if year is None:
            answer = [Places.answer(row, row["complete"]) for row in found]
        elif found:
            answer = Places.answer(found[0], found[0]["complete"])
        else:
            answer = Places.nothing_recorded(number, year).marked(year_complete(rows))
        return Response(answer)


def places_as_of(
    reads: ReadModels, app: SettlementApp, number: str, moment: datetime | None, by: Clock, year: int | None
) -> Places | list[Places]:
    """R14: the places as they stood at ``moment``, replayed from the event log (the municipality's own
    streams), not read from the read model; completeness (R19) as marked now."""
    if reads.query(municipality, number) is None:
        raise NotFound("municipality", number)
    rows = replay.places_as_of(app, number, moment, by=by, years=None if year is None else [year])
    complete = reads.query(completeness, [year] if year is not None else {r["year"] for r in rows})
    if year is not None:
        found = Places.of(rows[0]) if rows else Places.nothing_recorded(number, year)
        return found.marked(complete(number, year))
    return [Places.of(row).marked(complete(number, row["year"])) for row in rows]
