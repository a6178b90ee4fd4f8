"""Reports (R13): requests and decisions, settled persons, the national report; JSON, CSV or XLSX."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from api.http.access import EVERYONE, allowed, municipality_scope, sees_small_counts
from api.http.context import Ctx, CurrentActor, Settlement, record_listed
from api.http.reads import Reads
from api.http.schemas import AsOf, By, Model, MunicipalityNumber, instant
from api.http.spreadsheets import FILE_FORMATS, JSON, as_file, wanted_format
from projections.completeness import NOTICE, Completeness, completeness
from projections.reports import breakdown, national_report, protect, requests_and_decisions, settled_persons
from settlement_domain import replay
from settlement_domain.context import Role

ReportYear = Annotated[int | None, QueryParameter(ge=2000, le=2100)]
FORMATS = (
    " Answers JSON, or a file with Norwegian column headings for `Accept: text/csv` (semicolon-separated, "
    "UTF-8) or `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`."
)


class Revision(Model):
    """One request or quota decision as recorded (every revision is kept)."""

    position: int
    kind: str
    revision: int
    persons: int
    unaccompanied_minors: int | None  # null: a figure imported from IMDi's statistics without the split
    decided_on: date | None
    recorded_by_imdi: bool | None
    reason: str | None
    recorded_at: datetime
    source_file: str | None = None  # R15: the file of IMDi's statistics the figure was imported from


class RequestsAndDecisions(Model):
    """A municipality's year: the request and decision that stand, and every revision."""

    municipality: str
    year: int
    request: Revision | None
    decision: Revision | None
    history: list[Revision]
    complete: bool = False  # R19
    notice: str | None = NOTICE

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RequestsAndDecisions:
        def revision(value: Mapping[str, Any] | None) -> Revision | None:
            return None if value is None else Revision.from_row(value)

        return cls(
            municipality=row["municipality"],
            year=row["year"],
            request=revision(row["request"]),
            decision=revision(row["decision"]),
            history=[Revision.from_row(r) for r in row["history"]],
            complete=row["complete"],
            notice=None if row["complete"] else NOTICE,
        )


class SettledPerson(Model):
    """A person settled in the municipality (the specialised report)."""

    refugee_id: str
    full_name: str | None
    birth_date: date | None
    category: str
    unaccompanied_minor: bool
    family_id: str | None
    settlement_date: date
    date_source: str | None
    decision_year: int | None
    selection_year: int | None
    complete: bool = False  # R19: the data of the person's place year
    notice: str | None = NOTICE


Figure = int | str | None  # "<5" where R13 hides a small count, ":" where a cell would give one away


class NationalRow(Model):
    """Requested, decided, settled and vacant persons of one municipality."""

    municipality: str
    name: str
    county: str
    requested: int | None
    decided: int | None
    settled: Figure
    vacant: Figure
    historical_settled: int | None = None  # R15: settled according to IMDi's statistics (published figures)
    complete: bool = False  # R19


class CountyRow(Model):
    """The same figures summed over a county."""

    county: str
    requested: int | None
    decided: int | None
    settled: Figure
    vacant: Figure
    historical_settled: int | None = None  # R15: settled according to IMDi's statistics (published figures)
    complete: bool = False  # R19


class Totals(Model):
    """The same figures for the whole country."""

    requested: int | None
    decided: int | None
    settled: Figure
    vacant: Figure
    historical_settled: int | None = None  # R15: settled according to IMDi's statistics (published figures)
    complete: bool = False  # R19


class NationalReport(Model):
    """The national report of one year, per municipality and per county (R13)."""

    year: int
    municipalities: list[NationalRow]
    counties: list[CountyRow]
    total: Totals
    complete: bool = False  # R19: the whole year's data
    notice: str | None = NOTICE


REVISION_COLUMNS = (
    ("municipality", "Kommunenummer"),
    ("year", "År"),
    ("kind", "Type"),
    ("revision", "Revisjon"),
    ("persons", "Personer"),
    ("unaccompanied_minors", "Herav enslige mindreårige"),
    ("decided_on", "Vedtaksdato"),
    ("recorded_by_imdi", "Registrert av IMDi"),
    ("reason", "Begrunnelse"),
    ("recorded_at", "Registrert"),
    ("source_file", "Fra fil (IMDis statistikk)"),
    ("data", "Datagrunnlag"),
)
KIND_NO = {"request": "Anmodning", "decision": "Vedtak"}
SETTLED_COLUMNS = (
    ("refugee_id", "Person-ID"),
    ("full_name", "Navn"),
    ("birth_date", "Fødselsdato"),
    ("category", "Kategori"),
    ("unaccompanied_minor", "Enslig mindreårig"),
    ("family_id", "Familie-ID"),
    ("settlement_date", "Bosettingsdato"),
    ("date_source", "Dato registrert av"),
    ("decision_year", "Vedtaksår"),
    ("selection_year", "Utsøkingsår"),
    ("data", "Datagrunnlag"),
)
NATIONAL_COLUMNS = (
    ("municipality", "Kommunenummer"),
    ("name", "Kommune"),
    ("county", "Fylke"),
    ("requested", "Anmodet"),
    ("decided", "Vedtatt"),
    ("settled", "Bosatt"),
    ("vacant", "Ledige plasser"),
    ("level", "Nivå"),
    ("historical_settled", "Bosatt ifølge IMDis statistikk"),
    ("data", "Datagrunnlag"),
)
READERS = allowed(Role.MUNICIPALITY, Role.IMDI, Role.AUDITOR)


def data_note(complete: bool) -> str:
    """The Datagrunnlag column of a file (R19)."""
    return "komplett" if complete else "ikke komplett"


