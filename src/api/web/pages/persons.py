"""Persons: the person folder (R6, every read recorded), settlement dates of persons who lived
privately (R7, its refusals in words), and IMDi's settlement decision (R5), deviations (R12) and
corrections (R7f)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.http.access import allowed, sends
from api.web.i18n import N_
from api.web.pages.base import actor, form_of, may, reads, record_shown, send
from api.web.render import Form, done, page, refuse, translate
from projections.person_folders import person_folder, persons_awaiting_settlement_date, persons_with_status
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
SHOWN = 200


def _person_id(refugee_id: str) -> UUID:
    try:
        return UUID(refugee_id)
    except ValueError:
        raise NotFound("person", refugee_id) from None


@get("/persons", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def persons_page(request: Request) -> Response[str]:
    user = actor(request)
    models = reads(request)
    awaiting = models.query(persons_awaiting_settlement_date, user.municipality, limit=SHOWN)
    selected = models.query(persons_with_status, "selected", limit=SHOWN) if user.role is Role.IMDI else None
    record_shown(request, [*awaiting["items"], *(selected["items"] if selected else ())])
    return page(
        request,
        "persons.html",
        title=translate(request, "Persons"),
        awaiting=awaiting["items"],
        selected=selected["items"] if selected else None,
    )


def _folder_page(request: Request, refugee_id: str, form: Form | None = None) -> Response[str]:
    person = _person_id(refugee_id)
    # The application checks tenancy and R6, and records the read in the audit trail (R14).
    send(request, c.RecordFolderRead(person))
    folder = reads(request).query(person_folder, str(person))
    if folder is None:
        raise NotFound("person", refugee_id)
    form = form or Form(values={"municipality": folder["selected_by"] or ""})
    return page(
        request,
        "folder.html",
        status=200 if form.ok else 422,
        title=(None if folder.get("erased") else folder["full_name"]) or translate(request, "Person folder"),
        folder=folder,
        form=form,
        may_decide=may(request, c.DecideSettlement) and folder["status"] == "selected",
        may_deviate=may(request, c.OpenDeviation),
        may_correct=may(request, c.CorrectSettlementDate) and folder["status"] in ("decided", "settled"),
        may_register=may(request, c.RegisterSettlementDate) and folder["settlement_date"] is None,
    )


@get("/persons/{refugee_id:str}", opt=sends(c.RecordFolderRead), sync_to_thread=True)
def folder_page(request: Request, refugee_id: FromPath[str]) -> Response[str]:
    return _folder_page(request, refugee_id)


@post("/persons/{refugee_id:str}/decision", opt=sends(c.DecideSettlement), sync_to_thread=True)
def decide(request: Request, refugee_id: FromPath[str], data: FormData) -> Response[Any]:
    person = _person_id(refugee_id)
    form = form_of(data)
    municipality = form.text("municipality", translate(request, "Give the municipality's number."))
    year_text = str(form.get("decision_year")).strip()
    year = (
        form.whole("decision_year", translate(request, "Give the year as four digits."), low=2000, high=2100)
        if year_text
        else None
    )
    override = form.text("override_reason", "", required=False)
    if form.ok:
        try:
            send(request, c.DecideSettlement(person, municipality, year, override or None), form)
        except RuleViolation as error:
            refuse(request, form, error, {"year": "decision_year", "override_reason": "override_reason"})
        else:
            return done(
                request,
                f"/persons/{refugee_id}",
                N_("The settlement decision is made; two letters are issued."),
            )
    return _folder_page(request, refugee_id, form)


@post("/persons/{refugee_id:str}/deviations", opt=sends(c.OpenDeviation), sync_to_thread=True)
def open_deviation(request: Request, refugee_id: FromPath[str], data: FormData) -> Response[Any]:
    person = _person_id(refugee_id)
    form = form_of(data)
    kind = form.text("kind", translate(request, "Give the kind of deviation."))
    description = form.text("description", translate(request, "Describe the deviation."))
    flag = form.checked("known_deviation")
    if form.ok:
        try:
            send(request, c.OpenDeviation(person, kind, description, flag), form)
        except RuleViolation as error:
            refuse(request, form, error)
        else:
            return done(request, f"/persons/{refugee_id}", N_("The deviation is registered."))
    return _folder_page(request, refugee_id, form)


@post(
    "/persons/{refugee_id:str}/deviations/{deviation_id:str}/resolution",
    opt=sends(c.ResolveDeviation),
    sync_to_thread=True,
)
def resolve_deviation(
    request: Request, refugee_id: FromPath[str], deviation_id: FromPath[str], data: FormData
) -> Response[Any]:
    person = _person_id(refugee_id)
    form = form_of(data)
    note = form.text(f"note-{deviation_id}", translate(request, "Say how the deviation was resolved."))
    if form.ok:
        try:
            send(request, c.ResolveDeviation(person, deviation_id, note), form)
        except RuleViolation as error:
            refuse(request, form, error, {"note": f"note-{deviation_id}"})
        else:
            return done(request, f"/persons/{refugee_id}", N_("The deviation is resolved."))
    return _folder_page(request, refugee_id, form)


@post("/persons/{refugee_id:str}/correction", opt=sends(c.CorrectSettlementDate), sync_to_thread=True)
def correct_date(request: Request, refugee_id: FromPath[str], data: FormData) -> Response[Any]:
    person = _person_id(refugee_id)
    form = form_of(data)
    day = form.day("correct_date", translate(request, "Give the date, like 30.11.2026."))
    reason = form.text("correct_reason", translate(request, "Give the reason for the correction."))
    if form.ok:
        try:
            send(request, c.CorrectSettlementDate(person, day, reason), form)
        except RuleViolation as error:
            refuse(request, form, error, {"date": "correct_date", "reason": "correct_reason"})
        else:
            return done(request, f"/persons/{refugee_id}", N_("The settlement date is corrected."))
    return _folder_page(request, refugee_id, form)


def _dates_page(request: Request, form: Form | None = None) -> Response[str]:
    user = actor(request)
    awaiting = reads(request).query(persons_awaiting_settlement_date, user.municipality, limit=SHOWN)
    record_shown(request, awaiting["items"])
    form = form or Form()
    return page(
        request,
        "settlement_dates.html",
        status=200 if form.ok else 422,
        title=translate(request, "Settlement dates for persons who lived privately"),
        private=[p for p in awaiting["items"] if p["residence_kind"] == "private"],
        from_reception=[p for p in awaiting["items"] if p["residence_kind"] != "private"],
        form=form,
    )


@get("/settlement-dates", opt=allowed(Role.MUNICIPALITY), sync_to_thread=True)
def dates_page(request: Request) -> Response[str]:
    return _dates_page(request)


@post("/settlement-dates/{refugee_id:str}", opt=sends(c.RegisterSettlementDate), sync_to_thread=True)
def register_date(request: Request, refugee_id: FromPath[str], data: FormData) -> Response[Any]:
    person = _person_id(refugee_id)
    form = form_of(data)
    field = f"date-{refugee_id}"
    day = form.day(field, translate(request, "Give the settlement date, like 30.11.2026."))
    if form.ok:
        try:
            send(request, c.RegisterSettlementDate(person, day), form)
        except RuleViolation as error:
            refuse(
                request,
                form,
                error,
                {"date": field, "settlement_date": field, "": field, "refugee_id": field},
            )
            if form.general:  # every R7 refusal concerns this person's date: show it beside the field
                form.errors[field] = form.general.pop()
        else:
            return done(request, "/settlement-dates", N_("The settlement date is registered."))
    return _dates_page(request, form)
