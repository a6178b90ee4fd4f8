"""Reports (R13, R19: "Datagrunnlaget er ikke komplett") to read and download as CSV or XLSX, and the
audit search (R14): a municipality its own cases, IMDi and the auditor everything."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.http.access import EVERYONE, allowed, municipality_scope, sees_small_counts, sends
from api.http.controllers.reports import (
    KIND_NO,
    NATIONAL_COLUMNS,
    REVISION_COLUMNS,
    SETTLED_COLUMNS,
    data_note,
    national_rows,
    with_completeness,
)
from api.http.spreadsheets import CSV, XLSX, as_file
from api.messages import audit_summaries
from api.web.i18n import N_, OSLO, parse_date
from api.web.pages.base import actor, form_of, may, reads, record_shown, send
from api.web.render import Form, done, locale_of, page, refuse, translate
from projections.audit_trail import audit_events
from projections.completeness import completeness
from projections.municipalities import municipalities
from projections.reports import national_report, requests_and_decisions, settled_persons
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation

READERS = allowed(Role.MUNICIPALITY, Role.IMDI, Role.AUDITOR)
FORMATS = {"csv": CSV, "xlsx": XLSX}
REPORTS = ("requests-and-decisions", "settled-persons", "national")


def _year(request: Request) -> int:
    text = request.query_params.get("year") or ""
    this_year = request.app.state.settlement.clock().year
    return int(text) if text.isdigit() and 2000 <= int(text) <= 2100 else this_year


def _national(request: Request, year: int) -> dict[str, Any]:
    user = actor(request)
    models = reads(request)
    found = models.query(
        national_report, year, suppress=not sees_small_counts(user), viewer=user.municipality
    )
    return with_completeness(found, models.query(completeness, [year]))


FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
COMPLETENESS_FIELDS = {"year": "mark_year", "municipality": "mark_municipality"}


def _reports_page(request: Request, form: Form | None = None, year: int | None = None) -> Response[str]:
    user = actor(request)
    year = year or _year(request)
    number = request.query_params.get("municipality") or user.municipality or ""
    form = form or Form(values={"mark_year": str(year), "mark_complete": "true"})
    return page(
        request,
        "reports.html",
        status=200 if form.ok else 422,
        title=translate(request, "Reports"),
        year=year,
        report=_national(request, year),
        municipality=number,
        municipalities=reads(request).query(municipalities) if user.role is not Role.MUNICIPALITY else [],
        may_files=user.role in READERS["roles"],
        may_mark=may(request, c.MarkCompleteness),
        form=form,
    )


@get("/reports", opt=allowed(*EVERYONE), sync_to_thread=True)
def reports_page(request: Request) -> Response[str]:
    return _reports_page(request)


@post("/reports/completeness", opt=sends(c.MarkCompleteness), sync_to_thread=True)
def mark_completeness(request: Request, data: FormData) -> Response[Any]:
    """R19: IMDi marks a year's data (the whole year, or one municipality's) as complete or not."""
    form = form_of(data)
    year = form.whole("mark_year", translate(request, "Give the year, like 2025."), low=2000, high=2100)
    number = form.text("mark_municipality", "", required=False, max_length=4) or None
    complete = form.get("mark_complete") != "false"
    if form.ok:
        try:
            send(request, c.MarkCompleteness(year, number, complete), form)
        except RuleViolation as error:
            refuse(request, form, error, COMPLETENESS_FIELDS)
        else:
            if complete:
                return done(request, f"/reports?year={year}", N_("The data is marked as complete."))
            return done(request, f"/reports?year={year}", N_("The data is marked as not complete."))
    return _reports_page(request, form, year if form.errors.get("mark_year") is None else None)


@get("/reports/download/{name:str}", opt=READERS, sync_to_thread=True)
def download(request: Request, name: FromPath[str]) -> Response[bytes]:
    """A report as a file; its values are those of the API's CSV/XLSX (Norwegian headings and values)."""
    media_type = FORMATS.get(request.query_params.get("format", ""))
    if name not in REPORTS or media_type is None:
        raise NotFound("report", name)
    user = actor(request)
    models = reads(request)
    year = _year(request)
    if name == "national":
        return as_file(
            national_rows(_national(request, year)), NATIONAL_COLUMNS, media_type, f"nasjonal-{year}"
        )
    asked = request.query_params.get("municipality") or None
    number = municipality_scope(user, asked)
    if name == "requests-and-decisions":
        found = models.query(requests_and_decisions, municipality=number)
        complete = models.query(completeness, {entry["year"] for entry in found})
        rows = [
            {
                **revision,
                "municipality": entry["municipality"],
                "year": entry["year"],
                "kind": KIND_NO.get(revision["kind"], revision["kind"]),
                "data": data_note(complete(entry["municipality"], entry["year"])),
            }
            for entry in found
            for revision in entry["history"]
        ]
        return as_file(rows, REVISION_COLUMNS, media_type, "anmodninger-og-vedtak")
    if number is None:
        raise NotFound("municipality", "")
    found = models.query(settled_persons, number, None)
    record_shown(request, found)  # R14: the file names every person in it
    complete = models.query(completeness, {row["place_year"] for row in found})
    rows = [{**row, "data": data_note(complete(number, row["place_year"]))} for row in found]
    return as_file(rows, SETTLED_COLUMNS, media_type, f"bosatte-{number}")


def _moment(text: str | None, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = parse_date(text)
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=OSLO)


@get("/audit", opt=allowed(Role.MUNICIPALITY, Role.IMDI, Role.AUDITOR), sync_to_thread=True)
def audit_page(request: Request) -> Response[str]:
    user = actor(request)
    query = request.query_params
    own = user.municipality if user.role is Role.MUNICIPALITY else None
    searched = {key: (query.get(key) or "").strip()[:200] for key in ("q", "person", "type", "from", "to")}
    found = reads(request).query(
        audit_events,
        person=searched["person"] or None,
        own_cases_of=own,
        type=searched["type"] or None,
        recorded_from=_moment(searched["from"]),
        recorded_to=_moment(searched["to"], end=True),
        q=searched["q"] or None,
        cursor=query.get("cursor") or None,
        limit=50,
    )
    return page(
        request,
        "audit.html",
        title=translate(request, "Event log"),
        events=audit_summaries(locale_of(request), found["items"]),
        next_cursor=found["next_cursor"],
        searched=searched,
    )