def national_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The national report as one sheet: the municipalities, then each county's and the nation's totals."""
    return [
        *(
            {**row, "level": "Kommune", "data": data_note(row["complete"])}
            for row in report["municipalities"]
        ),
        *(
            {**row, "name": f"{row['county']} i alt", "level": "Fylke", "data": data_note(row["complete"])}
            for row in report["counties"]
        ),
        {**report["total"], "name": "Hele landet", "level": "Landet", "data": data_note(report["complete"])},
    ]


def with_completeness(report: dict[str, Any], complete: Completeness) -> dict[str, Any]:
    """The national report with each municipality's, county's and the year's completeness (R19): a
    county or the nation is complete when every municipality in it is."""
    year = report["year"]
    rows = [{**row, "complete": complete(row["municipality"], year)} for row in report["municipalities"]]
    by_county: dict[str, bool] = {}
    for row in rows:
        by_county[row["county"]] = by_county.get(row["county"], True) and row["complete"]
    whole = all(row["complete"] for row in rows) if rows else complete(None, year)
    return {
        **report,
        "municipalities": rows,
        "counties": [
            {**county, "complete": by_county.get(county["county"], whole)} for county in report["counties"]
        ],
        "total": {**report["total"], "complete": whole},
        "complete": whole,
        "notice": None if whole else NOTICE,
    }


class ReportController(Controller):
    """The reports of R13."""

    path = "/reports"
    tags = ("reports",)

    @get(
        "/requests-and-decisions",
        operation_id="reportRequestsAndDecisions",
        sync_to_thread=True,
        opt={**READERS, "formats": FILE_FORMATS},
        description=FORMATS,
    )
    def requests_and_decisions(
        self,
        request: Request,
        actor: CurrentActor,
        reads: Reads,
        year_from: ReportYear = None,
        year_to: ReportYear = None,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
    ) -> Response[list[RequestsAndDecisions]]:
        """Requests and quota decisions per municipality and year, with every revision (own, imdi, auditor)."""
        media_type = wanted_format(request)
        found = reads.query(
            requests_and_decisions,
            year_from=year_from,
            year_to=year_to,
            municipality=municipality_scope(actor, municipality),
        )
        complete = reads.query(completeness, {entry["year"] for entry in found})
        found = [{**entry, "complete": complete(entry["municipality"], entry["year"])} for entry in found]
        if media_type != JSON:
            rows = [
                {
                    **revision,
                    "municipality": entry["municipality"],
                    "year": entry["year"],
                    "kind": KIND_NO.get(revision["kind"], revision["kind"]),
                    "data": data_note(entry["complete"]),
                }
                for entry in found
                for revision in entry["history"]
            ]
            return as_file(rows, REVISION_COLUMNS, media_type, "anmodninger-og-vedtak")
        return Response([RequestsAndDecisions.from_row(entry) for entry in found])

    @get(
        "/settled-persons",
        operation_id="reportSettledPersons",
        sync_to_thread=True,
        opt={**READERS, "formats": FILE_FORMATS},
        description=FORMATS,
    )
    def settled_persons(
        self,
        request: Request,
        ctx: Ctx,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        municipality: Annotated[
            MunicipalityNumber | None,
            QueryParameter(name="municipality", description="Required for imdi and auditor"),
        ] = None,
        year: ReportYear = None,
    ) -> Response[list[SettledPerson]]:
        """The specialised report: persons settled in one municipality, by settlement date (own, imdi, auditor)."""
        media_type = wanted_format(request)
        number = municipality_scope(actor, municipality)
        if number is None:
            raise ValidationException(
                "Name the municipality.", extra=[{"key": "municipality", "message": "required for this role"}]
            )
        found = reads.query(settled_persons, number, year)
        complete = reads.query(completeness, {row["place_year"] for row in found})
        found = [
            {
                **row,
                "complete": complete(number, row["place_year"]),
                "data": data_note(complete(number, row["place_year"])),
            }
            for row in found
        ]
        record_listed(app, ctx, "GET /reports/settled-persons", [row["refugee_id"] for row in found])
        if media_type != JSON:
            return as_file(found, SETTLED_COLUMNS, media_type, f"bosatte-{number}")
        return Response([SettledPerson.from_row(row) for row in found])

    @get(
        "/national",
        operation_id="reportNational",
        sync_to_thread=True,
        opt={**allowed(*EVERYONE), "formats": FILE_FORMATS},
        description=FORMATS,
    )
    def national(
        self,
        request: Request,
        actor: CurrentActor,
        reads: Reads,
        app: Settlement,
        year: ReportYear = None,
        as_of: AsOf = None,
        by: By = "recorded",
    ) -> Response[NationalReport]:
        """Requested, decided, settled and vacant persons per municipality and county; settled counts below 5 show as "<5" except to imdi and auditor, and cells that would give one away as ":" (everyone)."""
        media_type = wanted_format(request)
        year = year or app.clock().year
        suppress = not sees_small_counts(actor)
        if as_of is not None:
            # R14: replayed from the event log as it stood at the moment, then suppressed as today's (R13).
            moment = instant(as_of, "as_of")
            found = breakdown(
                year,
                replay.municipalities_as_of(app, moment, by=by),
                replay.national_as_of(app, year, moment, by=by),
            )
            if suppress:
                protect(found, viewer=actor.municipality)
        else:
            found = reads.query(national_report, year, suppress=suppress, viewer=actor.municipality)
        found = with_completeness(found, reads.query(completeness, [found["year"]]))
        if media_type != JSON:
            return as_file(national_rows(found), NATIONAL_COLUMNS, media_type, f"nasjonal-{found['year']}")
        return Response(NationalReport.model_validate(found))
